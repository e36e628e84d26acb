"""Signing keys for tree heads: Ed25519 (default) and SM2 with SM3, key ids and keyrings.

A key file is JSON: ``{"scheme", "key_id", "public", "private", "created"}`` (hex); the
public half alone is a ``.pub.json`` file without ``private``. The key id is the hex of
the first 16 bytes of SHA-256 over the raw public key (Ed25519: 32 bytes; SM2: the
uncompressed point ``04 || x || y``). Rotation adds a new key and marks it active;
old public keys stay in the keyring so old heads still verify.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Literal, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from gmssl import sm2

from hegui.audit._errors import AuditKeyError

Scheme = Literal["ed25519", "sm2-sm3"]
SCHEMES: tuple[Scheme, ...] = ("ed25519", "sm2-sm3")
ACTIVE_FILE = "active"

_SM2_N = int(sm2.default_ecc_table["n"], 16)


def _sm2(private: str, public: bytes) -> sm2.CryptSM2:
    """A gmssl SM2 context for an uncompressed public point (``04 || x || y``).

    gmssl strips a leading "04" from the public key with ``str.lstrip("04")``, which
    also eats every leading 0 and 4 hex digit that follows: a key whose x begins with
    byte 04 (one in 256) would sign and verify with a wrong point. The point is set
    after construction instead.
    """
    crypt = sm2.CryptSM2(private_key=private, public_key="")
    crypt.public_key = public[1:].hex()
    return crypt


def key_id_of(public: bytes) -> str:
    """Return the key id: hex of the first 16 bytes of SHA-256 over the raw public key."""
    return hashlib.sha256(public).hexdigest()[:32]


@dataclass(frozen=True)
class PublicKey:
    """A public key that checks tree-head signatures."""

    scheme: Scheme
    public: bytes
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_id", key_id_of(self.public))

    @cached_property
    def _ed25519(self) -> Ed25519PublicKey:
        """The loaded public key, built once (verify checks one head per commit)."""
        return Ed25519PublicKey.from_public_bytes(self.public)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Return whether ``signature`` is this key's signature over ``message``."""
        if self.scheme == "ed25519":
            try:
                self._ed25519.verify(signature, message)
            except (InvalidSignature, ValueError):
                return False
            return True
        crypt = _sm2(private="", public=self.public)
        try:
            return bool(crypt.verify_with_sm3(signature.hex(), message))
        except (ValueError, TypeError):
            return False

    def to_json(self) -> dict[str, str]:
        """Return the ``.pub.json`` form."""
        return {"scheme": self.scheme, "key_id": self.key_id, "public": self.public.hex()}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> PublicKey:
        """Parse the ``.pub.json`` form, checking the key id matches the key."""
        scheme = data.get("scheme")
        if scheme not in SCHEMES:
            raise AuditKeyError(f"unknown signature scheme {scheme!r}; known: {', '.join(SCHEMES)}")
        key = cls(scheme, bytes.fromhex(data["public"]))
        if data.get("key_id", key.key_id) != key.key_id:
            raise AuditKeyError(f"key id {data['key_id']} does not match its public key")
        return key


@dataclass(frozen=True)
class SigningKey:
    """A private key that signs tree heads."""

    scheme: Scheme
    private: bytes
    public_key: PublicKey

    @property
    def key_id(self) -> str:
        """Id of the public half."""
        return self.public_key.key_id

    @classmethod
    def generate(cls, scheme: Scheme = "ed25519") -> SigningKey:
        """Make a new random key."""
        if scheme == "ed25519":
            private = Ed25519PrivateKey.generate()
            raw = private.private_bytes_raw()
            public = private.public_key().public_bytes_raw()
            return cls(scheme, raw, PublicKey(scheme, public))
        if scheme == "sm2-sm3":
            d = secrets.randbelow(_SM2_N - 2) + 1
            return cls.from_private(scheme, d.to_bytes(32, "big"))
        raise AuditKeyError(f"unknown signature scheme {scheme!r}; known: {', '.join(SCHEMES)}")

    @classmethod
    def from_private(cls, scheme: Scheme, private: bytes) -> SigningKey:
        """Rebuild a key (and its public half) from the raw private key."""
        if scheme == "ed25519":
            public = Ed25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()
            return cls(scheme, private, PublicKey(scheme, public))
        crypt = sm2.CryptSM2(private_key=private.hex(), public_key="")
        point = crypt._kg(int.from_bytes(private, "big"), sm2.default_ecc_table["g"])
        return cls(scheme, private, PublicKey(scheme, b"\x04" + bytes.fromhex(point)))

    @cached_property
    def _ed25519(self) -> Ed25519PrivateKey:
        """The loaded private key, built once (loading costs as much as a signature)."""
        return Ed25519PrivateKey.from_private_bytes(self.private)

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (SM2 signs the SM3 digest with the default user id)."""
        if self.scheme == "ed25519":
            return self._ed25519.sign(message)
        crypt = _sm2(private=self.private.hex(), public=self.public_key.public)
        nonce = f"{secrets.randbelow(_SM2_N - 1) + 1:064x}"
        return bytes.fromhex(crypt.sign_with_sm3(message, nonce))

    def to_json(self) -> dict[str, str]:
        """Return the private key file form."""
        created = datetime.now(UTC).isoformat()
        return {**self.public_key.to_json(), "private": self.private.hex(), "created": created}


def write_key(key: SigningKey, directory: Path, *, activate: bool = True) -> Path:
    """Write ``<key_id>.json`` (mode 0600) and ``<key_id>.pub.json``; mark it active."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / f"{key.key_id}.json"
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(key.to_json(), handle, indent=2)
    public_path = directory / f"{key.key_id}.pub.json"
    public_path.write_text(json.dumps(key.public_key.to_json(), indent=2), encoding="utf-8")
    if activate:
        (directory / ACTIVE_FILE).write_text(key.key_id + "\n", encoding="utf-8")
    return private_path


def read_key_json(path: Path) -> dict[str, str]:
    """The JSON object of a key file, or ``AuditKeyError`` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AuditKeyError(f"{path}: cannot read key file: {exc}") from exc
    if not isinstance(data, dict):
        raise AuditKeyError(f"{path}: a key file holds a JSON object")
    return cast(dict[str, str], data)


class Keyring:
    """Public keys by id, and optionally the active signing key."""

    def __init__(self, keys: dict[str, PublicKey], signer: SigningKey | None = None) -> None:
        self.keys = dict(keys)
        self.signer = signer
        if signer is not None:
            self.keys[signer.key_id] = signer.public_key

    def get(self, key_id: str) -> PublicKey | None:
        """Return the public key with this id, if known."""
        return self.keys.get(key_id)

    @classmethod
    def load(cls, directory: Path, *, need_signer: bool = True) -> Keyring:
        """Load every ``*.pub.json`` and the active private key of ``directory``."""
        keys: dict[str, PublicKey] = {}
        for path in sorted(directory.glob("*.pub.json")):
            try:
                key = PublicKey.from_json(read_key_json(path))
            except (KeyError, ValueError) as exc:
                raise AuditKeyError(f"{path}: not a public key file: {exc}") from exc
            keys[key.key_id] = key
        signer = None
        active = directory / ACTIVE_FILE
        if active.is_file():
            key_id = active.read_text(encoding="utf-8").strip()
            data = read_key_json(directory / f"{key_id}.json")
            scheme = data.get("scheme")
            if scheme not in SCHEMES:
                raise AuditKeyError(f"{directory / key_id}.json: unknown scheme {scheme!r}")
            signer = SigningKey.from_private(scheme, bytes.fromhex(data["private"]))
            if signer.key_id != key_id:
                raise AuditKeyError(f"{directory / key_id}.json: private key does not match its id")
        elif need_signer:
            raise AuditKeyError(
                f"no active signing key in {directory}; run `hegui audit keygen --out {directory}`"
            )
        return cls(keys, signer)

    def write_public(self, directory: Path) -> None:
        """Write every public key as ``<key_id>.pub.json`` (for exports)."""
        directory.mkdir(parents=True, exist_ok=True)
        for key in self.keys.values():
            path = directory / f"{key.key_id}.pub.json"
            path.write_text(json.dumps(key.to_json(), indent=2), encoding="utf-8")
