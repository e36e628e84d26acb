"""Group commit: one writer thread turns concurrent appends into one transaction each.

Callers block until their batch committed, then get receipts; if the commit fails,
every caller of that batch gets the error and nothing of the batch is stored. The
writer takes whatever is queued when it becomes free (plus an optional linger), so a
lone caller pays no added latency and many callers share one fsync.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from hegui.audit._errors import AuditWriteError

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Pending(Generic[T, R]):
    items: Sequence[T]
    done: threading.Event = field(default_factory=threading.Event)
    results: list[R] = field(default_factory=list)
    error: BaseException | None = None


class GroupCommitter(Generic[T, R]):
    """Runs ``commit(items) -> results`` (one result per item) on a writer thread."""

    def __init__(
        self,
        commit: Callable[[list[T]], list[R]],
        *,
        max_batch: int = 2000,
        linger: float = 0.0,
        name: str = "hegui-audit-writer",
    ) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._linger = linger
        self._queue: queue.SimpleQueue[_Pending[T, R] | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, items: Sequence[T]) -> list[R]:
        """Queue ``items`` for the next commit and wait until it is durable."""
        if self._closed:
            raise AuditWriteError("the ledger is closed")
        if not items:
            return []
        pending: _Pending[T, R] = _Pending(items)
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise AuditWriteError(f"append failed, nothing stored: {pending.error}") from (
                pending.error
            )
        return pending.results

    def close(self) -> None:
        """Finish queued work and stop the writer thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def _gather(self, first: _Pending[T, R]) -> tuple[list[_Pending[T, R]], bool]:
        batch, count, stop = [first], len(first.items), False
        deadline = time.monotonic() + self._linger
        while count < self._max_batch:
            try:
                wait = deadline - time.monotonic()
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            batch.append(item)
            count += len(item.items)
        return batch, stop

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._gather(first)
            items = [item for pending in batch for item in pending.items]
            try:
                results = self._commit(items)
            except BaseException as exc:  # every waiting caller must hear of it
                for pending in batch:
                    pending.error = exc
                    pending.done.set()
                continue
            offset = 0
            for pending in batch:
                pending.results = results[offset : offset + len(pending.items)]
                offset += len(pending.items)
                pending.done.set()
