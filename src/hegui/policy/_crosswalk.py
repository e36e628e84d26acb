"""Crosswalks: which risks of one pack's taxonomy correspond to which of another's."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from pydantic import Field

from hegui.policy._base import Name, PolicyModel, RiskId

Loc = tuple[str | int, ...]


class Crosswalk(PolicyModel):
    """A directed mapping from the risks of ``source`` to the risks of ``target``."""

    source: Name
    """Id of the pack whose risk ids are the keys."""
    target: Name
    """Id of the pack whose risk ids are the values."""
    description: str = ""
    """How the mapping was made and how to read it."""
    mapping: dict[RiskId, list[RiskId]] = Field(min_length=1)
    """Source risk id -> corresponding target risk ids (empty list: no counterpart)."""


def check_crosswalk(
    crosswalk: Crosswalk, source_ids: Iterable[str], target_ids: Iterable[str]
) -> Iterator[tuple[Loc, str]]:
    """Yield a problem for every mapped id that its pack does not define."""
    sources, targets = set(source_ids), set(target_ids)
    for risk_id, mapped in crosswalk.mapping.items():
        if risk_id not in sources:
            yield ("mapping", risk_id), f"{risk_id!r} is not a risk of pack {crosswalk.source!r}"
        for index, target in enumerate(mapped):
            if target not in targets:
                reason = f"{target!r} is not a risk of pack {crosswalk.target!r}"
                yield ("mapping", risk_id, index), reason


def lookup(
    crosswalks: Sequence[Crosswalk], lineage: Sequence[str], risk_id: str
) -> dict[str, list[str]]:
    """Return other pack id -> risk ids corresponding to ``risk_id``.

    ``lineage`` is the pack's own id followed by the ids it extends, so a pack built on
    ``cn`` uses the ``cn`` crosswalks. Crosswalks are read in both directions.
    """
    found: dict[str, list[str]] = {}
    for crosswalk in crosswalks:
        if crosswalk.source in lineage and crosswalk.target not in lineage:
            other, ids = crosswalk.target, crosswalk.mapping.get(risk_id, [])
        elif crosswalk.target in lineage and crosswalk.source not in lineage:
            other = crosswalk.source
            ids = [source for source, mapped in crosswalk.mapping.items() if risk_id in mapped]
        else:
            continue
        bucket = found.setdefault(other, [])
        bucket.extend(item for item in ids if item not in bucket)
    return {other: ids for other, ids in found.items() if ids}
