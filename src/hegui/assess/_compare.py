"""Side by side: the checks and verdicts of several assessment runs.

The usual pair is the bare model and the same model behind the gateway: the regulator's
figures for each, so the gateway's effect is one table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class CompareError(ValueError):
    """A run folder without a readable ``summary.json``."""


@dataclass(frozen=True)
class Run:
    """One run's summary, named by its folder and target."""

    folder: Path
    target: str
    verdict: str
    checks: dict[str, dict[str, Any]]
    answers: int = 0
    service: dict[str, int] | None = None


def load_run(folder: Path) -> Run:
    """Read ``summary.json`` of a run folder."""
    path = folder / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        checks = {c["name"]: c for c in data["checks"]}
        target, verdict = str(data.get("target", folder.name)), str(data["verdict"])
        return Run(folder, target, verdict, checks, int(data["answers"]), data.get("service"))
    except FileNotFoundError:
        raise CompareError(f"{path}: not found (is {folder} an assessment run folder?)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CompareError(f"{path}: not a readable assessment summary ({exc})") from None


def compare(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per check (in the first run's order, then any others), a cell per run."""
    names: list[str] = []
    for run in runs:
        names += [n for n in run.checks if n not in names]
    rows = []
    for name in names:
        cells = []
        for run in runs:
            check = run.checks.get(name)
            cells.append(
                None if check is None else {"value": check["value"], "passed": check["passed"]}
            )
        rows.append({"check": name, "runs": cells})
    for key, name in SERVICE_ROWS.items():  # what the service did, not checks: no verdict
        cells = [
            None
            if r.service is None
            else {"value": f"{r.service[key]}/{r.answers}", "passed": None}
            for r in runs
        ]
        rows.append({"check": name, "runs": cells})
    return rows


SERVICE_ROWS = {
    "content_filter": "prompts the service refused (content_filter)",
    "labelled": "answers carrying the implicit AIGC label (GB 45438)",
}
