"""Reading spreadsheets (keyword libraries, banks, review sheets) without leaking files.

openpyxl's read-only mode keeps the file open while a row reader is alive, even after
the workbook is closed; a reader abandoned by an error would hold it until the garbage
collector ran. ``sheet_rows`` closes both however the caller stops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def sheet_rows(
    path: Path, fail: Callable[[str], Exception], tab: str | None = None
) -> Iterator[Iterator[tuple[Any, ...]]]:
    """Rows (cell values) of sheet ``tab``, default the first.

    ``fail(reason)`` is raised when the file is not a readable workbook.
    """
    import openpyxl  # imported here: only spreadsheets need it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise fail(f"cannot read the workbook: {exc}") from None
    try:
        sheet = book[tab] if tab is not None and tab in book.sheetnames else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        try:
            yield rows
        finally:
            rows.close()
    finally:
        book.close()
