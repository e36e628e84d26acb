"""Small corpora for the corpus tests: every format, planted findings, a manifest."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

FAST = ("lexicon", "pii")
"""The detectors most tests scan with: the classifier is slow to load and to run."""

ILLEGAL = "这里有炸药配方，可以照着做。"
PHONE = "有事请打 13812345678 找我。"
EMAIL = "write to zhang.wei@example.com today"
PLAIN_ZH = "春天来了，公园里的花都开了，孩子们在草地上放风筝，老人们在树下下棋聊天。"
PLAIN_EN = "The library opens at nine and closes at six; children's books are on the second floor."


def filler(i: int) -> str:
    """A distinct harmless document (no two share many 5-character windows)."""
    words = ["river", "mountain", "garden", "window", "letter", "market", "autumn", "bridge"]
    picked = " ".join(words[(i * 7 + k * 3) % len(words)] + str(i * 31 + k) for k in range(12))
    return f"Document {i}: {picked}. 第{i}篇文章讲的是{'春夏秋冬'[i % 4]}天的故事，编号{i * 17}。"


def source(sid: str, path: str | list[str], **extra: Any) -> dict[str, Any]:
    """A manifest source with every required field filled in."""
    entry: dict[str, Any] = {
        "id": sid,
        "path": path,
        "origin": f"https://example.com/{sid}",
        "license": "CC-BY-4.0",
        "legal_basis": "licence",
        "collected": "2026-01",
        "language": ["zh", "en"],
        "owner": "data@example.com",
    }
    entry.update(extra)
    return entry


def write_manifest(folder: Path, sources: list[dict[str, Any]], **extra: Any) -> Path:
    """manifest.yaml in ``folder`` listing ``sources``."""
    data = {"name": "test-corpus", "version": "1", "owner": "data@example.com", **extra}
    data["sources"] = sources
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_jsonl(path: Path, texts: list[str], *, field: str = "text") -> Path:
    """One JSON object per line; ``.gz`` and ``.zst`` names are compressed."""
    lines = "".join(json.dumps({field: t}, ensure_ascii=False) + "\n" for t in texts)
    data = lines.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    elif path.name.endswith(".zst"):
        import zstandard

        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        path.write_bytes(data)
    return path


def write_csv(path: Path, texts: list[str]) -> Path:
    """A CSV with columns id and text."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        for i, t in enumerate(texts):
            writer.writerow([f"c{i}", t])
    return path


def write_parquet(path: Path, texts: list[str | None], row_group_size: int = 4) -> Path:
    """A Parquet file with a text column in small row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": texts}), path, row_group_size=row_group_size)
    return path


def mixed_corpus(folder: Path) -> Path:
    """Three sources: web (JSONL, one bad line), forum (gzip JSONL and CSV), books (text).

    web holds an illegal document and personal information; the others are clean.
    """
    web = [filler(i) for i in range(20)] + [ILLEGAL, PHONE, EMAIL, PLAIN_ZH, PLAIN_EN]
    write_jsonl(folder / "web" / "part-0.jsonl", web)
    with (folder / "web" / "part-0.jsonl").open("ab") as fh:
        fh.write(b"{broken json\n")
        fh.write(b'{"text": "fine after the broken line"}\n')
    write_jsonl(folder / "forum" / "a.jsonl.gz", [filler(i) for i in range(30, 40)])
    write_csv(folder / "forum" / "b.csv", [filler(i) for i in range(40, 45)])
    books = folder / "books"
    books.mkdir()
    for i in range(3):
        (books / f"book{i}.txt").write_text(filler(100 + i) * 3, encoding="utf-8")
    return write_manifest(
        folder,
        [
            source("web", "web/*.jsonl"),
            source("forum", ["forum/*.jsonl.gz", "forum/b.csv"]),
            source("books", "books", format="text", language=["en"]),
        ],
    )


def tree_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def outputs(run: Path, skip: tuple[str, ...] = ("timing.json",)) -> dict[str, str]:
    """Digests of a run's outputs, leaving out what depends on the clock (timing.json)."""
    return {k: v for k, v in tree_digest(run).items() if k not in skip}
