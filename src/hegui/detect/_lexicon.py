"""Keyword libraries in the format regulators ask for, and their allowlists.

A library is a CSV or XLSX sheet with the columns ``keyword, level1, level2`` (the
filing package's 关键词, 一级分类, 二级分类), optionally ``risk, lang, match, variants,
severity``, plus a mapping from (level1, level2) to a risk ID of the policy's taxonomy.
Every problem is reported with the file and line it comes from.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from hegui._sheets import sheet_rows
from hegui.policy._actions import Severity

HEADER_ALIASES = {
    "keyword": "keyword",
    "关键词": "keyword",
    "敏感词": "keyword",
    "term": "keyword",
    "level1": "level1",
    "一级分类": "level1",
    "category": "level1",
    "level2": "level2",
    "二级分类": "level2",
    "subcategory": "level2",
    "risk": "risk",
    "风险": "risk",
    "lang": "lang",
    "语言": "lang",
    "match": "match",
    "variants": "variants",
    "severity": "severity",
    "word": "word",
    "note": "note",
}
MATCH_KINDS = ("word", "substring")
VARIANT_KINDS = ("pinyin", "homophone")


class LexiconError(ValueError):
    """A keyword library or allowlist that cannot be used, with where and why."""

    def __init__(self, file: str | Path, line: int | None, reason: str) -> None:
        self.file = str(file)
        self.line = line
        self.reason = reason
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    """One keyword with its categories, the risk it maps to and how it matches."""

    keyword: str
    level1: str
    level2: str
    risk: str
    lang: str
    match: str
    variants: tuple[str, ...]
    severity: Severity
    source: str


@dataclass(frozen=True, slots=True)
class Lexicon:
    """A loaded keyword library and the innocent words that contain its keywords."""

    entries: tuple[LexiconEntry, ...]
    allowlist: tuple[str, ...]

    def by_risk(self) -> dict[str, int]:
        """Number of entries per risk ID."""
        counts: dict[str, int] = {}
        for e in self.entries:
            counts[e.risk] = counts.get(e.risk, 0) + 1
        return counts


def _read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) from a CSV or XLSX file, headers normalised."""
    if not path.is_file():
        raise LexiconError(path, None, "file not found")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        yield from _read_xlsx(path)
        return
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LexiconError(
            path, line, f"not valid UTF-8 (byte {exc.start}: {raw[exc.start]:#04x})"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _header(path, reader.line_num, row)
                continue
            yield reader.line_num, dict(zip(header, (c.strip() for c in row), strict=False))
    except csv.Error as exc:
        raise LexiconError(path, reader.line_num, f"malformed CSV: {exc}") from None
    if header is None:
        raise LexiconError(path, None, "empty file: no header and no entries")


def _read_xlsx(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    header: list[str] | None = None
    with sheet_rows(path, lambda reason: LexiconError(path, None, reason)) as rows:
        for number, values in enumerate(rows, start=1):
            row = ["" if v is None else str(v).strip() for v in values]
            if not any(row):
                continue
            if header is None:
                header = _header(path, number, row)
                continue
            yield number, dict(zip(header, row, strict=False))
    if header is None:
        raise LexiconError(path, None, "empty spreadsheet: no header and no entries")


def _header(path: Path, line: int, row: list[str]) -> list[str]:
    names = []
    for cell in row:
        key = cell.strip().lower()
        if key not in HEADER_ALIASES:
            raise LexiconError(path, line, f"unknown column {cell.strip()!r}")
        names.append(HEADER_ALIASES[key])
    return names


def load_mapping(path: Path) -> dict[tuple[str, str], str]:
    """Read the (level1, level2) -> risk ID mapping of a keyword library."""
    if not path.is_file():
        raise LexiconError(path, None, "mapping file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise LexiconError(path, mark.line + 1 if mark else None, f"bad YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("mappings"), list):
        raise LexiconError(path, None, "expected a top-level 'mappings' list")
    out: dict[tuple[str, str], str] = {}
    for i, item in enumerate(data["mappings"]):
        if not isinstance(item, dict) or not {"level1", "risk"} <= item.keys():
            raise LexiconError(path, None, f"mappings[{i}]: needs level1, level2 and risk")
        out[(str(item["level1"]), str(item.get("level2") or ""))] = str(item["risk"])
    return out


def _entry(
    path: Path,
    line: int,
    row: dict[str, str],
    mapping: dict[tuple[str, str], str],
    known_risks: frozenset[str] | None,
) -> LexiconEntry:
    keyword = row.get("keyword", "")
    if not keyword:
        raise LexiconError(path, line, "empty keyword")
    level1, level2 = row.get("level1", ""), row.get("level2", "")
    risk = row.get("risk") or mapping.get((level1, level2)) or mapping.get((level1, ""))
    if not risk:
        raise LexiconError(
            path,
            line,
            f"no risk for category ({level1!r}, {level2!r}): add a 'risk' column "
            "or a mapping entry",
        )
    if known_risks is not None and risk not in known_risks:
        raise LexiconError(path, line, f"risk {risk!r} is not in the policy's taxonomy")
    match = row.get("match") or ""
    if match and match not in MATCH_KINDS:
        raise LexiconError(path, line, f"match must be one of {MATCH_KINDS}, not {match!r}")
    variants = tuple(v.strip() for v in (row.get("variants") or "").split(";") if v.strip())
    for v in variants:
        if v not in VARIANT_KINDS:
            raise LexiconError(path, line, f"variants must be among {VARIANT_KINDS}, not {v!r}")
    try:
        severity = Severity(row.get("severity") or "medium")
    except ValueError:
        raise LexiconError(
            path, line, f"severity {row.get('severity')!r} is not low, medium or high"
        ) from None
    lang = row.get("lang") or ("en" if keyword.isascii() else "zh")
    return LexiconEntry(
        keyword, level1, level2, risk, lang, match, variants, severity, f"{path}:{line}"
    )


def load_lexicon(
    files: Sequence[str | Path],
    mapping: str | Path | None = None,
    allowlist: Sequence[str | Path] = (),
    known_risks: Iterable[str] | None = None,
) -> Lexicon:
    """Load keyword libraries, map them to risks and load their allowlists."""
    table = load_mapping(Path(mapping)) if mapping else {}
    risks = frozenset(known_risks) if known_risks is not None else None
    entries: list[LexiconEntry] = []
    seen: dict[tuple[str, str], str] = {}
    for f in files:
        path = Path(f)
        count = 0
        for line, row in _read_rows(path):
            entry = _entry(path, line, row, table, risks)
            key = (entry.keyword, entry.risk)
            if key in seen:
                continue  # the same term under the same risk twice adds nothing
            seen[key] = entry.source
            entries.append(entry)
            count += 1
        if count == 0:
            raise LexiconError(path, None, "no entries")
    allowed: list[str] = []
    for f in allowlist:
        path = Path(f)
        for line, row in _read_rows(path):
            word = row.get("word") or row.get("keyword") or ""
            if not word:
                raise LexiconError(path, line, "empty allowlist word")
            allowed.append(word)
    return Lexicon(tuple(entries), tuple(allowed))
