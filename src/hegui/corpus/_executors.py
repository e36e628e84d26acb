"""Where shards run: local processes (the default) or a Ray cluster through Ray Data.

Both call the same ``process_shard`` and write the same files, so a run's outputs do
not depend on the executor; only the completion order of shards does.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

from hegui.corpus._plan import Shard
from hegui.corpus._worker import Job, process_shard

Done = Callable[[dict[str, Any]], None]

RAY_HINT = "the ray executor needs Ray Data: pip install 'hegui[ray]'"


class ExecutorError(RuntimeError):
    """An executor that cannot start (Ray missing, cluster unreachable)."""


class Executor(Protocol):
    """Runs ``process_shard`` over shards and reports each shard's stats when done.

    An executor may also have ``prepare()``, which ``scan_corpus`` calls before it
    plans the corpus, to start what takes a while (worker processes, a Ray cluster)
    meanwhile, and ``close()``, which it calls once the shards are done or the run
    failed, to stop what ``prepare`` started.
    """

    name: str

    def run(self, job: Job, shards: Sequence[Shard], done: Done) -> None:
        """Process every shard; call ``done`` with each one's stats as it finishes."""
        ...


class LocalExecutor:
    """Processes on this machine: one per core by default; one process runs in-process."""

    name = "local"

    def __init__(self, processes: int | None = None) -> None:
        if processes is not None and processes < 1:
            raise ValueError("--processes must be at least 1")
        self.processes = processes or os.cpu_count() or 1

    def prepare(self) -> None:
        """Start the fork server now: its imports overlap the hashing of the inputs."""
        context = _context()
        if self.processes > 1 and context.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()

    def run(self, job: Job, shards: Sequence[Shard], done: Done) -> None:
        """Process the shards, in parallel when there is more than one process."""
        if self.processes == 1 or len(shards) <= 1:
            for shard in shards:
                done(process_shard(job, shard))
            return
        size = min(self.processes, len(shards))
        with _context().Pool(size, _adopt, (dict(os.environ),)) as pool:
            for stats in pool.imap_unordered(partial(process_shard, job), shards, chunksize=1):
                done(stats)


PRELOAD = ("hegui.corpus._worker", "pyarrow.parquet")
"""What a worker imports, loaded once in the fork server (a missing one is skipped;
rensa is imported on first use, by a run that asks for ``--minhash rensa``).
pandas is not among them: the worker builds its Arrow arrays without pyarrow's pandas
probe (``hegui.corpus._arrow``), so no process of a run imports it."""


def _context() -> multiprocessing.context.BaseContext:
    """How pool workers start: never by fork, since the parent has threads.

    A fork server where the platform has one: it imports the worker's modules once and
    forks every worker from itself, so a worker starts in milliseconds instead of
    spending most of a CPU second importing them again, as a spawned one does.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def _adopt(environ: dict[str, str]) -> None:
    """Pool initializer: take the parent's environment as it is now.

    A worker forked by the fork server inherits the environment the server started
    with; a cache directory or a detector's key may have been set since.
    """
    os.environ.clear()
    os.environ.update(environ)


class _RayShardWorker:
    """A Ray Data actor: builds its scanner once and processes one shard per batch."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        out = []
        for text in batch["shard"]:
            stats = process_shard(self.job, Shard.from_dict(json.loads(str(text))))
            out.append(json.dumps(stats, ensure_ascii=False))
        return {"stats": out}


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ExecutorError(RAY_HINT) from exc
    return ray


class RayExecutor:
    """Ray Data over a cluster (``address``) or a local one started for the run."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError("--processes must be at least 1")
        self.address = address
        self.workers = workers
        self._owned = False
        """Whether this executor initialised Ray (and so shuts it down after the run)."""

    def prepare(self) -> None:
        """Start or join the cluster now: its start (seconds) overlaps the hashing."""
        self._connect()

    def _connect(self) -> Any:
        """Ray, initialised.

        A cluster is started for the run (and shut down by ``close``) unless Ray is
        initialised already or ``address`` names one to join.
        """
        ray = _import_ray()
        if ray.is_initialized():
            return ray
        # a cluster started for the run listens on loopback only
        local: dict[str, Any] = {}
        if self.address is None:
            local = {"num_cpus": self.workers, "_node_ip_address": "127.0.0.1"}
        try:
            ray.init(
                address=self.address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
                **local,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ExecutorError(f"cannot start or reach Ray: {exc}") from exc
        self._owned = True
        return ray

    def run(self, job: Job, shards: Sequence[Shard], done: Done) -> None:
        """Start or join the cluster, map the shards over an actor pool, then let go."""
        ray = self._connect()
        try:
            if shards:
                self._map(ray, job, shards, done)
        finally:
            self.close()

    def close(self) -> None:
        """Shut down the cluster this executor started, if it did (joined ones stay)."""
        if self._owned:
            self._owned = False
            _import_ray().shutdown()

    def _map(self, ray: Any, job: Job, shards: Sequence[Shard], done: Done) -> None:
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        size = self.workers or max(int(ray.cluster_resources().get("CPU", 1)), 1)
        items = [{"shard": json.dumps(shard.to_dict())} for shard in shards]
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _RayShardWorker,
            fn_constructor_args=(job,),
            batch_size=1,
            batch_format="default",
            compute=ray.data.ActorPoolStrategy(size=min(size, len(items))),
            num_cpus=1,
        )
        for row in dataset.iter_rows():
            done(json.loads(row["stats"]))


def make_executor(name: str, processes: int | None, address: str | None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``).

    Raises:
        ValueError: unknown name, or a bad process count.
        ExecutorError: ``ray`` without Ray installed.
    """
    if name == "local":
        if address:
            raise ValueError("--address is for --executor ray")
        return LocalExecutor(processes)
    if name == "ray":
        _import_ray()
        return RayExecutor(address, processes)
    raise ValueError(f"unknown executor {name!r} (local, ray)")
