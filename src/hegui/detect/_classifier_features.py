"""Hashed n-gram features of the shipped classifier, computed with numpy alone.

Text is cut into segments (sentences); each is folded (NFKC, casefold, one space for
white space) and yields its character 1..4-grams and the word 1..2-grams of its
Latin-script words, hashed into ``2**bits`` buckets (top bits of a Fibonacci hash).
With ``quote_tag``, every character n-gram that lies inside quotation marks is also
hashed a second time under its own tag, so a slur quoted in order to be rejected
("别再说“X”了") can weigh differently from the same slur used. With ``stance_cues``,
the stance cues of each segment (``_classifier_cues``: a refused verb of speech, a
reported voice, a generalisation over a group, sarcasm...) add buckets of their own,
each counted ``stance_cues`` times. A segment's values
are ``1 + log(count)``. A window of several segments is either the sum of its
segments' vectors divided by the root of the sum of their squared norms
(``window_sum``: each segment is scored once, however many windows hold it), or one
vector of the counts over the whole window, L2-normalised. Training and inference call
the same functions, so a model never sees features built another way; the detector
hashes the segments of a text together (``buckets_many``), which gives each segment
exactly the buckets ``buckets`` gives it. The hash is a
polynomial over code points (CRC-32 for words): stable across processes, unlike
``hash()``.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hegui.detect._classifier_cues import cue_names

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_PRIME = np.uint64(0x100000001B3)
_PRIME_INT = int(_PRIME)
_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits are well mixed
_TERM = re.compile(r"[。！？!?\n]|\.(?=\s)")
_WORD_TAG = 1 << 40  # keeps word hashes apart from character n-gram hashes
_QUOTE_TAG = np.uint64(1 << 41)  # quoted copies of character n-grams
_CUE_TAG = 1 << 42  # stance cues
_OPEN = np.array([ord(c) for c in "“‘「『"], dtype=np.uint64)
_CLOSE = np.array([ord(c) for c in "”’」』"], dtype=np.uint64)
_TOGGLE = np.uint64(ord('"'))
_QUOTE_CHARS = re.compile('[“”‘’「」『』"]')
_CONTENT = re.compile(r"\w")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class FeatureParams:
    """How text becomes hashed features; stored with every model."""

    bits: int = 18
    """Number of hash buckets is ``2**bits``."""
    char_min: int = 1
    """Shortest character n-gram."""
    char_max: int = 4
    """Longest character n-gram."""
    word_max: int = 2
    """Longest word n-gram over Latin-script words (0 turns words off)."""
    window_sum: bool = False
    """A window is the sum of its segments' vectors (see the module docstring); False:
    the counts of the whole window in one vector."""
    quote_tag: bool = False
    """Character n-grams inside quotation marks also count under a quoted tag."""
    stance_cues: int = 0
    """Each stance cue that fires in a segment counts this many times (0: no cues)."""

    def to_dict(self) -> dict[str, int | bool]:
        """Plain JSON-ready form."""
        return {
            "bits": self.bits,
            "char_min": self.char_min,
            "char_max": self.char_max,
            "word_max": self.word_max,
            "window_sum": self.window_sum,
            "quote_tag": self.quote_tag,
            "stance_cues": self.stance_cues,
        }


def fold(text: str) -> str:
    """The text features are computed from: NFKC, casefolded, single spaces."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _hashes(folded: str, params: FeatureParams) -> npt.NDArray[np.uint64]:
    # \x02 and \x03 mark the start and end of the text
    codes = np.frombuffer(f"\x02{folded}\x03".encode("utf-32-le"), dtype=np.uint32).astype(
        np.uint64
    )
    parts: list[npt.NDArray[np.uint64]] = []
    quoted = _quoted(codes) if params.quote_tag and _QUOTE_CHARS.search(folded) else None
    h = codes + np.uint64(1)
    if params.char_min <= 1:
        parts.append(h[1:-1])  # a 1-gram of a marker alone says nothing
        if quoted is not None:
            parts.append(h[quoted] + _QUOTE_TAG)
    inside = quoted
    for n in range(2, min(params.char_max, len(codes)) + 1):
        # h[i] is the hash of codes[i : i + n], built from the hash of the (n-1)-gram
        h = h[:-1] * _PRIME + codes[n - 1 :] + np.uint64(n)
        if inside is not None and quoted is not None:
            inside = inside[:-1] & quoted[n - 1 :]  # every character of the n-gram is quoted
        if n >= params.char_min:
            parts.append(h)
            if inside is not None:
                parts.append(h[inside] + _QUOTE_TAG)
    if params.word_max and (words := _WORD.findall(folded)):
        w1 = np.array([zlib.crc32(x.encode()) + _WORD_TAG for x in words], dtype=np.uint64)
        parts.append(w1)
        w = w1
        for n in range(2, min(params.word_max, len(words)) + 1):
            w = w[:-1] * _PRIME + w1[n - 1 :] + np.uint64(n * _WORD_TAG)
            parts.append(w)
    if params.stance_cues and (cues := cue_names(folded)):
        parts.append(np.repeat(_cue_hashes(cues), params.stance_cues))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def _cue_hashes(names: list[str]) -> npt.NDArray[np.uint64]:
    return np.array([zlib.crc32(n.encode()) + _CUE_TAG for n in names], dtype=np.uint64)


def _quoted(codes: npt.NDArray[np.uint64]) -> BoolArray:
    """Whether each code point is inside quotation marks.

    An opening mark counts as inside, a closing one not; ``"`` opens and closes in
    turn; an unclosed mark quotes the rest of the segment, never the end marker.
    """
    opens = (codes[:, None] == _OPEN).any(axis=1)  # a few marks: faster than np.isin
    closes = (codes[:, None] == _CLOSE).any(axis=1)
    depth = np.cumsum(opens, dtype=np.int64) - np.cumsum(closes, dtype=np.int64)
    toggles = np.cumsum(codes == _TOGGLE, dtype=np.int64) % 2
    out: BoolArray = (depth > 0) | (toggles == 1)
    out[-1] = False
    return out


def buckets(segment: str, params: FeatureParams) -> IntArray:
    """Hash bucket of every n-gram of one segment (repeats kept; n-grams never cross)."""
    hashed = _hashes(fold(segment), params)
    return ((hashed * _GOLDEN) >> np.uint64(64 - params.bits)).astype(np.int64)


def buckets_many(segments: Sequence[str], params: FeatureParams) -> tuple[IntArray, IntArray]:
    """Bucket ids of the n-grams of several segments at once, and the segment of each.

    Per segment, the same ids as ``buckets`` (in another order): the segments' code
    points are hashed in one array and n-grams that would cross a segment are dropped,
    so a long text costs a fixed number of numpy calls instead of a few per segment.
    """
    if len(segments) == 1:  # nothing to cross
        ids = buckets(segments[0], params)
        return ids, np.zeros(len(ids), dtype=np.int64)
    folded = [fold(s) for s in segments]
    codes = np.frombuffer(
        "".join(f"\x02{f}\x03" for f in folded).encode("utf-32-le"), dtype=np.uint32
    ).astype(np.uint64)
    lengths = np.array([len(f) + 2 for f in folded], dtype=np.int64)
    seg = np.repeat(np.arange(len(folded), dtype=np.int64), lengths)
    ends = np.cumsum(lengths)
    edge = np.zeros(len(codes), dtype=np.bool_)  # the start and end markers
    edge[ends - lengths] = True
    edge[ends - 1] = True
    quoted = (
        _quoted_many(codes, ends - lengths, lengths)
        if params.quote_tag and any(_QUOTE_CHARS.search(f) for f in folded)
        else None
    )
    parts: list[npt.NDArray[np.uint64]] = []
    owners: list[IntArray] = []
    h = codes + np.uint64(1)
    if params.char_min <= 1:
        keep = ~edge
        parts.append(h[keep])
        owners.append(seg[keep])
        if quoted is not None:
            parts.append(h[quoted] + _QUOTE_TAG)
            owners.append(seg[quoted])
    inside = quoted
    for n in range(2, params.char_max + 1):
        h = h[:-1] * _PRIME + codes[n - 1 :] + np.uint64(n)
        if inside is not None and quoted is not None:
            inside = inside[:-1] & quoted[n - 1 :]
        if n < params.char_min:
            continue
        same = seg[: len(h)] == seg[n - 1 :]  # the n-gram lies in one segment
        parts.append(h[same])
        owners.append(seg[: len(h)][same])
        if inside is not None:
            both = same & inside
            parts.append(h[both] + _QUOTE_TAG)
            owners.append(seg[: len(h)][both])
    extra: list[int] = []
    extra_owner: list[int] = []
    for k, f in enumerate(folded):
        extra += _word_and_cue_hashes(f, params)
        extra_owner += [k] * (len(extra) - len(extra_owner))
    if extra:
        parts.append(np.array(extra, dtype=np.uint64))
        owners.append(np.array(extra_owner, dtype=np.int64))
    hashed = np.concatenate(parts)
    ids = ((hashed * _GOLDEN) >> np.uint64(64 - params.bits)).astype(np.int64)
    return ids, np.concatenate(owners)


def _word_and_cue_hashes(folded: str, params: FeatureParams) -> list[int]:
    """The hashes ``_hashes`` gives the word n-grams and stance cues of one folded segment.

    Plain Python integers, wrapped to 64 bits as numpy's ``uint64`` wraps: for the
    few words and cues of a segment this is faster than building small arrays.
    """
    found: list[int] = []
    if params.word_max and (words := _WORD.findall(folded)):
        w1 = [zlib.crc32(x.encode()) + _WORD_TAG for x in words]
        found += w1
        w = w1
        for n in range(2, min(params.word_max, len(words)) + 1):
            tag = n * _WORD_TAG
            w = [
                (a * _PRIME_INT + b + tag) & _MASK64
                for a, b in zip(w[:-1], w1[n - 1 :], strict=True)
            ]
            found += w
    if params.stance_cues and (cues := cue_names(folded)):
        found += [zlib.crc32(c.encode()) + _CUE_TAG for c in cues] * params.stance_cues
    return found


def _quoted_many(codes: npt.NDArray[np.uint64], starts: IntArray, lengths: IntArray) -> BoolArray:
    """``_quoted`` of each segment of a joined array (depth and ``"`` parity restart)."""
    opens = (codes[:, None] == _OPEN).any(axis=1)
    closes = (codes[:, None] == _CLOSE).any(axis=1)
    depth = np.cumsum(opens, dtype=np.int64) - np.cumsum(closes, dtype=np.int64)
    toggles = np.cumsum(codes == _TOGGLE, dtype=np.int64)
    # the running totals just before each segment, subtracted within it
    base_depth = np.where(starts > 0, depth[starts - 1], 0)
    base_toggle = np.where(starts > 0, toggles[starts - 1], 0)
    depth -= np.repeat(base_depth, lengths)
    toggles -= np.repeat(base_toggle, lengths)
    out: BoolArray = (depth > 0) | (toggles % 2 == 1)
    out[starts + lengths - 1] = False
    return out


def counts(bucket_ids: IntArray) -> tuple[IntArray, FloatArray]:
    """Sorted distinct bucket ids and their values ``1 + log(count)``, not normalised."""
    if not len(bucket_ids):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.sort(bucket_ids)
    first = np.empty(len(ids), dtype=np.bool_)
    first[0] = True
    np.not_equal(ids[1:], ids[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    idx = ids[starts]
    if len(idx) == len(ids):
        return idx, np.ones(len(idx), dtype=np.float32)
    return idx, (1.0 + np.log(np.diff(np.append(starts, len(ids))))).astype(np.float32)


def vectorize(bucket_ids: IntArray) -> tuple[IntArray, FloatArray]:
    """Sparse feature vector from bucket ids: sorted indices and their values."""
    idx, val = counts(bucket_ids)
    if len(val):
        val /= np.float32(np.sqrt(np.dot(val, val)))
    return idx, val


def _summed(parts: list[tuple[IntArray, FloatArray]]) -> tuple[IntArray, FloatArray]:
    """Segment vectors summed, divided by the root of their summed squared norms."""
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    idx = np.concatenate([i for i, _ in parts])
    val = np.concatenate([v for _, v in parts])
    norm = np.float32(np.sqrt(np.dot(val, val)))
    order = np.argsort(idx, kind="stable")
    idx, val = idx[order], val[order]
    first = np.flatnonzero(np.append(True, idx[1:] != idx[:-1]))
    return idx[first], (np.add.reduceat(val, first) / norm).astype(np.float32)


def script_counts(text: str) -> tuple[int, int]:
    """Number of CJK characters and of Latin letters in ``text``."""
    return len(_CJK.findall(text)), len(_LATIN.findall(text))


def is_latin(cjk: int, latin: int) -> bool:
    """Whether text with these counts is Latin-script (English) rather than Chinese.

    A Chinese sentence with a few English words stays Chinese: a word of Latin
    letters says about as much as one or two Chinese characters.
    """
    return latin > 3 * cjk


def segment_end(text: str, start: int, max_len: int, final: bool, min_len: int = 0) -> int | None:
    """End of the segment that starts at ``start``, or None while it may still grow.

    A segment ends after 。！？!? or a newline, after a full stop followed by white
    space (not in ``3.14`` or ``example.com``), once it is ``min_len`` characters long
    (shorter sentences join the next), or after ``max_len`` characters. The answer
    depends only on the text up to the returned end (one character more for a full
    stop), so a stream and the whole text are cut at the same places.
    """
    limit = start + max_len
    m = _TERM.search(text, start + max(min_len - 1, 0))
    if m is not None and m.end() <= limit:
        return m.end()
    if len(text) >= limit:
        return limit
    if final and start < len(text):
        return len(text)
    return None


def segments(text: str, max_len: int, min_len: int = 0) -> list[tuple[int, int]]:
    """Spans of every segment of a whole text, in order."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while (end := segment_end(text, pos, max_len, True, min_len)) is not None:
        spans.append((pos, end))
        pos = end
    return spans


def featurize(
    text: str, params: FeatureParams, max_segment: int, min_segment: int = 0
) -> tuple[IntArray, FloatArray]:
    """Sparse feature vector of a whole text, scored as one window."""
    parts = [buckets(text[s:e], params) for s, e in segments(text, max_segment, min_segment)]
    if params.window_sum:
        return _summed([counts(p) for p in parts])
    return vectorize(np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64))


def featurize_many(
    texts: Iterable[str], params: FeatureParams, max_segment: int, min_segment: int = 0
) -> tuple[IntArray, IntArray, FloatArray]:
    """CSR parts (indptr, indices, data) of many texts, for training."""
    indptr = [0]
    indices: list[IntArray] = []
    data: list[FloatArray] = []
    for text in texts:
        idx, val = featurize(text, params, max_segment, min_segment)
        indices.append(idx)
        data.append(val)
        indptr.append(indptr[-1] + len(idx))
    return (
        np.asarray(indptr, dtype=np.int64),
        np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
        np.concatenate(data) if data else np.zeros(0, dtype=np.float32),
    )


def windows(
    text: str, max_segment: int, window_chars: int, min_segment: int = 0
) -> list[tuple[int, int]]:
    """Spans of the windows the detector scores in a whole text, in order.

    Each segment with a letter, digit or CJK character closes one window: that segment
    plus the segments just before it that fit in ``window_chars`` (as the detector's
    window state does). A text without content gives one window over all of it.
    """
    spans = segments(text, max_segment, min_segment)
    out: list[tuple[int, int]] = []
    first = 0
    for k, (s, e) in enumerate(spans):
        while first < k and e - spans[first][0] > window_chars:
            first += 1
        if _CONTENT.search(text, s, e):
            out.append((spans[first][0], e))
    return out or [(0, len(text))]


def chunks(
    text: str, max_segment: int, window_chars: int, min_segment: int = 0
) -> list[tuple[int, int]]:
    """Consecutive, non-overlapping spans of whole segments, each within ``window_chars``.

    Training cuts a long text this way so the model learns from pieces the size of
    the windows it will score.
    """
    out: list[tuple[int, int]] = []
    for s, e in segments(text, max_segment, min_segment):
        if out and e - out[-1][0] <= window_chars:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return [(s, e) for s, e in out if _CONTENT.search(text, s, e)] or [(0, len(text))]
