"""Pinyin and homophone spellings of Chinese keywords, for entries that ask for them.

Evaders write 冰毒 as "bingdu", "bing毒" or 兵毒. For a keyword marked ``pinyin`` the
lexicon also matches its toneless pinyin, whole or mixed with characters; for
``homophone`` it matches every spelling with one character swapped for a common
character of the same sound, except spellings that are real words (病毒 "virus" must
not fire for 冰毒), judged by pypinyin's phrase dictionary.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

MAX_MIXED_CHARS = 4  # beyond this many characters, mixed spellings explode combinatorially
MAX_HOMOPHONES = 120


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


@lru_cache(maxsize=1)
def _common_by_sound() -> dict[str, tuple[str, ...]]:
    """Level-1 GB2312 characters (the 3,755 most common) grouped by toneless pinyin."""
    from pypinyin import Style, lazy_pinyin

    groups: dict[str, list[str]] = {}
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                ch = bytes((hi, lo)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            sound = lazy_pinyin(ch, style=Style.NORMAL)[0]
            groups.setdefault(sound, []).append(ch)
    return {k: tuple(v) for k, v in groups.items()}


@lru_cache(maxsize=1)
def _phrases() -> frozenset[str]:
    from pypinyin.constants import PHRASES_DICT

    return frozenset(PHRASES_DICT)


def _sounds(term: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    return [lazy_pinyin(ch, style=Style.NORMAL)[0] if _is_han(ch) else ch for ch in term]


def pinyin_variants(term: str) -> list[str]:
    """Toneless pinyin of the term, whole and (for short terms) mixed with characters."""
    sounds = _sounds(term)
    han = [i for i, ch in enumerate(term) if _is_han(ch)]
    if not han:
        return []
    out = {"".join(sounds)}
    if len(han) <= MAX_MIXED_CHARS:
        for choice in product((False, True), repeat=len(han)):
            if any(choice) and not all(choice):
                parts = list(term)
                for i, as_pinyin in zip(han, choice, strict=True):
                    if as_pinyin:
                        parts[i] = sounds[i]
                out.add("".join(parts))
    out.discard(term)
    return sorted(out)


def homophone_variants(term: str) -> list[str]:
    """The term with one character replaced by a common same-sounding character."""
    groups = _common_by_sound()
    phrases = _phrases()
    sounds = _sounds(term)
    out: list[str] = []
    for i, ch in enumerate(term):
        if not _is_han(ch):
            continue
        for alt in groups.get(sounds[i], ()):
            if alt == ch:
                continue
            spelling = term[:i] + alt + term[i + 1 :]
            if spelling not in phrases:
                out.append(spelling)
    return out[:MAX_HOMOPHONES]
