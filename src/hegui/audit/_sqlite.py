"""SQLite ledger store: the embedded default (WAL, ``synchronous=FULL``).

WAL lets readers (verify, proofs, export) run while the writer appends. ``FULL`` makes
every commit fsync the WAL, so a receipt survives power loss, not only a process crash
(``NORMAL`` + WAL would survive a crash of the process but may lose the last commits on
power loss, which an evidence store must not). Group commit pays that fsync once per
batch. ``BEGIN IMMEDIATE`` takes the write lock first, so several processes may append
to one file and still build one tree.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from hegui.audit._errors import AuditError
from hegui.audit._sql import HEAD_COLUMNS, LEAF_COLUMNS, SqlReads, leaf_row
from hegui.audit._store import register_store
from hegui.audit._types import LeafRow, NewLeaf, SignedTreeHead, to_us

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_leaves (
    idx INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL,
    data BLOB,
    kind TEXT NOT NULL,
    time_us INTEGER NOT NULL,
    request_id TEXT,
    purged_us INTEGER
);
CREATE INDEX IF NOT EXISTS audit_leaves_time ON audit_leaves (time_us);
CREATE TABLE IF NOT EXISTS audit_heads (
    tree_size INTEGER PRIMARY KEY,
    root_hash BLOB NOT NULL,
    timestamp_us INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    scheme TEXT NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    tree_size INTEGER NOT NULL,
    frontier BLOB NOT NULL
);
INSERT OR IGNORE INTO audit_state (id, tree_size, frontier) VALUES (1, 0, x'');
CREATE TABLE IF NOT EXISTS audit_holds (
    idx INTEGER PRIMARY KEY,
    reason TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
"""

_CHUNK = 10_000
_MAX_ROWS_PER_INSERT = 500


@lru_cache(maxsize=64)
def _insert_leaves_sql(rows: int) -> str:
    values = ",".join(["(?, ?, ?, ?, ?, ?)"] * rows)
    return f"INSERT INTO audit_leaves ({LEAF_COLUMNS}) VALUES {values}"


class _SqliteWriter:
    def __init__(self, conn: sqlite3.Connection, rows_per_insert: int) -> None:
        self._conn = conn
        self._rows_per_insert = rows_per_insert

    def state(self) -> tuple[int, bytes]:
        row = self._conn.execute("SELECT tree_size, frontier FROM audit_state").fetchone()
        return int(row[0]), bytes(row[1])

    def insert_leaves(self, rows: Sequence[NewLeaf]) -> None:
        """Insert with multi-row ``INSERT ... VALUES (...), (...)``: one statement per chunk.

        ``executemany`` steps once per row, and each step releases and retakes the GIL;
        under many appending threads every retake can wait a whole switch interval.
        """
        step = self._rows_per_insert
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            self._conn.execute(
                _insert_leaves_sql(len(chunk)), [value for row in chunk for value in row]
            )

    def insert_head(self, head: SignedTreeHead) -> None:
        self._conn.execute(
            f"INSERT INTO audit_heads ({HEAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                head.tree_size,
                head.root_hash,
                to_us(head.timestamp),
                head.key_id,
                head.scheme,
                head.signature,
            ),
        )

    def set_state(self, size: int, frontier: bytes) -> None:
        self._conn.execute("UPDATE audit_state SET tree_size = ?, frontier = ?", (size, frontier))


class SqliteStore(SqlReads):
    PARAM = "?"

    """Ledger tables in one SQLite file."""

    def __init__(self, path: Path, *, synchronous: Literal["full", "normal"] = "full") -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._sync = synchronous.upper()
        self._lock = threading.Lock()
        try:
            self._writer = self._connect()
            variables = self._writer.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self._rows_per_insert = max(1, min(_MAX_ROWS_PER_INSERT, variables // 6))
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._writer.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise AuditError(f"{self.path}: cannot open the audit ledger: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=60.0
        )
        conn.execute(f"PRAGMA synchronous={self._sync}")
        conn.execute("PRAGMA busy_timeout=60000")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[_SqliteWriter]:
        """Write under ``BEGIN IMMEDIATE``; commit on exit, roll back on error."""
        with self._lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteWriter(conn, self._rows_per_insert)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as conn:
            yield conn

    def iter_leaves(self, start: int = 0, end: int | None = None) -> Iterator[LeafRow]:
        """Yield stored leaves in index order."""
        stop = end if end is not None else 2**62
        with self._read() as conn:
            cursor = conn.execute(
                f"SELECT {LEAF_COLUMNS} FROM audit_leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, stop),
            )
            while rows := cursor.fetchmany(_CHUNK):
                for row in rows:
                    yield LeafRow(row[0], row[1], row[2], row[3], row[4], row[5])

    def leaf_chunks(
        self, start: int = 0, end: int | None = None
    ) -> Iterator[list[tuple[int, bytes, bytes | None]]]:
        """Yield raw ``(index, leaf_hash, data)`` rows in index order, in chunks."""
        stop = end if end is not None else 2**62
        with self._read() as conn:
            cursor = conn.execute(
                "SELECT idx, leaf_hash, data FROM audit_leaves WHERE idx >= ? AND idx < ?"
                " ORDER BY idx",
                (start, stop),
            )
            while rows := cursor.fetchmany(_CHUNK):
                yield rows

    def leaf_hashes(self, start: int, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield ``(index, leaf_hash)`` in index order."""
        stop = end if end is not None else 2**62
        with self._read() as conn:
            cursor = conn.execute(
                "SELECT idx, leaf_hash FROM audit_leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, stop),
            )
            while rows := cursor.fetchmany(_CHUNK):
                yield from rows

    def leaf(self, index: int) -> LeafRow | None:
        """Return one leaf."""
        with self._read() as conn:
            sql = f"SELECT {LEAF_COLUMNS} FROM audit_leaves WHERE idx = ?"
            row = conn.execute(sql, (index,)).fetchone()
        return None if row is None else leaf_row(row)

    def purge(self, indices: Sequence[int], purged_us: int) -> int:
        """Drop data of unheld leaves, keeping their hashes."""
        done = 0
        with self._lock, closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            for index in indices:
                done += conn.execute(
                    "UPDATE audit_leaves SET data = NULL, purged_us = ? WHERE idx = ?"
                    " AND data IS NOT NULL AND idx NOT IN (SELECT idx FROM audit_holds)",
                    (purged_us, index),
                ).rowcount
            conn.execute("COMMIT")
        return done

    def hold(self, indices: Sequence[int], reason: str, at_us: int) -> None:
        """Put records under legal hold."""
        with self._lock, closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT OR REPLACE INTO audit_holds (idx, reason, created_us) VALUES (?, ?, ?)",
                [(index, reason, at_us) for index in indices],
            )
            conn.execute("COMMIT")

    def release(self, indices: Sequence[int]) -> None:
        """Lift legal holds."""
        with self._lock, closing(self._connect()) as conn:
            conn.executemany("DELETE FROM audit_holds WHERE idx = ?", [(i,) for i in indices])

    def counts(self) -> dict[str, int]:
        """Return row, purge, hold and head counts and the time range."""
        with self._read() as conn:
            rows, purged, oldest, newest = conn.execute(
                "SELECT count(*), count(*) - count(data), min(time_us), max(time_us)"
                " FROM audit_leaves"
            ).fetchone()
            held = conn.execute("SELECT count(*) FROM audit_holds").fetchone()[0]
            heads = conn.execute("SELECT count(*) FROM audit_heads").fetchone()[0]
        out = {"rows": rows, "purged": purged, "held": held, "heads": heads}
        if oldest is not None:
            out |= {"oldest_us": oldest, "newest_us": newest}
        return out

    def close(self) -> None:
        """Close the writer connection."""
        self._writer.close()


@register_store("sqlite", schemes=("sqlite", "file"))
def open_sqlite(url: str, **options: Any) -> SqliteStore:
    """Open ``sqlite:///path/to/audit.db`` (or a bare path)."""
    path = url.split("://", 1)[1] if "://" in url else url
    return SqliteStore(Path(path), **options)
