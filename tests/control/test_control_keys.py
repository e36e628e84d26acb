"""API keys and principals in the control database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from hegui.control import KEY_PREFIX, ControlDB, ControlError, KeyStore, hash_key


def test_a_key_is_stored_only_as_its_hash(db: ControlDB) -> None:
    store = KeyStore(db)
    info, secret = store.create("alice", "acme", verified=True)
    assert secret.startswith(f"{KEY_PREFIX}{info.key_id}-") and len(secret) > 40
    dumped = repr(db.rows("SELECT * FROM hegui_keys"))
    assert secret not in dumped and hash_key(secret) in dumped
    assert store.key_hashes() == {hash_key(secret): (info.key_id, "alice", "acme")}
    assert store.principals()["alice"].verified


def test_revoke_removes_the_key_from_the_live_set_and_bumps_the_generation(db: ControlDB) -> None:
    store = KeyStore(db)
    kept, _ = store.create("alice")
    gone, secret = store.create("bob")
    before = db.generation()
    store.revoke(gone.key_id)
    assert db.generation() == before + 1
    assert hash_key(secret) not in store.key_hashes()
    listed = {k.key_id: k for k in store.all_keys()}
    assert listed[gone.key_id].revoked is not None and listed[kept.key_id].revoked is None
    with pytest.raises(ControlError, match="no live key"):
        store.revoke(gone.key_id)


def test_verification_and_suspension_belong_to_the_principal(db: ControlDB) -> None:
    store = KeyStore(db)
    store.create("carol")
    assert not store.principals()["carol"].verified
    store.set_verified("carol", True)
    info = store.suspend("carol", "3 violating prompts in a row", None)
    assert info.verified and info.suspended_until is None
    assert info.suspended_since is not None and info.suspended_at(info.suspended_since)
    timed = store.suspend("dave", "manual", 2.0)  # a principal with no key yet
    assert timed.suspended_until is not None
    assert not timed.suspended_at(timed.suspended_until)
    store.lift("carol")
    assert store.principals()["carol"].suspended_since is None
    with pytest.raises(ControlError, match="not suspended"):
        store.lift("carol")


def test_a_failed_change_rolls_back_and_leaves_the_generation(db: ControlDB) -> None:
    before = db.generation()
    with pytest.raises(RuntimeError), db.change("doomed"):
        db.execute("INSERT INTO hegui_principals (principal, verified) VALUES (?, ?)", ("eve", 1))
        raise RuntimeError("abort")
    assert db.generation() == before
    assert db.rows("SELECT principal FROM hegui_principals") == []


def test_an_empty_principal_is_refused(db: ControlDB) -> None:
    with pytest.raises(ControlError, match="principal"):
        KeyStore(db).create("  ")
