"""``hegui policy list | show | validate`` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from hegui.cli import policy as policy_cli

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    return policy_cli.app


def test_list_shows_the_shipped_packs(app: typer.Typer) -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    for pack_id in ("cn", "eu", "us"):
        assert f" {pack_id} " in result.output


def test_validate_ok(app: typer.Typer) -> None:
    result = runner.invoke(app, ["validate", "cn"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK cn 2025.11.0: 36 risks (31 leaf), 3 detectors")


def test_validate_a_user_pack_folder(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text("id: acme\nversion: '3'\nextends: cn\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "OK acme 3" in result.output


def test_validate_broken_pack_exits_2_naming_file_and_field(
    app: typer.Typer, tmp_path: Path
) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(
        "id: acme\nversion: '1'\nextends: cn\nthresholds:\n  refusal:\n"
        "    should_refuse_rate_min: 1.2\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "OK" not in result.output
    flat = " ".join(result.output.split())
    assert f"{path}: thresholds.refusal.should_refuse_rate_min:" in flat
    assert "(line 6)" in flat


def test_validate_bad_yaml_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text("id: acme\nversion: '1'\nname: {zh: a, en: b\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "YAML syntax error" in result.output


def test_validate_missing_file_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not a shipped pack" in result.output


def test_show_yaml_and_json(app: typer.Typer) -> None:
    as_yaml = runner.invoke(app, ["show", "us"])
    assert as_yaml.exit_code == 0, as_yaml.output
    data = yaml.safe_load(as_yaml.output)
    assert data["id"] == "us" and len(data["taxonomy"]) == 13
    as_json = runner.invoke(app, ["show", "cn", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["lexicon"]["total_min"] == 10000
    assert data["normalization"]["hard_breaks"] == "\n\r。！？；，、"


def test_show_unknown_format_and_unknown_pack(app: typer.Typer) -> None:
    assert runner.invoke(app, ["show", "cn", "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["show", "mars"]).exit_code == 2


def test_root_app_wires_the_policy_group() -> None:
    from hegui.cli import app as root

    result = runner.invoke(root, ["policy", "validate", "eu"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK eu ")
