"""Group commit: one writer thread turns concurrent appends into one transaction each.

Callers block until their batch committed, then get receipts; if the commit fails,
every caller of that batch gets the error and nothing of the batch is stored. The
writer takes whatever is queued when it becomes free (plus an optional linger), so a
lone caller pays no added latency, and while one commit is in flight the next batch
grows: many callers share one fsync.

The hand-off is kept lean because it runs once per append under the GIL: a waiter is
a plain lock the caller blocks on (no ``threading.Event``, whose ``set`` and ``wait`` go
through a Python-level condition variable). And the callers of a batch are woken one
after the other, not all at once: the writer wakes the first, each woken caller wakes
the next. Waking hundreds of threads at once makes them all fight for the GIL (a
thundering herd that, measured, halves the append rate); a chain keeps one or two
runnable. A caller interrupted while waiting (a signal in the main thread) still hands
the wake-up on, so no caller is left waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from hegui.audit._errors import AuditWriteError

T = TypeVar("T")
R = TypeVar("R")


class _Pending(Generic[T, R]):
    """One ``submit`` call: its items, its outcome, and the lock its caller waits on.

    A ``submit_async`` call has no lock: its ``future`` is resolved on its event loop.
    """

    __slots__ = ("done", "error", "future", "items", "left", "results", "successor", "woken")

    def __init__(self, items: Sequence[T], future: asyncio.Future[list[R]] | None = None) -> None:
        self.items = items
        self.future = future
        self.done = threading.Lock()
        if future is None:
            self.done.acquire()  # released when this caller's turn to wake comes
        self.results: list[R] = []
        self.error: BaseException | None = None
        self.successor: _Pending[T, R] | None = None  # next caller of the same batch
        self.woken = False  # its turn came (under the chain lock)
        self.left = False  # its caller stopped waiting (under the chain lock)


class _WakeChain:
    """Wakes the callers of a batch one after the other; each woken caller wakes the next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def start(self, batch: list[_Pending[T, R]]) -> None:
        """Link the batch (outcomes already set) and wake its first caller."""
        for earlier, later in zip(batch, batch[1:], strict=False):
            earlier.successor = later
        self.wake(batch[0])

    def wake(self, pending: _Pending[T, R] | None) -> None:
        """Wake ``pending``, or the first caller after it still waiting."""
        while pending is not None:
            with self._lock:
                if not pending.left:
                    pending.woken = True
                    pending.done.release()
                    return
            pending = pending.successor

    def leave(self, pending: _Pending[T, R]) -> None:
        """Called by every caller once it stops waiting, woken or interrupted.

        Woken: wake the next caller. Interrupted before its turn: mark it, so the caller
        before it skips it and wakes the one after.
        """
        with self._lock:
            pending.left = True
            woken = pending.woken
        if woken:
            self.wake(pending.successor)


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
        self._chain = _WakeChain()
        self._writing = threading.Lock()  # held by whoever runs ``commit``
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
        try:
            pending.done.acquire()
        finally:
            self._chain.leave(pending)
        if pending.error is not None:
            raise AuditWriteError(f"append failed, nothing stored: {pending.error}") from (
                pending.error
            )
        return pending.results

    async def submit_async(self, items: Sequence[T]) -> list[R]:
        """``submit`` for an event loop: no thread waits; the loop is called back.

        All the futures of one batch that belong to one loop are resolved by one
        callback, so a batch of a thousand costs the loop one wake-up, not a thousand.
        """
        return await self.submit_future(items)

    def submit_future(self, items: Sequence[T]) -> asyncio.Future[list[R]]:
        """Queue ``items`` now (the writer may start at once); the future has the receipts.

        Called on an event loop. Unlike a coroutine, nothing waits for the loop's next turn
        before the items reach the writer.
        """
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_exception(AuditWriteError("the ledger is closed"))
        elif not items:
            future.set_result([])
        else:
            self._queue.put(_Pending(items, future))
        return future

    def commit_here(self, items: Sequence[T]) -> list[R] | None:
        """Commit ``items`` on the calling thread if the writer is idle, else return ``None``.

        For a lone caller on an event loop: handing a record to the writer thread costs a
        thread wake-up and GIL hand-offs, which on a busy machine take longer than the
        commit itself. The caller then queues the items as usual when this returns ``None``.
        """
        if self._closed:
            raise AuditWriteError("the ledger is closed")
        if not items or not self._queue.empty() or not self._writing.acquire(blocking=False):
            return None
        try:
            return self._commit(list(items))
        except Exception as exc:
            raise AuditWriteError(f"append failed, nothing stored: {exc}") from exc
        finally:
            self._writing.release()

    def close(self) -> None:
        """Finish queued work and stop the writer thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def _gather(self, first: _Pending[T, R]) -> tuple[list[_Pending[T, R]], bool]:
        batch, count, stop = [first], len(first.items), False
        get_nowait = self._queue.get_nowait
        deadline = time.monotonic() + self._linger if self._linger > 0 else 0.0
        while count < self._max_batch:
            try:
                if self._linger > 0 and (wait := deadline - time.monotonic()) > 0:
                    item = self._queue.get(timeout=wait)
                else:
                    item = get_nowait()
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
            if len(batch) == 1:
                items = list(first.items)
            else:
                items = [item for pending in batch for item in pending.items]
            try:
                with self._writing:
                    results = self._commit(items)
            except BaseException as exc:  # every waiting caller must hear of it
                for pending in batch:
                    pending.error = exc
            else:
                if len(batch) == len(items):  # one item each: the usual case under load
                    for pending, result in zip(batch, results, strict=True):
                        pending.results = [result]
                else:
                    offset = 0
                    for pending in batch:
                        pending.results = results[offset : offset + len(pending.items)]
                        offset += len(pending.items)
            waiting = [p for p in batch if p.future is None]
            if len(waiting) < len(batch):
                _resolve_futures([p for p in batch if p.future is not None])
            if waiting:
                self._chain.start(waiting)


def _settle(batch: list[_Pending[T, R]]) -> None:
    """Resolve futures (on their loop's thread); a cancelled caller is skipped."""
    for pending in batch:
        future = pending.future
        if future is None or future.done():
            continue
        if pending.error is not None:
            error = AuditWriteError(f"append failed, nothing stored: {pending.error}")
            error.__cause__ = pending.error
            future.set_exception(error)
        else:
            future.set_result(pending.results)


def _resolve_futures(batch: list[_Pending[T, R]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[_Pending[T, R]]] = {}
    for pending in batch:
        assert pending.future is not None
        by_loop.setdefault(pending.future.get_loop(), []).append(pending)
    for loop, group in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
            loop.call_soon_threadsafe(_settle, group)
