"""``diff_runs``: what changed between two scanned versions of a corpus.

The filing rules ask for a new filing when the training data changes; ``data_changed``
is true when a source was added or removed or any input file's content hash differs,
and the per-source entries say by how much.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_TERMS = ("origin", "license", "legal_basis", "collected", "language", "annotation", "owner")


class DiffError(ValueError):
    """A directory that is not a finished corpus run."""


def _load(run: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        inputs = json.loads((run / "inputs.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DiffError(f"{run} is not a finished corpus run: {exc}") from None
    return summary, inputs


def _rate(src: dict[str, Any], risk: str) -> float:
    docs = src["docs"] or 1
    return round(float(src["risks"].get(risk, {}).get("docs", 0)) / docs, 6)


def _source_diff(
    a: dict[str, Any], b: dict[str, Any], files_a: dict[str, str], files_b: dict[str, str]
) -> dict[str, Any]:
    terms = {k: [a[k], b[k]] for k in _TERMS if a.get(k) != b.get(k)}
    risks = sorted(set(a["risks"]) | set(b["risks"]))
    rates = {r: [_rate(a, r), _rate(b, r)] for r in risks if _rate(a, r) != _rate(b, r)}
    return {
        "docs": [a["docs"], b["docs"]],
        "bytes": [a["bytes"], b["bytes"]],
        "files_added": sorted(set(files_b) - set(files_a)),
        "files_removed": sorted(set(files_a) - set(files_b)),
        "files_changed": sorted(p for p in set(files_a) & set(files_b) if files_a[p] != files_b[p]),
        "terms_changed": terms,
        "rejected_share": [a["rejected_share"], b["rejected_share"]],
        "risk_doc_rates_changed": rates,
        "gate": [a["gate"]["passed"], b["gate"]["passed"]],
    }


def diff_runs(run_a: Path, run_b: Path) -> dict[str, Any]:
    """Compare two corpus runs (A older, B newer).

    Raises:
        DiffError: either directory lacks summary.json or inputs.json.
    """
    sa, ia = _load(run_a)
    sb, ib = _load(run_b)
    by_a = {s["id"]: s for s in sa["sources"]}
    by_b = {s["id"]: s for s in sb["sources"]}

    def files(inputs: list[dict[str, Any]], source: str) -> dict[str, str]:
        return {f["rel"]: f["sha256"] for f in inputs if f["source"] == source}

    changed = {
        sid: _source_diff(by_a[sid], by_b[sid], files(ia, sid), files(ib, sid))
        for sid in sorted(set(by_a) & set(by_b))
    }
    added, removed = sorted(set(by_b) - set(by_a)), sorted(set(by_a) - set(by_b))
    data_changed = bool(added or removed) or any(
        d["files_added"] or d["files_removed"] or d["files_changed"] for d in changed.values()
    )
    terms_changed = any(d["terms_changed"] for d in changed.values())
    return {
        "a": {"dir": str(run_a), "name": sa["corpus"]["name"], "version": sa["corpus"]["version"]},
        "b": {"dir": str(run_b), "name": sb["corpus"]["name"], "version": sb["corpus"]["version"]},
        "sources_added": added,
        "sources_removed": removed,
        "sources": changed,
        "totals": {k: [sa["totals"][k], sb["totals"][k]] for k in ("docs", "bytes", "files")},
        "policy": [sa["policy"], sb["policy"]],
        "verdict": [sa["verdict"], sb["verdict"]],
        "data_changed": data_changed,
        "terms_changed": terms_changed,
        "new_filing_suggested": data_changed or terms_changed,
    }
