"""The fast paths of appends and verify agree exactly with the plain definitions."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hegui.audit import (
    AuditRecord,
    AuditWriteError,
    ContentCipher,
    Keyring,
    Ledger,
    Receipt,
    SigningKey,
    canonical_json,
    open_store,
)
from hegui.audit._commit import GroupCommitter, _Pending, _WakeChain
from hegui.audit._merkle import Frontier, MerkleCache

RECORDS = [
    AuditRecord(kind="request"),
    AuditRecord(kind="response", request_id="r-1", content="x" * 900),
    AuditRecord(
        kind="block",
        time=datetime(2025, 3, 1, 8, 0, 0, 7, tzinfo=timezone(timedelta(hours=8))),
        principal="plain:张三",
        policy_id="cn",
        policy_version="2025.11.0",
        findings=[{"risk": "cn.a.1", "span": [3, 9], "action": "block", "b": None}],
        content={"z": 1, "a": ['引号"\\\n\t', 2.5, True, None], "m": {"y": 1, "x": 2}},
        request_id='quote " backslash \\ control \x01 emoji 😀',
    ),
    AuditRecord(kind="label", content=0),
    AuditRecord(kind="label", content=False),
    AuditRecord(kind="label", content=[]),
    AuditRecord(kind="admin", time=datetime(999, 1, 1, tzinfo=UTC), content="old"),
    AuditRecord(kind="incident", time=datetime(2025, 1, 1, tzinfo=UTC), content="\u2028\u00e9"),
]


@pytest.mark.parametrize("record", RECORDS)
def test_canonical_is_canonical_json_of_to_json(record: AuditRecord) -> None:
    assert record.canonical() == canonical_json(record.to_json())


def test_canonical_of_sealed_content() -> None:
    sealed = ContentCipher(b"k" * 32).seal(RECORDS[2])
    assert sealed.sealed is not None
    assert sealed.canonical() == canonical_json(sealed.to_json())


def test_bulk_tree_building_matches_leaf_by_leaf() -> None:
    rng = random.Random(7)
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(1500)]
    one, bulk = Frontier(), Frontier()
    cache_one, cache_bulk = MerkleCache(), MerkleCache()
    position = 0
    while position < len(leaves):
        chunk = leaves[position : position + rng.choice([0, 1, 2, 3, 7, 8, 64, 100, 255])]
        for leaf in chunk:
            one.append(leaf)
            cache_one.append(leaf)
        bulk.extend(chunk)
        cache_bulk.extend(chunk)
        position += len(chunk)
        assert (bulk.size, bulk.hashes) == (one.size, one.hashes)
        assert bulk.root() == one.root() == cache_bulk.root() == cache_one.root()
    for size in (1, 2, 3, 1000, 1024, 1500):
        assert cache_bulk.inclusion_path(size - 1, size) == cache_one.inclusion_path(size - 1, size)


def test_a_caller_that_stops_waiting_does_not_stall_the_others() -> None:
    chain = _WakeChain()
    batch: list[_Pending[int, int]] = [_Pending([i]) for i in range(3)]
    chain.leave(batch[1])  # interrupted before its turn
    chain.start(batch)
    assert batch[0].done.acquire(timeout=5)
    chain.leave(batch[0])  # woken: wakes the next one still waiting, batch[2]
    assert batch[2].done.acquire(timeout=5)
    assert not batch[1].woken


def test_every_caller_of_a_batch_gets_its_own_results() -> None:
    gate = threading.Event()

    def commit(items: list[int]) -> list[int]:
        gate.wait(5)
        return [item * 10 for item in items]

    committer: GroupCommitter[int, int] = GroupCommitter(commit)
    results: dict[int, list[int]] = {}

    def call(i: int) -> None:
        results[i] = committer.submit([i, i + 1] if i % 2 else [i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(timeout=30)
    committer.close()
    assert results == {i: ([i * 10, i * 10 + 10] if i % 2 else [i * 10]) for i in range(20)}


def test_async_callers_share_commits_with_threads_and_get_their_own_results() -> None:
    gate = threading.Event()
    batches: list[int] = []

    def commit(items: list[int]) -> list[int]:
        gate.wait(5)
        batches.append(len(items))
        if -1 in items:
            raise OSError("disk full")
        return [item * 10 for item in items]

    committer: GroupCommitter[int, int] = GroupCommitter(commit)
    thread_results: dict[int, list[int]] = {}

    def call(i: int) -> None:
        thread_results[i] = committer.submit([i])

    async def main() -> list[list[int]]:
        threads = [threading.Thread(target=call, args=(i,)) for i in range(100, 105)]
        for thread in threads:
            thread.start()
        tasks = [asyncio.ensure_future(committer.submit_async([i, i + 1])) for i in range(50)]
        cancelled = asyncio.ensure_future(committer.submit_async([999]))
        await asyncio.sleep(0.05)
        cancelled.cancel()  # a caller that gave up must not disturb the others
        gate.set()
        results = await asyncio.gather(*tasks)
        for thread in threads:
            thread.join(timeout=30)
        return results

    results = asyncio.run(main())
    assert results == [[i * 10, i * 10 + 10] for i in range(50)]
    assert thread_results == {i: [i * 10] for i in range(100, 105)}
    assert max(batches) > 2  # concurrent callers really shared commits

    async def failing() -> None:
        await asyncio.gather(committer.submit_async([-1]), committer.submit_async([5]))

    with pytest.raises(AuditWriteError, match="nothing stored: disk full"):
        asyncio.run(failing())
    committer.close()


def test_append_async_builds_one_verifiable_tree(tmp_path: Path) -> None:
    ledger = Ledger(
        open_store(str(tmp_path / "audit.db")), Keyring({}, SigningKey.generate("ed25519"))
    )

    async def main() -> list[Receipt]:
        return await asyncio.gather(
            *(
                ledger.append_async(AuditRecord(kind="request", request_id=str(i)))
                for i in range(300)
            )
        )

    receipts = asyncio.run(main())
    assert sorted(r.index for r in receipts) == list(range(300))
    for receipt in receipts[::37]:
        stored = ledger.read(receipt.index)
        assert stored.leaf_hash == receipt.leaf_hash
    assert ledger.verify().ok
    ledger.close()


def test_commit_here_runs_on_the_callers_thread_only_while_the_writer_is_idle() -> None:
    gate, started = threading.Event(), threading.Event()
    threads: list[str] = []

    def commit(items: list[int]) -> list[int]:
        threads.append(threading.current_thread().name)
        if -1 in items:
            started.set()
            gate.wait(5)
        if -2 in items:
            raise OSError("disk full")
        return [item * 10 for item in items]

    committer: GroupCommitter[int, int] = GroupCommitter(commit, name="writer")
    assert committer.commit_here([1, 2]) == [10, 20]
    assert threads == [threading.current_thread().name]  # no hand-off to the writer

    busy = threading.Thread(target=committer.submit, args=([-1],))
    busy.start()
    assert started.wait(5)
    assert committer.commit_here([3]) is None  # the writer is committing: nothing done
    gate.set()
    busy.join(timeout=5)
    assert threads[1:] == ["writer"] and committer.submit([3]) == [30]

    with pytest.raises(AuditWriteError, match="nothing stored: disk full"):
        committer.commit_here([-2])
    assert committer.commit_here([4]) == [40]  # a failure leaves the writer usable
    committer.close()
    with pytest.raises(AuditWriteError, match="closed"):
        committer.commit_here([5])
