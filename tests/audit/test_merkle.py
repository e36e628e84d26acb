"""The Merkle tree against RFC 9162 and against pymerkle, an independent implementation."""

from __future__ import annotations

import hashlib
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hegui.audit._merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleCache,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pymerkle


def _reference_mth(leaves: list[bytes]) -> bytes:
    """MTH written as the RFC's recursive definition, over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(_reference_mth(leaves[:k]), _reference_mth(leaves[k:]))


def _pymerkle_tree(entries: list[bytes]) -> pymerkle.InmemoryTree:
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    for entry in entries:
        tree.append_entry(entry)
    return tree


def _cache(entries: list[bytes]) -> MerkleCache:
    cache = MerkleCache()
    for entry in entries:
        cache.append(leaf_hash(entry))
    return cache


entries_strategy = st.lists(st.binary(max_size=40), min_size=1, max_size=130)


def test_hash_prefixes_follow_the_rfc() -> None:
    assert leaf_hash(b"a") == hashlib.sha256(b"\x00a").digest()
    assert (
        node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    )
    assert root_of([]) == hashlib.sha256(b"").digest()


@settings(max_examples=150, deadline=None)
@given(entries_strategy)
def test_roots_match_pymerkle_and_the_recursive_definition(entries: list[bytes]) -> None:
    tree = _pymerkle_tree(entries)
    cache = _cache(entries)
    leaves = [leaf_hash(e) for e in entries]
    for size in range(1, len(entries) + 1):
        expected = tree.get_root(size)
        assert cache.root(size) == expected
        assert root_of(leaves[:size]) == expected
    assert _reference_mth(leaves) == tree.get_root(len(entries))


@settings(max_examples=100, deadline=None)
@given(entries_strategy, st.data())
def test_inclusion_proofs_match_pymerkle(entries: list[bytes], data: st.DataObject) -> None:
    tree = _pymerkle_tree(entries)
    cache = _cache(entries)
    size = data.draw(st.integers(1, len(entries)))
    index = data.draw(st.integers(0, size - 1))
    path = cache.inclusion_path(index, size)
    root = tree.get_root(size)
    theirs = tree.prove_inclusion(index + 1, size).serialize()["path"]
    # pymerkle's path starts with the leaf itself, then the RFC's audit path.
    assert [bytes.fromhex(h) for h in theirs[1:]] == path
    assert verify_inclusion(leaf_hash(entries[index]), index, size, path, root)
    assert not verify_inclusion(leaf_hash(entries[index] + b"x"), index, size, path, root)
    if size > 1:
        assert not verify_inclusion(leaf_hash(entries[index]), index, size, path[:-1], root)
        other = (index + 1) % size
        assert not verify_inclusion(leaf_hash(entries[index]), other, size, path, root) or (
            entries[other] == entries[index]
        )


@settings(max_examples=100, deadline=None)
@given(entries_strategy, st.data())
def test_consistency_proofs_verify_against_pymerkle_roots(
    entries: list[bytes], data: st.DataObject
) -> None:
    tree = _pymerkle_tree(entries)
    cache = _cache(entries)
    new = data.draw(st.integers(1, len(entries)))
    old = data.draw(st.integers(1, new))
    path = cache.consistency_path(old, new)
    old_root, new_root = tree.get_root(old), tree.get_root(new)
    assert verify_consistency(old, new, old_root, new_root, path)
    # pymerkle's own consistency proof verifies the same pair of roots.
    pymerkle.verify_consistency(old_root, new_root, tree.prove_consistency(old, new))
    if old < new:
        forged = hashlib.sha256(old_root).digest()
        assert not verify_consistency(old, new, forged, new_root, path)
        assert not verify_consistency(old, new, old_root, forged, path)
        if path:
            assert not verify_consistency(old, new, old_root, new_root, path[:-1])


def test_frontier_round_trips_and_roots_every_size() -> None:
    frontier = Frontier()
    leaves = [leaf_hash(bytes([i])) for i in range(70)]
    for i, leaf in enumerate(leaves):
        frontier.append(leaf)
        again = Frontier.from_bytes(frontier.size, frontier.to_bytes())
        assert again.root() == frontier.root() == _reference_mth(leaves[: i + 1])


def test_bad_sizes_are_refused() -> None:
    cache = _cache([b"a", b"b"])
    with pytest.raises(ValueError, match="outside"):
        cache.inclusion_path(0, 3)
    with pytest.raises(ValueError, match="not in a tree"):
        cache.inclusion_path(2, 2)
    with pytest.raises(ValueError, match="frontier"):
        Frontier(3, [b"x" * 32])
    assert not verify_inclusion(leaf_hash(b"a"), 2, 2, [], cache.root())
    assert verify_consistency(0, 2, EMPTY_ROOT, cache.root(), [])
    assert not verify_consistency(2, 1, cache.root(), cache.root(1), [])
