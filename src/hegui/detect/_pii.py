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

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import phonenumbers
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError
from stdnum.us import ssn

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


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One validated piece of personal data.

    Attributes:
        kind: Name of the recognizer that found it (a key of ``RECOGNIZERS``).
        start: Code-point offset of the first character in the scanned text.
        end: Code-point offset just past the last character.
        value: ``text[start:end]``, separators and prefixes included.
    """

    kind: str
    start: int
    end: int
    value: str


Validator = Callable[[str, re.Match[str]], bool]
"""Decides whether a pattern match is real PII; gets the whole text and the match."""

Runs = list[tuple[int, int]]
Seed = re.Pattern[str] | Callable[[str, Runs], list[int]]
"""See :attr:`Recognizer.seed`."""

_LOOKAHEAD: Final = 2
"""Characters after a match that a pattern may read (e.g. ``(?! [0-9])``)."""


@dataclass(frozen=True, slots=True)
class Recognizer:
    """A pattern plus validator for one kind of PII, with what streaming needs.

    Attributes:
        kind: Kind name reported in :class:`PiiMatch`.
        max_len: Upper bound on the length of any span ``pattern`` can match,
            separators and prefixes included (valid matches are never longer).
        pattern: Proposes candidate spans.  It has at most one match per start
            position and looks at no more than ``max_len + 2`` characters from the
            start and :data:`LEFT_CONTEXT` characters before it.
        validate: Accepts or rejects one candidate.
        seed: What every candidate contains, found in one cheap pass; the pattern only
            runs near its hits.  Either a regex (hits are its ``finditer`` starts) or
            a filter ``(text, runs) -> hits`` that gets the spans ``(a, b)`` of all
            maximal runs of three or more ASCII digits and returns the starts of
            those that may belong to a candidate.
        seed_back: A candidate starts at most this many characters before the first
            seed hit inside it.
        alphabet: Every character a candidate may contain, and every character the
            pattern may read past while looking ahead.
        start: Matches exactly where a candidate could begin (left boundary plus
            first character); used to find matches still in progress.
        viable: Optional extra test for matches in progress: it must match all of
            the text from a possible start to the end of the text, and it matches
            every beginning of a candidate (with the characters read after it).
    """

    kind: str
    max_len: int
    pattern: re.Pattern[str]
    validate: Validator
    seed: Seed
    seed_back: int
    alphabet: frozenset[str]
    start: re.Pattern[str]
    viable: re.Pattern[str] | None = None

    def find(self, text: str) -> list[PiiMatch]:
        """Return all validated matches of this kind, sorted by start.

        Matches of one kind never share a start but may overlap (a mobile number
        with and without its ``+86``); :func:`find_pii` resolves overlaps.

        Args:
            text: The text to scan.

        Returns:
            The matches in ``text``.
        """
        return self.scan(text)

    def scan(self, text: str, pos: int = 0) -> list[PiiMatch]:
        """Return validated matches starting at or after ``pos``.

        ``text[:pos]`` still serves as left context (boundaries, keywords), so the
        result equals the part of ``find(text)`` that starts at ``pos`` or later.

        Args:
            text: The text to scan.
            pos: First start offset of interest.

        Returns:
            The matches, sorted by start.
        """
        return self._scan(text, _Seeds(text, pos).windows(self.seed, self.seed_back))

    def _scan(self, text: str, windows: list[tuple[int, int]]) -> list[PiiMatch]:
        out: list[PiiMatch] = []
        n = len(text)
        reach = self.max_len + _LOOKAHEAD
        search = self.pattern.search
        for lo, hi in windows:
            # No candidate starting at or before ``hi`` reads at or past ``endpos``,
            # so cutting the search there cannot change any of them.
            endpos = min(n, hi + reach + 1)
            at = lo
            while (m := search(text, at, endpos)) is not None and m.start() <= hi:
                if self.validate(text, m):
                    out.append(PiiMatch(self.kind, m.start(), m.end(), m.group()))
                at = m.start() + 1
        return out

    def live_start(self, text: str, pos: int = 0) -> int:
        """Return the earliest start of a match that appended text could create or change.

        Only starts at or after ``pos`` are considered.

        Args:
            text: Text received so far.
            pos: Nothing before this offset is considered.

        Returns:
            That offset, or ``len(text)`` when no match is in progress.
        """
        n = len(text)
        floor = max(pos, n - self.max_len - _LOOKAHEAD)
        i = n
        alphabet = self.alphabet
        while i > floor and text[i - 1] in alphabet:
            i -= 1
        match = self.start.match
        viable = self.viable.fullmatch if self.viable is not None else None
        for s in range(i, n):
            if match(text, s) is not None and (viable is None or viable(text, s)):
                return s
        return n


_DIGIT_RUN: Final = re.compile(r"[0-9]+")
_DIGIT_RUN3: Final = re.compile(r"[0-9][0-9][0-9][0-9]*")  # fastest spelling in CPython


class _Seeds:
    """Seed hits and candidate start windows of one text, shared by recognizers."""

    __slots__ = ("_cache", "_pos", "_runs", "_text")

    def __init__(self, text: str, pos: int) -> None:
        self._text = text
        self._pos = pos
        self._runs: Runs | None = None
        self._cache: dict[tuple[Seed, int], list[tuple[int, int]]] = {}

    def _hits(self, seed: Seed) -> list[int]:
        if isinstance(seed, re.Pattern):
            return [m.start() for m in seed.finditer(self._text, self._pos)]
        if self._runs is None:
            self._runs = [m.span() for m in _DIGIT_RUN3.finditer(self._text, self._pos)]
        return seed(self._text, self._runs)

    def windows(self, seed: Seed, back: int) -> list[tuple[int, int]]:
        """Disjoint closed intervals holding every possible candidate start."""
        key = (seed, back)
        out = self._cache.get(key)
        if out is None:
            out = []
            for hit in self._hits(seed):
                lo = max(self._pos, hit - back)
                if out and lo <= out[-1][1] + 1:
                    out[-1] = (out[-1][0], hit)
                else:
                    out.append((lo, hit))
            self._cache[key] = out
        return out


# --------------------------------------------------------------------------- patterns

_NB: Final = r"(?<![0-9A-Za-z])"  # not preceded by an ASCII letter or digit
_NA: Final = r"(?![0-9A-Za-z])"  # not followed by one
_SEPARATORS: Final = (" ", "-")


# Grouped numbers use one separator throughout, and the grouping must not continue
# on either side: "1234 5678 9012 3456 7890" holds no 16-digit card.


def _card_pattern() -> str:
    alts = ["[0-9]{13,19}"]
    for sep in _SEPARATORS:
        s = re.escape(sep)
        guard = f"(?<![0-9]{s})"
        end = f"(?!{s}[0-9])"
        alts.append(f"{guard}[0-9]{{4}}(?:{s}[0-9]{{4}}){{3}}(?:{s}[0-9]{{1,3}})?{end}")
        alts.append(f"{guard}[0-9]{{4}}{s}[0-9]{{6}}{s}[0-9]{{4,5}}{end}")
    return _NB + "(?:" + "|".join(alts) + ")" + _NA


def _mobile_pattern() -> str:
    prefix = r"\+?86[ -]?"
    alts = [f"(?:{prefix})?1[3-9][0-9]{{9}}"]
    for sep in _SEPARATORS:
        s = re.escape(sep)
        body = f"1[3-9][0-9]{s}[0-9]{{4}}{s}[0-9]{{4}}(?!{s}[0-9])"
        alts.append(prefix + body)  # the prefix may use another separator
        alts.append(f"(?<![0-9]{s})" + body)
    return r"(?<![0-9A-Za-z+])(?:" + "|".join(alts) + ")" + _NA


def _landline_pattern() -> str:
    area = "0[0-9]{2,3}"
    local = "[0-9]{7,8}"
    ext = "(?:-[0-9]{1,4})?(?!-[0-9])"
    hyphen = rf"(?<![0-9]-){area}-{local}{ext}"
    paren = rf"\({area}\)[ -]?{local}{ext}"
    return f"{_NB}(?:{hyphen}|{paren}){_NA}"


_EMAIL_LOCAL_CHARS: Final = r"A-Za-z0-9._%+\-"  # regex class body
_EMAIL_LABEL: Final = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_PATTERN: Final = (
    rf"(?<![{_EMAIL_LOCAL_CHARS}@])[{_EMAIL_LOCAL_CHARS}]{{1,64}}@"
    # The domain run is at most 253 characters; this also bounds the span.
    r"(?=[A-Za-z0-9.-]{1,253}(?![A-Za-z0-9.-]))"
    rf"(?:{_EMAIL_LABEL}\.)+[A-Za-z]{{2,63}}"
    r"(?![A-Za-z0-9@-])(?!\.[A-Za-z0-9])"
)

_IPV4_PATTERN: Final = r"(?<![0-9A-Za-z.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9A-Za-z])(?!\.[0-9])"
_IPV6_PATTERN: Final = (
    r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:[0-9A-Fa-f]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})?"
    r"(?![0-9A-Za-z:])(?!\.[0-9])"
)

# ------------------------------------------------------------------------- validators

_CN_TZ: Final = timezone(timedelta(hours=8))
_MIN_BIRTH_YEAR: Final = 1900


def _valid_resident_id(text: str, m: re.Match[str]) -> bool:
    value = m.group().upper()
    if ric.calc_check_digit(value) != value[-1]:
        return False  # cheap early exit; validate() below is slow
    try:
        ric.validate(value)
    except (ValidationError, KeyError):
        # python-stdnum 2.2 raises KeyError for a known province with no county
        # entry (e.g. 623456), instead of InvalidComponent.
        return False
    born = ric.get_birth_date(value)
    return born.year >= _MIN_BIRTH_YEAR and born <= datetime.now(_CN_TZ).date()


_USCC_AUTHORITY_TYPES: Final = frozenset("123459")
_CN_PROVINCES: Final = frozenset(
    f"{code}"
    for code in (10, 11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43)
    + (44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82)
)


def _valid_uscc(text: str, m: re.Match[str]) -> bool:
    value = m.group()
    return (
        value[1] in _USCC_AUTHORITY_TYPES and value[2:4] in _CN_PROVINCES and uscc.is_valid(value)
    )


_ANY_CARD: Final = range(16, 20)
_CARD_SCHEMES: Final[tuple[tuple[int, int, Iterable[int], str], ...]] = (
    # (lowest prefix, highest prefix, allowed lengths, kind); prefixes compare as
    # digit strings of equal length, the first scheme whose prefix fits decides.
    (62, 62, _ANY_CARD, "bank_card"),  # China UnionPay
    (4, 4, (13, 16, 19), "credit_card"),  # Visa
    (51, 55, (16,), "credit_card"),  # Mastercard
    (2221, 2720, (16,), "credit_card"),  # Mastercard 2-series
    (34, 34, (15,), "credit_card"),  # American Express
    (37, 37, (15,), "credit_card"),  # American Express
    (6011, 6011, _ANY_CARD, "credit_card"),  # Discover
    (644, 649, _ANY_CARD, "credit_card"),  # Discover
    (65, 65, _ANY_CARD, "credit_card"),  # Discover
    (3528, 3589, _ANY_CARD, "credit_card"),  # JCB
    (300, 305, range(14, 20), "credit_card"),  # Diners Club
    (36, 36, range(14, 20), "credit_card"),  # Diners Club
    (38, 39, range(14, 20), "credit_card"),  # Diners Club
)


def _card_kind(digits: str) -> str | None:
    """Classify a card number by issuer prefix and length (Luhn not checked)."""
    for low, high, lengths, kind in _CARD_SCHEMES:
        if low <= int(digits[: len(str(low))]) <= high:
            return kind if len(digits) in lengths else None
    return None


_NOT_DIGIT: Final = re.compile(r"[^0-9]")


def _card_validator(kind: str) -> Validator:
    def validate(text: str, m: re.Match[str]) -> bool:
        digits = _NOT_DIGIT.sub("", m.group())
        return _card_kind(digits) == kind and luhn.is_valid(digits)

    return validate


_MOBILE_TYPES: Final = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
_FIXED_TYPES: Final = frozenset(
    {phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
_MOBILE_DIGITS: Final = 11


def _phone_ok(number: str, region: str | None, types: frozenset[int]) -> bool:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(
        phonenumbers.is_valid_number_for_region(parsed, "CN")
        and phonenumbers.number_type(parsed) in types
    )


def _valid_mobile(text: str, m: re.Match[str]) -> bool:
    digits = _NOT_DIGIT.sub("", m.group())
    return _phone_ok("+86" + digits[-_MOBILE_DIGITS:], None, _MOBILE_TYPES)


def _valid_landline(text: str, m: re.Match[str]) -> bool:
    area, local = _DIGIT_RUN.findall(m.group())[:2]
    return _phone_ok(area + local, "CN", _FIXED_TYPES)


def _valid_ssn(text: str, m: re.Match[str]) -> bool:
    return bool(ssn.is_valid(m.group()))


PASSPORT_WINDOW: Final = 20
"""A passport keyword must lie within this many characters before the number."""
_PASSPORT_KEYWORDS: Final = ("护照", "護照", "passport")


def _valid_passport(text: str, m: re.Match[str]) -> bool:
    before = text[max(0, m.start() - PASSPORT_WINDOW) : m.start()].casefold()
    return any(word in before for word in _PASSPORT_KEYWORDS)


_VERSION_WINDOW: Final = 12
_VERSION_BEFORE: Final = re.compile(
    r"(?:(?<![A-Za-z])v|version|ver\.|版本号?)[ \t:：=]*\Z", re.IGNORECASE
)


def _valid_ipv4(text: str, m: re.Match[str]) -> bool:
    try:
        ipaddress.IPv4Address(m.group())
    except ValueError:
        return False
    start = m.start()
    return _VERSION_BEFORE.search(text, max(0, start - _VERSION_WINDOW), start) is None


_HAS_DIGIT: Final = re.compile(r"[0-9]")


def _valid_ipv6(text: str, m: re.Match[str]) -> bool:
    value = m.group()
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return _HAS_DIGIT.search(value) is not None


_EMAIL_MAX: Final = 254


def _valid_email(text: str, m: re.Match[str]) -> bool:
    value = m.group()
    local = value[: value.index("@")]
    return (
        len(value) <= _EMAIL_MAX
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
    )


# ------------------------------------------------------------------------ registry

LEFT_CONTEXT: Final = 24
"""No match depends on more than this many characters before its start.

Lookbehinds read at most two characters, the IPv4 version check thirteen and the
passport keyword check :data:`PASSPORT_WINDOW`.
"""

_DIGITS: Final = "0123456789"
_UPPER: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER: Final = _UPPER.lower()
_HEX: Final = _DIGITS + "abcdefABCDEF"


# Seed filters over the maximal runs ``(a, b)`` of 3+ digits; each comment names the
# run of a candidate that the filter keeps.


def _seed_resident_id(text: str, runs: Runs) -> list[int]:
    return [a for a, b in runs if 17 <= b - a <= 18]  # all but the check character


def _seed_uscc(text: str, runs: Runs) -> list[int]:
    return [a for a, b in runs if 8 <= b - a <= 18]  # the leading digits


def _seed_card(text: str, runs: Runs) -> list[int]:
    n = len(text)  # the whole number, or its first group of four
    return [a for a, b in runs if 13 <= b - a <= 19 or (b - a == 4 and b < n and text[b] in " -")]


def _seed_mobile(text: str, runs: Runs) -> list[int]:
    n = len(text)  # the number with or without 86, or its middle group of four
    return [
        a
        for a, b in runs
        if b - a in {11, 13}
        or (b - a == 4 and b < n and text[b] in " -" and a and text[a - 1] in " -")
    ]


def _seed_landline(text: str, runs: Runs) -> list[int]:
    return [a for a, b in runs if 7 <= b - a <= 8 and a and text[a - 1] in "-) "]  # local no.


def _seed_ssn(text: str, runs: Runs) -> list[int]:
    n = len(text)  # the area number
    return [a for a, b in runs if b - a == 3 and b < n and text[b] == "-"]


def _seed_passport(text: str, runs: Runs) -> list[int]:
    return [a for a, b in runs if 7 <= b - a <= 8 and a and text[a - 1] in _UPPER]  # digits


def _start(left: str, first: str) -> re.Pattern[str]:
    return re.compile(f"(?<![{left}])[{first}]")


def _digit_kind(
    kind: str,
    *,
    max_len: int,
    pattern: str,
    validate: Validator,
    seed: Callable[[str, Runs], list[int]],
    back: int,
    extra: str,
    first: str,
    left: str = "0-9A-Za-z",
) -> Recognizer:
    """Build a recognizer for a number.

    Every candidate contains a maximal run of 3+ digits that ``seed`` keeps and
    that starts at most ``back`` characters after the candidate's start.
    """
    return Recognizer(
        kind=kind,
        max_len=max_len,
        pattern=re.compile(pattern),
        validate=validate,
        seed=seed,
        seed_back=back,
        alphabet=frozenset(_DIGITS + extra),
        start=_start(left, first),
    )


def _build() -> dict[str, Recognizer]:
    card = _card_pattern()
    recs = [
        _digit_kind(
            "cn_resident_id",
            max_len=18,
            pattern=_NB + "[1-9][0-9]{16}[0-9Xx]" + _NA,
            validate=_valid_resident_id,
            seed=_seed_resident_id,
            back=0,
            extra="Xx",
            first="1-9",
        ),
        _digit_kind(
            "cn_uscc",
            max_len=18,
            pattern=_NB + "[1-9][0-9]{7}[0-9A-HJ-NP-RTUW-Y]{10}" + _NA,
            validate=_valid_uscc,
            seed=_seed_uscc,
            back=0,
            extra=_UPPER,
            first="1-9",
        ),
        _digit_kind(
            "bank_card",
            max_len=23,
            pattern=card,
            validate=_card_validator("bank_card"),
            seed=_seed_card,
            back=0,
            extra=" -",
            first="0-9",
        ),
        _digit_kind(
            "credit_card",
            max_len=23,
            pattern=card,
            validate=_card_validator("credit_card"),
            seed=_seed_card,
            back=0,
            extra=" -",
            first="0-9",
        ),
        _digit_kind(
            "cn_mobile",
            max_len=17,
            pattern=_mobile_pattern(),
            validate=_valid_mobile,
            seed=_seed_mobile,
            back=8,  # "+86-138-1234"
            extra="+ -",
            first="+18",
            left="0-9A-Za-z+",
        ),
        _digit_kind(
            "cn_landline",
            max_len=20,
            pattern=_landline_pattern(),
            validate=_valid_landline,
            seed=_seed_landline,
            back=7,  # "(0755) 1234567"
            extra="() -",
            first="0(",
        ),
        _digit_kind(
            "us_ssn",
            max_len=11,
            pattern=_NB + "(?<![0-9]-)[0-9]{3}-[0-9]{2}-[0-9]{4}(?!-[0-9])" + _NA,
            validate=_valid_ssn,
            seed=_seed_ssn,
            back=0,
            extra="-",
            first="0-9",
        ),
        _digit_kind(
            "passport",
            max_len=9,
            pattern=_NB + "(?:[DEGPS][0-9]{8}|E[A-HJ-NP-Z][0-9]{7})" + _NA,
            validate=_valid_passport,
            seed=_seed_passport,
            back=2,  # "EA1234567"
            extra=_UPPER,
            first="DEGPS",
        ),
        Recognizer(
            kind="email",
            max_len=64 + 1 + 253,
            pattern=re.compile(_EMAIL_PATTERN),
            validate=_valid_email,
            seed=re.compile("@"),
            seed_back=64,
            alphabet=frozenset(_DIGITS + _UPPER + _LOWER + "._%+-@"),
            start=_start(_EMAIL_LOCAL_CHARS + "@", _EMAIL_LOCAL_CHARS),
            viable=re.compile(rf"[{_EMAIL_LOCAL_CHARS}]{{0,64}}(?:@[A-Za-z0-9.-]{{0,255}})?"),
        ),
        # The first colon of an address starts ``:h{0,4}:`` and is at most 4
        # characters after the start.
        Recognizer(
            kind="ipv6",
            max_len=7 * 5 + 15,
            pattern=re.compile(_IPV6_PATTERN),
            validate=_valid_ipv6,
            seed=re.compile("::|:[0-9A-Fa-f]{1,4}:"),
            seed_back=4,
            alphabet=frozenset(_HEX + ":."),
            start=_start("0-9A-Za-z:.", "0-9A-Fa-f:"),
        ),
        Recognizer(
            kind="ipv4",
            max_len=15,
            pattern=re.compile(_IPV4_PATTERN),
            validate=_valid_ipv4,
            seed=re.compile(r"\.[0-9]"),  # the first dot, 1-3 characters in
            seed_back=3,
            alphabet=frozenset(_DIGITS + "."),
            start=_start("0-9A-Za-z.", "0-9"),
        ),
    ]
    return {r.kind: r for r in recs}


RECOGNIZERS: Final[Mapping[str, Recognizer]] = MappingProxyType(_build())
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
    return _plan_cached(None if kinds is None else tuple(kinds))


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
# ".digit"), so a text without them from ``pos`` on has no candidate at all.
_TRIGGER: Final = re.compile(r"[0-9@:]")


def _candidates(text: str, recs: tuple[Recognizer, ...], pos: int) -> list[PiiMatch]:
    if _TRIGGER.search(text, pos) is None:
        return []
    seeds = _Seeds(text, pos)
    out: list[PiiMatch] = []
    for rec in recs:
        windows = seeds.windows(rec.seed, rec.seed_back)
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
    recs = _select(kinds)
    return _resolve(_candidates(text, recs, start))


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
