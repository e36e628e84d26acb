"""Where the ledger lives: ``--db`` / ``HEGUI_DATABASE_URL``, else SQLite in the data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from hegui.audit._keys import Keyring
from hegui.audit._ledger import Ledger
from hegui.audit._records import CONTENT_KEY_ENV, AuditRecord, ContentCipher, load_secret_key
from hegui.audit._store import open_store
from hegui.audit._types import Receipt

DATABASE_URL_ENV = "HEGUI_DATABASE_URL"
DB_FILE = "audit.db"
KEYS_DIR = "keys"
CONTENT_KEY_FILE = "content.key"
PRINCIPAL_KEY_FILE = "principal.key"


def default_data_dir() -> Path:
    """Return the platform's user data directory for hegui."""
    return Path(platformdirs.user_data_dir("hegui", appauthor=False))


def resolve_location(db: str | None = None, data_dir: Path | None = None) -> tuple[str, Path]:
    """Return the store URL and the data dir (keys live under ``<data dir>/keys``)."""
    directory = data_dir if data_dir is not None else default_data_dir()
    url = db or os.environ.get(DATABASE_URL_ENV) or str(directory / DB_FILE)
    return url, directory


def open_ledger(
    db: str | None = None,
    data_dir: Path | None = None,
    *,
    keys_dir: Path | None = None,
    need_signer: bool = True,
    schema: str | None = None,
) -> Ledger:
    """Open the ledger the CLI and the gateway share, with its keys and content key."""
    url, directory = resolve_location(db, data_dir)
    keyring = Keyring.load(keys_dir or directory / KEYS_DIR, need_signer=need_signer)
    content_key = load_secret_key(directory / CONTENT_KEY_FILE, CONTENT_KEY_ENV)
    options = {"schema": schema} if schema else {}
    store = open_store(url, **options)
    cipher = None if content_key is None else ContentCipher(content_key)
    return Ledger(store, keyring, cipher=cipher)


def append_once(
    record: AuditRecord, db: str | None = None, data_dir: Path | None = None
) -> Receipt:
    """Open the shared ledger, append one record durably, close it (a command's one event)."""
    ledger = open_ledger(db, data_dir)
    try:
        return ledger.append(record)
    finally:
        ledger.close()
