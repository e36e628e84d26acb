"""Character folding that defeats common evasions, as one table shared with the C core.

Every code point below ``FOLD_LIMIT`` maps to one value (see ``_fastscan.c``): dropped
(invisible), a soft separator, a hard break, or a folded code point with a "word
character" bit. Folding is single-character by design: it keeps spans in the original
text exact and lets the C core fold at table-lookup speed, where CPython's NFKC runs
at about 33 MB/s.
"""

from __future__ import annotations

import unicodedata
from array import array
from dataclasses import dataclass
from functools import lru_cache

FOLD_LIMIT = 0x30000
DROP = 0
SEP = 1
BREAK = 2
WORD = 0x80000000
CP_MASK = 0x1FFFFF

# Letters of other scripts that are drawn like Latin letters and used to dodge filters.
_CONFUSABLES = {
    "а": "a",
    "в": "b",
    "е": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "і": "i",
    "ј": "j",
    "ѕ": "s",
    "ԁ": "d",
    "ɡ": "g",
    "ο": "o",
    "α": "a",
    "ν": "v",
    "ι": "i",
    "κ": "k",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ε": "e",
}

# Scripts written without spaces between words: their letters are not word characters,
# so word-boundary terms next to them still match ("买cocaine吗").
_NO_SPACE_RANGES = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x2E80, 0x10FFFF))


@dataclass(frozen=True, slots=True)
class FoldOptions:
    """Which folds to apply; mirrors the ``normalization`` section of a policy pack."""

    fullwidth: bool = True
    casefold: bool = True
    invisible: bool = True
    traditional: bool = True
    hard_breaks: str = "\n\r。！？；，、"


def _is_word(cp: int) -> bool:
    if not chr(cp).isalnum():
        return False
    return not any(lo <= cp <= hi for lo, hi in _NO_SPACE_RANGES)


def _traditional_map() -> dict[str, str]:
    """Traditional -> simplified by character, closed under round trips.

    Besides OpenCC's t2s table, a simplified variant whose traditional form folds to a
    different simplified character (馀 -> 餘 -> 余) folds to that character too, so a
    term and its traditional spelling always meet.
    """
    import opencc  # imported here: only table construction needs it

    chars = [
        chr(c)
        for lo, hi in ((0x3400, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FFFF))
        for c in range(lo, hi + 1)
    ]

    def convert(config: str) -> list[str]:
        out: list[str] = str(opencc.OpenCC(config).convert("\n".join(chars))).split("\n")
        if len(out) != len(chars):  # pragma: no cover - would mean OpenCC merged lines
            raise RuntimeError(f"OpenCC {config} changed the number of characters")
        return out

    t2s = {a: b for a, b in zip(chars, convert("t2s"), strict=True) if a != b and len(b) == 1}
    for a, trad in zip(chars, convert("s2t"), strict=True):
        if len(trad) != 1 or trad == a:
            continue
        target = t2s.get(trad, trad)
        if t2s.get(a, a) != target:
            t2s[a] = target
    # follow chains so folding is idempotent: fold(fold(x)) == fold(x)
    for a in list(t2s):
        seen = {a}
        b = t2s[a]
        while b in t2s and b not in seen:
            seen.add(b)
            b = t2s[b]
        t2s[a] = min(seen) if b in seen else b
    return {a: b for a, b in t2s.items() if a != b}


def _strip_marks(ch: str) -> str:
    """Fold a Latin, Greek or Cyrillic letter with diacritics to its base letter."""
    if ord(ch) >= 0x0530 and not 0x1E00 <= ord(ch) <= 0x1EFF:
        return ch
    decomposed = unicodedata.normalize("NFD", ch)
    base = decomposed[0]
    if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]):
        return base
    return ch


def _fold_one(ch: str, opts: FoldOptions, t2s: dict[str, str]) -> int:
    """Fold one character, repeating until the result folds to itself (idempotence)."""
    value = _fold_step(ch, opts, t2s)
    for _ in range(4):
        if value <= BREAK or chr(value & CP_MASK) == ch:
            break
        ch = chr(value & CP_MASK)
        again = _fold_step(ch, opts, t2s)
        if again == value:
            break
        value = again
    return value


def _fold_step(ch: str, opts: FoldOptions, t2s: dict[str, str]) -> int:
    cp = ord(ch)
    if ch in opts.hard_breaks:
        return BREAK
    cat = unicodedata.category(ch)
    if opts.invisible and (
        cat in ("Cf", "Mn", "Me", "Cs", "Co")
        or (cat == "Cc" and not ch.isspace())
        or 0xFE00 <= cp <= 0xFE0F
    ):
        return DROP
    if opts.fullwidth:
        nk = unicodedata.normalize("NFKC", ch)
        if len(nk) == 1:
            ch = nk
            if ch in opts.hard_breaks:
                return BREAK
            cat = unicodedata.category(ch)
    if ch.isspace() or cat[0] in "PSZ" or cat == "Cc":
        return SEP
    if opts.casefold:
        low = ch.lower()
        if len(low) == 1:
            ch = low
        ch = _CONFUSABLES.get(ch, ch)
        ch = _strip_marks(ch)
    if opts.traditional:
        ch = t2s.get(ch, ch)
    out = ord(ch)
    return out | WORD if _is_word(out) else out


@lru_cache(maxsize=8)
def fold_table(opts: FoldOptions = FoldOptions()) -> array[int]:  # noqa: B008 - frozen value
    """Build (once per options) the fold table handed to the C core."""
    t2s = _traditional_map() if opts.traditional else {}
    table = array("I", bytes(4 * FOLD_LIMIT))
    for cp in range(FOLD_LIMIT):
        table[cp] = _fold_one(chr(cp), opts, t2s)
    return table


def fold_value(table: array[int], ch: str) -> int:
    """The table value of one character, including code points above the table."""
    cp = ord(ch)
    if cp < FOLD_LIMIT:
        return int(table[cp])
    if 0xE0000 <= cp <= 0xE007F or 0xE0100 <= cp <= 0xE01EF:
        return DROP
    return cp


def fold_term(table: array[int], term: str) -> str:
    """Fold a lexicon term the way the scanner folds text, dropping separators."""
    out = []
    for ch in term:
        v = fold_value(table, ch)
        if v > BREAK:
            out.append(chr(v & CP_MASK))
    return "".join(out)


def is_word_term(table: array[int], folded: str) -> bool:
    """True when every character of a folded term is a word character (e.g. English)."""
    return bool(folded) and all(fold_value(table, ch) & WORD for ch in folded)
