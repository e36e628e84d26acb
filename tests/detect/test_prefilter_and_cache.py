"""The C prefilter PII detection starts with, and the cache of variant spellings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hegui.detect import _keywords, load_lexicon
from hegui.detect._fastscan import digit_runs, first_of
from hegui.detect._lexicon import LexiconEntry
from hegui.detect._pii import find_pii
from hegui.detect._variants import homophone_variants, pinyin_variants
from hegui.policy import load_policy

TRIGGER = "0123456789@:"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no digits at all",
        "春天来了，没有数字",
        "emoji \U0001f600 then 7",
        "中文后面 @ 号",
        "ipv6 ::1",
        "\ud800 lone surrogate 0",
        "１２３ full-width digits are not ASCII",
    ],
)
def test_first_of_agrees_with_a_regex_class_from_every_start(text: str) -> None:
    pattern = re.compile(r"[0-9@:]")
    for start in range(len(text) + 2):
        m = pattern.search(text, start)
        assert first_of(text, TRIGGER, start) == (m.start() if m else -1)


def test_first_of_accepts_only_ascii_sets() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        first_of("text", "数")


def test_texts_without_a_trigger_have_no_pii_and_others_still_do() -> None:
    assert find_pii("电话一三八，邮箱在下面") == []
    found = find_pii("中文电话 13812345678，mail zhang.wei@example.com")
    assert [m.kind for m in found] == ["cn_mobile", "email"]


def _entries() -> tuple[LexiconEntry, ...]:
    policy = load_policy("cn")
    opts = policy.detectors["lexicon"].options
    lexicon = load_lexicon(opts["files"], opts["mapping"], opts["allowlist"], policy.risks)
    return lexicon.entries


def _expected(entries: tuple[LexiconEntry, ...]) -> dict[str, list[str]]:
    out = {}
    for e in entries:
        for kind in e.variants:
            spell = pinyin_variants if kind == "pinyin" else homophone_variants
            out[f"{kind}:{e.keyword}"] = spell(e.keyword)
    return out


def test_variant_spellings_are_cached_and_a_damaged_cache_is_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEGUI_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("HEGUI_NO_CACHE", raising=False)
    entries = _entries()
    expected = _expected(entries)
    assert expected, "the shipped lexicon asks for pinyin and homophone spellings"
    assert _keywords.variant_spellings(entries) == expected
    (path,) = tmp_path.glob("variants-*.json")
    assert json.loads(path.read_text(encoding="utf-8")) == expected

    def refuse(wanted: object) -> dict[str, list[str]]:
        raise AssertionError("spelled again although the cache holds the answer")

    with monkeypatch.context() as m:
        m.setattr(_keywords, "_compute_spellings", refuse)
        assert _keywords.variant_spellings(entries) == expected
    path.write_text('{"pinyin:x": [', encoding="utf-8")
    assert _keywords.variant_spellings(entries) == expected
    assert json.loads(path.read_text(encoding="utf-8")) == expected


def test_variant_spellings_without_a_cache_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEGUI_NO_CACHE", "1")
    monkeypatch.setenv("HEGUI_CACHE_DIR", str(tmp_path))
    entries = _entries()
    assert _keywords.variant_spellings(entries) == _expected(entries)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["ascii", "ucs2", "ucs4"])
def test_first_of_and_digit_runs_agree_with_regexes_on_long_texts(kind: str) -> None:
    """Both skip blocks of 64 characters that hold nothing near; hits at every offset."""
    filler = {"ascii": "abc def, ", "ucs2": "春天来了，", "ucs4": "春\U0001f600 "}[kind]
    digit_runs_re = re.compile("[0-9]{3,}")
    for at in (0, 1, 62, 63, 64, 65, 127, 128, 200, 300):
        for piece in ("7", "12", "123", "4567890", "@", ":", "x1y22z333"):
            text = (filler * 60)[:at] + piece + filler * 5
            for start in (0, at, at + 1, len(text)):
                m = re.compile(r"[0-9@:]").search(text, start)
                assert first_of(text, TRIGGER, start) == (m.start() if m else -1)
                spans = [r.span() for r in digit_runs_re.finditer(text, start)]
                assert digit_runs(text, start) == spans
    assert digit_runs("12 345 6789", 0, 4) == [(7, 11)]
    assert digit_runs("12345", 2) == [(2, 5)]
    with pytest.raises(ValueError, match="min_len"):
        digit_runs("123", 0, 0)


def test_every_regex_seed_names_the_characters_its_hits_begin_with() -> None:
    """A regex seed's search starts at the first of its lead characters, or is skipped."""
    from hegui.detect._pii import RECOGNIZERS

    text = "a@b.cn ::1 fe80::1:2 1.2.3.4 x.9 ab:cd: 12:34:56 e@f @ : . 0"
    for rec in RECOGNIZERS.values():
        if isinstance(rec.seed, re.Pattern):
            assert rec.seed_lead, rec.kind
            hits = [m.start() for m in rec.seed.finditer(text)]
            assert hits, rec.kind
            assert all(text[h] in rec.seed_lead for h in hits), rec.kind
            assert find_pii("汉字" * 40 + text, [rec.kind]) == [
                type(m)(m.kind, m.start + 80, m.end + 80, m.value)
                for m in find_pii(text, [rec.kind])
            ]
