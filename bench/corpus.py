"""End-to-end throughput of ``hegui corpus scan`` and near-duplicate recall, in one run.

Generates (fixed seed) a mixed Chinese/English JSONL corpus of ``--mb`` megabytes in two
sources, with planted lexicon terms, personal information, exact copies and edited
near-copies, then scans it end to end (plan and hash, every shard, duplicates, gates,
review sheet, summary, report, card) with the lexicon and PII detectors:

- local executor with 1 and 2 processes, Ray with 1 and 2 workers: MB/s of input,
  MB/s per core, and the 2-worker scaling efficiency (time with 1 / time with 2 / 2);
- the same with every detector the cn pack enables (the classifier too), on a slice;
- a per-stage profile on one core (read JSON, each detector, content hash, MinHash);
- recall of the planted near-duplicates, by kind and by true Jaccard similarity;
- datatrove's MinHash deduplication on a slice, if datatrove (with orjson and spaCy,
  which its JSONL reader and word tokenizer need) is installed.

The machine may be shared: each run's load average and CPU seconds are recorded, and
MB per CPU second is a per-core figure the load does not move (local executor only:
Ray's workers are not children of this process).

Usage: python bench/corpus.py [--mb 200] [--out bench/results/corpus.json] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
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
    """CPU seconds used by this process and its finished children (pool workers, Ray)."""
    use = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in use)


def _scan(
    corpus: Path, out: Path, executor: Any, detectors: tuple[str, ...] | None
) -> tuple[float, dict[str, float]]:
    """Seconds end to end (fresh run directory); per phase, CPU seconds and load too."""
    from hegui.corpus import ScanOptions, scan_corpus

    size = sum(p.stat().st_size for p in corpus.glob("*.jsonl")) / 1e6
    # at least 16 shards, so two workers stay busy to the end; at most the 64 MiB default
    options = ScanOptions(detectors=detectors, shard_mb=min(64.0, max(size / 16, 0.5)))
    shutil.rmtree(out, ignore_errors=True)
    load, cpu, t0 = os.getloadavg()[0], _cpu(), time.perf_counter()
    result = scan_corpus(corpus / "manifest.yaml", out, options, executor)
    seconds = time.perf_counter() - t0
    extra = {"cpu_s": round(_cpu() - cpu, 2), "load_before": round(load, 2)}
    return seconds, {**result.phases, **extra}


def _throughput(corpus: Path, work: Path, ray: bool) -> list[dict[str, Any]]:
    from hegui.corpus import LocalExecutor, RayExecutor

    size = sum(p.stat().st_size for p in corpus.glob("*.jsonl")) / 1e6
    configs: list[tuple[str, int, Any]] = [
        ("local", 1, LocalExecutor(1)),
        ("local", 2, LocalExecutor(2)),
    ]
    if ray:
        configs += [("ray", 1, RayExecutor(workers=1)), ("ray", 2, RayExecutor(workers=2))]
    rows = []
    for name, workers, executor in configs:
        seconds, phases = _scan(corpus, work / f"{name}-{workers}", executor, ("lexicon", "pii"))
        rows.append(
            {
                "executor": name,
                "workers": workers,
                "detectors": "lexicon,pii",
                "mb": round(size, 1),
                "seconds": round(seconds, 2),
                "mb_s": round(size / seconds, 2),
                "mb_s_per_core": round(size / seconds / workers, 2),
                "plan_s": phases["plan"],
                "shards_s": phases["shards"],
                "finish_s": phases["finish"],
                "shards_mb_s_per_core": round(size / phases["shards"] / workers, 2),
                # Ray's workers are not this process's children: their CPU time is not seen
                "cpu_s": phases["cpu_s"] if name == "local" else None,
                "mb_per_cpu_s": round(size / phases["cpu_s"], 2) if name == "local" else None,
                "load_before": phases["load_before"],
            }
        )
        print(f"  {name} x{workers}: {seconds:.1f} s", file=sys.stderr)
    for name in ("local", "ray"):
        one = next((r for r in rows if r["executor"] == name and r["workers"] == 1), None)
        two = next((r for r in rows if r["executor"] == name and r["workers"] == 2), None)
        if one and two:
            two["scaling_efficiency"] = round(one["seconds"] / two["seconds"] / 2, 3)
            two["shards_scaling_efficiency"] = round(one["shards_s"] / two["shards_s"] / 2, 3)
    return rows


def _stages(corpus: Path, megabytes: float) -> dict[str, float]:
    """MB/s of each stage of a shard on one core, over the first ``megabytes`` of text."""
    import hashlib

    from hegui.corpus import Piece, build_scanner, read_piece
    from hegui.corpus._minhash import DedupParams, signatures
    from hegui.policy import load_policy

    def rate(work: Any, sample: list[str]) -> float:
        t0 = time.perf_counter()
        work(sample)
        return sum(len(t.encode()) for t in sample) / 1e6 / (time.perf_counter() - t0)

    path = corpus / "web-0.jsonl"
    piece = Piece(str(path), path.name, 0, int(megabytes * 1e6))
    t0 = time.perf_counter()
    texts = [t for _, t, _ in read_piece(piece, "jsonl", "text", None, [])]
    out = {"read_json": sum(len(t.encode()) for t in texts) / 1e6 / (time.perf_counter() - t0)}
    policy, params = load_policy("cn"), DedupParams()
    for names in (("lexicon",), ("pii",), ("lexicon", "pii"), ("classifier",)):
        scanner = build_scanner(policy, names)
        sample = texts[:300] if names == ("classifier",) else texts  # the classifier is slow
        out["+".join(names)] = rate(lambda ts, s=scanner: [s.scan(t) for t in ts], sample)
    out["exact_hash"] = rate(
        lambda ts: [hashlib.blake2b(t.encode().strip(), digest_size=8) for t in ts], texts
    )
    out["minhash_signatures"] = rate(
        lambda ts: [signatures(ts[i : i + 2048], params) for i in range(0, len(ts), 2048)], texts
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


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    cells = [cols] + [[str(r.get(c, "")) for c in cols] for r in rows]
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
    parser.add_argument("--work", type=Path, default=None, help="keep the corpus and runs here")
    parser.add_argument("--out", type=Path, default=Path("bench/results/corpus.json"))
    args = parser.parse_args()

    from hegui.corpus import LocalExecutor

    work = args.work or Path(tempfile.mkdtemp(prefix="hegui-bench-corpus-"))
    try:
        print(f"generating {args.mb} MB in {work}", file=sys.stderr)
        planted = generate(work / "corpus", args.mb)
        rows = _throughput(work / "corpus", work, ray=not args.no_ray)
        recall = _recall(_hegui_found(work / "local-1"), planted)
        result: dict[str, Any] = {"throughput": rows, "near_duplicates": recall}
        result["stages_one_core_mb_s"] = _stages(work / "corpus", min(20.0, args.mb / 5))
        if args.all_detectors_mb:
            generate(work / "slice", args.all_detectors_mb, seed=SEED + 1)
            seconds, phases = _scan(work / "slice", work / "all-2", LocalExecutor(2), None)
            size = sum(p.stat().st_size for p in (work / "slice").glob("*.jsonl")) / 1e6
            result["all_detectors"] = {
                "executor": "local",
                "workers": 2,
                "mb": round(size, 1),
                "seconds": round(seconds, 2),
                "mb_s_per_core": round(size / seconds / 2, 2),
                "shards_mb_s_per_core": round(size / phases["shards"] / 2, 2),
                "mb_per_cpu_s": round(size / phases["cpu_s"], 2),
                "load_before": phases["load_before"],
            }
        if args.datatrove_mb:
            dt_planted = generate(work / "dt", args.datatrove_mb, seed=SEED + 2)
            _scan(work / "dt", work / "dt-hegui", LocalExecutor(1), ("lexicon", "pii"))
            result["same_slice_hegui"] = _recall(_hegui_found(work / "dt-hegui"), dt_planted)
            result["datatrove"] = _datatrove(work / "dt", work, dt_planted)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
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
    "mb_s_per_core",
    "scaling_efficiency",
    "plan_s",
    "shards_s",
    "finish_s",
    "shards_mb_s_per_core",
    "shards_scaling_efficiency",
    "cpu_s",
    "mb_per_cpu_s",
    "load_before",
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
    print("stages on one core (MB/s):", json.dumps(result["stages_one_core_mb_s"]))
    print("near-duplicate recall:", json.dumps(result["near_duplicates"]))
    if "datatrove" in result:
        print("same slice, hegui:", json.dumps(result["same_slice_hegui"]))
        print("same slice, datatrove:", json.dumps(result["datatrove"]))


if __name__ == "__main__":
    main()
