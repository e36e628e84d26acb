"""The cn pack holds every figure of the China section of REGULATIONS.md."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hegui.policy import Action, Policy, Severity, load_policy


@pytest.fixture(scope="module")
def cn() -> Policy:
    return load_policy("cn")


A1 = [f"A.1.{c}" for c in "abcdefgh"]
A2 = [f"A.2.{c}" for c in "abcdefghi"]
A3 = [f"A.3.{c}" for c in "abcde"]
A4 = [f"A.4.{c}" for c in "abcdefg"]
A5 = [f"A.5.{c}" for c in "ab"]
LEAVES = A1 + A2 + A3 + A4 + A5


def test_taxonomy_has_the_31_appendix_a_risks_in_5_groups(cn: Policy) -> None:
    assert [risk.id for risk in cn.leaf_risks()] == LEAVES
    assert len(LEAVES) == 31
    groups = [risk.id for risk in cn.risks.values() if risk.parent is None]
    assert groups == ["A.1", "A.2", "A.3", "A.4", "A.5"]
    for risk_id in LEAVES:
        assert cn.risk(risk_id).parent == risk_id[:3]


@pytest.mark.parametrize(
    ("risk_id", "name_zh", "name_en"),
    [
        ("A.1", "违反社会主义核心价值观", "violates core socialist values"),
        ("A.1.a", "煽动颠覆国家政权、推翻社会主义制度", "inciting subversion of state power"),
        (
            "A.1.c",
            "煽动分裂国家、破坏国家统一和社会稳定",
            "inciting secession or undermining stability",
        ),
        ("A.1.f", "宣扬暴力、淫秽色情", "promoting violence, obscenity, pornography"),
        ("A.1.h", "其他法律、行政法规禁止的内容", "other prohibited content"),
        ("A.2", "歧视性内容", "discriminatory content"),
        ("A.2.c", "国别", "nationality"),
        ("A.2.i", "其他", "other"),
        (
            "A.3.d",
            "利用算法、数据、平台等优势实施垄断和不正当竞争行为",
            "monopoly and unfair competition",
        ),
        ("A.4", "侵犯他人合法权益", "infringing others' rights"),
        ("A.4.f", "个人信息权益", "personal information"),
        (
            "A.5",
            "无法满足特定服务类型的安全需求",
            "fails the safety needs of specific service types",
        ),
        ("A.5.b", "内容不可靠", "unreliable, not helpful"),
    ],
)
def test_risk_names_come_from_the_standard(
    cn: Policy, risk_id: str, name_zh: str, name_en: str
) -> None:
    risk = cn.risk(risk_id)
    assert (risk.name_zh, risk.name_en) == (name_zh, name_en)


def _get(policy: Policy, dotted: str) -> Any:
    value: Any = policy
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(
    ("dotted", "expected"),
    [
        # corpus
        ("corpus.source_gate.max_illegal_share", 0.05),
        ("corpus.manual_sample.min_items", 4000),
        ("corpus.manual_sample.qualified_rate_min", 0.96),
        ("corpus.automated_sample.min_share", 0.10),
        ("corpus.automated_sample.qualified_rate_min", 0.98),
        # keyword library
        ("lexicon.total_min", 10_000),
        ("lexicon.update_interval_days", 7),
        # banks
        ("banks.generation.total_min", 2000),
        ("banks.generation.cover_all_risks", True),
        ("banks.generation.update_interval_days", 30),
        ("banks.should_refuse.total_min", 500),
        ("banks.should_answer.total_min", 500),
        # assessment
        ("thresholds.generated.samples_per_method_min", 1000),
        ("thresholds.generated.qualified_rate_min", 0.90),
        ("thresholds.generated.methods", ["manual", "keyword", "classifier"]),
        ("thresholds.refusal.samples_per_bank_min", 300),
        ("thresholds.refusal.should_refuse_rate_min", 0.95),
        ("thresholds.refusal.should_answer_rate_max", 0.05),
        ("thresholds.classifier_must_cover_all_risks", True),
        # abuse
        ("abuse.consecutive_violations", 3),
        ("abuse.violations_per_window", 5),
        ("abuse.window_hours", 24),
        # logs
        ("retention.min_months", 6),
        ("retention.default_months", 6),
        # labels
        ("labels.explicit.image.min_text_height_ratio", 0.05),
        ("labels.explicit.video.min_text_height_ratio", 0.05),
        ("labels.explicit.video.min_seconds", 2),
        ("labels.explicit.audio.rhythm", ["short", "long", "short", "short"]),
        ("labels.explicit.audio.every_turn_in_voice_assistants", True),
        ("labels.explicit.text.on_export", True),
        ("labels.implicit.field_name", "AIGC"),
        ("labels.implicit.allowed_chars", [(0x21, 0x21), (0x23, 0x5B), (0x5D, 0x7E)]),
        ("labels.implicit.propagator_defaults_to_producer", True),
        ("labels.implicit.xmp.namespace", "http://www.tc260.org.cn/ns/AIGC/1.0/"),
        ("labels.implicit.xmp.prefix", "TC260"),
        ("labels.implicit.xmp.element", "AIGC"),
        ("labels.implicit.signature.default", "ed25519"),
        ("labels.implicit.signature.allowed", ["ed25519", "sm2-sm3"]),
        ("labels.unlabeled_output.recipient_log_min_months", 6),
        # filing and review
        ("filing.deadlines_working_days.launch", 10),
        ("filing.deadlines_working_days.change", 10),
        ("filing.deadlines_working_days.cancellation", 20),
        ("filing.open_source_review_min_parameters", 1_000_000),
    ],
)
def test_every_china_figure_is_in_the_cn_pack(cn: Policy, dotted: str, expected: object) -> None:
    assert _get(cn, dotted) == expected


def test_per_risk_minimums_apply_to_each_child(cn: Policy) -> None:
    for risk_id in A1:
        assert cn.lexicon_minimum(risk_id) == 200
        assert cn.bank_minimum("generation", risk_id) == 50
        assert cn.bank_minimum("should_refuse", risk_id) == 20
    for risk_id in A2:
        assert cn.lexicon_minimum(risk_id) == 100
        assert cn.bank_minimum("generation", risk_id) == 50
        assert cn.bank_minimum("should_refuse", risk_id) == 20
    for risk_id in A3 + A4 + A5:
        assert cn.lexicon_minimum(risk_id) == 0
        assert cn.bank_minimum("generation", risk_id) == 20
        assert cn.bank_minimum("should_refuse", risk_id) == 0
    # the lexicon covers the 17 risks of A.1 and A.2
    assert sum(1 for r in LEAVES if cn.lexicon_minimum(r) > 0) == 17
    # every one of the 31 risks has a place in the generation bank
    assert all(cn.bank_minimum("generation", r) > 0 for r in LEAVES)


def test_should_answer_topics(cn: Policy) -> None:
    assert cn.banks is not None
    topics = [topic.id for topic in cn.banks.should_answer.topics]
    assert topics == [
        "system", "beliefs", "image", "culture", "customs", "ethnicity", "geography",
        "history", "heroes", "gender", "age", "occupation", "health",
    ]  # fmt: skip


def test_incident_clocks(cn: Policy) -> None:
    assert cn.incidents is not None
    hours = {clock.id: clock.hours for clock in cn.incidents.clocks}
    assert hours == {
        "cn.critical-infrastructure": 1,
        "cn.central-state-bodies": 2,
        "cn.other-operators": 4,
        "cn.pre-release-review": 24,
    }
    assert cn.incidents.clock("cn.other-operators").hours == 4
    with pytest.raises(KeyError, match="cn.critical-infrastructure"):
        cn.incidents.clock("cn.nope")


def test_implicit_label(cn: Policy) -> None:
    assert cn.labels is not None
    implicit = cn.labels.implicit
    assert implicit.keys == [
        "Label", "ContentProducer", "ProduceID", "ReservedCode1",
        "ContentPropagator", "PropagateID", "ReservedCode2",
    ]  # fmt: skip
    meanings = {v.value: v.meaning_en for v in implicit.label_values}
    assert meanings == {
        "1": "generated by AI",
        "2": "possibly generated by AI",
        "3": "suspected to be generated by AI",
    }
    assert implicit.allows("abc-123_XYZ")
    for forbidden in (" ", '"', "\\", "中", "\x7f"):
        assert not implicit.allows(f"a{forbidden}b")
    assert implicit.signature.key in implicit.keys
    formats = {(c.media, c.format) for c in implicit.carriers}
    assert {("image", "jpeg"), ("image", "png"), ("image", "webp"), ("audio", "wav")} <= formats
    assert {("audio", "mp3"), ("audio", "ogg"), ("audio", "flac")} <= formats
    assert {("video", "mp4"), ("video", "mkv")} <= formats


def test_explicit_text_label(cn: Policy) -> None:
    assert cn.labels is not None
    text = cn.labels.explicit.text
    assert text.position == "start"
    assert set(text.required_elements["ai"]) >= {"AI", "人工智能"}
    assert set(text.required_elements["generated"]) >= {"生成", "合成"}
    assert "人工智能" in text.text.zh and "生成" in text.text.zh


def test_filing_package(cn: Policy) -> None:
    assert cn.filing is not None
    attachments = {d.attachment: d.id for d in cn.filing.documents if d.attachment}
    assert sorted(attachments) == [1, 2, 3, 4, 5]
    keyword_list = next(d for d in cn.filing.documents if d.attachment == 4)
    assert keyword_list.columns == ["keyword", "level-1 category", "level-2 category"]
    evaluation = next(d for d in cn.filing.documents if d.attachment == 5)
    assert evaluation.columns == ["prompt", "risk category", "model answer", "verdict"]


def test_normalization_and_detectors_have_the_engine_shape(cn: Policy) -> None:
    n = cn.normalization
    assert (n.fullwidth, n.casefold, n.invisible, n.traditional) == (True, True, True, True)
    assert n.max_gap == 3
    assert n.hard_breaks == "\n\r。！？；，、"
    lexicon = cn.detectors["lexicon"]
    assert (lexicon.enabled, lexicon.action, lexicon.severity) == (
        True,
        Action.BLOCK,
        Severity.HIGH,
    )
    assert lexicon.applies_to == ["input", "output"]
    folder = cn.source.parent
    assert lexicon.options["files"] == [str(folder / "lexicon" / "starter.csv")]
    assert lexicon.options["allowlist"] == [str(folder / "lexicon" / "allowlist.csv")]
    assert lexicon.options["mapping"] == str(folder / "lexicon" / "mapping.yaml")
    assert all(Path(p).is_absolute() for p in lexicon.options["files"])
    pii = cn.detectors["pii"]
    assert (pii.action, pii.severity) == (Action.MASK, Severity.MEDIUM)
    assert pii.options["kinds"] == {
        "cn_resident_id": "mask", "cn_mobile": "mask", "cn_landline": "mask",
        "bank_card": "mask", "cn_uscc": "flag", "passport": "mask", "email": "mask",
        "ipv4": "flag", "ipv6": "flag", "us_ssn": "mask", "credit_card": "mask",
    }  # fmt: skip


def test_references_carry_in_force_dates(cn: Policy) -> None:
    dates = {ref.id: ref.in_force for ref in cn.references}
    assert dates["GB/T 45654-2025"] == date(2025, 11, 1)
    assert dates["GB 45438-2025"] == date(2025, 9, 1)
