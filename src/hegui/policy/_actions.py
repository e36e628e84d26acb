"""The words of the policy language that detectors act on: actions and severities."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """What the policy says to do with a finding."""

    BLOCK = "block"
    MASK = "mask"
    FLAG = "flag"


class Severity(StrEnum):
    """How serious a finding is; set per detector or per lexicon entry."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


_ACTION_RANK = {Action.FLAG: 0, Action.MASK: 1, Action.BLOCK: 2}


def strongest(actions: list[Action]) -> Action | None:
    """Return the most restrictive of several actions (block > mask > flag)."""
    return max(actions, key=_ACTION_RANK.__getitem__) if actions else None
