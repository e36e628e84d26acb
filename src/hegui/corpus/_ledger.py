"""Record a finished corpus run in the audit ledger."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

EVIDENCE = ("summary.json", "spec.json", "inputs.json", "duplicates.parquet")


def record_run(run_dir: Path, db: str | None = None, data_dir: Path | None = None) -> str:
    """Append the run's verdict, checks and evidence digests to the ledger.

    The record (kind ``assessment``, content ``front_door: corpus``) holds the verdict,
    every check and the SHA-256 of summary.json, spec.json, inputs.json and
    duplicates.parquet; the receipt is noted in summary.json. Returns a one-line
    description of the receipt.
    """
    from hegui.audit import AuditRecord, RecordKind, append_once

    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    digests = {
        name: hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
        for name in EVIDENCE
        if (run_dir / name).exists()
    }
    content: Any = {
        "front_door": "corpus",
        "corpus": summary["corpus"]["name"],
        "version": summary["corpus"]["version"],
        "verdict": summary["verdict"],
        "documents": summary["totals"]["docs"],
        "fingerprint": summary["fingerprint"],
        "sha256": digests,
        "out_dir": str(run_dir),
    }
    record = AuditRecord(
        kind=RecordKind.ASSESSMENT,
        policy_id=summary["policy"]["id"],
        policy_version=summary["policy"]["version"],
        findings=[{k: c[k] for k in ("name", "value", "passed")} for c in summary["checks"]],
        content=content,
    )
    receipt = append_once(record, db, data_dir)
    summary["ledger"] = receipt.to_json()
    summary_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return f"ledger index {receipt.index}, leaf {receipt.leaf_hash.hex()[:16]}…"
