"""A shard's files: attributes, cleaned, rejected and review Parquet, signatures, marker.

Each file is written under a temporary name and renamed into place, and the marker
(the shard's statistics, with the SHA-256 of each output) goes last: a shard with a
marker is complete; one without is redone from scratch on resume.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hegui.corpus._plan import Shard
    from hegui.corpus._worker import ShardScan

PROBLEM_EXAMPLES = 100
ROW_GROUP = 1024  # small row groups: the review sheet reads a few rows from many shards


def shard_paths(run_dir: Path, shard: Shard) -> dict[str, Path]:
    """Where a shard's outputs and completion marker go."""
    src, name = shard.source, f"{shard.index:05d}"
    return {
        "attributes": run_dir / "attributes" / src / f"{name}.parquet",
        "cleaned": run_dir / "cleaned" / src / f"{name}.parquet",
        "rejected": run_dir / "rejected" / src / f"{name}.parquet",
        "minhash": run_dir / "minhash" / src / f"{name}.npy",
        "review": run_dir / "review" / src / f"{name}.parquet",
        "marker": run_dir / "shards" / src / f"{name}.json",
    }


def _atomic(path: Path, write: Callable[[Path], object]) -> str:
    """Write through ``write(tmp_path)``, rename into place; return the file's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    with tmp.open("rb") as fh:  # in chunks: no copy of a whole shard file in memory
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    os.replace(tmp, path)
    return digest


def _schemas() -> dict[str, Any]:
    import pyarrow as pa

    finding = pa.struct(
        [
            ("detector", pa.string()),
            ("risk", pa.string()),
            ("term", pa.string()),
            ("action", pa.string()),
            ("severity", pa.string()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("matched", pa.string()),
        ]
    )
    base = [("seq", pa.int64()), ("file", pa.string()), ("line", pa.int64()), ("id", pa.string())]
    attrs = pa.schema(
        [
            *base,
            ("bytes", pa.int64()),
            ("chars", pa.int64()),
            ("cjk", pa.float32()),
            ("status", pa.string()),
            ("hash", pa.uint64()),
            ("risks", pa.list_(pa.string())),
            ("findings", pa.list_(finding)),
        ]
    )
    cleaned = pa.schema([*base, ("text", pa.string())])
    rejected = pa.schema([*base, ("text", pa.string()), ("reasons", pa.string())])
    review = pa.schema([("seq", pa.int64()), ("text", pa.string())])
    return {"attributes": attrs, "cleaned": cleaned, "rejected": rejected, "review": review}


def _tables(scan: ShardScan) -> dict[str, Any]:
    """The shard's three tables, built from buffers (``hegui.corpus._arrow``)."""
    import pyarrow as pa

    from hegui.corpus._arrow import mask, numeric, string_lists, strings, struct_lists, utf8
    from hegui.corpus._worker import REJECTED

    schemas = _schemas()
    attrs_schema = schemas["attributes"]
    n = len(scan.status)
    base = {
        "seq": numeric(np.arange(n, dtype=np.int64), np.int64, pa.int64()),
        "file": strings(scan.file),
        "line": numeric(scan.line, np.int64, pa.int64()),
        "id": strings(scan.id),
    }
    attrs = base | {
        "bytes": numeric(scan.bytes, np.int64, pa.int64()),
        "chars": numeric(scan.chars, np.int64, pa.int64()),
        "cjk": numeric(scan.cjk(), np.float32, pa.float32()),
        "status": strings(scan.status),
        "hash": numeric(scan.hashes(), np.uint64, pa.uint64()),
        "risks": string_lists(scan.risks),
        "findings": struct_lists(scan.findings_rows, attrs_schema.field("findings").type),
    }
    rejected = np.asarray(scan.status, dtype=object) == REJECTED
    reasons = [scan.reasons[int(i)] for i in np.flatnonzero(rejected)]
    if reasons:  # else every document is in the cleaned shard: no copy to make
        drop, keep = mask(rejected), mask(~rejected)
        cleaned = {k: v.filter(keep) for k, v in base.items()}
        dropped = {k: v.filter(drop) for k, v in base.items()}
    else:
        cleaned, dropped = base, {k: v.slice(0, 0) for k, v in base.items()}
    # encoded by the worker already (str.encode never yields invalid UTF-8), and apart
    cleaned["text"], dropped["text"] = utf8(scan.text), utf8(scan.rejected_text)
    seqs, texts = scan.review_texts(rejected)
    review = {"seq": numeric(seqs, np.int64, pa.int64()), "text": utf8(texts)}
    return {
        "attributes": pa.table(attrs, schema=attrs_schema),
        "cleaned": pa.table(cleaned, schema=schemas["cleaned"]),
        "rejected": pa.table(dropped | {"reasons": strings(reasons)}, schema=schemas["rejected"]),
        "review": pa.table(review, schema=schemas["review"]),
    }


def _write_parquet(path: Path, table: Any) -> str:
    """Write with Zstandard; a text column gets no dictionary and no statistics.

    A text column's dictionary overflows and is thrown away, and min/max of unique
    texts help no reader; without them the review sheet reads text a quarter faster.
    """
    import pyarrow.parquet as pq

    small = [name for name in table.column_names if name != "text"]
    every = len(small) == len(table.column_names)
    return _atomic(
        path,
        lambda tmp: pq.write_table(
            table,
            tmp,
            compression="zstd",
            row_group_size=ROW_GROUP,
            use_dictionary=True if every else small,
            write_statistics=True if every else small,
        ),
    )


def _save_npy(path: Path, array: np.ndarray[Any, Any]) -> None:
    with path.open("wb") as fh:
        np.save(fh, array)


def write_shard(scan: ShardScan) -> dict[str, Any]:
    """Write every output of a scanned shard, then its marker; return the marker's content."""
    from hegui.corpus._worker import Job

    job: Job = scan.job
    paths = shard_paths(Path(job.run_dir), scan.shard)
    outputs = {name: _write_parquet(paths[name], t) for name, t in _tables(scan).items()}
    sig = scan.signature_matrix()
    outputs["minhash"] = _atomic(paths["minhash"], lambda tmp: _save_npy(tmp, sig))
    problems = Counter(p.kind for p in scan.problems)
    stats = {
        "shard": scan.shard.to_dict(),
        "counts": dict(sorted(scan.counts().items())),
        "findings": dict(sorted(scan.findings.items())),
        "docs_with_risk": dict(sorted(scan.docs_with.items())),
        "pii": dict(sorted(scan.pii.items())),
        "problems": dict(sorted(problems.items())),
        "problem_examples": [p.to_dict() for p in scan.problems[:PROBLEM_EXAMPLES]],
        "outputs": outputs,
    }
    text = json.dumps(stats, ensure_ascii=False, indent=1, sort_keys=True)
    _atomic(paths["marker"], lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return stats
