"""Records, keyed principals, sealed content, SM2 heads and key rotation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from hegui.audit import (
    AuditKeyError,
    AuditRecord,
    ContentCipher,
    Keyring,
    Ledger,
    SigningKey,
    hash_principal,
    load_secret_key,
    open_store,
    parse_leaf,
    plain_principal,
    write_key,
)


def test_time_is_stored_as_utc_and_naive_time_is_refused() -> None:
    east8 = timezone(timedelta(hours=8))
    record = AuditRecord(kind="request", time=datetime(2025, 3, 1, 8, 0, tzinfo=east8))
    assert record.to_json()["time"] == "2025-03-01T00:00:00.000000Z"
    with pytest.raises(ValidationError):
        AuditRecord(kind="request", time=datetime(2025, 3, 1))  # noqa: DTZ001
    with pytest.raises(ValidationError):
        AuditRecord(kind="nonsense")


def test_principals_are_keyed_hashes_unless_plain_is_asked() -> None:
    key = b"k" * 32
    hashed = hash_principal("alice@example.com", key)
    assert hashed.startswith("hmac-sha256:") and "alice" not in hashed
    assert hashed != hash_principal("alice@example.com", b"j" * 32)
    assert plain_principal("alice") == "plain:alice"
    with pytest.raises(ValidationError, match="raw identifier"):
        AuditRecord(kind="request", principal="alice")


def test_canonical_bytes_are_sorted_compact_utf8() -> None:
    record = AuditRecord(
        kind="block", time=datetime(2025, 1, 1, tzinfo=UTC), content="你好", findings=[]
    )
    assert record.canonical() == (
        '{"content":"你好","kind":"block","time":"2025-01-01T00:00:00.000000Z"}'.encode()
    )


def test_sealed_content_verifies_without_the_key(tmp_path: Path, keyring: Keyring) -> None:
    cipher = ContentCipher(b"c" * 32)
    secret = "身份证 110101199003071234"
    with Ledger(open_store(str(tmp_path / "a.db")), keyring, cipher=cipher) as ledger:
        receipt = ledger.append(AuditRecord(kind="request", content=secret))
        assert ledger.read(0).record is not None
        assert ledger.read(0).record.content == secret  # type: ignore[union-attr]
    raw = (tmp_path / "a.db").read_bytes()
    assert secret.encode() not in raw
    with Ledger(open_store(str(tmp_path / "a.db")), keyring) as keyless:
        assert keyless.verify().ok
        stored = keyless.read(0)
        assert stored.record is not None and stored.record.content is None
        assert stored.record.sealed is not None and stored.leaf_hash == receipt.leaf_hash
    with pytest.raises(AuditKeyError):
        ContentCipher(b"d" * 32).open(stored.record)


def test_secret_keys_come_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "content.key"
    path.write_text(base64.b64encode(b"f" * 32).decode(), encoding="ascii")
    monkeypatch.delenv("X_KEY", raising=False)
    assert load_secret_key(path, "X_KEY") == b"f" * 32
    monkeypatch.setenv("X_KEY", base64.b64encode(b"e" * 32).decode())
    assert load_secret_key(path, "X_KEY") == b"e" * 32
    monkeypatch.setenv("X_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(AuditKeyError, match="expected 32"):
        load_secret_key(path, "X_KEY")


def test_sm2_heads_and_rotation_keep_old_heads_verifiable(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    write_key(SigningKey.generate("sm2-sm3"), keys)
    store_url = str(tmp_path / "a.db")
    with Ledger(open_store(store_url), Keyring.load(keys)) as ledger:
        ledger.append(AuditRecord(kind="admin", content="start"))
        old = ledger.head()
        assert old.scheme == "sm2-sm3"
    write_key(SigningKey.generate("ed25519"), keys)  # rotation: new active key
    with Ledger(open_store(store_url), Keyring.load(keys)) as ledger:
        ledger.append(AuditRecord(kind="admin", content="after rotation"))
        new = ledger.head()
        assert new.scheme == "ed25519" and new.key_id != old.key_id
        assert ledger.verify().ok
    public_only = Keyring.load(keys, need_signer=False)
    public_only.signer = None
    assert old.verify_signature(public_only) and new.verify_signature(public_only)
    (keys / f"{old.key_id}.pub.json").unlink()
    (keys / f"{old.key_id}.json").unlink()
    with Ledger(open_store(store_url), Keyring.load(keys)) as ledger:
        report = ledger.verify()
        assert not report.ok and "unknown key" in report.reason


def test_leaf_binds_the_index() -> None:
    record = AuditRecord(kind="label", content="x")
    data = b'{"index":12,"record":' + record.canonical() + b"}"
    assert json.loads(data) == {"index": 12, "record": record.to_json()}
    assert parse_leaf(data) == (12, record)


def test_sm2_key_whose_x_begins_with_04_signs_and_verifies() -> None:
    """gmssl strips "04" prefixes with lstrip; such a key once failed one time in 256."""
    key = SigningKey.from_private("sm2-sm3", (11).to_bytes(32, "big"))
    assert key.public_key.public.hex().startswith("0404")  # x begins with byte 04
    for message in (b"head", b"another head", bytes(range(64))):
        signature = key.sign(message)
        assert key.public_key.verify(signature, message)
        assert not key.public_key.verify(signature, message + b"!")
