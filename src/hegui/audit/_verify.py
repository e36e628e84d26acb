"""Full verification of a stored ledger, naming the first bad index."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from hegui.audit._keys import Keyring
from hegui.audit._merkle import EMPTY_ROOT, LEAF_PREFIX, NODE_PREFIX, Frontier
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


def _walk(
    store: LedgerStore, heads: list[SignedTreeHead], keyring: Keyring
) -> tuple[int, int, int]:
    """Stream the leaves; return (size, purged, heads checked) or raise ``_Failure``."""
    sha256 = hashlib.sha256
    frontier = Frontier()
    hashes = frontier.hashes
    expected, purged, position, checked, last_ok = 0, 0, 0, 0, 0
    while position < len(heads) and heads[position].tree_size == 0:
        if heads[position].root_hash != EMPTY_ROOT or not heads[position].verify_signature(keyring):
            raise _Failure(0, "signed head of the empty tree has a wrong root")
        position += 1
        checked += 1
    for row in store.iter_leaves():
        if row.index != expected:
            what = "is missing" if row.index > expected else "is duplicated"
            raise _Failure(expected, f"row {expected} {what} (next row is {row.index})")
        data = row.data
        if data is None:
            purged += 1
        else:
            if sha256(LEAF_PREFIX + data).digest() != row.leaf_hash:
                raise _Failure(expected, f"row {expected}: data does not match its leaf hash")
            if not data.startswith(b'{"index":%d,' % expected):
                raise _Failure(expected, f"row {expected}: data belongs to another index")
        # Frontier.append, inlined: this loop runs once per record.
        hashes.append(row.leaf_hash)
        expected += 1
        carry = expected
        while not carry & 1:
            right = hashes.pop()
            hashes[-1] = sha256(NODE_PREFIX + hashes[-1] + right).digest()
            carry >>= 1
        frontier.size = expected
        while position < len(heads) and heads[position].tree_size == expected:
            if not heads[position].verify_signature(keyring):
                raise _Failure(
                    last_ok,
                    f"signed head of size {expected} has a bad signature or an unknown key "
                    f"{heads[position].key_id}",
                )
            if frontier.root() != heads[position].root_hash:
                raise _Failure(
                    last_ok,
                    f"rows {last_ok}..{expected - 1} do not hash to the signed root of "
                    f"size {expected}",
                )
            position += 1
            checked += 1
            last_ok = expected
    if position < len(heads):
        raise _Failure(
            expected,
            f"a signed head covers {heads[-1].tree_size} leaves but only {expected} rows exist",
        )
    if expected > last_ok:
        raise _Failure(
            last_ok, f"rows {last_ok}..{expected - 1} are not covered by any signed head"
        )
    return expected, purged, checked


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
