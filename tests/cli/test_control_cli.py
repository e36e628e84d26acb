"""``hegui keys``, ``hegui killswitch`` and ``hegui incidents`` through the real CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from hegui.audit import SigningKey, write_key
from hegui.cli import app
from hegui.control import ControlDB, KeyStore, hash_key

runner = CliRunner(env={"COLUMNS": "200"})


def _run(data_dir: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
    return res.exit_code, res.output


def test_keys_create_list_verify_suspend_revoke(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "keys", "create", "--principal", "alice", "--tenant", "acme")
    assert code == 0, out
    secret = re.search(r"hg-\S+", out)
    assert secret is not None
    key_id = secret.group(0).split("-")[1]
    db = ControlDB.open(None, tmp_path)
    assert hash_key(secret.group(0)) in KeyStore(db).key_hashes()
    assert _run(tmp_path, "keys", "verify", "alice")[0] == 0
    assert _run(tmp_path, "keys", "suspend", "alice", "--reason", "abuse report")[0] == 0
    code, out = _run(tmp_path, "keys", "list")
    assert code == 0 and "alice" in out and "abuse report" in out and "yes" in out
    assert secret.group(0) not in out  # the secret is shown once, at creation
    assert _run(tmp_path, "keys", "lift", "alice")[0] == 0
    assert _run(tmp_path, "keys", "revoke", key_id)[0] == 0
    code, out = _run(tmp_path, "keys", "revoke", key_id)
    assert code == 2 and "no live key" in out
    assert KeyStore(db).key_hashes() == {}
    db.close()


def test_killswitch_opens_an_incident_that_is_reported_with_proofs(tmp_path: Path) -> None:
    write_key(SigningKey.generate("ed25519"), tmp_path / "keys")
    code, out = _run(
        tmp_path, "killswitch", "on", "--reason", "drill", "--clock", "cn.other-operators"
    )
    assert code == 0, out
    incident = re.search(r"INC-\d{8}-[0-9a-f]{6}", out)
    assert incident is not None and "cn.other-operators" in out
    code, out = _run(tmp_path, "killswitch", "status")
    assert code == 1 and "ENGAGED" in out and "drill" in out
    assert _run(tmp_path, "killswitch", "on", "--reason", "again")[0] == 2
    assert _run(tmp_path, "killswitch", "off", "--reason", "fixed")[0] == 0
    assert _run(tmp_path, "killswitch", "status") == (0, "kill switch: off\n")
    ident = incident.group(0)
    code, out = _run(tmp_path, "incidents", "list")
    assert code == 0 and ident in out and "cn.other-operators due" in out
    assert _run(tmp_path, "incidents", "ack", ident, "--note", "on it")[0] == 0
    code, out = _run(tmp_path, "incidents", "report", ident, "--out", str(tmp_path / "rep"))
    assert code == 0, out
    report = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    assert [e["action"] for e in report["timeline"]] == [
        "open",
        "kill switch engaged",
        "service resumed",
        "ack",
        "report",
    ]
    assert len(report["evidence"]) == 5 and all(e["proof_valid"] for e in report["evidence"])
    code, out = _run(tmp_path, "incidents", "show", ident)
    assert code == 0 and "met" in out and "ledger #" in out
    assert _run(tmp_path, "incidents", "close", ident)[0] == 0
    assert _run(tmp_path, "incidents", "close", ident)[0] == 2


def test_an_overdue_incident_makes_list_exit_1(tmp_path: Path) -> None:
    code, out = _run(
        tmp_path, "incidents", "open", "--title", "late", "--clock", "cn.critical-infrastructure"
    )
    assert code == 0, out  # no signing key: a warning, and the incident still opens
    assert "not recorded in the audit ledger" in out
    db = ControlDB.open(None, tmp_path)
    with db.change("backdate"):
        (data,) = db.rows("SELECT data FROM hegui_incidents")[0]
        doc = json.loads(data)
        past = datetime.now(UTC) - timedelta(hours=2)
        doc["deadlines"][0]["due"] = past.isoformat()
        db.execute("UPDATE hegui_incidents SET data = ?", (json.dumps(doc),))
    db.close()
    code, out = _run(tmp_path, "incidents", "list")
    assert code == 1 and "OVERDUE" in out
