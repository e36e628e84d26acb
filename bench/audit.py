"""Benchmark of the audit ledger: durable appends, verify() and inclusion proofs.

- SQLite, one process, 1 KB records, ``synchronous=FULL``: ``--threads`` threads calling
  ``append``, and ``--tasks`` coroutines awaiting ``append_async`` (both share the
  group-commit writer); beside plain inserts of the same rows into the same database
  (batches of 500 per transaction, no ledger);
- PostgreSQL, four writer processes at once into one ledger, beside four processes
  doing plain inserts;
- ``verify()`` over ``--verify-records`` records (default 1,000,000);
- inclusion proof generation (mean over 2,000 random leaves, cache warm).

Usage: python bench/audit.py [--seconds 10] [--out bench/results/audit.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import platform
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

from hegui.audit import AuditRecord, Keyring, Ledger, SigningKey, open_store

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONTENT = "x" * 860  # about 1 KB of leaf data with the other fields


def _record(i: int) -> AuditRecord:
    return AuditRecord(kind="response", request_id=f"req-{i}", content=CONTENT)


def _ledger_rate(ledger: Ledger, threads: int, seconds: float) -> float:
    count = [0] * threads
    stop = time.perf_counter() + seconds

    def work(t: int) -> None:
        i = 0
        while time.perf_counter() < stop:
            ledger.append(_record(i))
            i += 1
        count[t] = i

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(count) / (time.perf_counter() - start)


def _async_rate(ledger: Ledger, tasks: int, seconds: float) -> float:
    """Appends from ``tasks`` coroutines on one event loop (how the gateway appends)."""

    async def run() -> float:
        count = [0]
        stop = time.perf_counter() + seconds

        async def work() -> None:
            i = 0
            while time.perf_counter() < stop:
                await ledger.append_async(_record(i))
                i += 1
            count[0] += i

        start = time.perf_counter()
        await asyncio.gather(*(work() for _ in range(tasks)))
        return count[0] / (time.perf_counter() - start)

    return asyncio.run(run())


def _plain_sqlite_rate(path: Path, seconds: float) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE plain (id INTEGER PRIMARY KEY, data BLOB)")
    row = _record(0).canonical()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO plain (data) VALUES (?)", [(row,)] * 500)
        conn.execute("COMMIT")
        n += 500
    rate = n / (time.perf_counter() - start)
    conn.close()
    return rate


def _pg_ledger_worker(
    schema: str, keyfile: str, seconds: float, threads: int, out: mp.Queue
) -> None:  # type: ignore[type-arg]
    key = SigningKey.from_private("ed25519", bytes.fromhex(keyfile))
    with Ledger(open_store(PG_URL, schema=schema), Keyring({}, key)) as ledger:
        out.put(_ledger_rate(ledger, threads, seconds))


def _pg_plain_worker(schema: str, seconds: float, out: mp.Queue[float]) -> None:
    row = _record(0).canonical()
    with psycopg.connect(PG_URL) as conn:
        conn.execute(f"SET search_path TO {schema}")
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany("INSERT INTO plain (data) VALUES (%s)", [(row,)] * 500)
            n += 500
        out.put(n / (time.perf_counter() - start))


def _pg_rates(seconds: float, threads: int, writers: int = 4) -> tuple[float, float]:
    schema = f"hegui_bench_{uuid.uuid4().hex[:8]}"
    key = SigningKey.generate()
    open_store(PG_URL, schema=schema).close()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {schema}.plain (id BIGSERIAL PRIMARY KEY, data BYTEA)")
    try:
        ctx = mp.get_context("spawn")
        results: list[float] = []
        for target, args in (
            (_pg_ledger_worker, (schema, key.private.hex(), seconds, threads)),
            (_pg_plain_worker, (schema, seconds)),
        ):
            queue = ctx.Queue()
            procs = [ctx.Process(target=target, args=(*args, queue)) for _ in range(writers)]
            for p in procs:
                p.start()
            results.append(sum(queue.get() for _ in procs))
            for p in procs:
                p.join()
        with Ledger(open_store(PG_URL, schema=schema), Keyring({}, key)) as ledger:
            report = ledger.verify()
            assert report.ok, report.reason
        return results[0], results[1]
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _verify_and_proofs(path: Path, records: int) -> tuple[float, float, int]:
    keyring = Keyring({}, SigningKey.generate())
    with Ledger(open_store(str(path), synchronous="normal"), keyring, max_batch=20_000) as ledger:
        batch = [_record(i) for i in range(10_000)]
        for _ in range(records // len(batch)):
            ledger.append_many(batch)
    with Ledger(open_store(str(path)), keyring) as ledger:
        start = time.perf_counter()
        report = ledger.verify()
        verify_s = time.perf_counter() - start
        assert report.ok and report.tree_size == records, report.reason
        size = report.tree_size
        ledger.prove_inclusion(0, size)  # warm the subtree cache
        picks = [random.randrange(size) for _ in range(2000)]
        start = time.perf_counter()
        for index in picks:
            ledger.prove_inclusion(index, size)
        proof_us = (time.perf_counter() - start) / len(picks) * 1e6
    return verify_s, proof_us, size


def _verdict(value: float, met: bool) -> str:
    if math.isnan(value):
        return "skipped"
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=256)
    parser.add_argument("--tasks", type=int, default=1024, help="coroutines for the asyncio row")
    parser.add_argument("--verify-records", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/audit.json"))
    parser.add_argument(
        "--only",
        choices=("sqlite", "postgresql", "verify"),
        action="append",
        help="run only these parts (repeatable); the table shows the others as skipped",
    )
    args = parser.parse_args()
    parts = set(args.only or ("sqlite", "postgresql", "verify"))
    nan = float("nan")
    sqlite_ledger = sqlite_async = sqlite_plain = pg_ledger = pg_plain = verify_s = nan
    proof_us = nan
    size = args.verify_records
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        if "sqlite" in parts:
            keyring = Keyring({}, SigningKey.generate())
            with Ledger(open_store(str(base / "ledger.db")), keyring) as ledger:
                sqlite_ledger = _ledger_rate(ledger, args.threads, args.seconds)
            with Ledger(open_store(str(base / "ledger-async.db")), keyring) as ledger:
                sqlite_async = _async_rate(ledger, args.tasks, args.seconds)
            sqlite_plain = _plain_sqlite_rate(base / "ledger.db", args.seconds)
        if "postgresql" in parts:
            pg_ledger, pg_plain = _pg_rates(args.seconds, args.threads)
        if "verify" in parts:
            verify_s, proof_us, size = _verify_and_proofs(base / "verify.db", args.verify_records)
    rows = [
        ("SQLite appends/s (1 process, threads)", sqlite_ledger, sqlite_plain, 20_000.0),
        ("SQLite appends/s (1 process, asyncio)", sqlite_async, sqlite_plain, 20_000.0),
        ("PostgreSQL appends/s (4 processes, 1 KB)", pg_ledger, pg_plain, 5_000.0),
    ]
    print(f"{'measure':44} {'ledger':>10} {'plain':>10} {'ratio':>6}  goal")
    for name, ledger_rate, plain_rate, goal in rows:
        ratio = ledger_rate / plain_rate
        verdict = _verdict(ledger_rate, ledger_rate >= goal)
        print(
            f"{name:44} {ledger_rate:>10,.0f} {plain_rate:>10,.0f} {ratio:>6.2f}"
            f"  >= {goal:,.0f}  {verdict}"
        )
    name = f"verify() over {size:,} records (s)"
    print(
        f"{name:44} {verify_s:>10.2f} {'':>10} {'':>6}  <= 10  {_verdict(verify_s, verify_s <= 10)}"
    )
    name = "inclusion proof (microseconds)"
    verdict = _verdict(proof_us, proof_us <= 1000)
    print(f"{name:44} {proof_us:>10.1f} {'':>10} {'':>6}  <= 1000  {verdict}")
    result = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "threads": args.threads,
        "seconds": args.seconds,
        "sqlite": {
            "ledger_per_s": sqlite_ledger,
            "ledger_async_per_s": sqlite_async,
            "plain_per_s": sqlite_plain,
        },
        "postgresql_4_writers": {"ledger_per_s": pg_ledger, "plain_per_s": pg_plain},
        "verify": {"records": size, "seconds": verify_s},
        "inclusion_proof_us": proof_us,
    }
    if args.only:
        print(f"partial run: {args.out} left as it is")
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
