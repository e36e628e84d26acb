"""Checks that span several fields, run after each section validated on its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hegui.policy._base import PerRiskMinimums
from hegui.policy._spec import PackSpec

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

PATH_OPTIONS = ("files", "allowlist", "mapping", "model")
"""Detector option keys whose values are file paths relative to the declaring pack."""

RISK_OPTIONS = ("risk", "risks")
"""Detector option keys whose values name risks of the taxonomy."""


def check_pack(spec: PackSpec) -> list[Problem]:
    """Return every cross-field problem of a validated pack, in document order."""
    return [
        *_check_taxonomy(spec),
        *_check_minimums(spec),
        *_check_detectors(spec),
    ]


def _check_taxonomy(spec: PackSpec) -> Iterator[Problem]:
    first_index: dict[str, int] = {}
    for index, risk in enumerate(spec.taxonomy):
        if risk.id in first_index:
            where = f"taxonomy[{first_index[risk.id]}]"
            yield ("taxonomy", index, "id"), f"duplicate risk id {risk.id!r} (first at {where})"
        else:
            first_index[risk.id] = index
    parents = {risk.id: risk.parent for risk in spec.taxonomy}
    for index, risk in enumerate(spec.taxonomy):
        if risk.parent is None:
            continue
        if risk.parent not in parents:
            yield ("taxonomy", index, "parent"), f"parent {risk.parent!r} is not a risk id"
        elif _in_cycle(risk.id, parents):
            yield ("taxonomy", index, "parent"), f"risk {risk.id!r} is its own ancestor"


def _in_cycle(risk_id: str, parents: dict[str, str | None]) -> bool:
    seen = {risk_id}
    current = parents.get(risk_id)
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def _check_minimums(spec: PackSpec) -> Iterator[Problem]:
    tables: list[tuple[Loc, PerRiskMinimums]] = []
    if spec.lexicon is not None:
        tables.append((("lexicon",), spec.lexicon))
    if spec.banks is not None:
        tables.append((("banks", "generation"), spec.banks.generation))
        tables.append((("banks", "should_refuse"), spec.banks.should_refuse))
    ids = {risk.id for risk in spec.taxonomy}
    groups = {risk.parent for risk in spec.taxonomy if risk.parent is not None}
    for loc, table in tables:
        for group in table.per_risk_by_group:
            if group not in ids:
                yield (*loc, "per_risk_by_group", group), f"{group!r} is not a risk id"
            elif group not in groups:
                yield (*loc, "per_risk_by_group", group), f"{group!r} has no child risks"
        for risk_id in table.per_risk:
            if risk_id not in ids:
                yield (*loc, "per_risk", risk_id), f"{risk_id!r} is not a risk id"
    if spec.banks is not None and spec.banks.generation.cover_all_risks:
        yield from _check_coverage(spec, spec.banks.generation)


def _check_coverage(spec: PackSpec, bank: PerRiskMinimums) -> Iterator[Problem]:
    parents = {risk.id: risk.parent for risk in spec.taxonomy}
    groups = set(filter(None, parents.values()))
    uncovered = [
        risk.id
        for risk in spec.taxonomy
        if risk.id not in groups and bank.minimum_for(risk.id, ancestors(risk.id, parents)) <= 0
    ]
    if uncovered:
        reason = f"cover_all_risks is set but these risks have no minimum: {', '.join(uncovered)}"
        yield ("banks", "generation", "cover_all_risks"), reason


def ancestors(risk_id: str, parents: dict[str, str | None]) -> list[str]:
    """Return the groups above ``risk_id``, nearest first (stops safely on a cycle)."""
    chain: list[str] = []
    current = parents.get(risk_id)
    while current is not None and current not in chain and current != risk_id:
        chain.append(current)
        current = parents.get(current)
    return chain


def _check_detectors(spec: PackSpec) -> Iterator[Problem]:
    ids = {risk.id for risk in spec.taxonomy}
    for name, detector in spec.detectors.items():
        base: Loc = ("detectors", name, "options")
        for key in PATH_OPTIONS:
            if key in detector.options and not _is_str_or_str_list(detector.options[key]):
                yield (*base, key), "must be a path or a list of paths"
        for key in RISK_OPTIONS:
            if key not in detector.options:
                continue
            value = detector.options[key]
            if not _is_str_or_str_list(value):
                yield (*base, key), "must be a risk id or a list of risk ids"
                continue
            names = [value] if isinstance(value, str) else value
            for index, risk_id in enumerate(names):
                if risk_id not in ids:
                    loc: Loc = (*base, key) if isinstance(value, str) else (*base, key, index)
                    yield loc, f"{risk_id!r} is not a risk id of this pack"


def _is_str_or_str_list(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)
