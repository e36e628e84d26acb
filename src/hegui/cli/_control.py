"""What the keys, kill-switch and incident commands share: opening the control plane."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from hegui.audit import AuditError, Ledger, open_ledger
from hegui.cli._common import err_console, fail, policy_or_exit
from hegui.control import ControlDB, ControlError
from hegui.incidents import IncidentStore

PolicyOption = Annotated[str, typer.Option("--policy", help="Policy pack (incident clocks).")]
ClockOption = Annotated[
    list[str] | None,
    typer.Option("--clock", help="Clock id that applies (repeat); default all."),
]


@contextmanager
def control_db(db: str | None, data_dir: Path | None) -> Iterator[ControlDB]:
    """The control database beside the ledger, or exit 2 saying why.

    A ``ControlError`` raised inside (an ``IncidentError`` too) also exits 2 with its
    message.
    """
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


@contextmanager
def incident_store(
    policy: str, db: str | None, data_dir: Path | None, *, record: bool = True
) -> Iterator[IncidentStore]:
    """Incidents of the policy's pack, recording each step in the ledger when ``record``."""
    pack = policy_or_exit(policy)
    ledger_cm = evidence_ledger(db, data_dir) if record else nullcontext(None)
    with control_db(db, data_dir) as handle, ledger_cm as ledger:
        yield IncidentStore(handle, pack, ledger)
