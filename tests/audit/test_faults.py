"""Faults: a writer killed with SIGKILL, a PostgreSQL connection dropped mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from audit_support import PG_URL, postgres_or_skip

from hegui.audit import AuditRecord, AuditWriteError, Keyring, Ledger, open_store

WRITER = """
import sys
from pathlib import Path
from hegui.audit import AuditRecord, Keyring, Ledger, open_store
keys = Keyring.load(Path(sys.argv[2]))
ledger = Ledger(open_store(sys.argv[1]), keys)
i = 0
while True:
    receipt = ledger.append(AuditRecord(kind="request", content="x" * 200, request_id=str(i)))
    print(receipt.index, flush=True)
    i += 1
"""


def test_sigkill_mid_load_loses_no_receipted_record(tmp_path: Path) -> None:
    from hegui.audit import SigningKey, write_key

    write_key(SigningKey.generate(), tmp_path / "keys")
    db = str(tmp_path / "audit.db")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, db, str(tmp_path / "keys")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    printed: list[int] = []
    for line in proc.stdout:
        printed.append(int(line))
        if len(printed) >= 300:
            break
    os.kill(proc.pid, signal.SIGKILL)
    printed += [int(line) for line in proc.stdout.read().split()]
    proc.stdout.close()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with Ledger(open_store(db), Keyring.load(tmp_path / "keys")) as ledger:
        report = ledger.verify()
        assert report.ok, report.reason
        assert report.tree_size >= max(printed) + 1
        for index in printed:
            assert ledger.read(index).record is not None


def _backend_pids(schema: str) -> list[int]:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE '%%INSERT INTO audit_heads%%' AND pid <> pg_backend_pid()"
        ).fetchall()
    return [row[0] for row in rows]


def test_dropped_postgres_connection_fails_every_caller_then_resumes(
    pg_schema: str, keyring: Keyring
) -> None:
    postgres_or_skip()
    with Ledger(open_store(PG_URL, schema=pg_schema), keyring) as ledger:
        ledger.append_many([AuditRecord(kind="request", content=str(i)) for i in range(5)])
        blocker = psycopg.connect(PG_URL)
        blocker.execute(f"SET search_path TO {pg_schema}")
        blocker.execute("LOCK TABLE audit_heads IN EXCLUSIVE MODE")  # writer stalls mid-batch
        errors: list[BaseException] = []
        results: list[int] = []

        def caller(i: int) -> None:
            try:
                results.append(ledger.append(AuditRecord(kind="request", content=f"c{i}")).index)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=caller, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        pids: list[int] = []
        for _ in range(200):
            pids = _backend_pids(pg_schema)
            if pids:
                break
            time.sleep(0.05)
        assert pids, "the writer never reached the head insert"
        with psycopg.connect(PG_URL, autocommit=True) as killer:
            for pid in pids:
                killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        blocker.rollback()
        blocker.close()
        for thread in threads:
            thread.join(timeout=60)
        assert errors, "no caller saw the failure"
        assert all(isinstance(e, AuditWriteError) for e in errors)
        assert len(errors) + len(results) == 6
        # Nothing half-written: the failed batch left no leaves, heads or state.
        report = ledger.verify()
        assert report.ok, report.reason
        assert report.tree_size == 5 + len(results)
        assert ledger.append(AuditRecord(kind="admin", content="resumed")).index == report.tree_size
        assert ledger.verify().ok


@pytest.mark.parametrize("writers", [4])
def test_several_processes_build_one_postgres_tree(
    pg_schema: str, tmp_path: Path, writers: int
) -> None:
    from hegui.audit import SigningKey, write_key

    write_key(SigningKey.generate(), tmp_path / "keys")
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from hegui.audit import AuditRecord, Keyring, Ledger, open_store\n"
        "with Ledger(open_store(sys.argv[1], schema=sys.argv[2]),"
        " Keyring.load(Path(sys.argv[3]))) as ledger:\n"
        "    for i in range(50):\n"
        "        ledger.append(AuditRecord(kind='request', content=str(i)))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, PG_URL, pg_schema, str(tmp_path / "keys")])
        for _ in range(writers)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    with Ledger(open_store(PG_URL, schema=pg_schema), Keyring.load(tmp_path / "keys")) as ledger:
        report = ledger.verify()
        assert report.ok and report.tree_size == 50 * writers, report.reason


def test_full_disk_fails_loudly_keeps_the_tree_and_resumes(tmp_path: Path) -> None:
    """SQLite's page limit raises the same SQLITE_FULL a full disk does."""
    from hegui.audit import SigningKey, write_key

    write_key(SigningKey.generate(), tmp_path / "keys")
    store = open_store(str(tmp_path / "audit.db"))
    ledger = Ledger(store, Keyring.load(tmp_path / "keys"))
    try:
        for i in range(20):
            ledger.append(AuditRecord(kind="request", content="x" * 200, request_id=str(i)))
        pages = store._writer.execute("PRAGMA page_count").fetchone()[0]  # type: ignore[attr-defined]
        store._writer.execute(f"PRAGMA max_page_count={pages}")  # type: ignore[attr-defined]
        with pytest.raises(AuditWriteError):
            for i in range(200):  # fills the last free pages, then fails
                ledger.append(AuditRecord(kind="request", content="y" * 4000, request_id=f"f{i}"))
        size_after_failure = ledger.stats().tree_size
        assert ledger.verify().ok  # nothing half-written
        store._writer.execute("PRAGMA max_page_count=1073741823")  # type: ignore[attr-defined]
        receipt = ledger.append(AuditRecord(kind="request", content="z", request_id="after"))
        assert receipt.index == size_after_failure
        assert ledger.verify().ok
    finally:
        ledger.close()
