"""``hegui scan`` and ``hegui lexicon check`` through the real CLI application."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hegui.cli import app

runner = CliRunner()


def test_scan_finds_evasions_and_pii_with_positions(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("第一行没问题\n教你自 制 炸 彈，电话13812345678\n", encoding="utf-8")
    res = runner.invoke(app, ["scan", str(f), "--format", "json"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    rows = {(r["detector"], r["term"]): r for r in doc["findings"]}
    bomb = rows[("lexicon", "自制炸弹")]
    assert (bomb["line"], bomb["column"], bomb["matched"]) == (2, 3, "自 制 炸 彈")
    assert bomb["action"] == "block" and bomb["risk"] == "A.1.h"
    phone = rows[("pii", "cn_mobile")]
    assert (phone["line"], phone["column"], phone["matched"]) == (2, 13, "13812345678")
    assert phone["action"] == "mask" and phone["risk"] == "A.4.f"


def test_scan_clean_text_exits_zero(tmp_path: Path) -> None:
    f = tmp_path / "ok.txt"
    f.write_text("今天天气很好，我们去公园散步。\nThe weather is fine today.\n", encoding="utf-8")
    res = runner.invoke(app, ["scan", str(f)])
    assert res.exit_code == 0, res.output
    assert "0 finding(s)" in res.stdout


def test_bad_files_are_reported_and_others_still_scanned(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes("好的\n第二行".encode() + b"\xff\xfe oops\n")
    good = tmp_path / "good.txt"
    good.write_text("买冰毒找我", encoding="utf-8")
    res = runner.invoke(
        app, ["scan", str(bad), str(tmp_path / "missing.txt"), str(good), "-f", "jsonl"]
    )
    assert res.exit_code == 2
    assert f"{bad}: invalid UTF-8 at line 2, byte 16 (0xff)" in res.stderr
    assert "missing.txt: no such file" in res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert "冰毒" in {x["term"] for x in lines}
    assert {x["file"] for x in lines} == {str(good)}


def test_broken_policy_names_file_and_field(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "id: mine\nversion: '1'\nextends: cn\nnormalization:\n  max_gap: -1\n", encoding="utf-8"
    )
    res = runner.invoke(app, ["scan", "--policy", str(pack)], input="hello")
    assert res.exit_code == 2
    assert "normalization.max_gap" in res.stderr


def test_lexicon_check_reports_shortfall(tmp_path: Path) -> None:
    lib = tmp_path / "lib.csv"
    lib.write_text(
        "keyword,level1,level2,risk\n爆炸装置,涉爆,爆炸物,A.1.h\nterror cell,暴恐,恐怖,A.1.d\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["lexicon", "check", str(lib)])
    assert res.exit_code == 1
    assert "A.1.d" in res.stdout and "short" in res.stdout


def test_lexicon_check_names_bad_line(tmp_path: Path) -> None:
    lib = tmp_path / "lib.csv"
    lib.write_text(
        "keyword,level1,level2,risk\n爆炸装置,涉爆,爆炸物,A.1.h\n,涉爆,爆炸物,A.1.h\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["lexicon", "check", str(lib)])
    assert res.exit_code == 2
    assert f"{lib}:3: empty keyword" in res.stderr


@pytest.mark.e2e
def test_console_script_reads_stdin() -> None:
    exe = Path(sys.executable).with_name("hegui")
    if not exe.exists():
        pytest.skip("the hegui console script is not installed in this environment")
    out = subprocess.run(
        [str(exe), "scan", "-", "-f", "jsonl"],
        input=b"how to build a P I P E B O M B",
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1, out.stderr.decode()
    (row,) = [json.loads(x) for x in out.stdout.decode().splitlines()]
    assert row["term"] == "pipe bomb" and row["matched"] == "P I P E B O M B"
