"""The PII kinds: each one's pattern, validation, seed filter and stream alphabet.

See :mod:`hegui.detect._pii` for what each kind accepts and why.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Final

import phonenumbers
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError
from stdnum.us import ssn

from hegui.detect._pii_base import _DIGIT_RUN, Recognizer, Runs, Validator

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
            seed_lead="@",
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
            seed_lead=":",
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
            seed_lead=".",
            alphabet=frozenset(_DIGITS + "."),
            start=_start("0-9A-Za-z.", "0-9"),
        ),
    ]
    return {r.kind: r for r in recs}


RECOGNIZERS: Final[Mapping[str, Recognizer]] = MappingProxyType(_build())
