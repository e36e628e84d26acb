"""The incident report: a document a regulator can check against the audit ledger.

``report.json`` holds the incident, its clocks and their state, the timeline, and each
evidence record with its inclusion proof against one signed tree head; the public keys
sit in ``keys/``, so ``hegui audit``'s checks (or any RFC 9162 verifier) confirm that
every record is in the ledger and unchanged. ``report.md`` says the same for people.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hegui.audit import Ledger
from hegui.incidents._model import Incident


def _evidence(incident: Incident, ledger: Ledger) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    head = ledger.head()
    items = []
    for index in incident.evidence:
        stored = ledger.read(index)
        proof = ledger.prove_inclusion(index, head.tree_size)
        record = None if stored.record is None else stored.record.model_dump(mode="json")
        items.append(
            {
                "index": index,
                "record": record,
                "purged": stored.purged,
                "proof": proof.to_json(),
                "proof_valid": proof.verify(head.root_hash),
            }
        )
    return head.to_json(), items


def build_report(
    incident: Incident, ledger: Ledger | None, now: datetime | None = None
) -> dict[str, Any]:
    """The report as JSON-ready data (evidence and proofs only when a ledger is given)."""
    moment = now or datetime.now(UTC)
    clocks = [
        {**d.model_dump(mode="json"), "state": d.state(incident.reported_at, moment)}
        for d in incident.deadlines
    ]
    report: dict[str, Any] = {
        "generated_at": moment.isoformat(),
        "incident": incident.model_dump(mode="json", exclude={"deadlines", "events"}),
        "clocks": clocks,
        "timeline": [e.model_dump(mode="json") for e in incident.events],
        "tree_head": None,
        "evidence": [],
    }
    if ledger is not None:
        report["tree_head"], report["evidence"] = _evidence(incident, ledger)
    return report


def _markdown(report: dict[str, Any]) -> str:
    inc = report["incident"]
    lines = [
        f"# Incident {inc['id']}: {inc['title']}",
        "",
        f"- Status: {inc['status']}; severity {inc['severity']}; opened by {inc['source']}",
        f"- Opened: {inc['opened_at']}; reported: {inc['reported_at'] or 'not yet'}",
        f"- Policy: {inc['policy_id']}; report generated {report['generated_at']}",
        "",
        "## Reporting clocks",
        "",
        "| clock | hours | due | state | scope |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {c['clock']} | {c['hours']:g} | {c['due']} | {c['state']} | {c['scope']} |"
        for c in report["clocks"]
    ]
    lines += ["", "## Timeline", "", "| time | actor | action | note | ledger index |"]
    lines.append("|---|---|---|---|---|")
    lines += [
        f"| {e['at']} | {e['actor']} | {e['action']} | {e['note']} | {e['ledger_index']} |"
        for e in report["timeline"]
    ]
    head = report["tree_head"]
    if head is None:
        lines += ["", "No audit ledger was configured: the timeline is not provable."]
    else:
        valid = sum(1 for item in report["evidence"] if item["proof_valid"])
        lines += [
            "",
            "## Evidence",
            "",
            f"Signed tree head: size {head['tree_size']}, root {head['root_hash']},"
            f" key {head['key_id']} ({head['scheme']}).",
            f"{valid} of {len(report['evidence'])} evidence records prove inclusion in it;"
            " the proofs are in report.json, the public keys in keys/.",
        ]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: Path, ledger: Ledger | None) -> list[Path]:
    """Write ``report.json``, ``report.md`` and the public keys into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md"]
    paths[0].write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    paths[1].write_text(_markdown(report), "utf-8")
    if ledger is not None:
        ledger.keyring.write_public(out / "keys")
        paths.append(out / "keys")
    return paths
