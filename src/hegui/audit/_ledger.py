"""The ledger: appends with receipts, signed tree heads, proofs and full verification."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import NamedTuple

from hegui.audit._commit import GroupCommitter
from hegui.audit._errors import AuditError
from hegui.audit._keys import Keyring, SigningKey
from hegui.audit._merkle import EMPTY_ROOT, LEAF_PREFIX, Frontier, MerkleCache
from hegui.audit._records import LEAF_FORMAT, AuditRecord, ContentCipher, parse_leaf
from hegui.audit._store import LedgerStore
from hegui.audit._types import (
    ConsistencyProof,
    InclusionProof,
    LedgerStats,
    Receipt,
    SignedTreeHead,
    VerifyReport,
    from_us,
    to_us,
)


class _Prepared(NamedTuple):
    """A record serialised by its caller, outside the writer thread."""

    record_bytes: bytes
    kind: str
    time_us: int
    request_id: str | None


@dataclass(frozen=True)
class StoredRecord:
    """A record read back: ``record`` is ``None`` once its content was purged."""

    index: int
    leaf_hash: bytes
    record: AuditRecord | None
    purged: bool


def sign_head(signer: SigningKey, size: int, root: bytes, moment: datetime) -> SignedTreeHead:
    """Return a signed head for a tree of ``size`` leaves with ``root``."""
    unsigned = SignedTreeHead(size, root, moment, signer.key_id, signer.scheme)
    return SignedTreeHead(
        size, root, moment, signer.key_id, signer.scheme, signer.sign(unsigned.message())
    )


class Ledger:
    """Append-only, tamper-evident evidence store over a ``LedgerStore``.

    A failed append raises ``AuditWriteError``; it never drops a record silently.
    """

    def __init__(
        self,
        store: LedgerStore,
        keyring: Keyring,
        *,
        cipher: ContentCipher | None = None,
        max_batch: int = 2000,
        linger: float = 0.0,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.cipher = cipher
        self._cache = MerkleCache()
        self._cache_lock = threading.Lock()
        self._committer: GroupCommitter[_Prepared, Receipt] | None = None
        self._max_batch, self._linger = max_batch, linger

    # -- writing -------------------------------------------------------------------------

    def _writer(self) -> GroupCommitter[_Prepared, Receipt]:
        if self._committer is None:
            if self.keyring.signer is None:
                raise AuditError("this ledger has no signing key; it can verify but not append")
            self._committer = GroupCommitter(
                self._commit, max_batch=self._max_batch, linger=self._linger
            )
        return self._committer

    def _prepare(self, record: AuditRecord) -> _Prepared:
        if self.cipher is not None:
            record = self.cipher.seal(record)
        return _Prepared(
            record.canonical(), record.kind.value, to_us(record.time), record.request_id
        )

    def append(self, record: AuditRecord) -> Receipt:
        """Store one record; return its receipt once the commit is durable."""
        return self._writer().submit([self._prepare(record)])[0]

    async def append_async(self, record: AuditRecord) -> Receipt:
        """``append`` for an event loop: the caller awaits, no thread blocks.

        Many concurrent awaiting tasks share one commit (and one fsync), as threads do,
        without a thread per waiting caller.
        """
        return (await self._writer().submit_async([self._prepare(record)]))[0]

    def append_future(self, record: AuditRecord) -> asyncio.Future[list[Receipt]]:
        """Queue one record for the next commit now; the future resolves when it is durable.

        For a caller that has other work before it needs the receipt (the gateway opens the
        upstream while its request record commits).
        """
        return self._writer().submit_future([self._prepare(record)])

    def append_here(self, record: AuditRecord) -> Receipt | None:
        """Store one record on the calling thread if the writer is idle, else ``None``.

        ``None`` means nothing was written: append the record another way. A failed
        commit raises ``AuditWriteError``, as ``append`` does.
        """
        receipts = self._writer().commit_here([self._prepare(record)])
        return None if receipts is None else receipts[0]

    def append_many(self, records: Iterable[AuditRecord]) -> list[Receipt]:
        """Store records in order in one commit; all or none."""
        return self._writer().submit([self._prepare(r) for r in records])

    def _commit(self, items: list[_Prepared]) -> list[Receipt]:
        """Write one batch: leaves, a signed head and the new state in one transaction.

        Runs on the writer thread. The per-record work (leaf data, leaf hash, row) is a
        few list comprehensions: the index is only known once the state row is locked.
        """
        signer = self.keyring.signer
        assert signer is not None  # checked before the writer starts
        sha256 = hashlib.sha256
        with self.store.transaction() as tx:
            size, blob = tx.state()
            datas = [
                LEAF_FORMAT % (index, item.record_bytes) for index, item in enumerate(items, size)
            ]
            digests = [sha256(LEAF_PREFIX + data).digest() for data in datas]
            frontier = Frontier.from_bytes(size, blob)
            frontier.extend(digests)
            now = datetime.now(UTC)
            head = sign_head(signer, frontier.size, frontier.root(), now)
            tx.insert_leaves(
                [
                    (index, digest, data, item.kind, item.time_us, item.request_id)
                    for index, digest, data, item in zip(
                        range(size, size + len(items)), digests, datas, items, strict=True
                    )
                ]
            )
            tx.insert_head(head)
            tx.set_state(frontier.size, frontier.to_bytes())
        with self._cache_lock:
            if self._cache.size == size:
                self._cache.extend(digests)
        return [Receipt(index, digest, now) for index, digest in enumerate(digests, size)]

    # -- reading -------------------------------------------------------------------------

    def head(self) -> SignedTreeHead:
        """Return the latest signed tree head (a freshly signed empty head if empty)."""
        latest = self.store.latest_head()
        if latest is not None:
            return latest
        if self.keyring.signer is None:
            raise AuditError("the ledger is empty and there is no key to sign its head")
        return sign_head(self.keyring.signer, 0, EMPTY_ROOT, datetime.now(UTC))

    def _synced_cache(self, size: int) -> MerkleCache:
        with self._cache_lock:
            cache = self._cache
            if cache.size < size:
                fresh: list[bytes] = []
                for index, digest in self.store.leaf_hashes(cache.size):
                    if index != cache.size + len(fresh):
                        raise AuditError(
                            f"leaf {cache.size + len(fresh)} is missing from the store"
                        )
                    fresh.append(bytes(digest))
                    if len(fresh) == 65_536:
                        cache.extend(fresh)
                        fresh = []
                cache.extend(fresh)
            if cache.size < size:
                raise AuditError(f"tree size {size} is beyond the ledger ({cache.size} leaves)")
            return cache

    def prove_inclusion(self, index: int, tree_size: int | None = None) -> InclusionProof:
        """Return the audit path of leaf ``index`` in the tree of ``tree_size`` leaves."""
        size = self.head().tree_size if tree_size is None else tree_size
        cache = self._synced_cache(size)
        try:
            path = cache.inclusion_path(index, size)
        except ValueError as exc:
            raise AuditError(str(exc)) from exc
        return InclusionProof(index, size, cache.leaf(index), tuple(path))

    def prove_consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Return the proof that the tree of ``old_size`` is a prefix of ``new_size``."""
        size = self.head().tree_size if new_size is None else new_size
        cache = self._synced_cache(size)
        try:
            path = cache.consistency_path(old_size, size)
        except ValueError as exc:
            raise AuditError(str(exc)) from exc
        return ConsistencyProof(old_size, size, tuple(path))

    def root(self, tree_size: int) -> bytes:
        """Return the root of the tree of ``tree_size`` leaves, from the stored hashes."""
        return self._synced_cache(tree_size).root(tree_size)

    def read(self, index: int, *, decrypt: bool = True) -> StoredRecord:
        """Read one record back, opening sealed content when the ledger has the key."""
        row = self.store.leaf(index)
        if row is None:
            raise AuditError(f"no record at index {index}")
        if row.data is None:
            return StoredRecord(index, row.leaf_hash, None, purged=True)
        _, record = parse_leaf(row.data)
        if decrypt and self.cipher is not None:
            record = self.cipher.open(record)
        return StoredRecord(index, row.leaf_hash, record, purged=False)

    def stats(self) -> LedgerStats:
        """Return counts and the time range of the ledger."""
        counts = self.store.counts()
        oldest, newest = counts.get("oldest_us"), counts.get("newest_us")
        return LedgerStats(
            tree_size=counts["rows"],
            purged=counts["purged"],
            held=counts["held"],
            heads=counts["heads"],
            oldest=None if oldest is None else from_us(oldest),
            newest=None if newest is None else from_us(newest),
        )

    def verify(self, known_heads: Sequence[SignedTreeHead] = ()) -> VerifyReport:
        """Recompute every leaf and root; name the first bad index when anything differs.

        ``known_heads`` are heads kept elsewhere (by a client or regulator); they are
        checked like the stored ones, so a truncated ledger cannot pass for a shorter one.
        """
        from hegui.audit._verify import verify_store

        return verify_store(self.store, self.keyring, known_heads)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Finish pending appends and close the store."""
        if self._committer is not None:
            self._committer.close()
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
