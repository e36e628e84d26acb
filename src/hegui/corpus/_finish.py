"""The whole-corpus phase: gather shard results, find duplicates, sample, check, decide.

Reads only what the shards wrote (markers, attribute files, signatures), so it gives
the same summary whichever executor ran the shards and however often a run resumed.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hegui.corpus._dedup import find_duplicates, write_duplicates
from hegui.corpus._gates import corpus_checks, manual_checks, source_check, verdict
from hegui.corpus._manifest import Manifest
from hegui.corpus._minhash import DedupParams
from hegui.corpus._outputs import shard_paths
from hegui.corpus._plan import Plan

if TYPE_CHECKING:
    from hegui.policy import Policy

UNREAD_KINDS = ("encoding", "malformed", "no-text")
"""Problem kinds that cost one record each (``unreadable`` may cost a whole file)."""


@dataclass
class Docs:
    """Every document of the corpus in corpus order, with what the phase needs of it."""

    source: npt.NDArray[np.int64]
    shard: npt.NDArray[np.int64]
    seq: npt.NDArray[np.int64]
    line: npt.NDArray[np.int64]
    file: list[str]
    ids: list[str | None]
    status: npt.NDArray[np.str_]
    hashes: npt.NDArray[np.uint64]
    sig: npt.NDArray[np.uint32]

    def as_columns(self) -> dict[str, Any]:
        """The columns ``write_duplicates`` reads."""
        return {"source": self.source, "file": self.file, "line": self.line}


def load_docs(run_dir: Path, plan: Plan, manifest: Manifest, params: DedupParams) -> Docs:
    """Read the attribute files and signatures of every shard, in corpus order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hegui.corpus._arrow import to_numpy

    order = {src.id: i for i, src in enumerate(manifest.sources)}
    tables, sigs, source, shard = [], [], [], []
    for number, sh in enumerate(plan.shards):
        paths = shard_paths(run_dir, sh)
        table = pq.ParquetFile(paths["attributes"]).read(
            columns=["seq", "file", "line", "id", "status", "hash"], use_threads=False
        )
        tables.append(table)
        sigs.append(np.load(paths["minhash"]))
        source.append(np.full(table.num_rows, order[sh.source], dtype=np.int64))
        shard.append(np.full(table.num_rows, number, dtype=np.int64))
    if not tables:
        empty = np.zeros(0, dtype=np.int64)
        return Docs(
            empty,
            empty,
            empty,
            empty,
            [],
            [],
            np.zeros(0, dtype=str),
            np.zeros(0, dtype=np.uint64),
            np.zeros((0, params.num_perm), np.uint32),
        )
    table = pa.concat_tables(tables)
    return Docs(
        source=np.concatenate(source),
        shard=np.concatenate(shard),
        seq=to_numpy(table.column("seq"), np.int64),
        line=to_numpy(table.column("line"), np.int64),
        file=table.column("file").to_pylist(),
        ids=table.column("id").to_pylist(),
        status=_labels(table.column("status")),
        hashes=to_numpy(table.column("hash"), np.uint64),
        sig=np.concatenate(sigs).reshape(-1, params.num_perm),
    )


def _labels(column: Any) -> npt.NDArray[np.str_]:
    """A string column of a few distinct values (a status) as a numpy string array.

    Through a dictionary: each distinct value becomes a numpy string once, and the
    rows are gathered by index, instead of a Python string made for every row.
    """
    from hegui.corpus._arrow import to_numpy

    encoded = column.combine_chunks().dictionary_encode()  # int32 indices
    values: npt.NDArray[np.str_] = np.asarray(encoded.dictionary.to_pylist(), dtype=str)
    if not len(values):
        return np.zeros(len(encoded), dtype=str)
    rows: npt.NDArray[np.str_] = values[to_numpy(encoded.indices, np.int32)]
    return rows


def _merge(stats: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = defaultdict(
        lambda: (
            {k: Counter() for k in ("counts", "findings", "docs_with_risk", "pii", "problems")}
            | {"problem_examples": []}
        )
    )
    for st in stats:
        acc = merged[st["shard"]["source"]]
        for key in ("counts", "findings", "docs_with_risk", "pii", "problems"):
            acc[key].update(st[key])
        acc["problem_examples"].extend(st["problem_examples"])
    return merged


def _risks(acc: dict[str, Any], policy: Policy) -> dict[str, Any]:
    by_risk: dict[str, dict[str, Any]] = {}
    for key, n in sorted(acc["findings"].items()):
        detector, risk, action = key.split("|")
        entry = by_risk.setdefault(
            risk,
            {
                "findings": 0,
                "docs": acc["docs_with_risk"][risk],
                "actions": Counter(),
                "detectors": Counter(),
            },
        )
        entry["findings"] += n
        entry["actions"][action] += n
        entry["detectors"][detector] += n
    for risk, entry in by_risk.items():
        known = policy.risks.get(risk)
        entry["name_zh"] = known.name_zh if known else risk
        entry["name_en"] = known.name_en if known else risk
        entry["actions"] = dict(sorted(entry["actions"].items()))
        entry["detectors"] = dict(sorted(entry["detectors"].items()))
    return by_risk


def _source_entry(
    src: Any, acc: dict[str, Any], plan: Plan, policy: Policy, dups: dict[str, int]
) -> dict[str, Any]:
    files = [f for f in plan.files if f.source == src.id]
    counts = acc["counts"]
    docs = counts.get("docs", 0)
    return {
        "id": src.id,
        "origin": src.origin,
        "license": src.license,
        "legal_basis": src.legal_basis.value,
        "legal_basis_note": src.legal_basis_note,
        "collected": src.collected,
        "language": list(src.language),
        "annotation": src.annotation.value,
        "annotation_note": src.annotation_note,
        "owner": src.owner,
        "description": src.description,
        "files": len(files),
        "input_bytes": sum(f.bytes for f in files),
        "docs": docs,
        "bytes": counts.get("bytes", 0),
        "chars": counts.get("chars", 0),
        "empty": counts.get("empty", 0),
        "mostly_cjk_share": round(counts.get("cjk_docs", 0) / docs, 4) if docs else None,
        "status": {k: counts.get(k, 0) for k in ("kept", "cleaned", "rejected")},
        "rejected_share": round(counts.get("rejected", 0) / docs, 6) if docs else None,
        "risks": _risks(acc, policy),
        "pii": dict(sorted(acc["pii"].items())),
        "problems": dict(sorted(acc["problems"].items())),
        "duplicates": dups,
    }


def _unread(merged: dict[str, dict[str, Any]]) -> dict[str, Any]:
    problems: Counter[str] = Counter()
    for acc in merged.values():
        problems.update(acc["problems"])
    examples = [e for acc in merged.values() for e in acc["problem_examples"]]
    files = {e["file"] for e in examples if e["kind"] == "unreadable"}
    return {
        "records": sum(problems[k] for k in UNREAD_KINDS),
        "files": len(files),
        "problems": dict(sorted(problems.items())),
        "examples": examples[:50],
    }


def summarize(
    *,
    run_dir: Path,
    manifest: Manifest,
    plan: Plan,
    policy: Policy,
    spec: dict[str, Any],
    docs: Docs,
    review: dict[str, Any] | None,
    threads: int = 1,
) -> dict[str, Any]:
    """Aggregate the shards, find duplicates, apply the gates; return the summary.

    ``threads``: how many threads finding duplicates may use.
    """
    if policy.corpus is None:
        raise ValueError(f"policy {policy.id!r} has no corpus section")
    rules = policy.corpus
    params = DedupParams(**spec["dedup"])
    stats = [
        json.loads(shard_paths(run_dir, sh)["marker"].read_text("utf-8")) for sh in plan.shards
    ]
    merged = _merge(stats)
    dups = find_duplicates(docs.hashes, docs.sig, params, threads)
    source_ids = [s.id for s in manifest.sources]
    n_dups = write_duplicates(run_dir / "duplicates.parquet", dups, docs.as_columns(), source_ids)
    per_source = dups.counts(docs.source, len(source_ids))
    rejected = docs.status == "rejected"
    sources, checks = [], []
    for i, src in enumerate(manifest.sources):
        entry = _source_entry(src, merged[src.id], plan, policy, per_source[i])
        sample, gate = source_check(
            src.id, rejected[docs.source == i], rules, spec["samples"]["source"], spec["seed"]
        )
        entry["sample"] = sample
        entry["gate"] = gate
        sources.append(entry)
        checks.append(gate)
    unread = _unread(merged)
    automated, auto_checks = corpus_checks(
        rules=rules,
        docs=len(rejected),
        rejected=int(rejected.sum()),
        unread_records=unread["records"],
        detectors=tuple(spec["detectors"]),
    )
    checks += auto_checks
    checks += manual_checks(rules, len(rejected), review)
    summary = _assemble(
        manifest=manifest,
        policy=policy,
        spec=spec,
        sources=sources,
        automated=automated,
        unread=unread,
        review=review,
        checks=checks,
    )
    summary["totals"]["duplicates_listed"] = n_dups
    return summary


def _assemble(
    *,
    manifest: Manifest,
    policy: Policy,
    spec: dict[str, Any],
    sources: list[dict[str, Any]],
    automated: dict[str, Any],
    unread: dict[str, Any],
    review: dict[str, Any] | None,
    checks: list[dict[str, Any]],
) -> dict[str, Any]:
    def total(key: str) -> int:
        return sum(int(s[key]) for s in sources)

    status = {k: sum(s["status"][k] for s in sources) for k in ("kept", "cleaned", "rejected")}
    dup_keys = ("exact_within", "exact_across", "near_within", "near_across")
    return {
        "corpus": {
            "name": manifest.name,
            "version": manifest.version,
            "description": manifest.description,
            "owner": manifest.owner,
            "card": manifest.card.model_dump(mode="json"),
        },
        "policy": {"id": policy.id, "version": policy.version},
        "fingerprint": spec["fingerprint"],
        "detectors": list(spec["detectors"]),
        "seed": spec["seed"],
        "dedup": spec["dedup"],
        "totals": {
            "sources": len(sources),
            "files": total("files"),
            "input_bytes": total("input_bytes"),
            "docs": total("docs"),
            "bytes": total("bytes"),
            "chars": total("chars"),
            "empty": total("empty"),
            "status": status,
            "duplicates": {k: sum(s["duplicates"][k] for s in sources) for k in dup_keys},
        },
        "sources": sources,
        "automated": automated,
        "manual": _manual(spec, review),
        "unread": unread,
        "checks": checks,
        "verdict": verdict(checks),
    }


def _manual(spec: dict[str, Any], review: dict[str, Any] | None) -> dict[str, Any]:
    base = {"sample_size": spec["samples"]["manual"], "sheet": "review.xlsx"}
    if review is None:
        return {**base, "status": "pending"}
    keep = ("labeled", "qualified_rate", "agreement", "labels_file", "labels_sha256")
    return {**base, "status": "imported", **{k: review[k] for k in keep if k in review}}
