"""Importers from public question-set formats into hegui banks.

XSTest (CSV), JADE-DB (CSV, 违规子类 mapped onto risk IDs), Flames (JSONL) and any
CSV/JSONL with a column mapping. The category tables are data
(``packs/cn/importers.yaml``); the data sets themselves are read by path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from hegui.assess._bank import BankError, BankItem, Kind, _rows

MAPPINGS = Path(__file__).resolve().parents[1] / "packs" / "cn" / "importers.yaml"


@lru_cache(maxsize=4)
def _tables(path: Path = MAPPINGS) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise BankError(path, None, "expected a mapping of importer tables")
    return data


def _item(path: Path, line: int, **fields: Any) -> BankItem:
    try:
        return BankItem.model_validate({**fields, "source": f"{path}:{line}"})
    except ValueError as exc:
        raise BankError(path, line, str(exc).splitlines()[0]) from None


def _need(path: Path, line: int, row: dict[str, Any], *columns: str) -> list[str]:
    values = []
    for col in columns:
        value = row.get(col)
        if value in (None, ""):
            raise BankError(path, line, f"missing column or empty value {col!r}")
        values.append(str(value).strip())
    return values


def import_xstest(path: Path) -> Iterator[BankItem]:
    """XSTest: ``safe`` prompts must be answered, ``unsafe`` contrast prompts refused."""
    table = _tables()["xstest"]
    for line, row in _rows(path):
        pid, prompt, kind, label = _need(path, line, row, "id", "prompt", "type", "label")
        tags = [kind, *([row["focus"].strip()] if row.get("focus") else [])]
        if label == "safe":
            yield _item(
                path,
                line,
                id=f"xstest-{pid}",
                kind=Kind.SHOULD_ANSWER,
                topic="sensitive_harmless",
                lang="en",
                prompt=prompt,
                tags=tags,
            )
        elif label == "unsafe":
            risk = table["type"].get(kind, table["default"])
            yield _item(
                path,
                line,
                id=f"xstest-{pid}",
                kind=Kind.SHOULD_REFUSE,
                risk=risk,
                lang="en",
                prompt=prompt,
                tags=tags,
            )
        else:
            raise BankError(path, line, f"label must be 'safe' or 'unsafe', not {label!r}")


def jade_risk(category: str, subcategory: str) -> str:
    """Map JADE's 违规类型/违规子类 onto a risk ID (the first of several subcategories)."""
    table = _tables()["jade"]
    first = subcategory.split("|", maxsplit=1)[0].strip()
    return str(
        table["subcategory"].get(first) or table["category"].get(category) or table["default"]
    )


def import_jade(path: Path) -> Iterator[BankItem]:
    """JADE-DB questions: unsafe questions the model must refuse."""
    for line, row in _rows(path):
        pid, prompt = _need(path, line, row, "ID", "问题")
        category = str(row.get("违规类型") or "").strip()
        sub = str(row.get("违规子类") or "").strip()
        yield _item(
            path,
            line,
            id=f"jade-{path.stem}-{pid}",
            kind=Kind.SHOULD_REFUSE,
            risk=jade_risk(category, sub),
            lang="zh",
            prompt=prompt,
            tags=[t for t in (category, sub.split("|")[0]) if t],
        )


def import_flames(path: Path) -> Iterator[BankItem]:
    """Flames: adversarial prompts whose answers are judged (kind generate)."""
    table = _tables()["flames"]
    for line, row in _rows(path):
        (prompt,) = _need(path, line, row, "prompt")
        sub = str(row.get("subcomponent") or "")
        yield _item(
            path,
            line,
            id=f"flames-{line}",
            kind=Kind.GENERATE,
            risk=table["subcomponent"].get(sub, table["default"]),
            lang="zh",
            prompt=prompt,
            tags=[t for t in (row.get("dimension"), sub) if t],
        )


@dataclass(frozen=True, slots=True)
class Columns:
    """Which columns of a generic CSV/JSONL hold what."""

    prompt: str = "prompt"
    id: str | None = "id"
    risk: str | None = "risk"
    kind: str | None = None
    topic: str | None = None
    lang: str | None = None


def import_generic(
    path: Path,
    columns: Columns = Columns(),
    kind: Kind | None = None,
    lang: str = "zh",  # noqa: B008
) -> Iterator[BankItem]:
    """Any CSV/JSONL: name the columns; a fixed ``kind`` applies when no kind column."""
    for line, row in _rows(path):
        (prompt,) = _need(path, line, row, columns.prompt)
        item_kind = Kind(row[columns.kind]) if columns.kind and row.get(columns.kind) else kind
        if item_kind is None:
            raise BankError(path, line, "no kind: give --kind or a kind column")
        pid = str(row.get(columns.id) or line) if columns.id else str(line)
        yield _item(
            path,
            line,
            id=f"{path.stem}-{pid}",
            kind=item_kind,
            risk=(str(row[columns.risk]) if columns.risk and row.get(columns.risk) else None),
            topic=(str(row[columns.topic]) if columns.topic and row.get(columns.topic) else None),
            lang=str(row.get(columns.lang) or lang) if columns.lang else lang,
            prompt=prompt,
        )


IMPORTERS: dict[str, Callable[[Path], Iterator[BankItem]]] = {
    "xstest": import_xstest,
    "jade": import_jade,
    "flames": import_flames,
}
