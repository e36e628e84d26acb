"""Reading files to scan: strict UTF-8 with errors that name the file, line and byte."""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hegui.detect._scanner import Scanner
from hegui.detect._types import Finding


class InputError(ValueError):
    """A file that cannot be scanned, with where and why."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def decode(path: str, raw: bytes) -> str:
    """Strict UTF-8 (a BOM is allowed); the error names the line and byte offset."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            path, f"invalid UTF-8 at line {line}, byte {exc.start} ({raw[exc.start]:#04x})"
        ) from None


def read_text(path: str) -> str:
    """Read a file (or standard input for "-") as text."""
    if path == "-":
        return decode("<stdin>", sys.stdin.buffer.read())
    p = Path(path)
    try:
        raw = p.read_bytes()
    except IsADirectoryError:
        raise InputError(path, "is a directory") from None
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    return decode(path, raw)


@dataclass
class FileReport:
    """The findings of one file, or the reason it could not be scanned."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    line_starts: list[int] = field(default_factory=lambda: [0], repr=False)

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        line = bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1


def scan_paths(scanner: Scanner, paths: Iterable[str]) -> Iterator[FileReport]:
    """Scan each path in turn; a file that fails is reported and the rest still run."""
    for path in paths:
        try:
            text = read_text(path)
        except InputError as exc:
            yield FileReport(path="<stdin>" if path == "-" else path, error=exc.reason)
            continue
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
        yield FileReport(
            path="<stdin>" if path == "-" else path, findings=scanner.scan(text), line_starts=starts
        )
