"""Value objects of the ledger: receipts, signed tree heads, proofs, verification reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hegui.audit._keys import Keyring, Scheme
from hegui.audit._merkle import verify_consistency, verify_inclusion
from hegui.audit._records import canonical_json

STH_VERSION = "hegui-sth/1"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Return microseconds since the Unix epoch of an aware datetime (exact, no float)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_us(micros: int) -> datetime:
    """Return the aware UTC datetime of microseconds since the epoch."""
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of acceptance: returned only after the record's transaction committed."""

    index: int
    """Position of the record in the tree (0-based)."""
    leaf_hash: bytes
    """``SHA-256(0x00 || leaf data)``."""
    timestamp: datetime
    """When the record's batch committed (UTC)."""

    def to_json(self) -> dict[str, Any]:
        """Return JSON-ready data (what run summaries note of their ledger record)."""
        return {
            "index": self.index,
            "leaf_hash": self.leaf_hash.hex(),
            "time": self.timestamp.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A signed statement: the tree of ``tree_size`` leaves has root ``root_hash``."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: str
    scheme: Scheme
    signature: bytes = b""

    def message(self) -> bytes:
        """Return the signed bytes: canonical JSON of every field but the signature."""
        return canonical_json(
            {
                "key_id": self.key_id,
                "root_hash": self.root_hash.hex(),
                "scheme": self.scheme,
                "timestamp_us": to_us(self.timestamp),
                "tree_size": self.tree_size,
                "version": STH_VERSION,
            }
        )

    def verify_signature(self, keyring: Keyring) -> bool:
        """Return whether a key of ``keyring`` with this head's id signed it."""
        key = keyring.get(self.key_id)
        if key is None or key.scheme != self.scheme:
            return False
        return key.verify(self.signature, self.message())

    def to_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "version": STH_VERSION,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp_us": to_us(self.timestamp),
            "timestamp": self.timestamp.isoformat(),
            "key_id": self.key_id,
            "scheme": self.scheme,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedTreeHead:
        """Parse ``to_json`` output."""
        return cls(
            tree_size=int(data["tree_size"]),
            root_hash=bytes.fromhex(data["root_hash"]),
            timestamp=from_us(int(data["timestamp_us"])),
            key_id=str(data["key_id"]),
            scheme=data["scheme"],
            signature=bytes.fromhex(data["signature"]),
        )


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Audit path showing leaf ``index`` is in the tree of ``tree_size`` leaves."""

    index: int
    tree_size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]

    def verify(self, root_hash: bytes) -> bool:
        """Check the proof against a root (RFC 9162 section 2.1.3.2)."""
        return verify_inclusion(self.leaf_hash, self.index, self.tree_size, self.path, root_hash)

    def to_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "path": [node.hex() for node in self.path],
        }


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Proof that the tree of ``old_size`` is a prefix of the tree of ``new_size``."""

    old_size: int
    new_size: int
    path: tuple[bytes, ...]

    def verify(self, old_root: bytes, new_root: bytes) -> bool:
        """Check the proof against both roots (RFC 9162 section 2.1.4.2)."""
        return verify_consistency(self.old_size, self.new_size, old_root, new_root, self.path)


@dataclass(frozen=True, slots=True)
class LeafRow:
    """One stored leaf: its hash, its data (``None`` once purged) and query columns."""

    index: int
    leaf_hash: bytes
    data: bytes | None
    kind: str
    time_us: int
    request_id: str | None = None


NewLeaf = tuple[int, bytes, bytes, str, int, str | None]
"""A leaf being written, as the driver takes it: ``LeafRow``'s fields in order, a tuple."""


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of ``Ledger.verify``: ``ok``, or the first bad index and why."""

    ok: bool
    tree_size: int
    heads_checked: int
    purged: int
    first_bad_index: int | None = None
    reason: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LedgerStats:
    """Counts of a ledger."""

    tree_size: int
    purged: int
    held: int
    heads: int
    oldest: datetime | None
    newest: datetime | None
