"""What the SQLite and PostgreSQL stores share.

Column lists, row decoding, and the read queries, written once with ``?``
placeholders that each store translates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from hegui.audit._types import LeafRow, SignedTreeHead, from_us

LEAF_COLUMNS = "idx, leaf_hash, data, kind, time_us, request_id"
HEAD_COLUMNS = "tree_size, root_hash, timestamp_us, key_id, scheme, signature"


def head_row(row: tuple[Any, ...]) -> SignedTreeHead:
    """A signed head from a row of ``HEAD_COLUMNS``."""
    return SignedTreeHead(row[0], bytes(row[1]), from_us(row[2]), row[3], row[4], bytes(row[5]))


def leaf_row(row: tuple[Any, ...]) -> LeafRow:
    """A leaf from a row of ``LEAF_COLUMNS``."""
    data = None if row[2] is None else bytes(row[2])
    return LeafRow(row[0], bytes(row[1]), data, row[3], row[4], row[5])


class SqlReads:
    """Read queries of a SQL store; subclasses give ``PARAM`` and ``_read()``."""

    PARAM: ClassVar[str] = "?"

    def _read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _sql(self, text: str) -> str:
        return text if self.PARAM == "?" else text.replace("?", self.PARAM)

    def _rows(self, text: str, args: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        with self._read() as conn:
            yield from conn.execute(self._sql(text), args)

    def heads(self) -> list[SignedTreeHead]:
        """Return every signed head, smallest tree first."""
        return [
            head_row(r)
            for r in self._rows(f"SELECT {HEAD_COLUMNS} FROM audit_heads ORDER BY tree_size")
        ]

    def latest_head(self) -> SignedTreeHead | None:
        """Return the head of the largest tree."""
        sql = f"SELECT {HEAD_COLUMNS} FROM audit_heads ORDER BY tree_size DESC LIMIT 1"
        rows = list(self._rows(sql))
        return head_row(rows[0]) if rows else None

    def indices_between(self, start_us: int, end_us: int) -> list[int]:
        """Return indices of records with time in ``[start_us, end_us)``."""
        sql = "SELECT idx FROM audit_leaves WHERE time_us >= ? AND time_us < ? ORDER BY idx"
        return [r[0] for r in self._rows(sql, (start_us, end_us))]

    def purgeable(self, before_us: int) -> list[int]:
        """Return unheld indices with data older than ``before_us``."""
        sql = (
            "SELECT idx FROM audit_leaves WHERE time_us < ? AND data IS NOT NULL"
            " AND idx NOT IN (SELECT idx FROM audit_holds) ORDER BY idx"
        )
        return [r[0] for r in self._rows(sql, (before_us,))]

    def holds(self) -> dict[int, str]:
        """Return held indices and reasons."""
        return {r[0]: r[1] for r in self._rows("SELECT idx, reason FROM audit_holds ORDER BY idx")}
