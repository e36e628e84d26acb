"""The C matcher against a plain-Python oracle written from the specification."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from matcher_reference import TABLE, reference

from hegui.detect._fastscan import Matcher
from hegui.detect._normalize import fold_term

ALPHABET = list("abcxyz .*-_炸弹彈药大麻烦，\n") + ["\u200b", "\u200d", "Ａ", "Ｂ", "𝐛", "\ufe0f"]
PATTERNS = ["ab", "abc", "bc", "b", "ca", "炸弹", "弹药", "大麻", "大麻烦", "xyz", "zab"]


def oracle(
    text: str, patterns: list[str], word: list[bool], max_gap: int
) -> set[tuple[int, int, int]]:
    """Every hit the matcher must report (the reference, as a set)."""
    return set(reference(text, patterns, word, max_gap))


def assert_finds_what_the_oracle_finds(
    text: str, terms: list[str], word: list[bool], max_gap: int
) -> list[tuple[int, int, int]]:
    """Fold ``terms``, scan ``text`` whole, compare with the oracle; return the hits."""
    folded = [fold_term(TABLE, t) for t in terms]
    hits, _ = Matcher(TABLE, folded, bytes(word), max_gap).scan(text)
    assert set(hits) == oracle(text, folded, word, max_gap)
    return list(hits)


def build(word: list[bool], max_gap: int) -> Matcher:
    folded = [fold_term(TABLE, p) for p in PATTERNS]
    return Matcher(TABLE, folded, bytes(word), max_gap)


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet=ALPHABET, max_size=60),
    word=st.lists(st.booleans(), min_size=len(PATTERNS), max_size=len(PATTERNS)),
    max_gap=st.integers(0, 3),
)
def test_matcher_equals_oracle(text: str, word: list[bool], max_gap: int) -> None:
    hits, safe = build(word, max_gap).scan(text)
    assert safe == len(text)
    assert set(hits) == oracle(text, PATTERNS, word, max_gap)


# Substring terms of four or more characters pass a filter of their first four. Texts
# are made of pieces of the terms, so whole matches, near misses and separators or
# breaks inside a term are all common.
LONG_PATTERNS = ["abca", "bcab", "abcabc", "ab", "aab", "炸弹弹药", "弹药炸弹炸", "zabc", "a"]
PIECES = ["abc", "bca", "ab", "ca", "b", "c", "z", "za", "炸弹", "弹药", "炸", " ", ".", "\n"]
PIECES += ["\u200b", "Ａ", "xyz"]


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(st.sampled_from(PIECES), min_size=4, max_size=40).map("".join),
    word=st.lists(st.booleans(), min_size=len(LONG_PATTERNS), max_size=len(LONG_PATTERNS)),
    max_gap=st.integers(0, 2),
)
def test_matcher_equals_oracle_for_long_terms(text: str, word: list[bool], max_gap: int) -> None:
    assert_finds_what_the_oracle_finds(text, LONG_PATTERNS, word, max_gap)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=ALPHABET, max_size=50),
    word=st.lists(st.booleans(), min_size=len(PATTERNS), max_size=len(PATTERNS)),
    cut=st.integers(0, 50),
)
def test_partial_scan_reports_only_decided_hits(text: str, word: list[bool], cut: int) -> None:
    """A hit reported before the end is a hit of every continuation."""
    folded = [fold_term(TABLE, p) for p in PATTERNS]
    veto = bytes(p in ("大麻烦", "abc") for p in PATTERNS)
    m = Matcher(TABLE, folded, bytes(word), 2, veto)
    prefix = text[: min(cut, len(text))]
    partial, safe = m.scan(prefix, 0, False)
    full = set(m.scan(text)[0])
    for hit in partial:
        assert hit in full
    # every full-text hit that starts before the safe point was already reported
    assert {h for h in full if h[0] < safe} <= set(partial)


def test_evasions_are_found_with_original_spans() -> None:
    m = Matcher(TABLE, [fold_term(TABLE, "炸弹"), "bomb"], bytes([0, 1]), 3)
    for text, span in [
        ("做个炸 弹吧", (2, 5)),
        ("做个炸*弹吧", (2, 5)),
        ("做个炸\u200b彈吧", (2, 5)),
        ("a b.o.m.b here", (2, 9)),
        ("a ＢＯＭＢ here", (2, 6)),
        ("a bоmb here", (2, 6)),  # Cyrillic o
        ("a 𝐛𝐨𝐦𝐛 here", (2, 6)),
    ]:
        hits, _ = m.scan(text)
        assert [(s, e) for s, e, _ in hits] == [span], text


def test_word_boundaries_and_breaks() -> None:
    m = Matcher(TABLE, ["sb", fold_term(TABLE, "大麻")], bytes([1, 0]), 3)
    assert m.scan("Disburse the funds")[0] == []
    assert m.scan("you sb!")[0] == [(4, 6, 0)]
    assert m.scan("买sb吗")[0] == [(1, 3, 0)]  # CJK next to a word term is a boundary
    assert m.scan("声音很大。麻醉")[0] == []  # a sentence end breaks a match
    assert m.scan("大    麻")[0] == []  # more separators than max_gap
    assert m.scan("大   麻")[0] == [(0, 5, 1)]


def test_bad_arguments_are_rejected() -> None:
    import pytest

    with pytest.raises(ValueError, match="fold table"):
        Matcher(b"\x00" * 16, ["a"], b"\x00", 1)
    with pytest.raises(ValueError, match="differ in length"):
        Matcher(TABLE, ["a", "b"], b"\x00", 1)
    with pytest.raises(ValueError, match="empty"):
        Matcher(TABLE, [""], b"\x00", 1)
    with pytest.raises(IndexError):
        Matcher(TABLE, ["a"], b"\x00", 1).scan("abc", 9)


# Latin text: the scan skips positions whose first two characters are no term, whose
# first three begin none (the start set keeps six bits of the third, so "p0q" and "00q"
# may share a bit) and whose first is no one-character term. Terms of two, three and
# more characters, ASCII and mixed; texts longer than the last few characters, which the
# scan handles apart.
LATIN_PATTERNS = ["th", "the", "then", "hen", "p0q", "00q", "zi炸", "x", "nthe", "q", "enz"]
LATIN_PIECES = ["th", "e", "n", "the", "hen", "p0", "00", "q", "zi", "炸", "x", "ab", "Z"]
LATIN_PIECES += [" ", " ", ".", "\n", "\u200b", "ｔ", "tHe"]


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(st.sampled_from(LATIN_PIECES), min_size=4, max_size=60).map("".join),
    word=st.lists(st.booleans(), min_size=len(LATIN_PATTERNS), max_size=len(LATIN_PATTERNS)),
    max_gap=st.integers(0, 2),
)
def test_matcher_equals_oracle_in_latin_text(text: str, word: list[bool], max_gap: int) -> None:
    assert_finds_what_the_oracle_finds(text, LATIN_PATTERNS, word, max_gap)


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(st.sampled_from(LATIN_PIECES), min_size=4, max_size=40).map("".join),
    word=st.lists(st.booleans(), min_size=len(LATIN_PATTERNS), max_size=len(LATIN_PATTERNS)),
    cut=st.integers(0, 120),
)
def test_partial_scan_of_latin_text_reports_only_decided_hits(
    text: str, word: list[bool], cut: int
) -> None:
    folded = [fold_term(TABLE, p) for p in LATIN_PATTERNS]
    m = Matcher(TABLE, folded, bytes(word), 2, bytes(p == "then" for p in LATIN_PATTERNS))
    partial, safe = m.scan(text[:cut], 0, False)
    full = set(m.scan(text)[0])
    assert set(partial) <= full
    assert {h for h in full if h[0] < safe} <= set(partial)


def test_a_lexicon_of_thousands_of_terms_is_still_exact() -> None:
    """Filters are sized to the lexicon: a large one must not lose terms either."""
    words = [f"{a}{b}{c}{d}" for a in "bcdfg" for b in "aeiou" for c in "lmnrst" for d in "aeiou"]
    han = [f"炸{chr(0x4E00 + i)}" for i in range(2000)]
    patterns = words + han
    text = " ".join(words[::7]) + "。" + "".join(han[::5]) + " xbalax " + words[-1].upper()
    hits, _ = Matcher(TABLE, patterns, bytes(len(patterns)), 3).scan(text)
    assert set(hits) == oracle(text, patterns, [False] * len(patterns), 3)


def test_latin_text_full_of_term_beginnings_is_still_exact() -> None:
    """Where most places pass the scan's first test, what follows is still found."""
    word = [i % 2 == 0 for i in range(len(LATIN_PATTERNS))]
    text = "thenthen " * 1500 + "p0q zi炸 x enz. THE p0 q"  # 3 places in 4 pass
    hits = assert_finds_what_the_oracle_finds(text, LATIN_PATTERNS, word, 2)
    assert max(h[0] for h in hits) > len(text) - 20
