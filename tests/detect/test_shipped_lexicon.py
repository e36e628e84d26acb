"""Contract tests over every entry of the shipped starter lexicon and its allowlist."""

from __future__ import annotations

import opencc
import pytest

from hegui.detect import Action, Scanner, load_lexicon
from hegui.detect._normalize import fold_term
from hegui.detect._tables import cached_fold_table
from hegui.policy import load_policy

POLICY = load_policy("cn")
OPTS = POLICY.detectors["lexicon"].options
LEXICON = load_lexicon(OPTS["files"], OPTS["mapping"], OPTS["allowlist"], known_risks=POLICY.risks)
SCANNER = Scanner.from_policy(POLICY, "output")
TABLE = cached_fold_table()


def test_entries_are_distinct_and_mapped_to_cn_risks() -> None:
    keywords = [e.keyword for e in LEXICON.entries]
    assert len(keywords) == len(set(keywords))
    assert {e.risk for e in LEXICON.entries} <= set(POLICY.risks)
    assert len(keywords) >= 400


def test_every_allowlist_word_contains_a_keyword() -> None:
    folded = {fold_term(TABLE, e.keyword) for e in LEXICON.entries}
    for word in LEXICON.allowlist:
        fw = fold_term(TABLE, word)
        assert any(k in fw for k in folded), word


def test_every_keyword_finds_itself_and_its_disguises() -> None:
    t2s_inverse = opencc.OpenCC("s2t")
    for e in LEXICON.entries:
        plain = f"前文 {e.keyword} 后文"
        spaced = "前文 " + "*".join(e.keyword.replace(" ", "")) + " 后文"
        trad = "前文 " + t2s_inverse.convert(e.keyword) + " 后文"
        for text in (plain, spaced, trad):
            terms = {f.term for f in SCANNER.scan(text)}
            assert e.keyword in terms, (e.keyword, text)


@pytest.mark.parametrize(
    "text",
    [
        "这真是个大麻烦，我们明天再说。",
        "路口交通拥堵，请绕行。",
        "The committee will disburse the funds next week.",
        "医生说这是病毒性感冒，多喝水。",
        "我们在历史课上学习了抗日战争。",
    ],
)
def test_ordinary_sentences_stay_clean(text: str) -> None:
    assert [f for f in SCANNER.scan(text) if f.detector == "lexicon"] == []


def test_variants_and_severity_actions() -> None:
    found = {f.term: f for f in SCANNER.scan("哪里能买到bingdu？")}
    assert found["冰毒"].details.get("variant") == "pinyin"
    topic = [f for f in SCANNER.scan("吸毒的危害") if f.term == "吸毒"]
    assert topic and topic[0].action is Action.FLAG
    howto = [f for f in SCANNER.scan("教你自制炸药") if f.term == "自制炸药"]
    assert howto and howto[0].action is Action.BLOCK
