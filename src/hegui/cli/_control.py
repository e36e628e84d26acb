"""What the keys, kill-switch and incident commands share: opening the control plane."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.markup import escape

from hegui.audit import AuditError, Ledger, open_ledger
from hegui.cli._common import err_console, fail
from hegui.control import ControlDB, ControlError


@contextmanager
def control_db(db: str | None, data_dir: Path | None) -> Iterator[ControlDB]:
    """The control database beside the ledger, or exit 2 saying why."""
    try:
        handle = ControlDB.open(db, data_dir)
    except ControlError as exc:
        fail(escape(str(exc)))
    try:
        yield handle
    except ControlError as exc:
        fail(escape(str(exc)))
    finally:
        handle.close()


@contextmanager
def evidence_ledger(db: str | None, data_dir: Path | None) -> Iterator[Ledger | None]:
    """The audit ledger for evidence records; ``None`` (with a warning) when it cannot open.

    An operator stopping the service must not be stopped by a missing signing key: the
    change is made either way, and the warning says it is not in the ledger.
    """
    try:
        ledger = open_ledger(db, data_dir, need_signer=True)
    except AuditError as exc:
        err_console.print(
            f"[yellow]warning:[/] not recorded in the audit ledger: {escape(str(exc))}"
        )
        yield None
        return
    with ledger:
        yield ledger
