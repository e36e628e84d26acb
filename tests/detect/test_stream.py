"""Streaming guarantees: nothing flagged leaks, and the stream finds what scan() finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hegui.detect import (
    Action,
    CompiledLexicon,
    FoldOptions,
    Lexicon,
    LexiconDetector,
    LexiconEntry,
    Scanner,
    Severity,
    apply_actions,
)
from hegui.detect._normalize import fold_term
from hegui.detect._tables import cached_fold_table

TERMS = [
    ("炸弹", ""),
    ("弹药", ""),
    ("大麻", ""),
    ("bomb", "word"),
    ("ab", "word"),
    ("abc", "substring"),
]
ALLOW = ("大麻烦", "abcd")
ALPHABET = list("abcdmo炸弹彈药大麻烦 .*，\n") + ["\u200b", "Ａ", "Ｂ"]


def lexicon_detector(action: Action) -> LexiconDetector:
    entries = tuple(
        LexiconEntry(t, "cat", "sub", "A.1.h", "zh", m, (), Severity.HIGH, f"test:{i}")
        for i, (t, m) in enumerate(TERMS)
    )
    compiled = CompiledLexicon(Lexicon(entries, ALLOW), FoldOptions(), 3)
    return LexiconDetector(compiled, action)


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in zip(points, points[1:], strict=False)]


def key(f: object) -> tuple[object, ...]:
    return (f.start, f.end, f.term, f.risk, f.detector)  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=80), cuts=st.lists(st.integers(0, 80), max_size=30))
def test_stream_findings_equal_scan_and_nothing_blocked_leaks(text: str, cuts: list[int]) -> None:
    scanner = Scanner([lexicon_detector(Action.BLOCK)])
    expected = scanner.scan(text)
    stream = scanner.stream()
    released = []
    for chunk in chunked(text, cuts):
        released.append(stream.feed(chunk).text)
    released.append(stream.close().text)
    out = "".join(released)
    assert sorted(map(key, stream.findings)) == sorted(map(key, expected))
    # released text is a prefix of the input that stops before the first block
    assert text.startswith(out)
    if expected:
        assert len(out) <= min(f.start for f in expected)
    else:
        assert out == text
    # and no term of the lexicon can be found in what was released
    assert scanner.scan(out) == []


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=80), cuts=st.lists(st.integers(0, 80), max_size=30))
def test_masked_stream_equals_masked_whole_text(text: str, cuts: list[int]) -> None:
    scanner = Scanner([lexicon_detector(Action.MASK)])
    whole, blocked = apply_actions(text, scanner.scan(text))
    assert not blocked
    stream = scanner.stream()
    out = "".join(stream.feed(c).text for c in chunked(text, cuts)) + stream.close().text
    assert out == whole
    assert len(out) == len(text)


def test_holdback_is_short() -> None:
    """The stream holds back only what may still become a match, not the sentence."""
    stream = Scanner([lexicon_detector(Action.BLOCK)]).stream()
    assert stream.feed("今天天气很好，").text == "今天天气很好，"
    rel = stream.feed("我们去买大")
    assert rel.text == "我们去买"  # 大 may start 大麻
    assert stream.holdback == 1
    rel = stream.feed("米")
    assert rel.text == "大米"
    rel = stream.feed("和炸")
    assert rel.text == "和"
    rel = stream.feed(" 弹")
    assert rel.blocked and rel.text == ""
    assert [f.matched for f in rel.findings] == ["炸 弹"]
    rel = stream.feed("和弹药")  # still scanned for the record, never released
    assert rel.text == "" and rel.blocked
    assert [f.term for f in stream.findings] == ["炸弹", "弹药"]


def test_allowlist_suppresses_contained_terms_only() -> None:
    det = lexicon_detector(Action.BLOCK)
    assert det.scan("这真是个大麻烦") == []
    found = det.scan("大麻烦死了，他在卖大麻")
    assert [(f.start, f.end, f.term) for f in found] == [(9, 11, "大麻")]


def test_fold_term_matches_scanner_fold() -> None:
    table = cached_fold_table(FoldOptions())
    assert fold_term(table, "Pipe Bomb") == "pipebomb"
    assert fold_term(table, "炸彈") == "炸弹"


def _valid_mobile(tail: int) -> str:
    return f"138{tail:08d}"


PIECES = [
    "你好，",
    "我的电话是",
    _valid_mobile(12345678),
    "，",
    "请打",
    " ",
    "+86 139 1234 5678",
    "邮箱 a.b@example.com ",
    "自 制 炸 彈",
    "买冰毒",
    "hello world ",
    "2023年",
    "123",
    "-",
    "身份证11010519491231002X",
    "\u200b",
    "大麻烦",
    "p.i.p.e b.o.m.b",
    "。\n",
]


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.sampled_from(PIECES), max_size=12),
    cuts=st.lists(st.integers(0, 200), max_size=40),
)
def test_cn_policy_stream_equals_whole_text(parts: list[str], cuts: list[int]) -> None:
    """Lexicon and PII together, as the gateway runs them on a streamed answer."""
    from hegui.policy import load_policy

    scanner = Scanner.from_policy(load_policy("cn"), "output")
    text = "".join(parts)
    expected = scanner.scan(text)
    stream = scanner.stream()
    out = "".join(stream.feed(c).text for c in chunked(text, cuts)) + stream.close().text
    assert sorted(map(key, stream.findings)) == sorted(map(key, expected))
    whole, blocked = apply_actions(text, expected)
    assert stream.blocked == blocked
    assert out == whole
