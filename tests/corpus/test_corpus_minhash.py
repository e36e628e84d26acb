"""MinHash signatures by one permutation hashing with optimal densification ("oph").

The C kernel (``hegui.detect._fastscan.oph_signatures``) is checked against a
pure-Python version of the same algorithm, and its similarity estimates against exact
Jaccard similarities of character 5-shingles and against the rensa method.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from hegui.corpus import DedupParams
from hegui.corpus._minhash import signatures
from hegui.detect._fastscan import oph_signatures

OPH = DedupParams()
RENSA = DedupParams(method="rensa")
M64 = (1 << 64) - 1
SHINGLE_SALT = 0x9E3779B97F4A7C15
PROBE_SALT = 0xD1B54A32D192ED03
MAX_PROBES = 4096
EMPTY = -1  # a bin no shingle fell into


def _splitmix64(z: int) -> int:
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def _shingle_hash(window: str) -> int:
    h = 0
    for ch in window:
        h = (h * 0x01000193 + ord(ch)) & 0xFFFFFFFF
    return h


def _reference_row(text: str, ngram: int, k: int, seed: int) -> list[int]:
    """The algorithm of oph_signatures, written out in Python."""
    if len(text) < ngram:
        return [0xFFFFFFFF] * k
    key = _splitmix64(seed ^ SHINGLE_SALT)
    probe_key = _splitmix64(seed ^ PROBE_SALT)
    slot = [EMPTY] * k
    for i in range(len(text) - ngram + 1):
        m = _splitmix64(_shingle_hash(text[i : i + ngram]) ^ key)
        b, v = ((m >> 32) * k) >> 32, m & 0xFFFFFFFF
        if slot[b] == EMPTY or v < slot[b]:
            slot[b] = v
    row = []
    for i in range(k):
        if slot[i] != EMPTY:
            row.append(slot[i])
            continue
        for attempt in range(1, MAX_PROBES + 1):
            p = _splitmix64((i << 32 | attempt) ^ probe_key)
            j = ((p >> 32) * k) >> 32
            if slot[j] != EMPTY:
                break
        else:  # the cyclic fallback
            j = i
            while slot[j] == EMPTY:
                j = (j + 1) % k
        row.append(slot[j])
    return row


def _jaccard(a: str, b: str, k: int = 5) -> float:
    sa = {a[i : i + k] for i in range(len(a) - k + 1)}
    sb = {b[i : i + k] for i in range(len(b) - k + 1)}
    return len(sa & sb) / len(sa | sb)


def _text(rng: random.Random, n: int) -> str:
    """Random text of n characters: Chinese, Latin words, or both mixed."""
    style = rng.randrange(3)
    out: list[str] = []
    while len(out) < n:
        if style == 0 or (style == 2 and rng.random() < 0.5):
            out.append(chr(0x4E00 + rng.randrange(3000)))
        else:
            out.extend(
                rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(rng.randrange(1, 8))
            )
    return "".join(out[:n])


def _edited(rng: random.Random, text: str, share: float) -> str:
    """A copy of text with about `share` of its characters replaced, inserted or dropped."""
    chars = list(text)
    for _ in range(max(1, int(share * len(chars)))):
        at = rng.randrange(len(chars))
        kind = rng.randrange(3)
        if kind == 0:
            chars[at] = chr(0x4E00 + rng.randrange(3000))
        elif kind == 1:
            chars.insert(at, rng.choice("xyz中文"))
        elif len(chars) > 6:
            del chars[at]
    return "".join(chars)


def _pairs(seed: int, count: int) -> tuple[list[str], list[str], np.ndarray]:
    """Pairs of texts, 20 to 2,000 characters, over the whole range of similarity."""
    rng = random.Random(seed)
    left, right, exact = [], [], []
    for _ in range(count):
        base = _text(rng, int(math.exp(rng.uniform(math.log(20), math.log(2000)))))
        copy = _edited(rng, base, rng.choice([0.002, 0.01, 0.03, 0.08, 0.2, 0.5]))
        left.append(base)
        right.append(copy)
        exact.append(_jaccard(base, copy))
    return left, right, np.array(exact)


def _estimates(left: list[str], right: list[str], params: DedupParams) -> np.ndarray:
    a, has_a = signatures(left, params)
    b, has_b = signatures(right, params)
    assert has_a.all() and has_b.all()
    return np.asarray((a == b).mean(axis=1), dtype=np.float64)


SMALL_TEXTS = [
    "abcde",  # one shingle: every bin borrows from one
    "abcdefgh",
    "hello world, hello world",
    "中文文本的近似重复检测" * 3,
    "emoji 😀 and 𠀋 beyond the BMP",
    "the quick brown fox jumps over the lazy dog " * 6,
]


@pytest.mark.parametrize("k, seed", [(100, 45654), (16, 1), (7, 2**64 - 1), (250, 0)])
def test_c_kernel_matches_the_python_reference(k: int, seed: int) -> None:
    texts = ["", "abcd", *SMALL_TEXTS]
    sig, has = oph_signatures(texts, 5, k, seed)
    rows = np.frombuffer(sig, dtype=np.uint32).reshape(len(texts), k)
    assert rows.tolist() == [_reference_row(t, 5, k, seed) for t in texts]
    assert list(has) == [len(t) >= 5 for t in texts]


@pytest.mark.parametrize("ngram", [1, 3, 9])
def test_c_kernel_matches_the_reference_for_other_shingle_sizes(ngram: int) -> None:
    texts = [t[:40] for t in SMALL_TEXTS]
    sig, _ = oph_signatures(texts, ngram, 32, 99)
    rows = np.frombuffer(sig, dtype=np.uint32).reshape(len(texts), 32)
    assert rows.tolist() == [_reference_row(t, ngram, 32, 99) for t in texts]


FIXED_OPH_ROW = [5701993, 2800260693, 4132075200, 1141670621]
"""The first four values of the oph signature of SMALL_TEXTS[-1] with the default
parameters: a change of the mixer, the bins or the densification changes them, and
with them every near-duplicate decision."""


def test_default_parameters_give_the_pinned_signature() -> None:
    sig, _ = signatures([SMALL_TEXTS[-1]], OPH)
    assert sig[0, :4].tolist() == FIXED_OPH_ROW


def test_identical_texts_identical_rows_and_batches_do_not_matter() -> None:
    rng = random.Random(5)
    texts = [_text(rng, rng.randrange(0, 3000)) for _ in range(300)]
    texts += texts[:50]
    sig, has = signatures(texts, OPH)
    assert sig.shape == (350, OPH.num_perm) and sig.dtype == np.uint32
    assert np.array_equal(sig[300:], sig[:50])
    for cut in ([1, 2, 97, 299], [150], list(range(1, 350, 7))):
        parts = np.split(np.arange(350), cut)
        pieces = [signatures([texts[i] for i in p], OPH) for p in parts]
        assert np.array_equal(np.concatenate([s for s, _ in pieces]), sig)
        assert np.array_equal(np.concatenate([h for _, h in pieces]), has)
    alone = np.concatenate([signatures([t], OPH)[0] for t in texts[:40]])
    assert np.array_equal(alone, sig[:40])


def test_short_and_empty_texts_have_no_signature() -> None:
    sig, has = signatures(["", "a", "abcd", "abcde", "文本"], OPH)
    assert has.tolist() == [False, False, False, True, False]
    assert (sig[[0, 1, 2, 4]] == 0xFFFFFFFF).all()
    # one shingle: every bin holds (or borrows) its one value
    assert len(set(sig[3].tolist())) == 1
    empty, none = signatures([], OPH)
    assert empty.shape == (0, OPH.num_perm) and none.shape == (0,)


def test_different_seeds_give_different_rows() -> None:
    texts = SMALL_TEXTS[2:]
    a, _ = signatures(texts, OPH)
    b, _ = signatures(texts, DedupParams(seed=OPH.seed + 1))
    assert (a != b).mean() > 0.9
    # the same seed and text, however the text is stored, give the same row
    c, _ = signatures([str(t) for t in texts], DedupParams(seed=OPH.seed))
    assert np.array_equal(a, c)


def test_estimates_are_unbiased_and_within_the_error_of_100_bins() -> None:
    left, right, exact = _pairs(seed=17, count=500)
    assert exact.min() < 0.2 and exact.max() > 0.95 and np.median(exact) < 0.9
    est = _estimates(left, right, OPH)
    diff = est - exact
    # per pair: the agreement of K=100 bins has variance about J(1-J)/K; 4.5 standard
    # deviations (and one bin for the discreteness) is never reached by chance here
    bound = 4.5 * np.sqrt(np.maximum(exact * (1 - exact), 0.01) / OPH.num_perm) + 0.01
    assert (np.abs(diff) <= bound).all(), np.abs(diff / bound).max()
    # over all pairs: no bias beyond four standard errors
    se = max(diff.std(ddof=1), 0.01) / math.sqrt(len(diff))
    assert abs(diff.mean()) < 4 * se, (diff.mean(), se)
    # and the spread is that of K independent bins, not worse
    assert diff.std() < 1.2 * math.sqrt(np.mean(exact * (1 - exact)) / OPH.num_perm)


def test_short_texts_are_unbiased_too() -> None:
    """Texts of 20-120 characters leave many bins empty: densification must not bias."""
    rng = random.Random(23)
    left, right, exact = [], [], []
    for _ in range(400):
        base = _text(rng, rng.randrange(20, 120))
        copy = _edited(rng, base, rng.choice([0.02, 0.05, 0.1]))
        left.append(base)
        right.append(copy)
        exact.append(_jaccard(base, copy))
    diff = _estimates(left, right, OPH) - np.array(exact)
    se = max(diff.std(ddof=1), 0.01) / math.sqrt(len(diff))
    assert abs(diff.mean()) < 4 * se, (diff.mean(), se)


def test_oph_and_rensa_estimate_the_same_similarity() -> None:
    left, right, exact = _pairs(seed=29, count=300)
    oph = _estimates(left, right, OPH)
    rensa = _estimates(left, right, RENSA)
    spread = np.sqrt(2 * np.maximum(exact * (1 - exact), 0.01) / OPH.num_perm)
    assert (np.abs(oph - rensa) <= 5 * spread + 0.01).all()
    se = max((oph - rensa).std(ddof=1), 0.01) / math.sqrt(len(exact))
    assert abs((oph - rensa).mean()) < 4 * se
    # the methods are different hashes: their rows for the same text differ
    a, _ = signatures(left[:20], OPH)
    b, _ = signatures(left[:20], RENSA)
    assert (a != b).mean() > 0.9


def test_method_is_checked_and_recorded() -> None:
    with pytest.raises(ValueError, match="method"):
        DedupParams(method="simhash")
    with pytest.raises(ValueError):
        DedupParams(num_perm=0, bands=1)
    from dataclasses import asdict

    assert asdict(OPH)["method"] == "oph"
    assert DedupParams(**asdict(RENSA)) == RENSA


def test_oph_kernel_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        oph_signatures(["abc"], 0, 10, 1)
    with pytest.raises(ValueError):
        oph_signatures(["abc"], 2, 0, 1)
    with pytest.raises(TypeError):
        oph_signatures(["abc", b"abc"], 2, 10, 1)
