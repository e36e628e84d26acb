"""``extends`` chains: deep merge, path resolution, cycles, and what a child must set."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import WritePack
from hypothesis import given, settings
from hypothesis import strategies as st

from hegui.policy import PACKS_DIR, Action, PolicyError, deep_merge, load_policy

CN_LEXICON = PACKS_DIR / "cn" / "lexicon"


def test_extends_cn_overrides_one_value_and_keeps_the_rest(write_pack: WritePack) -> None:
    path = write_pack(
        """
        id: acme
        version: "1"
        name: {zh: 示例, en: Acme}
        extends: cn
        thresholds:
          refusal:
            should_refuse_rate_min: 0.99
        detectors:
          lexicon:
            severity: medium
        """
    )
    acme, cn = load_policy(path), load_policy("cn")
    assert (acme.id, acme.version, acme.name.en) == ("acme", "1", "Acme")
    assert acme.lineage == ("acme", "cn")
    assert acme.files == (path.resolve(), cn.source)
    assert acme.source == path.resolve()
    assert acme.thresholds is not None and cn.thresholds is not None
    assert acme.thresholds.refusal.should_refuse_rate_min == 0.99
    # siblings of the overridden key survive the merge
    assert acme.thresholds.refusal.should_answer_rate_max == 0.05
    assert acme.thresholds.generated == cn.thresholds.generated
    assert acme.risks == cn.risks
    assert acme.labels == cn.labels
    # the lexicon detector keeps cn's action and files; only severity changed
    lexicon = acme.detectors["lexicon"]
    assert lexicon.action is Action.BLOCK
    assert lexicon.severity == "medium"
    assert lexicon.options["files"] == [str(CN_LEXICON / "starter.csv")]
    assert lexicon.options["allowlist"] == [str(CN_LEXICON / "allowlist.csv")]
    assert lexicon.options["mapping"] == str(CN_LEXICON / "mapping.yaml")


def test_paths_a_child_declares_resolve_against_the_child(write_pack: WritePack) -> None:
    path = write_pack(
        """
        id: acme
        version: "1"
        name: {zh: 示例, en: Acme}
        extends: cn
        detectors:
          lexicon:
            options:
              files: [mine/terms.csv, lexicon/starter.csv]
              allowlist: /abs/allow.csv
        """,
        folder="deep/acme",
    )
    options = load_policy(path).detectors["lexicon"].options
    folder = path.parent.resolve()
    assert options["files"] == [str(folder / "mine/terms.csv"), str(folder / "lexicon/starter.csv")]
    assert options["allowlist"] == "/abs/allow.csv"
    # not overridden: still cn's
    assert options["mapping"] == str(CN_LEXICON / "mapping.yaml")


def test_lists_replace_and_null_removes_a_section(write_pack: WritePack) -> None:
    path = write_pack(
        """
        id: acme
        version: "1"
        name: {zh: 示例, en: Acme}
        extends: cn
        thresholds:
          generated:
            methods: [manual]
        filing: null
        """
    )
    acme = load_policy(path)
    assert acme.thresholds is not None
    assert acme.thresholds.generated.methods == ["manual"]
    assert acme.filing is None
    assert acme.labels is not None


def test_extends_a_relative_path_in_a_chain(write_pack: WritePack) -> None:
    write_pack(
        """
        id: base
        version: "1"
        name: {zh: 基础, en: Base}
        extends: cn
        abuse:
          suspension_hours: 72
        """,
        folder="base",
    )
    child = write_pack(
        """
        id: child
        version: "2"
        extends: ../base
        abuse:
          consecutive_violations: 2
        """,
        folder="child",
    )
    policy = load_policy(child)
    assert policy.lineage == ("child", "base", "cn")
    assert policy.name.en == "Base"  # inherited from the nearest pack that sets it
    assert policy.abuse is not None
    assert (policy.abuse.consecutive_violations, policy.abuse.suspension_hours) == (2, 72)
    assert policy.abuse.violations_per_window == 5


def test_extends_cycle_is_detected(write_pack: WritePack) -> None:
    a = write_pack("id: a\nversion: '1'\nextends: ../b\n", folder="a")
    b = write_pack("id: b\nversion: '1'\nextends: ../a/pack.yaml\n", folder="b")
    with pytest.raises(PolicyError) as info:
        load_policy(a)
    assert info.value.file == b.resolve()
    assert info.value.field == "extends"
    assert "cycle" in info.value.reason


def test_extends_itself_is_a_cycle(write_pack: WritePack) -> None:
    path = write_pack("id: a\nversion: '1'\nextends: ./pack.yaml\n")
    with pytest.raises(PolicyError, match="extends: extends cycle"):
        load_policy(path)


def test_extends_missing_target(write_pack: WritePack) -> None:
    path = write_pack("id: a\nversion: '1'\nextends: ../nowhere\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert (info.value.file, info.value.field) == (path.resolve(), "extends")
    assert "neither a shipped pack" in info.value.reason


def test_child_must_set_its_own_id_and_version(write_pack: WritePack) -> None:
    path = write_pack("version: '1'\nextends: cn\n")
    with pytest.raises(PolicyError, match="id: every pack file must set its own id"):
        load_policy(path)
    path = write_pack("id: acme\nextends: cn\n")
    with pytest.raises(PolicyError, match="version: every pack file must set its own version"):
        load_policy(path)
    path = write_pack("id: cn\nversion: '9'\nextends: cn\n")
    with pytest.raises(PolicyError, match="already used by the pack it extends"):
        load_policy(path)


def test_unknown_pack_name() -> None:
    with pytest.raises(PolicyError, match=r"not a shipped pack \(cn, eu, us\)"):
        load_policy("mars")


def test_a_path_object_named_like_a_shipped_pack_is_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cn").mkdir()
    (tmp_path / "cn" / "pack.yaml").write_text("id: local\nversion: '1'\nname: {zh: 本, en: l}\n")
    assert load_policy(Path("cn")).id == "local"
    assert load_policy("cn").id == "cn"
    assert load_policy("./cn").id == "local"


_keys = st.sampled_from(["a", "b", "c", "d"])
_leaves = st.one_of(st.integers(), st.text(max_size=3), st.none(), st.lists(st.integers()))
_trees = st.recursive(
    _leaves, lambda inner: st.dictionaries(_keys, inner, max_size=4), max_leaves=12
)
_dicts = st.dictionaries(_keys, _trees, max_size=4)


@settings(deadline=None)  # timing on a busy CI machine is not what this tests
@given(_dicts, _dicts)
def test_deep_merge_laws(base: dict[str, object], override: dict[str, object]) -> None:
    merged = deep_merge(base, override)
    assert set(merged) == set(base) | set(override)
    for key, value in merged.items():
        if key not in override:
            assert value == base[key]
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            assert value == deep_merge(base[key], override[key])  # type: ignore[arg-type]
        else:
            assert value == override[key]
    assert deep_merge(base, {}) == base
    assert deep_merge({}, override) == override
    assert deep_merge(merged, override) == merged  # applying the same override is idempotent
