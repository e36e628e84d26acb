"""Regulator export: records, a signed head, an inclusion proof each, keys, a README.

The folder verifies offline with ``verify_export`` (or by hand: README explains it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hegui.audit._errors import AuditError
from hegui.audit._keys import Keyring, PublicKey
from hegui.audit._ledger import Ledger
from hegui.audit._merkle import leaf_hash, verify_inclusion
from hegui.audit._types import SignedTreeHead, to_us

RECORDS_FILE = "records.jsonl"
HEAD_FILE = "head.json"
KEYS_DIR = "keys"
README_FILE = "README.md"

_README = """# hegui audit export

Exported {count} records with time in [{start}, {end}) from a ledger of {size} records.

Files: `head.json` (signed tree head), `records.jsonl` (one record a line), `keys/`
(public keys, `<key_id>.pub.json`).

How to verify without hegui (any SHA-256 and Ed25519 / SM2 library will do):

1. Signed head: the message is the canonical JSON (sorted keys, no spaces, UTF-8) of
   `{{"key_id", "root_hash" (hex), "scheme", "timestamp_us", "tree_size",
   "version": "hegui-sth/1"}}`; check `signature` (hex) with the key
   `keys/<key_id>.pub.json` (`ed25519`: raw 32-byte key; `sm2-sm3`: uncompressed point,
   SM3 digest with the default user id 1234567812345678, signature r||s).
2. Each line of `records.jsonl`: `leaf` is the exact leaf data (UTF-8 text);
   SHA-256(0x00 || leaf) must equal `leaf_hash`; the leaf starts with
   `{{"index":<index>,`. Purged records have `leaf: null` and prove only existence.
3. The inclusion proof (`path`, hex, leaf side first) must lead from `leaf_hash` to
   the head's `root_hash` by the algorithm of RFC 9162 section 2.1.3.2, with
   node = SHA-256(0x01 || left || right).

With hegui installed: `hegui audit verify-export <this folder>`.
"""


@dataclass(frozen=True)
class ExportReport:
    """Outcome of ``verify_export``."""

    ok: bool
    records: int
    tree_size: int
    purged: int = 0
    problems: list[str] = field(default_factory=list)


def export_range(ledger: Ledger, start: datetime, end: datetime, out: Path) -> int:
    """Write records with time in ``[start, end)`` and their proofs to ``out``."""
    head = ledger.head()
    indices = [i for i in ledger.store.indices_between(to_us(start), to_us(end))]
    indices = [i for i in indices if i < head.tree_size]
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise AuditError(f"{out} is not empty; export into a new folder")
    with (out / RECORDS_FILE).open("w", encoding="utf-8") as handle:
        for index in indices:
            row = ledger.store.leaf(index)
            if row is None:
                raise AuditError(f"record {index} is missing from the store")
            proof = ledger.prove_inclusion(index, head.tree_size)
            line: dict[str, Any] = {
                "index": index,
                "leaf_hash": row.leaf_hash.hex(),
                "leaf": None if row.data is None else row.data.decode("utf-8"),
                "tree_size": head.tree_size,
                "path": [node.hex() for node in proof.path],
            }
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    (out / HEAD_FILE).write_text(json.dumps(head.to_json(), indent=2), encoding="utf-8")
    ledger.keyring.write_public(out / KEYS_DIR)
    readme = _README.format(
        count=len(indices), start=start.isoformat(), end=end.isoformat(), size=head.tree_size
    )
    (out / README_FILE).write_text(readme, encoding="utf-8")
    return len(indices)


def _load_keyring(folder: Path) -> Keyring:
    keys: dict[str, PublicKey] = {}
    for path in sorted((folder / KEYS_DIR).glob("*.pub.json")):
        key = PublicKey.from_json(json.loads(path.read_text(encoding="utf-8")))
        keys[key.key_id] = key
    return Keyring(keys)


def _check_line(number: int, line: dict[str, Any], head: SignedTreeHead) -> str | None:
    index, digest = int(line["index"]), bytes.fromhex(line["leaf_hash"])
    leaf = line["leaf"]
    if leaf is not None:
        data = leaf.encode("utf-8")
        if leaf_hash(data) != digest:
            return f"line {number} (record {index}): leaf does not match leaf_hash"
        if not data.startswith(b'{"index":%d,' % index):
            return f"line {number} (record {index}): leaf belongs to another index"
    path = [bytes.fromhex(node) for node in line["path"]]
    if int(line["tree_size"]) != head.tree_size:
        return f"line {number} (record {index}): proof is for another tree size"
    if not verify_inclusion(digest, index, head.tree_size, path, head.root_hash):
        return f"line {number} (record {index}): inclusion proof fails against the head"
    return None


def verify_export(folder: Path) -> ExportReport:
    """Check an export folder offline, using only what it contains."""
    try:
        head = SignedTreeHead.from_json(json.loads((folder / HEAD_FILE).read_text("utf-8")))
        keyring = _load_keyring(folder)
        lines = (folder / RECORDS_FILE).read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError, KeyError) as exc:
        return ExportReport(False, 0, 0, problems=[f"{folder}: unreadable export: {exc}"])
    problems: list[str] = []
    if not head.verify_signature(keyring):
        problems.append(f"head.json: signature does not verify with key {head.key_id}")
    purged = 0
    for number, text in enumerate(lines, start=1):
        try:
            line = json.loads(text)
            problem = _check_line(number, line, head)
        except (ValueError, KeyError, TypeError) as exc:
            problem = f"line {number}: malformed: {exc}"
            line = {}
        if problem:
            problems.append(problem)
        purged += line.get("leaf", "") is None
    return ExportReport(not problems, len(lines), head.tree_size, purged, problems)
