"""Full verification of a stored ledger, naming the first bad index.

One pass over raw ``(index, leaf_hash, data)`` rows read in large chunks: per row, a
hash and a prefix check in a tight loop (no row objects); the tree is then folded in
bulk, whole aligned subtrees at a time (``Frontier.extend``), and its root compared at
every signed head. Each head's signature is checked once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from hegui.audit._keys import Keyring
from hegui.audit._merkle import EMPTY_ROOT, LEAF_PREFIX, Frontier
from hegui.audit._store import LedgerStore
from hegui.audit._types import SignedTreeHead, VerifyReport


class _Failure(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index, self.reason = index, reason


def _merge_heads(
    stored: list[SignedTreeHead], known: Sequence[SignedTreeHead]
) -> list[SignedTreeHead]:
    by_size: dict[int, list[SignedTreeHead]] = {}
    for head in [*stored, *known]:
        by_size.setdefault(head.tree_size, []).append(head)
    return [h for size in sorted(by_size) for h in by_size[size]]


class _Heads:
    """The signed heads in size order, checked as the walk reaches each size."""

    def __init__(self, heads: list[SignedTreeHead], keyring: Keyring) -> None:
        self.heads, self.keyring = heads, keyring
        self.position = self.checked = self.last_ok = 0

    @property
    def next_size(self) -> int:
        """Tree size of the next head to check (-1 when none is left)."""
        return self.heads[self.position].tree_size if self.position < len(self.heads) else -1

    def check(self, frontier: Frontier) -> None:
        """Check every head of ``frontier.size`` leaves against the frontier's root."""
        size = frontier.size
        root = None
        while self.position < len(self.heads) and self.heads[self.position].tree_size == size:
            head = self.heads[self.position]
            if size == 0 and head.root_hash != EMPTY_ROOT:
                raise _Failure(0, "signed head of the empty tree has a wrong root")
            if not head.verify_signature(self.keyring):
                if size == 0:
                    raise _Failure(0, "signed head of the empty tree has a wrong root")
                raise _Failure(
                    self.last_ok,
                    f"signed head of size {size} has a bad signature or an unknown key "
                    f"{head.key_id}",
                )
            root = frontier.root() if root is None else root
            if root != head.root_hash:
                raise _Failure(
                    self.last_ok,
                    f"rows {self.last_ok}..{size - 1} do not hash to the signed root of "
                    f"size {size}",
                )
            self.position += 1
            self.checked += 1
            self.last_ok = size


def _walk(
    store: LedgerStore, heads: list[SignedTreeHead], keyring: Keyring
) -> tuple[int, int, int]:
    """Stream the leaves; return (size, purged, heads checked) or raise ``_Failure``."""
    sha256 = hashlib.sha256
    frontier = Frontier()
    signed = _Heads(heads, keyring)
    signed.check(frontier)  # heads of the empty tree
    expected = purged = 0
    for rows in store.leaf_chunks():
        start = expected
        digests: list[bytes] = []
        append = digests.append
        failure: _Failure | None = None
        for index, digest, data in rows:
            if index != expected:
                what = "is missing" if index > expected else "is duplicated"
                failure = _Failure(expected, f"row {expected} {what} (next row is {index})")
                break
            if data is None:
                purged += 1
            elif sha256(LEAF_PREFIX + data).digest() != digest:
                failure = _Failure(expected, f"row {expected}: data does not match its leaf hash")
                break
            elif not data.startswith(b'{"index":%d,' % expected):
                failure = _Failure(expected, f"row {expected}: data belongs to another index")
                break
            append(digest)
            expected += 1
        # Fold the good rows into the tree, stopping at each head's size to check it;
        # a bad head before a bad row is reported first, as a row-by-row walk would.
        done = 0
        while 0 < signed.next_size <= expected:
            frontier.extend(digests[done : signed.next_size - start])
            done = signed.next_size - start
            signed.check(frontier)
        frontier.extend(digests[done:])
        if failure is not None:
            raise failure
    if signed.position < len(heads):
        raise _Failure(
            expected,
            f"a signed head covers {heads[-1].tree_size} leaves but only {expected} rows exist",
        )
    if expected > signed.last_ok:
        raise _Failure(
            signed.last_ok,
            f"rows {signed.last_ok}..{expected - 1} are not covered by any signed head",
        )
    return expected, purged, signed.checked


def verify_store(
    store: LedgerStore, keyring: Keyring, known_heads: Sequence[SignedTreeHead] = ()
) -> VerifyReport:
    """Check signatures of every head, every leaf hash, index and root, in one pass."""
    heads = _merge_heads(store.heads(), known_heads)
    try:
        size, purged, checked = _walk(store, heads, keyring)
    except _Failure as failure:
        return VerifyReport(
            ok=False,
            tree_size=heads[-1].tree_size if heads else 0,
            heads_checked=0,
            purged=0,
            first_bad_index=failure.index,
            reason=failure.reason,
        )
    return VerifyReport(ok=True, tree_size=size, heads_checked=checked, purged=purged)
