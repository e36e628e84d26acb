"""Validated PII recognizers for whole texts and for streams of text chunks.

Every kind is found in two steps: a strict regular expression proposes a span, then a
validator (checksum, calendar, numbering plan, ...) accepts or rejects it.  Patterns
only look at ASCII characters, so CJK characters, full-width punctuation and spaces
are all valid boundaries, while an ASCII letter or digit directly next to a number
means the number is part of a longer token and is not reported.

Kinds and their rules (``RECOGNIZERS`` holds one :class:`Recognizer` per kind):

``cn_resident_id``
    18 characters: 17 digits then a digit or ``X``/``x``.  Valid per
    ``stdnum.cn.ric`` (ISO 7064 MOD 11-2 check character, a real calendar date, a
    region prefix known for the birth year), and the birth date lies between
    1900-01-01 and today (China time).  Separators inside the number are not accepted.
``cn_uscc``
    18 characters: 8 digits then 10 of ``0-9A-HJ-NPQRTUWXY`` (upper case only).  Valid
    per ``stdnum.cn.uscc`` (check character), and additionally the registering
    authority is ``1``-``9``, the entity type is ``1``-``5`` or ``9`` and the region
    code starts with a province code (or ``10``, central level).
``bank_card`` / ``credit_card``
    13-19 digits, either contiguous or grouped with one consistent separator (a single
    space or a single hyphen) as 4-4-4-4, 4-4-4-4-1..3, 4-6-5 or 4-6-4.  The digits
    must pass the Luhn check.  The two kinds never claim the same number: the issuer
    identification number decides.  ``bank_card`` is China UnionPay (prefix ``62``,
    16-19 digits).  ``credit_card`` is an international scheme with its lengths: Visa
    (``4``; 13, 16 or 19), Mastercard (``51``-``55``, ``2221``-``2720``; 16), American
    Express (``34``, ``37``; 15), Discover (``6011``, ``644``-``649``, ``65``; 16-19),
    JCB (``3528``-``3589``; 16-19) and Diners Club (``300``-``305``, ``36``, ``38``,
    ``39``; 14-19).  Debit cards of those schemes are reported as ``credit_card``
    too.  Luhn-valid numbers with any other prefix are not reported.
``cn_mobile``
    ``1[3-9]`` plus 9 digits, contiguous or grouped 3-4-4 with one consistent
    separator (space or hyphen), optionally preceded by ``+86`` or ``86`` and an
    optional space or hyphen.  ``phonenumbers`` must accept it as a valid Chinese
    number of type mobile (or fixed-line-or-mobile).
``cn_landline``
    ``0`` plus 2-3 digits of area code, then either ``-`` or the area code in
    parentheses (optionally followed by a space or hyphen), then a 7-8 digit local
    number and an optional ``-`` extension of 1-4 digits (included in the span).
    ``phonenumbers`` must accept area code plus local number as a valid Chinese
    fixed-line number.
``us_ssn``
    ``AAA-GG-SSSS`` with hyphens only, valid per ``stdnum.us.ssn`` (no area ``000``,
    ``666`` or ``900``-``999``, no group ``00``, no serial ``0000``, known invalid
    numbers rejected).
``passport``
    PRC passport number: ``E``, ``G``, ``P``, ``S`` or ``D`` plus 8 digits, or ``E``
    plus a letter (not ``I``/``O``) plus 7 digits, upper case.  Passport numbers carry
    no check digit and the bare shape also fits order numbers, dates (``D20240101``)
    and part numbers, so a keyword (``护照``, ``護照`` or ``passport`` in any case) must
    occur within the :data:`PASSPORT_WINDOW` characters before the number.  The span
    covers the number only.
``email``
    ``local@domain``: a local part of 1-64 characters from ``A-Za-z0-9._%+-`` (no
    leading, trailing or doubled dot), one or more domain labels and an alphabetic
    top-level domain of at least two letters, at most 254 characters in total.
    Internationalised addresses are not recognised.
``ipv4``
    Dotted quad accepted by :class:`ipaddress.IPv4Address` (so no leading zeros).  Not
    reported when directly preceded by a version marker (``v``, ``ver.``,
    ``version``, ``版本``, ``版本号``, optionally followed by spaces, ``:`` or ``=``),
    e.g. ``version 1.2.3.4``; ``v1.2.3.4`` is excluded by the boundary rule anyway.
``ipv6``
    Colon-hex text accepted by :class:`ipaddress.IPv6Address` (including ``::``
    compression and an embedded dotted quad) that contains at least one decimal digit,
    which keeps words made only of hex letters (``dead::beef``) and a bare ``::`` out.
    Zone identifiers (``%eth0``) are not part of the span.

Overlaps.  :func:`find_pii` keeps one match where spans of different kinds (or of
the same kind) overlap, choosing by kind priority first, then the longer span, then the
earlier start.  The priority, highest first, is: ``email``, ``cn_resident_id``,
``cn_uscc``, ``bank_card``, ``credit_card``, ``cn_mobile``, ``cn_landline``,
``us_ssn``, ``passport``, ``ipv6``, ``ipv4``.  ``email`` comes first because digits
can only overlap an address when they are part of it (``13812345678@example.com``),
and then the whole address is the finding.

Streaming.  :func:`holdback_start` tells a stream scanner how much of its buffer is
final.  A candidate at position ``s`` is decided by at most ``max_len + 2``
characters from ``s`` and at most :data:`LEFT_CONTEXT` characters before ``s``.  It
can therefore still change only if the pattern could read past the end of the
buffer from ``s``: ``s`` must satisfy the left boundary, and everything from ``s`` to
the end must be characters the pattern can pass over, no more than ``max_len + 2``
of them.  The hold-back point is the earliest such ``s`` over the kinds in use, moved
further left past any complete candidate that straddles it, so that overlap
resolution cannot reach back either.  Typical use::

    buffer, released = "", 0  # released: offset in buffer of the first unsent char
    for chunk in chunks:
        buffer += chunk
        hold = holdback_start(buffer, start=released)
        final = [m for m in find_pii(buffer, start=released) if m.start < hold]
        send(buffer[released:hold], final)
        drop = max(0, hold - LEFT_CONTEXT)  # keep some sent text as left context
        buffer, released = buffer[drop:], hold - drop
    send(buffer[released:], find_pii(buffer, start=released))

Matches returned before ``hold`` end before it and are exactly the matches the whole
text will have there.

Characters are matched as ASCII only: full-width digits and letters (``１３８``,
``＠``) are not recognised, and act as boundaries.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

from hegui.detect._fastscan import first_of
from hegui.detect._pii_base import PiiMatch, Recognizer, _Seeds
from hegui.detect._pii_rules import LEFT_CONTEXT, PASSPORT_WINDOW, RECOGNIZERS

__all__ = [
    "KIND_PRIORITY",
    "LEFT_CONTEXT",
    "PASSPORT_WINDOW",
    "RECOGNIZERS",
    "PiiMatch",
    "Recognizer",
    "find_pii",
    "holdback_start",
]

"""Every recognizer by kind name."""

KIND_PRIORITY: Final[tuple[str, ...]] = (
    "email",
    "cn_resident_id",
    "cn_uscc",
    "bank_card",
    "credit_card",
    "cn_mobile",
    "cn_landline",
    "us_ssn",
    "passport",
    "ipv6",
    "ipv4",
)
"""Kinds from most to least preferred when spans overlap."""

_RANK: Final = {kind: i for i, kind in enumerate(KIND_PRIORITY)}
_ALL: Final = tuple(RECOGNIZERS[k] for k in KIND_PRIORITY)


def _select(kinds: Iterable[str] | None) -> tuple[Recognizer, ...]:
    return _plan(kinds)[0]


def _plan(kinds: Iterable[str] | None) -> tuple[tuple[Recognizer, ...], frozenset[str]]:
    """The recognizers for ``kinds`` and every character that can end a live match."""
    return _plan_cached(kinds if kinds is None or type(kinds) is tuple else tuple(kinds))


@lru_cache(maxsize=64)
def _plan_cached(kinds: tuple[str, ...] | None) -> tuple[tuple[Recognizer, ...], frozenset[str]]:
    recs = _ALL if kinds is None else _select_tuple(kinds)
    return recs, frozenset().union(*(r.alphabet for r in recs))


def _select_tuple(kinds: tuple[str, ...]) -> tuple[Recognizer, ...]:
    wanted = set(kinds)
    unknown = wanted.difference(RECOGNIZERS)
    if unknown:
        raise ValueError(f"unknown PII kinds: {', '.join(sorted(unknown))}")
    return tuple(r for r in _ALL if r.kind in wanted)


# Every seed needs a digit, "@" or ":" (digit runs, e-mail "@", IPv6 colons, IPv4
# ".digit"), so a text without them from ``pos`` on has no candidate at all; the C
# scan for them runs at memory speed, where a regex class costs ~2.5 ns a character.
_TRIGGER: Final = "0123456789@:"


def _candidates(text: str, recs: tuple[Recognizer, ...], pos: int) -> list[PiiMatch]:
    if first_of(text, _TRIGGER, pos) < 0:
        return []
    seeds = _Seeds(text, pos)
    out: list[PiiMatch] = []
    for rec in recs:
        windows = seeds.windows(rec.seed, rec.seed_back, rec.seed_lead)
        if windows:
            out.extend(rec._scan(text, windows))
    return out


def _resolve(candidates: list[PiiMatch]) -> list[PiiMatch]:
    """Keep non-overlapping matches: better kind first, then longer, then earlier."""
    order = sorted(candidates, key=lambda m: (_RANK[m.kind], m.start - m.end, m.start))
    starts: list[int] = []
    kept: list[PiiMatch] = []
    for m in order:
        i = bisect_right(starts, m.start)
        if i and kept[i - 1].end > m.start:
            continue
        if i < len(kept) and kept[i].start < m.end:
            continue
        starts.insert(i, m.start)
        kept.insert(i, m)
    return kept


def find_pii(text: str, kinds: Iterable[str] | None = None, *, start: int = 0) -> list[PiiMatch]:
    """Find all validated PII of the given kinds.

    Where matches overlap only one is kept, chosen by :data:`KIND_PRIORITY`, then
    length, then position, so the result never overlaps itself.

    Args:
        text: The text to scan.
        kinds: Kind names to look for; all of ``RECOGNIZERS`` if ``None``.
        start: Only matches starting at or after this offset are considered;
            ``text[:start]`` is left context (see :data:`LEFT_CONTEXT`).  When
            ``start`` is a point returned by :func:`holdback_start` for a prefix of
            ``text`` (with the same ``kinds``), the result is exactly the part of
            ``find_pii(text, kinds)`` from there.

    Returns:
        The matches sorted by ``(start, end)``.

    Raises:
        ValueError: If ``kinds`` names an unknown kind.
    """
    candidates = _candidates(text, _select(kinds), start)
    return _resolve(candidates) if candidates else []  # most texts hold no candidate


def holdback_start(text: str, kinds: Iterable[str] | None = None, *, start: int = 0) -> int:
    """Return where the undecided tail of a streamed text begins.

    The result ``i`` is the earliest start of anything of ``kinds`` that appended
    text could still turn into, or out of, a match.  So no match starting before
    ``i`` can appear, disappear or change when text is appended: the matches of
    ``find_pii(text, kinds)`` that start before ``i`` end at or before ``i`` and are
    final, and ``text[:i]`` may be released.  A match ending at ``len(text)`` is never
    final.  The result is ``len(text)`` when nothing is in progress, and otherwise
    usually the start of the trailing number or word; it is at most about the longest
    pattern (25 characters for numbers, 320 for e-mail addresses) before the end,
    unless a complete match straddles that point.

    Args:
        text: Text received so far.
        kinds: Kind names in use; all of ``RECOGNIZERS`` if ``None``.
        start: Offset before which everything was already released (as for
            :func:`find_pii`); the result is never smaller.

    Returns:
        The hold-back point, ``start <= i <= len(text)``.

    Raises:
        ValueError: If ``kinds`` names an unknown kind.
    """
    recs, alphabet = _plan(kinds)
    n = len(text)
    if n <= start or text[n - 1] not in alphabet:
        return n  # no recognizer can be in progress: each needs its alphabet at the end
    last = text[n - 1]
    h = min((r.live_start(text, start) for r in recs if last in r.alphabet), default=n)
    longest = max((r.max_len for r in recs), default=0)
    # Move left past any complete candidate straddling ``h``: a candidate that
    # appears later could otherwise change how it is resolved.
    while h < n:
        lowest = h
        for m in _candidates(text, recs, max(start, h - longest)):
            if m.start < h < m.end:
                lowest = min(lowest, m.start)
        if lowest == h:
            break
        h = lowest
    return h
