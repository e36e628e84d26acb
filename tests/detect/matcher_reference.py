"""A plain reference for the C matcher: fold with the same table, then str.find.

Written from the specification of the matcher (what is folded, dropped, a separator or
a break; whole-word boundaries; gaps), slow and obvious; the matcher tests compare the
C code with it.
"""

from __future__ import annotations

from hegui.detect._normalize import BREAK, CP_MASK, DROP, SEP, WORD, FoldOptions, fold_value
from hegui.detect._tables import cached_fold_table

TABLE = cached_fold_table(FoldOptions())


def value(ch: str) -> int:
    return fold_value(TABLE, ch)


def reference(
    text: str, patterns: list[str], word: list[bool], max_gap: int, start: int = 0
) -> list[tuple[int, int, int]]:
    """Every (start, end, pattern) the matcher must report for text[start:]."""
    # kept characters: (folded character, original index, a word may start here)
    kept: list[tuple[str, int, bool]] = []
    cut_before: set[int] = set()  # kept indices a match may not reach back across
    gap, boundary, prev_word, pending_cut = 0, True, True, False
    # what lies before `start` decides only whether a word starts at the first character
    for ch in reversed(text[:start]):
        v = value(ch)
        if v == DROP:
            continue
        boundary = v in (SEP, BREAK) or not v & WORD
        break
    for i in range(start, len(text)):
        v = value(text[i])
        if v == DROP:
            continue
        if v in (SEP, BREAK):
            boundary = True
            gap += 1
            if v == BREAK or gap > max_gap:
                pending_cut = True
            continue
        gap = 0
        is_word = bool(v & WORD)
        if pending_cut:
            cut_before.add(len(kept))
        kept.append((chr(v & CP_MASK), i, boundary or not prev_word or not is_word))
        boundary, prev_word, pending_cut = False, is_word, False

    def word_ends_after(i: int) -> bool:
        for ch in text[i + 1 :]:
            v = value(ch)
            if v == DROP:
                continue
            return v in (SEP, BREAK) or not v & WORD
        return True

    folded = "".join(c for c, _, _ in kept)
    found = []
    for at in range(len(kept)):
        walked = [p for p, pat in enumerate(patterns) if folded.startswith(pat, at)]
        for pid in walked:
            end = at + len(patterns[pid]) - 1
            if any(k in cut_before for k in range(at + 1, end + 1)):
                continue
            first, last = kept[at], kept[end]
            if word[pid] and not (first[2] and word_ends_after(last[1])):
                continue
            found.append((first[1], last[1] + 1, pid))
    return found
