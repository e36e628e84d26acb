"""Merkle tree hashing, proofs and proof verification exactly as RFC 9162 section 2.1.

Leaves hash as ``SHA-256(0x00 || data)``, interior nodes as ``SHA-256(0x01 || left ||
right)``; a tree of ``n > 1`` leaves splits at ``k``, the largest power of two below
``n``. ``Frontier`` keeps the roots of the complete subtrees of a tree (at most 64 of
them) so appends and roots cost O(log n); ``MerkleCache`` keeps every complete,
aligned subtree root so any proof is a handful of lookups.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256() for the empty tree."""

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Return ``SHA-256(0x00 || data)``, the hash of one leaf."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``, the hash of an interior node."""
    return _sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """Return ``k``, the largest power of two strictly smaller than ``n`` (``n > 1``)."""
    if n < 2:
        raise ValueError(f"a tree of {n} leaves has no split point")
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """Roots of the complete subtrees of a tree, largest first: enough to append and to root.

    For ``n = 2^a + 2^b + ...`` (a > b > ...), the frontier holds MTH of each of those
    consecutive subtrees; the RFC's MTH of the whole tree folds them from the right.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} hashes")
        self.size = size
        self.hashes = list(hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        """Rebuild a frontier stored with ``to_bytes``."""
        parts = [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]
        return cls(size, parts)

    def to_bytes(self) -> bytes:
        """Serialise the subtree roots, concatenated."""
        return b"".join(self.hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, merging equal-sized subtrees as the binary count carries."""
        hashes = self.hashes
        hashes.append(leaf)
        self.size += 1
        carry = self.size
        while not carry & 1:
            right = hashes.pop()
            hashes[-1] = _sha256(NODE_PREFIX + hashes[-1] + right).digest()
            carry >>= 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Add many leaf hashes: whole aligned subtrees at a time, hashed level by level."""
        pos, count = 0, len(leaves)
        hashes = self.hashes
        while pos < count:
            width = 1 << ((count - pos).bit_length() - 1)  # largest power of two that fits
            if self.size:
                width = min(width, self.size & -self.size)  # ... and keeps the block aligned
            hashes.append(subtree_root(leaves[pos : pos + width]))
            pos += width
            self.size += width
            carry = self.size // width
            while not carry & 1:
                right = hashes.pop()
                hashes[-1] = _sha256(NODE_PREFIX + hashes[-1] + right).digest()
                carry >>= 1

    def root(self) -> bytes:
        """Return MTH of the whole tree."""
        if not self.hashes:
            return EMPTY_ROOT
        result = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            result = _sha256(NODE_PREFIX + left + result).digest()
        return result

    def copy(self) -> Frontier:
        """Return an independent copy."""
        return Frontier(self.size, self.hashes)


def _parents(level: Sequence[bytes]) -> list[bytes]:
    """Return the node hashes of consecutive pairs of ``level`` (an odd last one is left out)."""
    pairs = iter(level)
    return [
        _sha256(NODE_PREFIX + left + right).digest()
        for left, right in zip(pairs, pairs, strict=False)
    ]


def subtree_root(leaves: Sequence[bytes]) -> bytes:
    """Return MTH of a complete subtree: ``len(leaves)`` must be a power of two."""
    count = len(leaves)
    if count == 0 or count & (count - 1):
        raise ValueError(f"{count} leaves do not make a complete subtree")
    level = leaves
    while len(level) > 1:
        level = _parents(level)
    return level[0]


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    """Return MTH of a sequence of leaf hashes, with an iterative stack (no recursion)."""
    frontier = Frontier()
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


class MerkleCache:
    """Every complete, aligned subtree root of a growing tree, for fast proofs.

    Level ``j`` holds, concatenated, the roots of subtrees ``[i*2^j, (i+1)*2^j)``; the
    whole cache is about two hashes per leaf. Any MTH range the RFC's proof recursion
    asks for is then at most ``log2(n)`` lookups and node hashes.
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]

    @property
    def size(self) -> int:
        """Number of leaves held."""
        return len(self._levels[0]) // HASH_SIZE

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, completing every subtree it closes."""
        levels = self._levels
        levels[0] += leaf
        level = 0
        while (len(levels[level]) // HASH_SIZE) % 2 == 0:
            row = levels[level]
            parent = _sha256(NODE_PREFIX + row[-2 * HASH_SIZE :]).digest()
            level += 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += parent

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Add many leaf hashes at once, completing subtrees level by level in bulk."""
        if not leaves:
            return
        levels = self._levels
        levels[0] += b"".join(leaves)
        level = 0
        while True:
            row = levels[level]
            width = len(row) // HASH_SIZE
            if level + 1 == len(levels):
                levels.append(bytearray())
            done = len(levels[level + 1]) // HASH_SIZE  # parents already made
            if width // 2 == done:
                break
            start = 2 * done * HASH_SIZE
            stop = (width // 2) * 2 * HASH_SIZE
            children = [bytes(row[i : i + HASH_SIZE]) for i in range(start, stop, HASH_SIZE)]
            levels[level + 1] += b"".join(_parents(children))
            level += 1
        if not levels[-1]:
            levels.pop()

    def leaf(self, index: int) -> bytes:
        """Return the hash of leaf ``index``."""
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def _mth(self, start: int, end: int) -> bytes:
        width = end - start
        if width == 0:
            return EMPTY_ROOT
        if width & (width - 1) == 0 and start % width == 0:
            level = width.bit_length() - 1
            offset = (start // width) * HASH_SIZE
            return bytes(self._levels[level][offset : offset + HASH_SIZE])
        k = split_point(width)
        return node_hash(self._mth(start, start + k), self._mth(start + k, end))

    def _check_size(self, tree_size: int) -> None:
        if not 0 <= tree_size <= self.size:
            raise ValueError(f"tree size {tree_size} is outside 0..{self.size}")

    def root(self, tree_size: int | None = None) -> bytes:
        """Return MTH of the first ``tree_size`` leaves (all of them by default)."""
        size = self.size if tree_size is None else tree_size
        self._check_size(size)
        return self._mth(0, size)

    def inclusion_path(self, index: int, tree_size: int) -> list[bytes]:
        """Return PATH(index, D[tree_size]) of RFC 9162 section 2.1.3.1, leaf side first."""
        self._check_size(tree_size)
        if not 0 <= index < tree_size:
            raise ValueError(f"leaf {index} is not in a tree of size {tree_size}")
        path: list[bytes] = []
        start, end = 0, tree_size
        while end - start > 1:
            k = split_point(end - start)
            if index - start < k:
                path.append(self._mth(start + k, end))
                end = start + k
            else:
                path.append(self._mth(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_path(self, old_size: int, new_size: int) -> list[bytes]:
        """Return PROOF(old_size, D[new_size]) of RFC 9162 section 2.1.4.1."""
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"old size {old_size} is outside 0..{new_size}")
        if old_size in (0, new_size):
            return []
        path: list[bytes] = []
        start, end, whole = 0, new_size, True
        while True:
            width, m = end - start, old_size - start
            if m == width:
                if not whole:
                    path.append(self._mth(start, end))
                break
            k = split_point(width)
            if m <= k:
                path.append(self._mth(start + k, end))
                end = start + k
            else:
                path.append(self._mth(start, start + k))
                start += k
                whole = False
        path.reverse()
        return path


def _shift_until(fn: int, sn: int, *, lsb_set: bool) -> tuple[int, int]:
    """Right-shift both until LSB(fn) is set (or fn is 0), or, if not lsb_set, clear."""
    if lsb_set:
        while not fn & 1 and fn != 0:
            fn >>= 1
            sn >>= 1
    else:
        while fn & 1:
            fn >>= 1
            sn >>= 1
    return fn, sn


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof with the algorithm of RFC 9162 section 2.1.3.2."""
    if not 0 <= index < tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_until(fn, sn, lsb_set=True)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """Check a consistency proof with the algorithm of RFC 9162 section 2.1.4.2.

    Sizes the RFC leaves to the caller: equal sizes need an empty proof and equal roots;
    an empty old tree is consistent with any tree (its root must be the empty root).
    """
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    if old_size == 0:
        return not path and old_root == EMPTY_ROOT
    if not path:
        return False
    proof = list(path)
    if old_size & (old_size - 1) == 0:
        proof.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    fn, sn = _shift_until(fn, sn, lsb_set=False)
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            fn, sn = _shift_until(fn, sn, lsb_set=True)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
