"""``scan_corpus``: plan, run every shard not done yet, then judge the whole corpus.

A run directory holds the evidence: spec.json (pipeline and package versions),
inputs.json (every input file's SHA-256), per-shard attribute files, cleaned and
rejected shards, MinHash signatures and completion markers, then summary.json,
report.html, the dataset card, the review sheet and duplicates.parquet. A killed run
resumes where it stopped when started again with the same arguments.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hegui.corpus._card import write_card
from hegui.corpus._executors import Executor, LocalExecutor
from hegui.corpus._finish import load_docs, summarize
from hegui.corpus._manifest import Manifest, load_manifest
from hegui.corpus._minhash import DedupParams
from hegui.corpus._outputs import shard_paths
from hegui.corpus._plan import Plan, plan_corpus
from hegui.corpus._report import write_report
from hegui.corpus._review import export_review, import_review, review_sample
from hegui.corpus._spec import SPEC, RunDirError, build_spec, prepare_run_dir
from hegui.corpus._worker import Job, ReviewDraw, no_gc, scanner_for
from hegui.policy import Policy, load_policy

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stage ``hash`` or ``scan``, in bytes."""


@dataclass(frozen=True)
class ScanOptions:
    """What to scan with, and how; everything here but ``fresh`` is in the spec."""

    policy: str = "cn"
    detectors: tuple[str, ...] | None = None
    """Detector names; ``None``: every detector the pack enables."""
    seed: int = 2026
    shard_mb: float = 64.0
    dedup: DedupParams = field(default_factory=DedupParams)
    source_sample: int | None = None
    """Documents sampled per source; ``None``: the pack's manual sample size."""
    manual_sample: int | None = None
    """Documents in the review sheet; ``None``: the pack's manual sample size."""
    fresh: bool = False


@dataclass(frozen=True)
class RunResult:
    """What a finished run decided, and where its evidence is."""

    out_dir: Path
    summary: dict[str, Any]
    resumed: bool = False
    shards_run: int = 0
    shards_total: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds spent planning (hashing inputs), on shards, and on the whole-corpus phase."""
    workers: dict[int, float] = field(default_factory=dict)
    """CPU seconds each process that ran shards had used when it finished its last one
    (by process ID; this process's own when shards ran in-process)."""

    @property
    def verdict(self) -> str:
        """``pass``, ``fail`` or ``pending`` (manual review outstanding)."""
        return str(self.summary["verdict"])


def _rules(policy: Policy) -> Any:
    if policy.corpus is None:
        raise ValueError(f"policy {policy.id!r} has no corpus section (source gate, samples)")
    return policy.corpus


def _detectors(policy: Policy, names: tuple[str, ...] | None) -> tuple[str, ...]:
    if names is None:
        return tuple(n for n, spec in policy.detectors.items() if spec.enabled)
    return tuple(dict.fromkeys(names))


def _done(run_dir: Path, plan: Plan) -> set[str]:
    done = set()
    for shard in plan.shards:
        marker = shard_paths(run_dir, shard)["marker"]
        try:
            stats = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if stats.get("shard") == json.loads(json.dumps(shard.to_dict())):
            done.add(shard.key)
    return done


def _remove_stale(out_dir: Path, plan: Plan) -> None:
    """Delete shard files the plan no longer has (an input removed) and half-written ones."""
    wanted = {p for shard in plan.shards for p in shard_paths(out_dir, shard).values()}
    for kind in ("attributes", "cleaned", "rejected", "review", "minhash", "shards"):
        for path in (out_dir / kind).glob("*/*"):
            if path.is_file() and path not in wanted:
                path.unlink()


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


@dataclass(frozen=True)
class _Setup:
    manifest: Manifest
    policy: Policy
    job: Job
    spec: dict[str, Any]
    shard_bytes: int


def _setup(manifest_path: Path, out_dir: Path, options: ScanOptions) -> _Setup:
    manifest = load_manifest(manifest_path)
    policy = load_policy(options.policy)
    rules = _rules(policy)
    detectors = _detectors(policy, options.detectors)
    job = Job(str(out_dir.resolve()), options.policy, detectors, options.dedup)
    scanner_for(job)  # build it here first: a bad detector name fails before any work
    size = rules.manual_sample.min_items
    samples = {"source": options.source_sample or size, "manual": options.manual_sample or size}
    shard_bytes = max(int(options.shard_mb * (1 << 20)), 1)
    spec = build_spec(
        manifest=manifest,
        manifest_path=manifest_path,
        policy_ref=options.policy,
        policy=policy,
        detectors=detectors,
        seed=options.seed,
        shard_bytes=shard_bytes,
        dedup=options.dedup,
        samples=samples,
    )
    return _Setup(manifest, policy, job, spec, shard_bytes)


def _plan(setup: _Setup, manifest_path: Path, out_dir: Path, progress: Progress | None) -> Plan:
    hashed = [0]

    def on_hash(n: int) -> None:
        hashed[0] += n
        if progress:
            progress("hash", hashed[0], 0)

    plan = plan_corpus(setup.manifest, manifest_path, setup.shard_bytes, progress=on_hash)
    keys = ("source", "rel", "format", "bytes", "sha256")
    _write_json(out_dir / "inputs.json", [{k: getattr(f, k) for k in keys} for f in plan.files])
    return plan


def _plan_while_preparing(
    setup: _Setup,
    manifest_path: Path,
    out_dir: Path,
    progress: Progress | None,
    executor: Executor,
) -> Plan:
    """Plan (hash the inputs) on a thread while the executor prepares on this one.

    A local Ray takes seconds to start, in other processes; hashing the inputs releases
    the GIL for every chunk. Ray wants to be started from the main thread.
    """
    prepare = getattr(executor, "prepare", None)
    if not callable(prepare):
        return _plan(setup, manifest_path, out_dir, progress)
    with ThreadPoolExecutor(1, thread_name_prefix="hegui-plan") as pool:
        planned = pool.submit(_plan, setup, manifest_path, out_dir, progress)
        try:
            prepare()
        finally:
            plan = planned.result()  # a planning error wins: it names the input at fault
    return plan


def scan_corpus(
    manifest_path: Path,
    out_dir: Path,
    options: ScanOptions = ScanOptions(),  # noqa: B008 - frozen value
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Scan the corpus a manifest describes and write the run's evidence into ``out_dir``.

    Raises:
        ManifestError: the manifest is invalid or a path matches nothing.
        PolicyError: the policy cannot be loaded.
        RunDirError: ``out_dir`` holds something else, or a run with another spec.
        KeyError, ValueError: a detector name the pack lacks or disables.
        ExecutorError: the executor cannot start.
    """
    clock = [time.perf_counter()]
    setup = _setup(manifest_path, out_dir, options)
    resumed = prepare_run_dir(out_dir, setup.spec, fresh=options.fresh)
    executor = executor or LocalExecutor()
    try:
        plan = _plan_while_preparing(setup, manifest_path, out_dir, progress, executor)
        clock.append(time.perf_counter())
        _remove_stale(out_dir, plan)
        draw = ReviewDraw(setup.spec["seed"], setup.spec["samples"]["manual"], plan.total_bytes)
        job = replace(setup.job, review=draw)
        done = _done(out_dir, plan)
        todo = [s for s in plan.shards if s.key not in done]
        total, scanned = sum(s.bytes for s in todo), [0]
        workers: dict[int, float] = {}

        def on_done(stats: dict[str, Any]) -> None:
            scanned[0] += int(stats["shard"]["bytes"])
            worker = stats.get("worker")
            if worker:
                pid = int(worker["pid"])
                workers[pid] = max(workers.get(pid, 0.0), round(float(worker["cpu_s"]), 3))
            if progress:
                progress("scan", scanned[0], total)

        executor.run(job, todo, on_done)
    finally:
        close = getattr(executor, "close", None)
        if callable(close):
            close()  # what prepare started, even when planning failed
    clock.append(time.perf_counter())
    summary = finish(
        out_dir, setup.manifest, plan, setup.policy, setup.spec, threads=_threads(executor)
    )
    clock.append(time.perf_counter())
    phases = dict(zip(("plan", "shards", "finish"), np.diff(clock).round(3).tolist(), strict=True))
    seconds = clock[-1] - clock[0]
    _write_json(
        out_dir / "timing.json",
        {
            "finished": datetime.now(UTC).isoformat(),
            "seconds": round(seconds, 3),
            "phases": phases,
            "executor": executor.name,
            "input_bytes": plan.total_bytes,
            "shards_run": len(todo),
            "shards_total": len(plan.shards),
            "resumed": resumed,
            "worker_cpu_s": sorted(workers.values()),
        },
    )
    return RunResult(
        out_dir, summary, resumed, len(todo), len(plan.shards), seconds, phases, workers
    )


def finish(
    out_dir: Path,
    manifest: Manifest,
    plan: Plan,
    policy: Policy,
    spec: dict[str, Any],
    *,
    threads: int = 1,
) -> dict[str, Any]:
    """The whole-corpus phase: duplicates, gates, review sheet, summary, report, card.

    ``threads``: how many threads it may use where it can (the LSH bands); the outputs
    are the same whatever the number.
    """
    with no_gc():
        return _finish(out_dir, manifest, plan, policy, spec, threads=threads)


def _threads(executor: Executor) -> int:
    """Threads for the whole-corpus phase: the local processes the run was given, or 1.

    It runs in this process, after the shards: the cores a local run was given are
    free again. A Ray run's workers may be on other machines; it keeps to one thread.
    """
    if isinstance(executor, LocalExecutor):
        return max(1, min(executor.processes, os.cpu_count() or 1))
    return 1


def _finish(
    out_dir: Path,
    manifest: Manifest,
    plan: Plan,
    policy: Policy,
    spec: dict[str, Any],
    *,
    threads: int,
) -> dict[str, Any]:
    docs = load_docs(out_dir, plan, manifest, DedupParams(**spec["dedup"]))
    size = spec["samples"]["manual"]
    sample = review_sample(docs, size, spec["seed"])
    digest = sample[1]
    review = _kept_review(out_dir, digest)
    sources = [s.id for s in manifest.sources]
    # the review sheet (reading texts, deflating) needs nothing the summary makes: with
    # a core to spare it is written meanwhile
    with ThreadPoolExecutor(1, thread_name_prefix="hegui-review") as pool:
        export = partial(
            export_review, run_dir=out_dir, plan=plan, docs=docs, sources=sources, sample=sample
        )
        sheet = pool.submit(export) if threads > 1 else None
        summary = summarize(
            run_dir=out_dir,
            manifest=manifest,
            plan=plan,
            policy=policy,
            spec=spec,
            docs=docs,
            review=review,
            threads=threads,
        )
        if sheet is None:
            export()
        else:
            sheet.result()
    summary["manual"]["sample_sha256"] = digest
    summary["manual"]["sample_size"] = min(size, len(docs.seq))
    _write_problems(out_dir, plan)
    _write_cleaned_manifest(out_dir, manifest, plan)
    write_outputs(out_dir, summary)
    return summary


def _kept_review(out_dir: Path, digest: str) -> dict[str, Any] | None:
    """An imported review of the same sample; one of another sample is removed."""
    path = out_dir / "review.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("sample_sha256") != digest:
        path.unlink()
        return None
    return data


def write_outputs(out_dir: Path, summary: dict[str, Any]) -> None:
    """summary.json, report.html, README.md and croissant.json."""
    _write_json(out_dir / "summary.json", summary)
    write_report(summary, out_dir)
    files = json.loads((out_dir / "inputs.json").read_text(encoding="utf-8"))
    write_card(summary, files, out_dir)


def _write_problems(out_dir: Path, plan: Plan) -> None:
    """problems.jsonl: every recorded problem (up to 100 per shard), file and line."""
    lines = []
    for shard in plan.shards:
        stats = json.loads(shard_paths(out_dir, shard)["marker"].read_text(encoding="utf-8"))
        lines += [json.dumps(p, ensure_ascii=False) for p in stats["problem_examples"]]
    (out_dir / "problems.jsonl").write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")


def _write_cleaned_manifest(out_dir: Path, manifest: Manifest, plan: Plan) -> None:
    """cleaned/manifest.yaml: the cleaned shards as a corpus of their own, ready to scan."""
    sources = []
    for src in manifest.sources:
        if not any(s.source == src.id for s in plan.shards):
            continue
        entry = src.model_dump(mode="json", exclude_defaults=True)
        entry.update(
            {
                "path": [f"{src.id}/*.parquet"],
                "format": "parquet",
                "text_field": "text",
                "id_field": "id",
            }
        )
        sources.append(entry)
    data = manifest.model_dump(mode="json", exclude={"sources"})
    data["version"] = f"{manifest.version}+cleaned"
    data["sources"] = sources
    folder = out_dir / "cleaned"
    folder.mkdir(exist_ok=True)
    header = "# The cleaned shards of this run as a corpus: hegui corpus scan this file.\n"
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    (folder / "manifest.yaml").write_text(header + text, encoding="utf-8")


def apply_review(run_dir: Path, labels: Path) -> dict[str, Any]:
    """Import reviewers' labels into a finished run and decide its verdict again.

    Raises:
        ReviewError: the labels file cannot be used.
        RunDirError: ``run_dir`` is not a finished corpus run.
    """
    from hegui.corpus._gates import manual_checks, verdict

    summary_path = run_dir / "summary.json"
    if not summary_path.exists() or not (run_dir / SPEC).exists():
        raise RunDirError(f"{run_dir} is not a finished corpus run (no summary.json)")
    spec = json.loads((run_dir / SPEC).read_text(encoding="utf-8"))
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    policy = load_policy(spec["policy"]["ref"])
    if policy.version != spec["policy"]["version"]:
        raise RunDirError(
            f"policy {policy.id} is now version {policy.version}; the run used "
            f"{spec['policy']['version']}: scan again"
        )
    review = import_review(run_dir, labels)
    review["sample_sha256"] = summary["manual"].get("sample_sha256")
    _write_json(run_dir / "review.json", review)
    checks = [c for c in summary["checks"] if not c["name"].startswith("manual ")]
    checks += manual_checks(_rules(policy), summary["totals"]["docs"], review)
    summary["checks"] = checks
    summary["verdict"] = verdict(checks)
    keep = ("sample_sha256", "sample_size", "sheet")
    manual = {k: summary["manual"][k] for k in keep if k in summary["manual"]}
    summary["manual"] = {
        **manual,
        "status": "imported",
        **{
            k: review[k]
            for k in ("labeled", "qualified_rate", "agreement", "labels_file", "labels_sha256")
        },
    }
    write_outputs(run_dir, summary)
    return summary
