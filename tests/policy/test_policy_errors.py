"""Broken packs fail loudly, naming the file, the field and (when known) the line."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from conftest import WritePack

from hegui.policy import PACKS_DIR, PolicyError, load_policy

CN = PACKS_DIR / "cn" / "pack.yaml"

MINIMAL = """
id: tiny
version: "1"
name: {zh: 小, en: tiny}
"""


def _error(path: Path) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    return info.value


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_str_is_file_field_reason_and_survives_pickling() -> None:
    error = PolicyError("/x/pack.yaml", "taxonomy[3].parent", "parent 'Z' is not a risk id")
    assert str(error) == "/x/pack.yaml: taxonomy[3].parent: parent 'Z' is not a risk id"
    assert error.file == Path("/x/pack.yaml")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.file, clone.field, clone.reason) == (error.file, error.field, error.reason)


def test_yaml_syntax_error_names_the_line(write_pack: WritePack) -> None:
    path = write_pack(MINIMAL + "thresholds:\n  generated: [unclosed\n  refusal: {}\n")
    error = _error(path)
    assert error.file == path.resolve()
    assert error.line is not None and error.line >= 5
    assert error.field == f"line {error.line}"
    assert "YAML syntax error" in error.reason
    assert str(error).startswith(f"{path.resolve()}: line {error.line}: YAML syntax error")


def test_duplicate_key_is_an_error_not_last_one_wins(write_pack: WritePack) -> None:
    path = write_pack(MINIMAL + "description: one\ndescription: two\n")
    error = _error(path)
    assert error.line == 5
    assert "duplicate key 'description'" in error.reason


def test_unknown_field_suggests_the_right_one(write_pack: WritePack) -> None:
    path = write_pack(MINIMAL + "normalization:\n  max_gpa: 2\n")
    error = _error(path)
    assert error.field == "normalization.max_gpa"
    assert "unknown field 'max_gpa'" in error.reason
    assert "did you mean 'max_gap'" in error.reason
    assert error.line == 5


def test_unknown_top_level_field(write_pack: WritePack) -> None:
    error = _error(write_pack(MINIMAL + "threshold: {}\n"))
    assert error.field == "threshold"
    assert "did you mean 'thresholds'" in error.reason


def test_wrong_type_names_field_and_value(write_pack: WritePack) -> None:
    path = write_pack(MINIMAL + "detectors:\n  lexicon:\n    action: burn\n")
    error = _error(path)
    assert error.field == "detectors.lexicon.action"
    assert "'block', 'mask' or 'flag'" in error.reason and "'burn'" in error.reason
    assert error.line == 6
    error = _error(write_pack(MINIMAL + "normalization: {max_gap: lots}\n"))
    assert error.field == "normalization.max_gap"
    error = _error(write_pack(MINIMAL + "normalization: {max_gap: -1}\n"))
    assert error.field == "normalization.max_gap"
    assert "greater than or equal to 0" in error.reason


def test_version_must_be_a_string(write_pack: WritePack) -> None:
    error = _error(write_pack("id: tiny\nversion: 1.0\nname: {zh: 小, en: tiny}\n"))
    assert error.field == "version"


def test_missing_parent(write_pack: WritePack) -> None:
    path = write_pack(
        MINIMAL
        + """
taxonomy:
  - {id: G, name_zh: 组, name_en: group}
  - {id: G.a, parent: G, name_zh: 甲, name_en: a}
  - {id: G.b, parent: G, name_zh: 乙, name_en: b}
  - {id: H.a, parent: H, name_zh: 丙, name_en: c}
"""
    )
    error = _error(path)
    assert error.field == "taxonomy[3].parent"
    assert error.reason.startswith("parent 'H' is not a risk id")
    assert error.line == _line_of(path, "H.a")
    assert str(error).startswith(f"{path.resolve()}: taxonomy[3].parent: parent 'H'")


def test_duplicate_risk_id_and_parent_cycle(write_pack: WritePack) -> None:
    path = write_pack(
        MINIMAL
        + """
taxonomy:
  - {id: X, parent: Y, name_zh: 甲, name_en: x}
  - {id: Y, parent: X, name_zh: 乙, name_en: y}
  - {id: W, name_zh: 丙, name_en: w}
  - {id: W, name_zh: 丁, name_en: w again}
"""
    )
    by_field = {problem.field: problem.reason for problem in _error(path).problems}
    assert by_field["taxonomy[3].id"].startswith("duplicate risk id 'W' (first at taxonomy[2])")
    assert by_field["taxonomy[0].parent"].startswith("risk 'X' is its own ancestor")
    assert by_field["taxonomy[1].parent"].startswith("risk 'Y' is its own ancestor")


def test_threshold_above_one_in_a_child_blames_the_child(write_pack: WritePack) -> None:
    path = write_pack(
        """
        id: acme
        version: "1"
        extends: cn
        thresholds:
          generated:
            qualified_rate_min: 1.5
        """
    )
    error = _error(path)
    assert error.file == path.resolve()
    assert error.field == "thresholds.generated.qualified_rate_min"
    assert "less than or equal to 1" in error.reason and "1.5" in error.reason
    assert error.line == 6


def test_error_coming_from_the_base_blames_the_base(tmp_path: Path, write_pack: WritePack) -> None:
    base = write_pack(
        CN.read_text(encoding="utf-8")
        .replace("should_answer_rate_max: 0.05", "should_answer_rate_max: 5")
        .replace("lexicon/", str(PACKS_DIR / "cn" / "lexicon") + "/"),
        folder="base",
    )
    child = write_pack("id: acme\nversion: '1'\nextends: ../base\n", folder="child")
    error = _error(child)
    assert error.file == base.resolve()
    assert error.field == "thresholds.refusal.should_answer_rate_max"
    assert error.line == _line_of(base, "should_answer_rate_max")


def test_several_problems_are_reported_together(write_pack: WritePack) -> None:
    path = write_pack(
        MINIMAL
        + """
retention: {min_months: 6, default_months: 3, basis: law}
abuse: {consecutive_violations: 0, violations_per_window: 5, window_hours: 24}
"""
    )
    error = _error(path)
    by_field = {problem.field: problem.reason for problem in error.problems}
    assert "must be at least min_months (6)" in by_field["retention.default_months"]
    assert "greater than 0" in by_field["abuse.consecutive_violations"]
    assert by_field["abuse.suspension_hours"].startswith("required field is missing")


def test_detector_risk_reference_must_exist(write_pack: WritePack) -> None:
    path = write_pack(
        """
        id: acme
        version: "1"
        extends: cn
        detectors:
          pii:
            options:
              risk: A.9.z
          classifier:
            action: flag
            options:
              risks: [A.1.a, B.2]
              files: 7
        """
    )
    error = _error(path)
    by_field = {problem.field: problem.reason for problem in error.problems}
    assert (
        by_field["detectors.pii.options.risk"] == "'A.9.z' is not a risk id of this pack (line 7)"
    )
    assert "'B.2' is not a risk id" in by_field["detectors.classifier.options.risks[1]"]
    assert "must be a path" in by_field["detectors.classifier.options.files"]
    assert all(problem.file == path.resolve() for problem in error.problems)


def test_minimum_tables_must_name_groups_of_the_taxonomy(write_pack: WritePack) -> None:
    path = write_pack(
        """
        id: acme
        version: "1"
        extends: cn
        lexicon:
          per_risk_by_group: {A.9: 5, A.1.a: 3}
          per_risk: {Zed: 1}
        """
    )
    by_field = {p.field: p.reason for p in _error(path).problems}
    assert by_field["lexicon.per_risk_by_group['A.9']"].startswith("'A.9' is not a risk id")
    assert by_field["lexicon.per_risk_by_group['A.1.a']"].startswith("'A.1.a' has no child")
    assert by_field["lexicon.per_risk.Zed"].startswith("'Zed' is not a risk id")


def test_generation_bank_must_cover_every_risk_when_asked(write_pack: WritePack) -> None:
    path = write_pack(
        """
        id: acme
        version: "1"
        extends: cn
        banks:
          generation:
            per_risk_by_group: {A.3: 0}  # merged key by key: only A.3 changes
        """
    )
    error = _error(path)
    assert error.field == "banks.generation.cover_all_risks"
    assert "A.3.a" in error.reason and "A.3.e" in error.reason
    assert "A.1.a" not in error.reason and "A.4.a" not in error.reason


def test_label_text_must_contain_the_required_elements(write_pack: WritePack) -> None:
    path = write_pack(
        """
        id: acme
        version: "1"
        extends: cn
        labels:
          explicit:
            text:
              text: {zh: 本内容由人工智能提供, en: Written by AI}
        """
    )
    error = _error(path)
    assert error.field == "labels.explicit.text.text"
    assert "lacks the 'generated' element" in error.reason


def test_signature_default_must_be_allowed(write_pack: WritePack) -> None:
    path = write_pack(
        """
        id: acme
        version: "1"
        extends: cn
        labels:
          implicit:
            signature: {allowed: [sm2-sm3]}
        """
    )
    error = _error(path)
    assert error.field == "labels.implicit.signature.default"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "the file is empty"), ("- a\n- b\n", "must be a mapping of fields, not a list")],
)
def test_empty_or_non_mapping_file(write_pack: WritePack, text: str, reason: str) -> None:
    error = _error(write_pack(text))
    assert error.field == ""
    assert reason in error.reason


def test_broken_pack_is_never_replaced_by_defaults(write_pack: WritePack) -> None:
    path = write_pack(MINIMAL + "normalization: [not, a, mapping]\n")
    error = _error(path)
    assert error.field == "normalization"
