"""Contract suite run over every registered store: appends, proofs, tampering, holds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from audit_support import StoreHandle

from hegui.audit import (
    AuditRecord,
    Keyring,
    Ledger,
    RecordKind,
    leaf_hash,
    parse_leaf,
    root_of,
    store_names,
)


def _record(i: int, **extra: object) -> AuditRecord:
    return AuditRecord(kind=RecordKind.REQUEST, request_id=f"r{i}", content=f"text {i}", **extra)


def _fill(ledger: Ledger, n: int) -> None:
    for i in range(n):
        ledger.append(_record(i))


def test_every_store_is_covered() -> None:
    assert {"sqlite", "postgresql"} <= set(store_names())


def test_receipts_heads_and_proofs(ledger: Ledger) -> None:
    receipts = [ledger.append(_record(i)) for i in range(5)]
    receipts += ledger.append_many([_record(i) for i in range(5, 12)])
    assert [r.index for r in receipts] == list(range(12))
    head = ledger.head()
    assert head.tree_size == 12
    assert head.verify_signature(ledger.keyring)
    assert head.root_hash == root_of(r.leaf_hash for r in receipts)
    for r in receipts:
        proof = ledger.prove_inclusion(r.index)
        assert proof.leaf_hash == r.leaf_hash
        assert proof.verify(head.root_hash)
    old = ledger.root(5)
    assert ledger.prove_consistency(5).verify(old, head.root_hash)
    stored = ledger.read(3)
    assert stored.record is not None and stored.record.request_id == "r3"
    assert ledger.verify().ok


def test_concurrent_appends_build_one_tree(ledger: Ledger) -> None:
    errors: list[BaseException] = []
    indices: list[int] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        try:
            for i in range(25):
                got = ledger.append(_record(t * 100 + i)).index
                with lock:
                    indices.append(got)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(indices) == list(range(200))
    report = ledger.verify()
    assert report.ok and report.tree_size == 200


def test_appends_here_and_from_threads_build_one_tree(ledger: Ledger) -> None:
    """``append_here`` commits on the caller's thread when the writer is idle and says
    ``None`` (nothing written) when it is not; mixed with other appends, one tree."""
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(25):
                ledger.append(_record(t * 100 + i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    here, queued = [], 0
    for i in range(60):
        record = _record(1000 + i)
        receipt = ledger.append_here(record)
        if receipt is None:
            queued += 1
            receipt = ledger.append(record)
        else:
            here.append(receipt)
        stored = ledger.read(receipt.index)
        assert stored.leaf_hash == receipt.leaf_hash
        assert stored.record is not None and stored.record.request_id == f"r{1000 + i}"
    for thread in threads:
        thread.join()
    assert not errors and here  # the writer was idle at least once
    report = ledger.verify()
    assert report.ok and report.tree_size == 160


def test_reopened_ledger_continues_the_same_tree(handle: StoreHandle, keyring: Keyring) -> None:
    with Ledger(handle.open(), keyring) as first:
        _fill(first, 7)
        old_head = first.head()
    with Ledger(handle.open(), keyring) as second:
        assert second.append(_record(99)).index == 7
        new_head = second.head()
        proof = second.prove_consistency(old_head.tree_size)
        assert proof.verify(old_head.root_hash, new_head.root_hash)
        assert second.verify(known_heads=[old_head]).ok


@pytest.mark.parametrize(
    ("statement", "bad"),
    [
        ("UPDATE audit_leaves SET data = CAST('{{}}' AS {blob}) WHERE idx = 4", 4),
        ("DELETE FROM audit_leaves WHERE idx = 4", 4),
        (
            "UPDATE audit_leaves SET idx = -1 WHERE idx = 3;"
            " UPDATE audit_leaves SET idx = 3 WHERE idx = 6;"
            " UPDATE audit_leaves SET idx = 6 WHERE idx = -1",
            3,
        ),
        ("DELETE FROM audit_leaves WHERE idx = 9", 9),
    ],
    ids=["edit", "delete", "swap", "truncate"],
)
def test_tampering_is_named_at_its_index(
    ledger: Ledger, handle: StoreHandle, statement: str, bad: int
) -> None:
    _fill(ledger, 10)
    assert ledger.verify().ok
    blob = "BLOB" if handle.name == "sqlite" else "BYTEA"
    handle.sql(statement.format(blob=blob))
    report = ledger.verify()
    assert not report.ok
    assert report.first_bad_index == bad, report.reason


def test_edit_with_recomputed_hash_fails_at_its_index(ledger: Ledger, handle: StoreHandle) -> None:
    _fill(ledger, 10)
    row = ledger.store.leaf(5)
    assert row is not None and row.data is not None
    forged = row.data.replace(b"text 5", b"text X")
    digest = leaf_hash(forged)
    handle.sql(
        f"UPDATE audit_leaves SET data = {_hex(handle, forged)},"
        f" leaf_hash = {_hex(handle, digest)} WHERE idx = 5"
    )
    report = ledger.verify()
    assert not report.ok and report.first_bad_index == 5, report.reason


def test_inserted_row_is_named(ledger: Ledger, handle: StoreHandle) -> None:
    _fill(ledger, 6)
    row = ledger.store.leaf(5)
    assert row is not None and row.data is not None
    _, record = parse_leaf(row.data)
    forged = b'{"index":6,"record":' + record.canonical() + b"}"
    handle.sql(
        "INSERT INTO audit_leaves (idx, leaf_hash, data, kind, time_us)"
        f" VALUES (6, {_hex(handle, leaf_hash(forged))}, {_hex(handle, forged)}, 'request', 0)"
    )
    report = ledger.verify()
    assert not report.ok and report.first_bad_index == 6, report.reason


def _hex(handle: StoreHandle, data: bytes) -> str:
    return f"X'{data.hex()}'" if handle.name == "sqlite" else f"'\\x{data.hex()}'::bytea"


def test_a_forged_head_signature_fails(ledger: Ledger, handle: StoreHandle) -> None:
    _fill(ledger, 3)
    handle.sql("UPDATE audit_heads SET key_id = 'ffff' WHERE tree_size = 2")
    report = ledger.verify()
    assert not report.ok and report.first_bad_index == 1


def test_time_range_purge_and_holds(ledger: Ledger) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(6):
        ledger.append(_record(i, time=base + timedelta(days=i)))
    store = ledger.store
    start = int((base + timedelta(days=2)).timestamp() * 1_000_000)
    end = int((base + timedelta(days=4)).timestamp() * 1_000_000)
    assert store.indices_between(start, end) == [2, 3]
    store.hold([1], "case 7", 0)
    assert store.holds() == {1: "case 7"}
    assert store.purgeable(end) == [0, 2, 3]
    assert store.purge([0, 1, 2, 3], 1) == 3
    assert ledger.read(1).record is not None
    assert ledger.read(2).purged
    report = ledger.verify()
    assert report.ok and report.purged == 3
    assert ledger.prove_inclusion(2).verify(ledger.head().root_hash)
    counts = store.counts()
    assert counts["rows"] == 6 and counts["purged"] == 3 and counts["held"] == 1
