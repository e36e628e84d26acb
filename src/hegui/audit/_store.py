"""The store interface every ledger backend implements, and the registry of backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from hegui.audit._errors import AuditError
from hegui.audit._types import LeafRow, NewLeaf, SignedTreeHead


class StoreWriter(Protocol):
    """What one write transaction can do; it holds the ledger's write lock throughout."""

    def state(self) -> tuple[int, bytes]:
        """Return the committed tree size and its serialised frontier, locked for update."""
        ...

    def insert_leaves(self, rows: Sequence[NewLeaf]) -> None:
        """Insert new leaves, ``(index, leaf_hash, data, kind, time_us, request_id)`` each.

        Their indices follow the current size.
        """
        ...

    def insert_head(self, head: SignedTreeHead) -> None:
        """Store a signed tree head."""
        ...

    def set_state(self, size: int, frontier: bytes) -> None:
        """Record the new tree size and frontier."""
        ...


class LedgerStore(Protocol):
    """Durable storage of leaves, heads, state and legal holds."""

    url: str

    def transaction(self) -> AbstractContextManager[StoreWriter]:
        """Open a write transaction that commits on exit and rolls back on error."""
        ...

    def iter_leaves(self, start: int = 0, end: int | None = None) -> Iterator[LeafRow]:
        """Yield stored leaves in index order (rows as they are, gaps and all)."""
        ...

    def leaf_chunks(
        self, start: int = 0, end: int | None = None
    ) -> Iterator[Sequence[tuple[int, bytes, bytes | None]]]:
        """Yield raw ``(index, leaf_hash, data)`` rows in index order, a large chunk at a time.

        The fast path of ``verify``: no object per row, just the driver's tuples.
        """
        ...

    def leaf_hashes(self, start: int, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield ``(index, leaf_hash)`` in index order."""
        ...

    def leaf(self, index: int) -> LeafRow | None:
        """Return one leaf, or ``None``."""
        ...

    def heads(self) -> list[SignedTreeHead]:
        """Return every stored signed head, smallest tree first."""
        ...

    def latest_head(self) -> SignedTreeHead | None:
        """Return the head of the largest tree, if any."""
        ...

    def indices_between(self, start_us: int, end_us: int) -> list[int]:
        """Return indices of records whose time is in ``[start_us, end_us)``."""
        ...

    def purgeable(self, before_us: int) -> list[int]:
        """Return indices with data, older than ``before_us`` and not under legal hold."""
        ...

    def purge(self, indices: Sequence[int], purged_us: int) -> int:
        """Drop the data of these leaves (keeping hashes) unless held; return how many."""
        ...

    def hold(self, indices: Sequence[int], reason: str, at_us: int) -> None:
        """Put records under legal hold."""
        ...

    def release(self, indices: Sequence[int]) -> None:
        """Lift legal holds."""
        ...

    def holds(self) -> dict[int, str]:
        """Return held indices and their reasons."""
        ...

    def counts(self) -> dict[str, int]:
        """Return ``rows``, ``purged``, ``held``, ``heads``, ``oldest_us``, ``newest_us``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


StoreFactory = Callable[..., LedgerStore]


@dataclass(frozen=True)
class StoreEntry:
    """A registered backend: its name, the URL schemes it serves, and its factory."""

    name: str
    schemes: tuple[str, ...]
    factory: StoreFactory


_STORES: dict[str, StoreEntry] = {}


def register_store(
    name: str, *, schemes: tuple[str, ...]
) -> Callable[[StoreFactory], StoreFactory]:
    """Register a backend factory ``factory(url, **options) -> LedgerStore``."""

    def decorate(factory: StoreFactory) -> StoreFactory:
        if name in _STORES:
            raise AuditError(f"store {name!r} is registered twice")
        _STORES[name] = StoreEntry(name, schemes, factory)
        return factory

    return decorate


def store_names() -> list[str]:
    """Return the names of every registered backend."""
    return sorted(_STORES)


def store_entry(name: str) -> StoreEntry:
    """Return a registered backend by name."""
    try:
        return _STORES[name]
    except KeyError:
        raise AuditError(f"unknown store {name!r}; known: {', '.join(store_names())}") from None


def open_store(url: str, **options: Any) -> LedgerStore:
    """Open the backend whose scheme matches ``url`` (a bare path means SQLite)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    for entry in _STORES.values():
        if scheme in entry.schemes:
            return entry.factory(url, **options)
    known = ", ".join(s for e in _STORES.values() for s in e.schemes)
    raise AuditError(f"no audit store serves {url!r}; schemes: {known}")
