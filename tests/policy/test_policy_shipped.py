"""Every shipped pack and crosswalk validates, and the eu and us figures are right."""

from __future__ import annotations

import re
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest
from pydantic import BaseModel

import hegui.policy as policy_pkg
from hegui.policy import (
    MAPPINGS_DIR,
    PackSpec,
    PolicyError,
    list_packs,
    load_crosswalks,
    load_policy,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"

NIST_IDS = [
    "NIST.CBRN",
    "NIST.CONFABULATION",
    "NIST.DANGEROUS_CONTENT",
    "NIST.DATA_PRIVACY",
    "NIST.ENVIRONMENTAL",
    "NIST.HARMFUL_BIAS",
    "NIST.HUMAN_AI_CONFIGURATION",
    "NIST.INFORMATION_INTEGRITY",
    "NIST.INFORMATION_SECURITY",
    "NIST.INTELLECTUAL_PROPERTY",
    "NIST.OBSCENE_CONTENT",
    "NIST.VALUE_CHAIN",
]


def test_list_packs_names_the_three_shipped_packs() -> None:
    infos = list_packs()
    assert [info.id for info in infos] == ["cn", "eu", "us"]
    for info in infos:
        assert info.path.name == "pack.yaml" and info.path.is_file()
        assert info.version and info.name.zh and info.name.en


@pytest.mark.parametrize("name", ["cn", "eu", "us"])
def test_shipped_pack_loads_by_name_folder_and_file(name: str) -> None:
    by_name = load_policy(name)
    assert by_name.id == name
    assert load_policy(by_name.source.parent).spec == by_name.spec
    assert load_policy(str(by_name.source)).spec == by_name.spec
    assert by_name.leaf_risks(), "every pack names at least one risk"


def test_us_pack_has_the_12_nist_risks_and_screening_rules() -> None:
    us = load_policy("us")
    assert [risk.id for risk in us.leaf_risks()] == NIST_IDS
    assert us.us is not None
    screening = us.us.screening
    assert screening.match_fields == ["name", "alt_names"]
    assert screening.ownership_threshold == 0.5
    assert 0 < screening.fuzzy_threshold <= 1
    assert screening.csv_fields[:6] == [
        "_id",
        "source",
        "entity_number",
        "type",
        "programs",
        "name",
    ]
    assert len(screening.csv_fields) == 29 and screening.csv_fields[-1] == "ids"
    weights = us.us.model_weights
    assert weights.closed_weights_operations_threshold == 1e26
    assert weights.closed_weights_control_in_force is False
    assert weights.kyc_required is True


def test_eu_pack_figures() -> None:
    eu = load_policy("eu")
    assert eu.eu is not None
    t = eu.eu.transparency
    assert (t.marking_from, t.existing_systems_marking_from) == (
        date(2026, 8, 2),
        date(2026, 12, 2),
    )
    gpai = eu.eu.gpai
    assert (gpai.presumption_flop, gpai.systemic_risk_flop) == (1e23, 1e25)
    assert gpai.systemic_risk_notify_days == 14
    assert gpai.modifier_compute_fraction == Fraction(1, 3)
    assert [gpai.text_band(n).id for n in (5e8, 1e9, 5e12, 1e13, 1e15)] == [
        "under-1b",
        "between-1b-and-10t",
        "between-1b-and-10t",
        "over-10t",
        "over-10t",
    ]
    assert eu.incidents is not None
    hours = {clock.id: clock.hours for clock in eu.incidents.clocks}
    assert hours == {"eu.art73.widespread": 48, "eu.art73.death": 240, "eu.art73.general": 360}


def test_shipped_crosswalks_validate_and_point_at_real_risks() -> None:
    crosswalks = load_crosswalks()
    assert {(c.source, c.target) for c in crosswalks} >= {("cn", "us")}
    for crosswalk in crosswalks:
        source, target = load_policy(crosswalk.source), load_policy(crosswalk.target)
        for risk_id, mapped in crosswalk.mapping.items():
            source.risk(risk_id)
            for target_id in mapped:
                target.risk(target_id)


def test_cn_us_crosswalk_covers_every_cn_risk() -> None:
    cn_us = next(c for c in load_crosswalks() if (c.source, c.target) == ("cn", "us"))
    assert set(cn_us.mapping) == {risk.id for risk in load_policy("cn").leaf_risks()}


def test_crosswalk_with_unknown_target_fails(tmp_path: Path) -> None:
    text = (MAPPINGS_DIR / "cn-us.yaml").read_text(encoding="utf-8")
    broken = text.replace("A.2.c: [NIST.HARMFUL_BIAS]", "A.2.c: [NIST.HARMFUL_BIAS, NIST.NOPE]")
    assert broken != text
    (tmp_path / "cn-us.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_crosswalks(tmp_path)
    assert info.value.file == tmp_path / "cn-us.yaml"
    assert info.value.field == "mapping['A.2.c'][1]"
    assert "NIST.NOPE" in info.value.reason
    assert (
        info.value.line == broken.splitlines().index("  A.2.c: [NIST.HARMFUL_BIAS, NIST.NOPE]") + 1
    )


def test_crosswalk_with_unknown_source_risk_or_pack_fails(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("source: cn\ntarget: us\nmapping:\n  A.9.z: [NIST.CBRN]\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"mapping\['A.9.z'\]: 'A.9.z' is not a risk of pack"):
        load_crosswalks(tmp_path)
    path.write_text("source: cn\ntarget: mars\nmapping:\n  A.1.a: []\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="target: 'mars' is not a shipped pack"):
        load_crosswalks(tmp_path)


def _models() -> list[type[BaseModel]]:
    found = [obj for obj in vars(policy_pkg).values()]
    seen: list[type[BaseModel]] = []
    stack = [m for m in found if isinstance(m, type) and issubclass(m, BaseModel)]
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            stack.extend(_nested_models(field.annotation))
    return seen


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested_models(arg)]


def test_every_schema_field_is_documented_and_strict() -> None:
    models = _models()
    assert len(models) > 30
    for model in models:
        assert model.model_config.get("extra") == "forbid", model.__name__
        assert model.model_config.get("frozen") is True, model.__name__
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no docstring"


def test_docs_mention_every_top_level_section() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for name in PackSpec.model_fields:
        assert re.search(rf"`{name}`", docs), f"docs/policy.md does not mention `{name}`"
