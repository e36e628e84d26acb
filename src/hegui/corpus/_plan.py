"""From a manifest to work: find every input file, hash it, cut the corpus into shards.

A shard is the unit of work, of output files and of resumption. Large plain JSONL files
are cut at line boundaries and Parquet files at row groups, so one big file still
spreads over several workers; small files are packed together up to the shard size.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hegui.corpus._manifest import Format, Manifest, Source, manifest_error
from hegui.corpus._readers import COMPRESSED, Piece, format_of

CHUNK = 1 << 20
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input file: where it is, its size and its content hash."""

    source: str
    path: str
    rel: str
    format: str
    bytes: int
    sha256: str
    cuts: tuple[tuple[int, int], ...] = ()
    """(byte offset, line number) of each line boundary the file is cut at."""


@dataclass(frozen=True, slots=True)
class Shard:
    """A unit of work: pieces of one source's files, and how to read them."""

    source: str
    index: int
    format: str
    text_field: str
    id_field: str | None
    pieces: tuple[Piece, ...]
    sha256: tuple[str, ...]
    """Content hash of each file the pieces come from, in piece order."""
    bytes: int = 0

    @property
    def key(self) -> str:
        """``<source>/<index>``: names the shard's output files."""
        return f"{self.source}/{self.index:05d}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what a completion marker records)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shard:
        """Inverse of ``to_dict``."""
        pieces = tuple(Piece(**p) for p in data["pieces"])
        return cls(**{**data, "pieces": pieces, "sha256": tuple(data["sha256"])})


@dataclass
class Plan:
    """Every input file and every shard of a corpus."""

    files: list[InputFile] = field(default_factory=list)
    shards: list[Shard] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """Bytes of all input files as stored."""
        return sum(f.bytes for f in self.files)


def discover(manifest: Manifest, manifest_path: Path) -> list[tuple[Source, str, str, str]]:
    """Return (source, absolute path, relative path, format) for every input file.

    Raises:
        ManifestError: a path matches no file, or a file's format cannot be told.
    """
    base = manifest_path.resolve().parent
    found: list[tuple[Source, str, str, str]] = []
    for index, src in enumerate(manifest.sources):
        paths: list[Path] = []
        for pattern in src.path:
            paths.extend(_expand(base, pattern))
        unique = sorted(set(paths))
        if not unique:
            shown = ", ".join(src.path)
            raise manifest_error(manifest_path, ("sources", index, "path"), f"no file at {shown}")
        for path in unique:
            fmt = src.format.value if src.format is not Format.AUTO else format_of(path.name)
            if fmt is None:
                reason = f"cannot tell the format of {path.name}; set format"
                raise manifest_error(manifest_path, ("sources", index, "format"), reason)
            found.append((src, str(path), _relative(path, base), fmt))
    return found


def _expand(base: Path, pattern: str) -> list[Path]:
    target = base / Path(pattern).expanduser()
    if _GLOB_CHARS & set(pattern):
        hits = [Path(p) for p in glob.glob(str(target), recursive=True)]
    elif target.is_dir():
        hits = list(target.rglob("*"))
    else:
        hits = [target] if target.exists() else []
    return [p.resolve() for p in hits if p.is_file() and not p.name.startswith(".")]


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _splittable(path: str, fmt: str) -> bool:
    return fmt == "jsonl" and not path.lower().endswith(COMPRESSED)


def hash_file(path: str, cut_every: int | None) -> tuple[str, int, tuple[tuple[int, int], ...]]:
    """SHA-256 and size of a file; with ``cut_every``, the line starts to cut it at.

    Each cut is the first line start at least ``cut_every`` bytes after the previous
    cut (or the file's start), with its 1-based line number.
    """
    digest = hashlib.sha256()
    cuts: list[tuple[int, int]] = []
    size = newlines = 0
    next_cut = cut_every or 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            pos = max(next_cut - size - 1, 0)
            while cut_every and pos < len(chunk):
                at = chunk.find(b"\n", pos)
                if at < 0:
                    break
                cut = size + at + 1
                cuts.append((cut, newlines + chunk.count(b"\n", 0, at + 1) + 1))
                next_cut = cut + cut_every
                pos = next_cut - size - 1
            newlines += chunk.count(b"\n")
            size += len(chunk)
    return digest.hexdigest(), size, tuple(c for c in cuts if c[0] < size)


def plan_corpus(
    manifest: Manifest,
    manifest_path: Path,
    shard_bytes: int,
    *,
    threads: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Plan:
    """Hash every input file and cut the corpus into shards of about ``shard_bytes``.

    Raises:
        ManifestError: a source's path matches nothing or a format is unknown.
        OSError: an input file cannot be read while hashing.
    """
    found = discover(manifest, manifest_path)

    def one(item: tuple[Source, str, str, str]) -> InputFile:
        src, path, rel, fmt = item
        cut = shard_bytes if _splittable(path, fmt) else None
        sha, size, cuts = hash_file(path, cut)
        if progress is not None:
            progress(size)
        return InputFile(src.id, path, rel, fmt, size, sha, cuts)

    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
        files = list(pool.map(one, found))
    plan = Plan(files=files)
    for src in manifest.sources:
        mine = [f for f in files if f.source == src.id]
        plan.shards.extend(_shards(src, mine, shard_bytes))
    return plan


def _pieces(f: InputFile, shard_bytes: int) -> list[tuple[Piece, int]]:
    if f.format == "parquet":
        return _parquet_pieces(f, shard_bytes)
    starts = [(0, 1), *f.cuts]
    out = []
    for i, (start, line) in enumerate(starts):
        stop = starts[i + 1][0] if i + 1 < len(starts) else -1
        size = (stop if stop >= 0 else f.bytes) - start
        out.append((Piece(f.path, f.rel, start, stop, line), size))
    return out


def _parquet_pieces(f: InputFile, shard_bytes: int) -> list[tuple[Piece, int]]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(f.path).metadata
    except Exception:  # unreadable: one piece, the reader reports why
        return [(Piece(f.path, f.rel), f.bytes)]
    out: list[tuple[Piece, int]] = []
    first, row, size, start_row = 0, 1, 0, 1
    for group in range(meta.num_row_groups):
        size += meta.row_group(group).total_byte_size
        row += meta.row_group(group).num_rows
        if size >= shard_bytes or group == meta.num_row_groups - 1:
            out.append((Piece(f.path, f.rel, first, group + 1, start_row), size))
            first, size, start_row = group + 1, 0, row
    return out or [(Piece(f.path, f.rel, 0, 0, 1), 0)]


def _shards(src: Source, files: list[InputFile], shard_bytes: int) -> list[Shard]:
    shards: list[Shard] = []
    pieces: list[Piece] = []
    hashes: list[str] = []
    size, fmt = 0, ""
    for f in files:
        for piece, piece_size in _pieces(f, shard_bytes):
            if pieces and (size + piece_size > shard_bytes or fmt != f.format):
                shards.append(
                    _shard(
                        src=src, index=len(shards), fmt=fmt, pieces=pieces, hashes=hashes, size=size
                    )
                )
                pieces, hashes, size = [], [], 0
            pieces.append(piece)
            hashes.append(f.sha256)
            size += piece_size
            fmt = f.format
    if pieces:
        shards.append(
            _shard(src=src, index=len(shards), fmt=fmt, pieces=pieces, hashes=hashes, size=size)
        )
    return shards


def _shard(
    *, src: Source, index: int, fmt: str, pieces: list[Piece], hashes: list[str], size: int
) -> Shard:
    return Shard(
        source=src.id,
        index=index,
        format=fmt,
        text_field=src.text_field,
        id_field=src.id_field,
        pieces=tuple(pieces),
        sha256=tuple(hashes),
        bytes=size,
    )
