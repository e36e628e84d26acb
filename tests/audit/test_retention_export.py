"""Retention against the pack minimum, legal holds, exports and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hegui.audit import (
    AuditRecord,
    Ledger,
    RetentionError,
    SigningKey,
    export_range,
    hold,
    months_before,
    open_ledger,
    purge,
    verify_export,
    write_key,
)
from hegui.cli import audit as audit_cli
from hegui.policy import load_policy

runner = CliRunner()
NOW = datetime(2026, 6, 15, tzinfo=UTC)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("HEGUI_DATABASE_URL", raising=False)
    monkeypatch.delenv("HEGUI_AUDIT_CONTENT_KEY", raising=False)
    write_key(SigningKey.generate(), tmp_path / "keys")
    with open_ledger(data_dir=tmp_path) as ledger:
        for months_ago in (12, 9, 7, 5, 1):
            when = months_before(NOW, months_ago)
            ledger.append(AuditRecord(kind="response", time=when, content=f"{months_ago} ago"))
    return tmp_path


def test_months_before_clamps_the_day() -> None:
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13).year == 2024


def test_purge_keeps_the_pack_minimum_and_holds(data_dir: Path) -> None:
    cn = load_policy("cn")
    assert cn.retention is not None and cn.retention.min_months == 6
    with open_ledger(data_dir=data_dir) as ledger:
        with pytest.raises(RetentionError, match="minimum of 6 months"):
            purge(ledger, cn, months=3, now=NOW)
        hold(ledger, [1], "case 2026-17")
        plan = purge(ledger, cn, now=NOW, dry_run=True)
        assert plan.indices == [0, 2] and ledger.stats().purged == 0
        done = purge(ledger, cn, now=NOW)
        assert done.purged == 2
        assert ledger.read(0).purged and ledger.read(2).purged
        assert ledger.read(1).record is not None  # held
        assert ledger.read(3).record is not None  # within retention
        report = ledger.verify()
        assert report.ok and report.purged == 2
        head = ledger.head()
        for index in range(5):
            assert ledger.prove_inclusion(index).verify(head.root_hash)


def test_export_verifies_offline_and_detects_edits(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    with open_ledger(data_dir=data_dir) as ledger:
        count = export_range(ledger, NOW - timedelta(days=300), NOW, out)
    assert count == 4
    assert {p.name for p in out.iterdir()} == {"records.jsonl", "head.json", "keys", "README.md"}
    report = verify_export(out)
    assert report.ok and report.records == 4, report.problems
    lines = (out / "records.jsonl").read_text(encoding="utf-8").splitlines()
    line = json.loads(lines[2])
    line["leaf"] = line["leaf"].replace("5 ago", "6 ago")
    lines[2] = json.dumps(line, ensure_ascii=False)
    (out / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = verify_export(out)
    assert not bad.ok and "line 3" in bad.problems[0]


def test_cli_end_to_end(data_dir: Path, tmp_path: Path) -> None:
    base = ["--data-dir", str(data_dir)]
    result = runner.invoke(audit_cli.app, ["verify", *base])
    assert result.exit_code == 0 and "OK 5 records" in result.output, result.output
    result = runner.invoke(audit_cli.app, ["stats", *base])
    assert result.exit_code == 0 and "records" in result.output
    result = runner.invoke(audit_cli.app, ["purge", "--policy", "cn", "--months", "2", *base])
    assert result.exit_code == 2 and "minimum of 6 months" in result.output
    result = runner.invoke(audit_cli.app, ["hold", "0", "--reason", "court", *base])
    assert result.exit_code == 0, result.output
    result = runner.invoke(audit_cli.app, ["purge", "--policy", "cn", "--dry-run", *base])
    assert result.exit_code == 0 and "would purge" in result.output, result.output
    out = tmp_path / "exp"
    args = ["export", "--from", "2025-01-01", "--to", "2027-01-01", "--out", str(out), *base]
    result = runner.invoke(audit_cli.app, args)
    assert result.exit_code == 0 and "exported 5" in result.output, result.output
    result = runner.invoke(audit_cli.app, ["verify-export", str(out)])
    assert result.exit_code == 0 and "OK 5 records" in result.output, result.output
    keys = tmp_path / "k2"
    result = runner.invoke(audit_cli.app, ["keygen", "--scheme", "sm2-sm3", "--out", str(keys)])
    assert result.exit_code == 0 and "sm2-sm3" in result.output
    assert (keys / "active").is_file()


def test_cli_verify_names_the_bad_index(data_dir: Path) -> None:
    import sqlite3

    with sqlite3.connect(data_dir / "audit.db") as conn:
        conn.execute("UPDATE audit_leaves SET data = X'00' WHERE idx = 2")
    result = runner.invoke(audit_cli.app, ["verify", "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert "first bad index 2" in result.output


def test_ledger_without_key_refuses_appends(tmp_path: Path) -> None:
    from hegui.audit import AuditError, Keyring, open_store

    with (
        Ledger(open_store(str(tmp_path / "a.db")), Keyring({})) as ledger,
        pytest.raises(AuditError, match="no signing key"),
    ):
        ledger.append(AuditRecord(kind="admin"))
