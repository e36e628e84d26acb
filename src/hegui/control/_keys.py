"""API keys and principals: who may call the gateway, verified or not, suspended or not.

A key is ``hg-<key id>-<secret>``, shown once at creation; only its SHA-256 is stored.
The secret part is 32 random bytes, so a plain hash (not a slow password hash) is the
right tool: there is nothing to guess. A principal (a person or a system, named by the
operator) may hold several keys; verification and suspension belong to the principal.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hegui.audit._types import from_us, to_us
from hegui.control._db import ControlDB, ControlError

KEY_PREFIX = "hg-"


def hash_key(secret: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One API key as stored (never the secret)."""

    key_id: str
    principal: str
    tenant: str
    created: datetime
    revoked: datetime | None


@dataclass(frozen=True, slots=True)
class PrincipalInfo:
    """A principal's verification and suspension."""

    principal: str
    verified: bool
    suspended_since: datetime | None = None
    suspended_until: datetime | None = None
    suspended_reason: str | None = None

    def suspended_at(self, now: datetime) -> bool:
        """Whether the principal is suspended at ``now``."""
        if self.suspended_since is None:
            return False
        return self.suspended_until is None or now < self.suspended_until


class KeyStore:
    """Create, list and revoke keys; verify, suspend and lift principals."""

    def __init__(self, db: ControlDB) -> None:
        self.db = db

    def create(
        self, principal: str, tenant: str = "default", *, verified: bool = False
    ) -> tuple[KeyInfo, str]:
        """A new key for ``principal``; returns its info and the secret (shown once)."""
        if not principal.strip():
            raise ControlError("principal must not be empty")
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}{key_id}-{secrets.token_urlsafe(32)}"
        now = datetime.now(UTC)
        with self.db.change(f"key {key_id} created"):
            self.db.execute(
                "INSERT INTO hegui_keys (key_id, key_hash, principal, tenant, verified,"
                " created_us, revoked_us) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (key_id, hash_key(secret), principal, tenant, int(verified), to_us(now)),
            )
            self._ensure_principal(principal, verified)
        return KeyInfo(key_id, principal, tenant, now, None), secret

    def _ensure_principal(self, principal: str, verified: bool) -> None:
        self.db.execute(
            "INSERT INTO hegui_principals (principal, verified) VALUES (?, ?)"
            " ON CONFLICT (principal) DO NOTHING",
            (principal, int(verified)),
        )
        if verified:
            self.db.execute(
                "UPDATE hegui_principals SET verified = 1 WHERE principal = ?", (principal,)
            )

    def all_keys(self) -> list[KeyInfo]:
        """Every key, oldest first."""
        rows = self.db.rows(
            "SELECT key_id, principal, tenant, created_us, revoked_us FROM hegui_keys"
            " ORDER BY created_us, key_id"
        )
        return [
            KeyInfo(k, p, t, from_us(c), None if r is None else from_us(r))
            for k, p, t, c, r in rows
        ]

    def key_hashes(self) -> dict[str, tuple[str, str, str]]:
        """Live keys: hash -> (key id, principal, tenant)."""
        rows = self.db.rows(
            "SELECT key_hash, key_id, principal, tenant FROM hegui_keys WHERE revoked_us IS NULL"
        )
        return {h: (k, p, t) for h, k, p, t in rows}

    def revoke(self, key_id: str) -> None:
        """Revoke a key at once on every replica; unknown or revoked keys are errors."""
        with self.db.change(f"key {key_id} revoked"):
            touched = self.db.execute(
                "UPDATE hegui_keys SET revoked_us = ? WHERE key_id = ? AND revoked_us IS NULL",
                (to_us(datetime.now(UTC)), key_id),
            )
            if touched != 1:
                raise ControlError(f"no live key with id {key_id!r}")

    def principals(self) -> dict[str, PrincipalInfo]:
        """Every principal by name."""
        rows = self.db.rows(
            "SELECT principal, verified, suspended_us, suspended_until_us, suspended_reason"
            " FROM hegui_principals"
        )
        return {
            p: PrincipalInfo(
                p,
                bool(v),
                None if s is None else from_us(s),
                None if u is None else from_us(u),
                r,
            )
            for p, v, s, u, r in rows
        }

    def set_verified(self, principal: str, verified: bool) -> None:
        """Record that the principal's real-name or KYC check is done (or undone)."""
        with self.db.change(f"principal {principal} verified={verified}"):
            self._ensure_principal(principal, False)
            self.db.execute(
                "UPDATE hegui_principals SET verified = ? WHERE principal = ?",
                (int(verified), principal),
            )

    def suspend(self, principal: str, reason: str, hours: float | None) -> PrincipalInfo:
        """Suspend a principal (for ``hours``, or until lifted when ``None``)."""
        now = datetime.now(UTC)
        until = None if hours is None else now + timedelta(hours=hours)
        with self.db.change(f"principal {principal} suspended"):
            self._ensure_principal(principal, False)
            self.db.execute(
                "UPDATE hegui_principals SET suspended_us = ?, suspended_until_us = ?,"
                " suspended_reason = ? WHERE principal = ?",
                (to_us(now), None if until is None else to_us(until), reason, principal),
            )
        return self.principals()[principal]

    def lift(self, principal: str) -> None:
        """End a suspension."""
        with self.db.change(f"principal {principal} lifted"):
            touched = self.db.execute(
                "UPDATE hegui_principals SET suspended_us = NULL, suspended_until_us = NULL,"
                " suspended_reason = NULL WHERE principal = ? AND suspended_us IS NOT NULL",
                (principal,),
            )
            if touched != 1:
                raise ControlError(f"principal {principal!r} is not suspended")
