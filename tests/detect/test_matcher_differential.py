"""The C matcher against a plain reference on many random mixed Chinese/English texts.

The texts are made of filler (CJK, Latin words, digits, punctuation, spaces, invisible
characters, astral characters) with terms of the lexicon planted in them, often written
the way an evasion would write them (other case, full width, traditional characters,
separators or zero-width characters inside), at the start and end of the text, next to
each other, overlapping, and next to punctuation, digits and CJK. The reference folds the
text with the same table and finds every occurrence with str.find, checking whole-word
boundaries by hand; the matcher must report exactly the same hits, in order of position
(the order of the terms found at one position is its own).
"""

from __future__ import annotations

import random

import pytest
from matcher_reference import TABLE, reference

from hegui.detect._fastscan import Matcher
from hegui.detect._normalize import fold_term, is_word_term

# Substring terms (Chinese, Latin, mixed), whole-word terms (Latin, digits), one-character
# terms, terms sharing prefixes, terms longer than the filters' six characters, and
# characters above the fold table (U+30000 on), which the scan knows nothing of.
TERMS = [
    "炸弹",
    "弹药",
    "炸弹弹药",
    "大麻",
    "大麻烦",
    "冰毒",
    "自制炸弹教程",
    "屄",
    "a片",
    "k粉",
    "pipebomb",
    "bomb",
    "bombmaking",
    "meth",
    "methamphetamine",
    "tatp",
    "lsd",
    "sb",
    "3dprintedgun",
    "x",
    "ox",
    "box",
    "小屄",
    "ab",
    "abab",
    "bab",
    "zhayao",
    "how to make a bomb",
    "e\u0301t\u00e9",
    "\U00030000",
    "\U00031000炸",
]
# Which are whole-word terms when a lexicon asks "as the table says".
AUTO = [is_word_term(TABLE, fold_term(TABLE, t)) for t in TERMS]
VETO = {"大麻烦", "bombmaking"}

FILLER_CJK = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会"
FILLER_WORDS = ["the", "and", "bomber", "methods", "lab", "abba", "tabs", "xyz", "zz", "k"]
FILLER_WORDS += ["résumé", "naïve", "café", "ÀB", "ǅ", "ß"]
PUNCT = [" ", "  ", ".", ",", "，", "。", "！", "-", "_", "*", "/", "\n", "\t", "'", "(", ")"]
INVISIBLE = ["\u200b", "\u200d", "\ufeff", "\u00ad", "\U000e0001", "\U000e0100", "\ufe0f"]
DIGITS = ["0", "7", "42", "2024", "３"]
ASTRAL = ["\U0001f600", "𝐛", "\U00020000", "\U0001f4a3", "\U00030000", "\U00031000", "\U00030005"]


def same_hits(got: list[tuple[int, int, int]], want: list[tuple[int, int, int]]) -> bool:
    starts = [h[0] for h in got]
    return starts == sorted(starts) and sorted(got) == sorted(want)


def disguise(rng: random.Random, term: str) -> str:
    """The term as an evasion might write it: the folding must undo every change."""
    out = []
    for ch in term:
        r = rng.random()
        written = ch
        if r < 0.15 and "a" <= ch <= "z":
            written = ch.upper()
        elif r < 0.25 and "!" <= ch <= "~":
            written = chr(ord(ch) + 0xFEE0)  # full width
        elif r < 0.3 and ch in "弹药烦":
            written = {"弹": "彈", "药": "藥", "烦": "煩"}[ch]  # traditional
        out.append(written)
        r = rng.random()
        if r < 0.08:
            out.append(rng.choice(INVISIBLE))
        elif r < 0.14:
            out.append(rng.choice([" ", "*", ".", "-", " . "]))
        elif r < 0.16:
            out.append(rng.choice(["。", "\n"]))  # a break: the term is cut
    return "".join(out)


def piece(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        term = rng.choice(TERMS)
        return disguise(rng, term) if rng.random() < 0.4 else term
    if r < 0.5:
        return "".join(rng.choice(FILLER_CJK) for _ in range(rng.randint(1, 6)))
    if r < 0.65:
        return rng.choice(FILLER_WORDS)
    if r < 0.8:
        return rng.choice(PUNCT)
    if r < 0.88:
        return rng.choice(DIGITS)
    if r < 0.94:
        return rng.choice(INVISIBLE)
    return rng.choice(ASTRAL)


def random_text(rng: random.Random) -> str:
    text = "".join(piece(rng) for _ in range(rng.randint(0, 40)))
    if rng.random() < 0.3:
        text = rng.choice(TERMS) + text  # a term at the very start
    if rng.random() < 0.3:
        text += rng.choice(TERMS)  # and at the very end
    if rng.random() < 0.1:  # a long text, past the scan's internal lengths
        text = text * rng.randint(20, 150)
    return text


def lexicon(rng: random.Random) -> tuple[list[str], list[bool], bytes, int]:
    folded = [fold_term(TABLE, t) for t in TERMS]
    mode = rng.random()
    if mode < 0.4:
        word = list(AUTO)
    elif mode < 0.7:
        word = [rng.random() < 0.5 for _ in TERMS]
    else:
        word = [False] * len(TERMS)
    veto = bytes(t in VETO for t in TERMS)
    return folded, word, veto, rng.choice([0, 1, 2, 3])


@pytest.mark.parametrize("seed", range(40))
def test_matcher_equals_reference_on_mixed_text(seed: int) -> None:
    rng = random.Random(seed)
    patterns, word, veto, max_gap = lexicon(rng)
    matcher = Matcher(TABLE, patterns, bytes(word), max_gap, veto)
    for _ in range(60):
        text = random_text(rng)
        hits, safe = matcher.scan(text)
        assert safe == len(text)
        assert same_hits(hits, reference(text, patterns, word, max_gap)), text
        start = rng.randint(0, len(text))
        hits, _ = matcher.scan(text, start)
        assert same_hits(hits, reference(text, patterns, word, max_gap, start)), (text, start)


@pytest.mark.parametrize("seed", range(20))
def test_partial_scans_report_only_decided_hits(seed: int) -> None:
    """A hit reported before the end is one of the whole text; none before `safe` is
    missing, unless an allowlist (veto) term may still cover it."""
    rng = random.Random(1000 + seed)
    patterns, word, veto, max_gap = lexicon(rng)
    matcher = Matcher(TABLE, patterns, bytes(word), max_gap, veto)
    for _ in range(60):
        text = random_text(rng)
        full = set(matcher.scan(text)[0])
        cut = rng.randint(0, len(text))
        start = rng.randint(0, cut)
        partial, safe = matcher.scan(text[:cut], start, False)
        assert start <= safe <= cut
        assert set(partial) <= full, (text, cut)
        decided = {h for h in full if start <= h[0] < safe and h[1] <= cut}
        vetoed = {h for h in decided if h not in partial}
        # a hit held back must lie where a veto term could still begin and cover it
        for h in vetoed:
            assert any(veto[p] for p in range(len(patterns))), (text, cut, h)


def test_one_character_terms_among_others_keep_position_order() -> None:
    """One-character terms are looked at out of the usual turn, and so are the two
    positions before them; the order stays. (The last five kept characters are looked
    at apart, hence the tail of each text.)"""
    patterns = ["x", "xa", "ax", "axa", "屄", "屄屄", "a屄"]
    matcher = Matcher(TABLE, patterns, bytes(len(patterns)), 2)
    for text in ["axaxa", "xxxx", "屄屄屄", "a x a", "ax\u200bax", "x", "xa", "屄x屄", "a屄屄a屄"]:
        for tail in ("", "qqqqqqq", "a"):
            hits, _ = matcher.scan(text + tail)
            want = reference(text + tail, patterns, [False] * len(patterns), 2)
            assert same_hits(hits, want), text + tail


def test_terms_longer_than_the_stack_window() -> None:
    """A term longer than the window kept on the stack (64) uses one on the heap."""
    long = "炸" * 40 + "bomb" * 10
    patterns = [long, "炸炸", "bombbomb"]
    word = [False, False, True]
    matcher = Matcher(TABLE, patterns, bytes(word), 3)
    for text in [long, "x" + long + "y", long[:-1], "弹" + long + long, long.upper()]:
        hits, _ = matcher.scan(text)
        assert same_hits(hits, reference(text, patterns, word, 3)), text
        _, safe = matcher.scan(text[:-3], 0, False)
        assert safe <= len(text) - 3
