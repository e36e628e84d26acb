"""The gateway's live view of the control plane: keys, principals, the kill switch.

Every request is checked against an in-memory copy (dictionary lookups, no database
round trip). A watcher keeps the copy current: it polls the control database's
generation counter and, on PostgreSQL, also LISTENs on ``hegui_control`` so a change
made through any replica or the CLI lands within a fraction of a second. When the kill
switch engages, every stream in flight is cut at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio

from hegui.audit import Ledger
from hegui.control import CHANNEL, AbuseTracker, ControlDB, KeyStore, PrincipalInfo, hash_key
from hegui.gateway._errors import GatewayError, unavailable
from hegui.incidents import IncidentSource, IncidentStatus, IncidentStore, SwitchState, read_switch
from hegui.policy import Policy, Severity

log = logging.getLogger("hegui.gateway")
SUSPENDED = "the service is suspended by its operator (kill switch)"
_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


class LiveStream:
    """A stream in flight that the kill switch can cut."""

    def __init__(self, queue: asyncio.Queue[Any], wake: object) -> None:
        self.queue, self.wake = queue, wake
        self.killed = False
        self.task: asyncio.Task[None] | None = None

    def cut(self) -> None:
        """Stop the upstream reader and wake the relay."""
        self.killed = True
        if self.task is not None:
            self.task.cancel()
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(self.wake)


def forbidden(message: str, code: str) -> GatewayError:
    """403 for a principal that may not be served."""
    return GatewayError(403, message, "permission_error", code)


class ControlView:
    """Keys, principals and the kill switch as this replica sees them."""

    def __init__(
        self,
        db: ControlDB,
        policy: Policy,
        ledger: Ledger | None,
        abuse: AbuseTracker | None,
        *,
        poll_seconds: float = 0.25,
        clocks: list[str] | None = None,
    ) -> None:
        self.db, self.policy, self.abuse = db, policy, abuse
        self.keystore = KeyStore(db)
        self.incidents = IncidentStore(db, policy, ledger)
        self.poll_seconds, self.clocks = poll_seconds, clocks
        self.keys: dict[str, tuple[str, str, str]] = {}
        self.principals: dict[str, PrincipalInfo] = {}
        self.switch = SwitchState(False)
        self.generation = -1
        self.live: set[LiveStream] = set()
        self._blocks: deque[float] = deque()
        self._auto_incident: str | None = None
        self.on_change: list[Callable[[ControlView], None]] = []
        self.reload()

    # -- keeping current ------------------------------------------------------------------

    def reload(self) -> bool:
        """Reread the tables if the generation moved; return whether anything changed."""
        generation = self.db.generation()
        if generation == self.generation:
            return False
        self.keys = self.keystore.key_hashes()
        self.principals = self.keystore.principals()
        self.switch = read_switch(self.db)
        self.generation = generation
        return True

    def _after_reload(self) -> None:
        if self.switch.engaged:
            for stream in list(self.live):
                stream.cut()
        for callback in self.on_change:
            callback(self)

    async def refresh(self) -> None:
        """Reload in a worker thread and act on a newly engaged kill switch."""
        if await anyio.to_thread.run_sync(self.reload):
            self._after_reload()

    async def watch(self) -> None:
        """Run until cancelled: LISTEN on PostgreSQL, poll the generation everywhere."""
        listener = await self._listen() if self.db.is_postgres else None
        try:
            while True:
                if listener is not None:
                    async for _ in listener.notifies(timeout=self.poll_seconds, stop_after=1):
                        pass
                else:
                    await asyncio.sleep(self.poll_seconds)
                try:
                    await self.refresh()
                except Exception:  # keep the last view; the next poll retries
                    log.exception("control view refresh failed")
        finally:
            if listener is not None:
                await listener.close()

    async def _listen(self) -> Any:
        import psycopg

        try:
            conn = await psycopg.AsyncConnection.connect(self.db.url, autocommit=True)
            await conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error:
            log.warning("LISTEN on the control channel failed; polling only")
            return None
        return conn

    # -- per request ----------------------------------------------------------------------

    def authenticate(self, bearer: str | None) -> str:
        """The principal holding this API key (401 when missing, unknown or revoked)."""
        if not bearer:
            raise GatewayError(
                401,
                "an API key is required (Authorization: Bearer ...)",
                "authentication_error",
                "missing_api_key",
            )
        found = self.keys.get(hash_key(bearer))
        if found is None:
            raise GatewayError(
                401, "the API key is unknown or revoked", "authentication_error", "invalid_api_key"
            )
        return found[1]

    def admit(self, principal: str, *, require_verified: bool) -> None:
        """Refuse when the service is switched off or the principal may not be served."""
        if self.switch.engaged:
            raise unavailable(SUSPENDED, "kill_switch")
        info = self.principals.get(principal)
        if info is not None and info.suspended_at(datetime.now(UTC)):
            raise forbidden(
                "this principal is suspended after repeated violating requests",
                "principal_suspended",
            )
        if require_verified and (info is None or not info.verified):
            raise forbidden(
                "this principal has not completed real-name verification", "principal_not_verified"
            )

    async def observe(self, principal: str, violating: bool) -> PrincipalInfo | None:
        """Count a prompt for the abuse throttle; suspend and return the principal if due."""
        if self.abuse is None or principal == "anonymous":
            return None
        reason = await self.abuse.observe(principal, violating)
        if reason is None:
            return None
        rules = self.abuse.rules
        info = await anyio.to_thread.run_sync(
            self.keystore.suspend, principal, reason, rules.suspension_hours
        )
        await self.refresh()
        return info

    async def output_blocked(self, severities: list[Severity]) -> str | None:
        """Count a blocked answer; open an incident when the pack's auto rule is met."""
        rule = None if self.policy.incidents is None else self.policy.incidents.auto_open
        if rule is None or not any(
            _SEVERITY_RANK[s] >= _SEVERITY_RANK[rule.severity] for s in severities
        ):
            return None
        now = time.monotonic()
        self._blocks.append(now)
        while self._blocks and self._blocks[0] <= now - rule.window_minutes * 60:
            self._blocks.popleft()
        if len(self._blocks) < rule.blocks or await self._auto_incident_open():
            return None
        incident = await anyio.to_thread.run_sync(self._open_auto, len(self._blocks), rule)
        self._blocks.clear()
        return incident

    async def _auto_incident_open(self) -> bool:
        if self._auto_incident is None:
            return False
        incident = await anyio.to_thread.run_sync(self.incidents.get, self._auto_incident)
        return incident.status is not IncidentStatus.CLOSED

    def _open_auto(self, count: int, rule: Any) -> str:
        incident = self.incidents.open(
            f"{count} blocked answers with {rule.severity.value}-severity findings"
            f" within {rule.window_minutes} min",
            IncidentSource.AUTO_BLOCKS,
            actor="gateway",
            clocks=self.clocks,
        )
        self._auto_incident = incident.id
        return incident.id


def admin_allowed(header: str, admin_key: str | None) -> bool:
    """Whether the ``Authorization`` header carries the admin key (constant time)."""
    if not admin_key or not header.lower().startswith("bearer "):
        return False
    given = hashlib.sha256(header[7:].strip().encode()).digest()
    return hmac.compare_digest(given, hashlib.sha256(admin_key.encode()).digest())
