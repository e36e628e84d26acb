"""The ``Policy`` object: immutability, taxonomy look-ups, crosswalks, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import WritePack
from hypothesis import given
from hypothesis import strategies as st

import hegui.policy
from hegui.policy import Action, Policy, Severity, load_policy, strongest


@pytest.fixture(scope="module")
def cn() -> Policy:
    return load_policy("cn")


def test_public_api_is_exported() -> None:
    for name in ("load_policy", "list_packs", "Policy", "PolicyError", "PackInfo", "Risk"):
        assert name in hegui.policy.__all__
    assert strongest([Action.FLAG, Action.BLOCK, Action.MASK]) is Action.BLOCK
    assert strongest([]) is None
    assert Severity("high") is Severity.HIGH


def test_policy_is_immutable(cn: Policy) -> None:
    with pytest.raises(AttributeError, match="immutable"):
        cn.id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del cn.source  # type: ignore[misc]
    with pytest.raises(TypeError):
        cn.risks["A.1"] = cn.risk("A.2")  # type: ignore[index]
    with pytest.raises(TypeError):
        cn.detectors["x"] = cn.detectors["pii"]  # type: ignore[index]
    with pytest.raises(ValueError, match="frozen"):
        cn.normalization.max_gap = 9  # type: ignore[misc]


def test_risk_lookup_error_is_clear(cn: Policy) -> None:
    with pytest.raises(KeyError, match=r"pack 'cn' has no risk 'A\.9'"):
        cn.risk("A.9")
    with pytest.raises(KeyError):
        cn.children("nope")
    with pytest.raises(KeyError):
        cn.lexicon_minimum("nope")
    with pytest.raises(KeyError):
        cn.crosswalk("nope")


def test_children_and_ancestors(cn: Policy) -> None:
    assert [r.id for r in cn.children("A.5")] == ["A.5.a", "A.5.b"]
    assert len(cn.children("A.2")) == 9
    assert cn.children("A.5.a") == []
    assert cn.ancestors("A.4.c") == ["A.4"]
    assert cn.ancestors("A.4") == []
    assert cn.lexicon_minimum("A.1") == 0  # minimums apply to each child, not the group


def test_explicit_per_risk_minimum_wins(write_pack: WritePack) -> None:
    path = write_pack(
        """
        id: acme
        version: "1"
        extends: cn
        lexicon:
          per_risk: {A.1.d: 500, A.3.a: 30}
        """
    )
    acme = load_policy(path)
    assert acme.lexicon_minimum("A.1.d") == 500
    assert acme.lexicon_minimum("A.1.e") == 200
    assert acme.lexicon_minimum("A.3.a") == 30
    assert acme.lexicon_minimum("A.3.b") == 0


def test_crosswalk_reads_both_directions() -> None:
    cn, us, eu = load_policy("cn"), load_policy("us"), load_policy("eu")
    assert cn.crosswalk("A.4.f") == {"us": ["NIST.DATA_PRIVACY"]}
    assert cn.crosswalk("A.3.b") == {}
    reverse = us.crosswalk("NIST.DATA_PRIVACY")
    assert set(reverse["cn"]) == {"A.4.b", "A.4.e", "A.4.f"}
    assert us.crosswalk("NIST.CBRN") == {"cn": ["A.1.d"], "eu": ["EU.CBRN"]}
    assert eu.crosswalk("EU.CBRN") == {"us": ["NIST.CBRN"]}


def test_a_pack_extending_cn_uses_cn_crosswalks(write_pack: WritePack) -> None:
    acme = load_policy(write_pack("id: acme\nversion: '1'\nextends: cn\n"))
    assert acme.crosswalk("A.4.e") == {"us": ["NIST.DATA_PRIVACY"]}


def test_to_dict_round_trips_through_yaml(cn: Policy, tmp_path: Path) -> None:
    data = cn.to_dict()
    assert data["id"] == "cn"
    assert data["detectors"]["lexicon"]["action"] == "block"
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    again = load_policy(path)
    assert again.spec == cn.spec
    assert again.detectors["lexicon"].options == cn.detectors["lexicon"].options


@pytest.mark.parametrize("name", ["eu", "us"])
def test_other_packs_round_trip(name: str, tmp_path: Path) -> None:
    original = load_policy(name)
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(original.to_dict(), allow_unicode=True), encoding="utf-8")
    assert load_policy(path).spec == original.spec


@given(st.text(max_size=20))
def test_label_character_check_matches_the_spec(value: str) -> None:
    implicit = load_policy_cached().spec.labels
    assert implicit is not None
    allowed = all(c == "!" or "#" <= c <= "[" or "]" <= c <= "~" for c in value)
    assert implicit.implicit.allows(value) is allowed


_CACHE: dict[str, Policy] = {}


def load_policy_cached() -> Policy:
    if "cn" not in _CACHE:
        _CACHE["cn"] = load_policy("cn")
    return _CACHE["cn"]


def test_repr(cn: Policy) -> None:
    assert repr(cn) == "Policy(id='cn', version='2025.11.0', risks=36)"
