"""The fast paths of appends and verify agree exactly with the plain definitions."""

from __future__ import annotations

import hashlib
import random
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hegui.audit import AuditRecord, ContentCipher, canonical_json
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
