"""Tamper-evident audit ledger: RFC 9162 Merkle tree, signed tree heads, retention, export.

``Ledger.append(record)`` returns a ``Receipt`` only after the record is durable; a
failure raises ``AuditWriteError``. Anyone with the public keys can check a tree head,
an inclusion proof or a whole export. See ``docs/audit.md``.
"""

from hegui.audit import _postgres, _sqlite  # noqa: F401  (register the stores)
from hegui.audit._errors import AuditError, AuditKeyError, AuditWriteError, RetentionError
from hegui.audit._export import ExportReport, export_range, verify_export
from hegui.audit._keys import (
    SCHEMES,
    Keyring,
    PublicKey,
    Scheme,
    SigningKey,
    key_id_of,
    read_key_json,
    write_key,
)
from hegui.audit._ledger import Ledger, StoredRecord, sign_head
from hegui.audit._location import (
    DATABASE_URL_ENV,
    append_once,
    default_data_dir,
    open_ledger,
    resolve_location,
)
from hegui.audit._merkle import (
    EMPTY_ROOT,
    MerkleCache,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from hegui.audit._records import (
    CONTENT_KEY_ENV,
    PRINCIPAL_KEY_ENV,
    AuditRecord,
    ContentCipher,
    RecordKind,
    SealedContent,
    canonical_json,
    hash_principal,
    leaf_data,
    load_secret_key,
    new_secret_key,
    parse_leaf,
    plain_principal,
)
from hegui.audit._retention import PurgePlan, hold, months_before, purge, retention_months
from hegui.audit._store import LedgerStore, StoreWriter, open_store, register_store, store_names
from hegui.audit._types import (
    ConsistencyProof,
    InclusionProof,
    LeafRow,
    LedgerStats,
    Receipt,
    SignedTreeHead,
    VerifyReport,
)

__all__ = [
    "CONTENT_KEY_ENV",
    "DATABASE_URL_ENV",
    "EMPTY_ROOT",
    "PRINCIPAL_KEY_ENV",
    "SCHEMES",
    "AuditError",
    "AuditKeyError",
    "AuditRecord",
    "AuditWriteError",
    "ConsistencyProof",
    "ContentCipher",
    "ExportReport",
    "InclusionProof",
    "Keyring",
    "LeafRow",
    "Ledger",
    "LedgerStats",
    "LedgerStore",
    "MerkleCache",
    "PublicKey",
    "PurgePlan",
    "Receipt",
    "RecordKind",
    "RetentionError",
    "Scheme",
    "SealedContent",
    "SignedTreeHead",
    "SigningKey",
    "StoreWriter",
    "StoredRecord",
    "VerifyReport",
    "append_once",
    "canonical_json",
    "default_data_dir",
    "export_range",
    "hash_principal",
    "hold",
    "key_id_of",
    "leaf_data",
    "leaf_hash",
    "load_secret_key",
    "months_before",
    "new_secret_key",
    "node_hash",
    "open_ledger",
    "open_store",
    "parse_leaf",
    "plain_principal",
    "purge",
    "read_key_json",
    "register_store",
    "resolve_location",
    "retention_months",
    "root_of",
    "sign_head",
    "store_names",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
    "write_key",
]
