"""End-to-end throughput of ``hegui corpus scan`` and near-duplicate recall, in one run.

Generates (fixed seed) a mixed Chinese/English JSONL corpus of ``--mb`` megabytes in two
sources, with planted lexicon terms, personal information, exact copies and edited
near-copies, then scans it end to end (plan and hash, every shard, duplicates, gates,
review sheet, summary, report, card) with the lexicon and PII detectors:

- local executor with 1 and 2 processes, Ray with 1 and 2 workers: wall seconds per
  phase, MB/s, MB/s per core, and the 2-process scaling efficiency, (rate with 2) /
  (2 x rate with 1), end to end and in the shard phase;
- the same with every detector the cn pack enables (the classifier too), on a slice;
- a per-stage profile on one core (read JSON, each detector, content hash, MinHash);
- recall of the planted near-duplicates, by kind and by true Jaccard similarity;
- datatrove's MinHash deduplication on a slice, if datatrove (with orjson and spaCy,
  which its JSONL reader and word tokenizer need) is installed.

The machine may be shared, which moves wall times (and so the scaling efficiency) far
more than CPU seconds: each run records the load average before and after it and the
CPU seconds of every process: this one (planning and the whole-corpus phase, plus the
shards when they run in-process), the local executor's fork server (which imports the
workers' modules once; read from /proc), each worker (as it reports with its shards).
MB per CPU second is the per-core figure; ``cpu_ratio`` (CPU seconds with 2 processes /
with 1) is the work parallelism adds, and ``cpu_path_efficiency`` the scaling efficiency
if each process had a core to itself (1-process CPU seconds over twice the longest
chain: this process, the fork server, the slowest worker; a lower bound, as the server
starts while the inputs are hashed), both whatever the load.
``--repeat`` keeps the fastest of several runs of each configuration.

Usage: python bench/corpus.py [--mb 200] [--repeat 1] [--out bench/results/corpus.json] [--no-ray]
       [--phases N]  # also CPU seconds per phase of N local x1 scans (the fastest)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SEED = 20261126
PII_RATE = 0.05
TERM_RATE = 0.01
EXACT_RATE = 0.02
NEAR_RATE = 0.02
TERMS = ["自制炸药", "制造炸弹", "炸药配方", "管状炸弹", "起爆药"]


def _han(rng: random.Random) -> list[str]:
    chars = []
    for hi in range(0xB0, 0xD8):  # GB2312 level-1 characters: the common ones
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    rng.shuffle(chars)
    return chars


def _words(rng: random.Random, n: int) -> list[str]:
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choices(letters, weights, k=rng.randint(2, 9))))
    return sorted(out)


class Generator:
    """Sentences from a fixed pool, assembled into documents with planted content."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        han, words = _han(self.rng), _words(self.rng, 20_000)
        self.zh = [self._zh(han) for _ in range(40_000)]
        self.en = [self._en(words) for _ in range(40_000)]

    def _zh(self, han: list[str]) -> str:
        k = self.rng.randint(8, 30)
        return "".join(self.rng.choices(han[:2500], k=k)) + self.rng.choice("，。！？；。。")

    def _en(self, words: list[str]) -> str:
        w = self.rng.choices(words, k=self.rng.randint(5, 16))
        return " ".join(w).capitalize() + self.rng.choice((". ", ". ", ", ", "? "))

    def _pii(self) -> str:
        r = self.rng
        if r.random() < 0.5:
            return f"电话 1{r.choice('3578')}{r.randint(0, 9)}{r.randint(10_000_000, 99_999_999)} "
        return f"mail {r.choice(('li', 'wang', 'anna'))}{r.randint(1, 999)}@example.com "

    def document(self) -> str:
        r = self.rng
        zh = r.random() < 0.6
        pool = self.zh if zh else self.en
        parts = r.choices(pool, k=r.randint(20, 90) if zh else r.randint(12, 60))
        if r.random() < PII_RATE:
            parts.insert(r.randrange(len(parts)), self._pii())
        if r.random() < TERM_RATE:
            parts.insert(r.randrange(len(parts)), r.choice(TERMS))
        return "".join(parts)

    def edit(self, text: str) -> tuple[str, str]:
        """A near-copy and its kind: ``edits`` (3-character spans replaced every 50 to 150
        characters, a sentence added) or ``boilerplate`` (sentences added before and
        after, 5-15% of the length, as a site's header and footer would be)."""
        r = self.rng
        if r.random() < 0.5:
            chars = list(text)
            for _ in range(r.randint(max(1, len(chars) // 150), max(1, len(chars) // 50))):
                at = r.randrange(len(chars))
                chars[at : at + 3] = list(r.choice(self.zh)[:3])
            return "".join(chars) + r.choice(self.zh), "edits"
        pool = self.zh if text[:1] > "\u2e80" else self.en
        extra = int(len(text) * r.uniform(0.05, 0.15))
        head, tail = "", ""
        while len(head) + len(tail) < extra:
            if r.random() < 0.5:
                head += r.choice(pool)
            else:
                tail += r.choice(pool)
        return head + text + tail, "boilerplate"


def generate(folder: Path, megabytes: float, seed: int = SEED) -> dict[str, Any]:
    """Write the corpus and its manifest; return what was planted."""
    gen = Generator(seed)
    folder.mkdir(parents=True, exist_ok=True)
    target = int(megabytes * 1e6)
    files = [folder / f"web-{i}.jsonl" for i in range(4)] + [folder / "forum.jsonl"]
    handles = [f.open("w", encoding="utf-8") for f in files]
    written, line_of = 0, [0] * len(files)
    originals: list[tuple[str, str]] = []
    planted: dict[str, list[Any]] = {"exact": [], "near": []}
    r = gen.rng
    while written < target:
        which = r.randrange(len(files))
        roll = r.random()
        copy_of = None
        if originals and roll < EXACT_RATE:
            copy_of, text = r.choice(originals)
            origin = None
        elif originals and roll < EXACT_RATE + NEAR_RATE:
            origin, source_text = r.choice(originals)
            text, kind = gen.edit(source_text)
        else:
            text, origin = gen.document(), None
        line = json.dumps({"text": text, "id": f"d{written}"}, ensure_ascii=False) + "\n"
        handles[which].write(line)
        line_of[which] += 1
        key = f"{files[which].name}:{line_of[which]}"
        if copy_of is not None:
            planted["exact"].append((copy_of, key))
        if origin is not None:
            planted["near"].append((origin, key, _jaccard(text, source_text), kind))
        elif len(originals) < 5000 or r.random() < 0.01:
            originals.append((key, text))
        written += len(line.encode())
    for h in handles:
        h.close()
    (folder / "manifest.yaml").write_text(_MANIFEST, encoding="utf-8")
    return planted


_MANIFEST = "name: bench-corpus\nversion: '1'\nowner: bench\nsources:\n" + "".join(
    f"  - {{id: {sid}, path: {path}, origin: generated by bench/corpus.py, license: CC0-1.0,"
    f" legal_basis: own-data, collected: 2026, language: [zh, en], owner: bench}}\n"
    for sid, path in (("web", "web-*.jsonl"), ("forum", "forum.jsonl"))
)


def _jaccard(a: str, b: str, k: int = 5) -> float:
    sa = {a[i : i + k] for i in range(len(a) - k + 1)}
    sb = {b[i : i + k] for i in range(len(b) - k + 1)}
    return len(sa & sb) / max(len(sa | sb), 1)


def _recall(
    rep: dict[str, str], planted: dict[str, Any], *, removed: bool = False
) -> dict[str, Any]:
    """Share of planted (original, near-copy) pairs found.

    ``rep`` maps a duplicate's key to the key of the document it duplicates (whichever
    of the two comes first in corpus order is the original there): a pair is found when
    both map to the same document. With ``removed`` (datatrove lists only what to
    remove), a pair is found when either of the two is listed.
    """

    def root(key: str) -> str:
        seen = set()
        while key in rep and key not in seen:  # an exact copy's original may be a near-copy
            seen.add(key)
            key = rep[key]
        return key

    def found(a: str, b: str) -> bool:
        return (a in rep or b in rep) if removed else root(a) == root(b)

    pairs = [(found(a, b), j, kind) for a, b, j, kind in planted["near"]]
    group: dict[str, str] = {}  # planted copies, joined: a flagged pair outside is a false one

    def top(key: str) -> str:
        while group.get(key, key) != key:
            key = group[key]
        return key

    for a, b, *_ in planted["near"] + planted["exact"]:
        group[top(b)] = top(a)
    unplanted = sum(top(x) != top(y) for x, y in rep.items()) if not removed else None

    def share(hits: list[bool]) -> float | None:
        return round(sum(hits) / len(hits), 4) if hits else None

    return {
        "planted": len(pairs),
        "recall": share([ok for ok, _, _ in pairs]),
        "recall_edits": share([ok for ok, _, k in pairs if k == "edits"]),
        "recall_boilerplate": share([ok for ok, _, k in pairs if k == "boilerplate"]),
        "recall_jaccard_ge_0.8": share([ok for ok, j, _ in pairs if j >= 0.8]),
        "recall_jaccard_lt_0.8": share([ok for ok, j, _ in pairs if j < 0.8]),
        "jaccard_min": round(min(j for _, j, _ in pairs), 3) if pairs else None,
        "flagged": len(rep),
        "flagged_not_planted": unplanted,
    }


def _hegui_found(run: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    rows = pq.read_table(run / "duplicates.parquet").to_pylist()
    return {f"{r['file']}:{r['line']}": f"{r['of_file']}:{r['of_line']}" for r in rows}


def _cpu() -> float:
    """CPU seconds used by this process and its finished children (pool workers)."""
    use = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in use)


def _own_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _forkserver_cpu() -> float:
    """CPU seconds of the local executor's fork server so far (it imports the worker's
    modules once for all workers); 0 before it starts or where /proc is missing."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _scan(
    corpus: Path, out: Path, executor: Any, detectors: tuple[str, ...] | None
) -> dict[str, Any]:
    """One end-to-end scan into a fresh run directory: wall and CPU seconds, load.

    CPU is counted per process: this one (planning, the whole-corpus phase, and the
    shards too when they run in-process) and each worker, as the worker reports it
    with each shard (its CPU seconds since it started: imports and scanner included).
    """
    from hegui.corpus import ScanOptions, scan_corpus

    size = sum(p.stat().st_size for p in corpus.glob("*.jsonl")) / 1e6
    # at least 16 shards, so two workers stay busy to the end; at most the 64 MiB default
    options = ScanOptions(detectors=detectors, shard_mb=min(64.0, max(size / 16, 0.5)))
    shutil.rmtree(out, ignore_errors=True)
    load, cpu, own, t0 = os.getloadavg()[0], _cpu(), _own_cpu(), time.perf_counter()
    server = _forkserver_cpu()
    result = scan_corpus(corpus / "manifest.yaml", out, options, executor)
    seconds = time.perf_counter() - t0
    parent = _own_cpu() - own
    server = _forkserver_cpu() - server  # the run that starts the server pays for it
    workers = sorted(round(c, 2) for pid, c in result.workers.items() if pid != os.getpid())
    total = parent + server + sum(workers)
    if executor.name == "local" and workers:  # cross-check with the kernel's count
        total = max(total, _cpu() - cpu)
    return {
        "mb": round(size, 1),
        "seconds": round(seconds, 2),
        **{f"{k}_s": v for k, v in result.phases.items()},
        "parent_cpu_s": round(parent, 2),
        "forkserver_cpu_s": round(server, 2),
        "worker_cpu_s": workers,
        "cpu_s": round(total, 2),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def _throughput(corpus: Path, work: Path, ray: bool, repeat: int) -> list[dict[str, Any]]:
    """Local and Ray, 1 and 2 processes; the fastest of ``repeat`` runs of each."""
    from hegui.corpus import LocalExecutor, RayExecutor

    configs: list[tuple[str, int, Any]] = [
        ("local", 1, LocalExecutor(1)),
        ("local", 2, LocalExecutor(2)),
    ]
    if ray:
        configs += [("ray", 1, RayExecutor(workers=1)), ("ray", 2, RayExecutor(workers=2))]
    rows = []
    for name, workers, executor in configs:
        runs = [
            _scan(corpus, work / f"{name}-{workers}", executor, ("lexicon", "pii"))
            for _ in range(repeat)
        ]
        run = min(runs, key=lambda r: r["seconds"])
        mb = run["mb"]
        rows.append(
            {
                "executor": name,
                "workers": workers,
                "detectors": "lexicon,pii",
                **run,
                "mb_s": round(mb / run["seconds"], 2),
                "mb_s_per_core": round(mb / run["seconds"] / workers, 2),
                "shards_mb_s_per_core": round(mb / run["shards_s"] / workers, 2),
                "mb_per_cpu_s": round(mb / run["cpu_s"], 2),
            }
        )
        print(f"  {name} x{workers}: {run['seconds']:.1f} s", file=sys.stderr)
    for name in ("local", "ray"):
        one = next((r for r in rows if r["executor"] == name and r["workers"] == 1), None)
        two = next((r for r in rows if r["executor"] == name and r["workers"] == 2), None)
        if one and two:
            # (rate with 2) / (2 x rate with 1), end to end and in the shard phase; how
            # much CPU the same work took with 2; and the efficiency were every process
            # given a core of its own: the 1-process CPU over twice the longest chain
            # (this process, the fork server, the slowest worker; the server starts
            # while the inputs are hashed, so this chain is a little too long and the
            # figure a lower bound). Load moves neither of the last two.
            two["scaling_efficiency"] = round(two["mb_s"] / (2 * one["mb_s"]), 3)
            two["shards_scaling_efficiency"] = round(one["shards_s"] / two["shards_s"] / 2, 3)
            two["cpu_ratio"] = round(two["cpu_s"] / one["cpu_s"], 3)
            chain = two["parent_cpu_s"] + two["forkserver_cpu_s"] + max(two["worker_cpu_s"])
            two["cpu_path_efficiency"] = round(one["cpu_s"] / (2 * chain), 3)
    return rows


PHASES = [
    ("plan: hash the inputs", "hegui.corpus._run", "_plan"),
    ("shards: read, scan, hash, MinHash", "hegui.corpus._worker", "ShardScan.run"),
    ("  of which MinHash signatures", "hegui.corpus._worker", "signatures"),
    ("shards: write the outputs", "hegui.corpus._outputs", "write_shard"),
    ("whole corpus, in all", "hegui.corpus._run", "finish"),
    ("  review sheet: write", "hegui.corpus._review", "_write_sheet"),
    ("  review sheet: read the texts back", "hegui.corpus._review", "_texts"),
    ("  duplicates", "hegui.corpus._finish", "find_duplicates"),
]
"""Phases of a scan timed by ``--phases``: label, module, function (``Class.method``)."""


@contextlib.contextmanager
def _timed_phases(spent: dict[str, float]) -> Iterator[None]:
    """Wrap each function of ``PHASES`` to add its CPU seconds to ``spent``; unwrap after.

    CPU seconds of this process: right for the local executor with one process, which
    runs the shards in-process.
    """
    import importlib

    undo = []
    for label, module_name, name in PHASES:
        owner: Any = importlib.import_module(module_name)
        attr = name
        if "." in name:
            cls, attr = name.split(".")
            owner = getattr(owner, cls)
        original = getattr(owner, attr)

        def timed(*args: Any, _f: Any = original, _label: str = label, **kw: Any) -> Any:
            start = time.process_time()
            try:
                return _f(*args, **kw)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.process_time() - start

        setattr(owner, attr, timed)
        undo.append((owner, attr, original))
    try:
        yield
    finally:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)


def _phases(corpus: Path, work: Path, runs: int) -> dict[str, Any]:
    """CPU seconds per phase of local x1 scans: the fastest of ``runs`` for each phase."""
    from hegui.corpus import LocalExecutor

    best: dict[str, float] = {}
    totals = []
    for _ in range(runs):
        spent: dict[str, float] = {}
        with _timed_phases(spent):
            run = _scan(corpus, work / "phases", LocalExecutor(1), ("lexicon", "pii"))
        totals.append(run["cpu_s"])
        for label, cpu in spent.items():
            best[label] = min(best.get(label, cpu), cpu)
    mb = run["mb"]
    return {
        "runs": runs,
        "cpu_s_fastest": min(totals),
        "mb_per_cpu_s": [round(mb / cpu, 2) for cpu in totals],
        "phases_cpu_s": {label: round(best.get(label, 0.0), 2) for label, _, _ in PHASES},
    }


def _batches(texts: list[str]) -> list[list[str]]:
    """The texts in MinHash batches as a shard's worker makes them."""
    from hegui.corpus._worker import BATCH_CHARS, BATCH_DOCS

    out: list[list[str]] = [[]]
    size = 0
    for text in texts:
        out[-1].append(text)
        size += len(text)
        if size >= BATCH_CHARS or len(out[-1]) >= BATCH_DOCS:
            out.append([])
            size = 0
    return [batch for batch in out if batch]


def _stages(corpus: Path, megabytes: float) -> dict[str, float]:
    """MB per CPU second of each stage of a shard, over the first ``megabytes`` of text.

    Each stage runs twice and the second run is timed: the first pays for touching
    fresh memory, which a worker pays once and not for every shard.
    """
    import hashlib

    from hegui.corpus import Piece, build_scanner, read_piece
    from hegui.corpus._minhash import DedupParams, signatures
    from hegui.policy import load_policy

    def rate(work: Any, sample: list[str]) -> float:
        work(sample)
        t0 = time.process_time()
        work(sample)
        return sum(len(t.encode()) for t in sample) / 1e6 / (time.process_time() - t0)

    path = corpus / "web-0.jsonl"
    piece = Piece(str(path), path.name, 0, int(megabytes * 1e6))
    texts = [t for _, t, _ in read_piece(piece, "jsonl", "text", None, [])]
    out = {
        "read_json": rate(
            lambda _: [t for _, t, _ in read_piece(piece, "jsonl", "text", None, [])], texts
        )
    }
    policy, params = load_policy("cn"), DedupParams()
    for names in (("lexicon",), ("pii",), ("lexicon", "pii"), ("classifier",)):
        scanner = build_scanner(policy, names)
        sample = texts[:300] if names == ("classifier",) else texts  # the classifier is slow
        out["+".join(names)] = rate(lambda ts, s=scanner: [s.scan(t) for t in ts], sample)
    out["exact_hash"] = rate(
        lambda ts: [hashlib.sha256(t.encode().strip()).digest()[:8] for t in ts], texts
    )
    out["minhash_signatures"] = rate(
        lambda ts: [signatures(batch, params) for batch in _batches(ts)], texts
    )
    return {k: round(v, 1) for k, v in out.items()}


def _datatrove(corpus: Path, work: Path, planted: dict[str, Any]) -> dict[str, Any]:
    """datatrove's MinHash dedup (signatures, buckets, clusters) on the same files."""
    try:
        from datatrove.executor import LocalPipelineExecutor
        from datatrove.pipeline.dedup.minhash import (
            MinhashConfig,
            MinhashDedupBuckets,
            MinhashDedupCluster,
            MinhashDedupSignature,
        )
        from datatrove.pipeline.readers import JsonlReader
        from datatrove.utils.hashing import HashConfig
    except ImportError as exc:
        return {"skipped": f"datatrove not usable here: {exc}"}
    import numpy as np

    out = work / "datatrove"
    shutil.rmtree(out, ignore_errors=True)
    # xxhash 4 refuses str input in datatrove 0.10's hash function; sha1 works
    config = MinhashConfig(hash_config=HashConfig(hash_fc="sha1", precision=64))
    files = sorted(p.name for p in corpus.glob("*.jsonl"))
    try:
        t0 = time.perf_counter()
        LocalPipelineExecutor(
            pipeline=[
                JsonlReader(str(corpus), glob_pattern="*.jsonl"),
                MinhashDedupSignature(output_folder=str(out / "sigs"), config=config),
            ],
            tasks=1,
            logging_dir=str(out / "logs-signatures"),  # one per stage: done tasks are skipped
        ).run()
        sig_s = time.perf_counter() - t0
        LocalPipelineExecutor(
            pipeline=[MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=config)],
            tasks=config.num_buckets,
            workers=2,
            logging_dir=str(out / "logs-buckets"),
        ).run()
        LocalPipelineExecutor(
            pipeline=[
                MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=config)
            ],
            tasks=1,
            logging_dir=str(out / "logs-clusters"),
        ).run()
        total_s = time.perf_counter() - t0
    except Exception as exc:  # a peer that breaks is reported, not fatal
        return {"skipped": f"datatrove failed: {type(exc).__name__}: {exc}"}
    keys = [f"{name}:{i + 1}" for name in files for i in range(_lines(corpus / name))]
    removed: dict[str, str] = {}
    for f in (out / "remove").glob("*.remove"):
        removed |= {keys[i]: "removed" for i in np.fromfile(f, dtype="<u4")}
    size = sum((corpus / f).stat().st_size for f in files) / 1e6
    return {
        "config": "word 5-grams (spaCy English tokenizer), 14 bands x 8, sha1",
        "signature_mb_s": round(size / sig_s, 2),
        "dedup_seconds": round(total_s, 2),
        **_recall(removed, planted, removed=True),
    }


def _lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return "+".join(str(v) for v in value) or "-"
    return str(value)


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    cells = [cols] + [[_cell(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([lines[0], "-|-".join("-" * w for w in widths), *lines[1:]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of the generated corpus")
    parser.add_argument(
        "--all-detectors-mb",
        type=float,
        default=10.0,
        help="size of the slice scanned with every detector (0: skip)",
    )
    parser.add_argument(
        "--datatrove-mb", type=float, default=10.0, help="size of the slice for datatrove (0: skip)"
    )
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray executor")
    parser.add_argument(
        "--phases",
        type=int,
        default=0,
        help="also time each phase of this many local x1 scans (CPU seconds, the fastest)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each configuration (the fastest is kept)"
    )
    parser.add_argument("--work", type=Path, default=None, help="keep the corpus and runs here")
    parser.add_argument("--out", type=Path, default=Path("bench/results/corpus.json"))
    args = parser.parse_args()

    from hegui.corpus import LocalExecutor

    load_at_start = os.getloadavg()
    work = args.work or Path(tempfile.mkdtemp(prefix="hegui-bench-corpus-"))
    try:
        print(f"generating {args.mb} MB in {work}", file=sys.stderr)
        planted = generate(work / "corpus", args.mb)
        rows = _throughput(work / "corpus", work, ray=not args.no_ray, repeat=args.repeat)
        recall = _recall(_hegui_found(work / "local-1"), planted)
        result: dict[str, Any] = {"throughput": rows, "near_duplicates": recall}
        result["stages_one_core_mb_s"] = _stages(work / "corpus", min(20.0, args.mb / 5))
        if args.phases:
            result["phases_one_core"] = _phases(work / "corpus", work, args.phases)
        if args.all_detectors_mb:
            generate(work / "slice", args.all_detectors_mb, seed=SEED + 1)
            run = _scan(work / "slice", work / "all-2", LocalExecutor(2), None)
            mb = run["mb"]
            result["all_detectors"] = {
                "executor": "local",
                "workers": 2,
                **run,
                "mb_s_per_core": round(mb / run["seconds"] / 2, 2),
                "shards_mb_s_per_core": round(mb / run["shards_s"] / 2, 2),
                "mb_per_cpu_s": round(mb / run["cpu_s"], 2),
            }
        if args.datatrove_mb:
            dt_planted = generate(work / "dt", args.datatrove_mb, seed=SEED + 2)
            _scan(work / "dt", work / "dt-hegui", LocalExecutor(1), ("lexicon", "pii"))
            result["same_slice_hegui"] = _recall(_hegui_found(work / "dt-hegui"), dt_planted)
            result["datatrove"] = _datatrove(work / "dt", work, dt_planted)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_at_start": [round(x, 2) for x in load_at_start],
        "load_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    result["corpus_mb"] = args.mb
    _report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")


_COLUMNS = [
    "executor",
    "workers",
    "mb",
    "seconds",
    "mb_s",
    "mb_s_per_core",
    "scaling_efficiency",
    "plan_s",
    "shards_s",
    "finish_s",
    "shards_scaling_efficiency",
    "parent_cpu_s",
    "forkserver_cpu_s",
    "worker_cpu_s",
    "cpu_s",
    "cpu_ratio",
    "cpu_path_efficiency",
    "mb_per_cpu_s",
    "load_before",
    "load_after",
]


def _report(result: dict[str, Any]) -> None:
    print(
        f"hegui corpus scan, lexicon+pii, end to end (plan and hash, shards, duplicates, "
        f"gates, review sheet, report, card); generated mixed zh/en JSONL, "
        f"{result['corpus_mb']} MB"
    )
    print(_table(result["throughput"], _COLUMNS))
    if "all_detectors" in result:
        a = result["all_detectors"]
        print(
            f"every cn detector (classifier too), {a['mb']} MB, local x2: "
            f"{a['mb_s_per_core']} MB/s per core end to end, {a['shards_mb_s_per_core']} in "
            f"the shard phase, {a['mb_per_cpu_s']} MB per CPU second (load {a['load_before']})"
        )
    print("stages on one core (MB per CPU second):", json.dumps(result["stages_one_core_mb_s"]))
    if "phases_one_core" in result:
        ph = result["phases_one_core"]
        print(
            f"local x1, CPU seconds per phase, fastest of {ph['runs']} runs "
            f"(MB per CPU second of each run: {ph['mb_per_cpu_s']}):"
        )
        for label, cpu in ph["phases_cpu_s"].items():
            print(f"  {label:40s} {cpu:6.2f}")
    print("near-duplicate recall:", json.dumps(result["near_duplicates"]))
    if "datatrove" in result:
        print("same slice, hegui:", json.dumps(result["same_slice_hegui"]))
        print("same slice, datatrove:", json.dumps(result["datatrove"]))


if __name__ == "__main__":
    main()
