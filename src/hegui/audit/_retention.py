"""Retention: drop old content, keep leaf hashes (proofs still work), honour legal holds."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime

from hegui.audit._errors import RetentionError
from hegui.audit._ledger import Ledger
from hegui.audit._types import to_us
from hegui.policy import Policy


@dataclass(frozen=True)
class PurgePlan:
    """What a purge removes (or removed): records older than ``cutoff`` not on hold."""

    months: int
    cutoff: datetime
    indices: list[int]
    held: int
    purged: int = 0
    dry_run: bool = True


def months_before(moment: datetime, months: int) -> datetime:
    """Return the same wall time ``months`` calendar months earlier (day clamped)."""
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def retention_months(policy: Policy, months: int | None = None) -> int:
    """Return the retention to apply; refuse one shorter than the pack's minimum."""
    rule = policy.retention
    if rule is None:
        raise RetentionError(f"pack {policy.id} sets no log retention; pass a pack that does")
    if months is None:
        return rule.default_months
    if months < rule.min_months:
        raise RetentionError(
            f"retention of {months} months is shorter than pack {policy.id}'s minimum of "
            f"{rule.min_months} months ({rule.basis}); records must be kept at least that long"
        )
    return months


def purge(
    ledger: Ledger,
    policy: Policy,
    *,
    months: int | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PurgePlan:
    """Drop the data of records older than the retention, keeping hashes and holds."""
    keep = retention_months(policy, months)
    cutoff = months_before(now or datetime.now(UTC), keep)
    indices = ledger.store.purgeable(to_us(cutoff))
    held = len(ledger.store.holds())
    if dry_run:
        return PurgePlan(keep, cutoff, indices, held)
    done = ledger.store.purge(indices, to_us(datetime.now(UTC)))
    return PurgePlan(keep, cutoff, indices, held, purged=done, dry_run=False)


def hold(ledger: Ledger, indices: list[int], reason: str) -> None:
    """Put records under legal hold so no purge touches them."""
    size = ledger.head().tree_size
    bad = [i for i in indices if not 0 <= i < size]
    if bad:
        raise RetentionError(f"no such records: {', '.join(map(str, bad))} (ledger has {size})")
    ledger.store.hold(indices, reason, to_us(datetime.now(UTC)))
