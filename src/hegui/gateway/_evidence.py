"""Evidence: requests, answers and blocks appended to the audit ledger, or refused.

An append that fails raises ``GatewayError`` 503: the gateway never serves a request
it could not record (fail closed). Principals are keyed hashes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from anyio import CapacityLimiter

from hegui.audit import (
    PRINCIPAL_KEY_ENV,
    AuditError,
    AuditRecord,
    Ledger,
    RecordKind,
    hash_principal,
    load_secret_key,
    new_secret_key,
)
from hegui.detect import Finding
from hegui.gateway._errors import unavailable
from hegui.policy import Policy

log = logging.getLogger("hegui.gateway")
PRINCIPAL_KEY_FILE = "principal.key"


def principal_key(data_dir: Path | None) -> bytes:
    """The key that hashes principals: env, ``<data dir>/principal.key``, or a new file."""
    path = None if data_dir is None else data_dir / PRINCIPAL_KEY_FILE
    key = load_secret_key(path, PRINCIPAL_KEY_ENV)
    if key is not None:
        return key
    if path is None:
        raise AuditError(f"no principal key: set ${PRINCIPAL_KEY_ENV} or use a data dir")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="ascii") as handle:  # never overwrite an existing key
            handle.write(new_secret_key() + "\n")
        path.chmod(0o600)
    except FileExistsError:  # another replica made it first: use theirs
        pass
    key = load_secret_key(path, PRINCIPAL_KEY_ENV)
    assert key is not None
    return key


_PRINCIPAL_CACHE = 4096
"""Principals whose keyed hash is kept (an HMAC per record otherwise)."""


def _refused() -> Exception:
    return unavailable(
        "the audit ledger cannot record this request; refused (fail closed)",
        "audit_unavailable",
    )


def _settle(done: asyncio.Future[None], appended: asyncio.Future[Any]) -> None:
    """Pass the ledger's outcome on, as a 503 ``GatewayError`` when it failed."""
    if done.done():
        return
    if appended.cancelled():
        done.set_exception(_refused())
    elif (error := appended.exception()) is not None:
        log.error("the audit ledger failed to append a record: %s", error)
        done.set_exception(_refused())
    else:
        done.set_result(None)


class Recording:
    """A record on its way to the ledger; ``done`` resolves once it is durable (or 503)."""

    __slots__ = ("_ledger", "_record", "done")

    def __init__(
        self, done: asyncio.Future[None], ledger: Ledger | None, record: AuditRecord | None
    ) -> None:
        self.done = done
        self._ledger = ledger
        self._record = record

    def start(self, *, here: bool = False) -> None:
        """Write the record; later calls do nothing.

        ``here``: commit on this thread, blocking it for one commit, when the ledger's
        writer is idle. For a lone request that is the shortest way to a durable record:
        the hand-off to the writer thread waits for a free core and the GIL, which on a
        machine also running the upstream takes longer than the commit. Otherwise (or
        when ``here`` is false) the record is queued for the writer's next group commit.
        """
        ledger, record = self._ledger, self._record
        if ledger is None or record is None:
            return
        self._ledger = self._record = None
        try:
            if here and ledger.append_here(record) is not None:
                self.done.set_result(None)
                return
            appended = ledger.append_future(record)
        except Exception:  # any ledger failure refuses the request; the reason stays local
            log.exception("the audit ledger refused a record")
            self.done.set_exception(_refused())
            return
        appended.add_done_callback(functools.partial(_settle, self.done))


class Evidence:
    """Writes records to a ledger (awaiting its group commit); ``None`` writes nothing."""

    def __init__(
        self, ledger: Ledger | None, policy: Policy, key: bytes | None, limiter: CapacityLimiter
    ) -> None:
        self.ledger = ledger
        self.policy = policy
        self.key = key
        self.limiter = limiter
        self._principals: dict[str, str] = {}

    @property
    def enabled(self) -> bool:
        """Whether a ledger is configured."""
        return self.ledger is not None

    def principal(self, who: str) -> str | None:
        """The keyed hash of a principal (``None`` without a ledger)."""
        if self.key is None:
            return None
        hashed = self._principals.get(who)
        if hashed is None:
            if len(self._principals) >= _PRINCIPAL_CACHE:
                self._principals.clear()
            hashed = self._principals[who] = hash_principal(who, self.key)
        return hashed

    def prepare(
        self,
        kind: RecordKind,
        request_id: str,
        who: str,
        content: Any,
        findings: Sequence[Finding] = (),
    ) -> Recording:
        """One record, built now and written when ``Recording.start`` is called."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.ledger is None:
            done.set_result(None)
            return Recording(done, None, None)
        try:
            record = AuditRecord(
                kind=kind,
                request_id=request_id,
                principal=self.principal(who),
                policy_id=self.policy.id,
                policy_version=self.policy.version,
                findings=[f.to_dict() for f in findings],  # type: ignore[misc]
                content=content,
            )
        except Exception:  # a record the ledger cannot take refuses the request
            log.exception("the audit ledger refused a record")
            done.set_exception(_refused())
            return Recording(done, None, None)
        return Recording(done, self.ledger, record)

    async def record(
        self,
        kind: RecordKind,
        request_id: str,
        who: str,
        content: Any,
        findings: Sequence[Finding] = (),
    ) -> None:
        """Append one record and wait until it is durable; 503 if the ledger fails.

        Awaited on the loop: concurrent requests share one commit, no thread each.
        """
        recording = self.prepare(kind, request_id, who, content, findings)
        recording.start()
        await recording.done
