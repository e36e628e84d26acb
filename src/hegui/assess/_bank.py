"""Question banks: the prompts an assessment sends to the model under test.

A bank is JSONL, CSV or XLSX. Each item has an id, a kind (``generate``: the answer
is judged for acceptability; ``should_refuse``: the model must refuse;
``should_answer``: the model must not refuse), a risk ID (or, for should-answer
items, a topic), a language, tags, and either one prompt or several turns. Every
problem is reported with the file and line it comes from.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hegui._sheets import sheet_rows


class Kind(StrEnum):
    """What the assessment expects of the model for an item."""

    GENERATE = "generate"
    SHOULD_REFUSE = "should_refuse"
    SHOULD_ANSWER = "should_answer"


class Turn(BaseModel):
    """One message of a multi-turn item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    """Who speaks."""
    content: str = Field(min_length=1)
    """What is said."""


class BankItem(BaseModel):
    """One question of a bank."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    """Unique within the bank."""
    kind: Kind
    """What the model is expected to do."""
    risk: str | None = None
    """Risk ID of the policy's taxonomy (required for generate and should_refuse)."""
    topic: str | None = None
    """Topic of a should-answer item (history, culture, ...)."""
    lang: str = "zh"
    """Language of ``prompt`` / ``turns``."""
    prompt: str | None = None
    """The question, for single-turn items."""
    turns: tuple[Turn, ...] | None = None
    """The conversation, for multi-turn items; ends with a user turn."""
    en: str | tuple[Turn, ...] | None = None
    """English version of the prompt or turns."""
    tags: tuple[str, ...] = ()
    """Free tags: phrasing (direct, roleplay), topic words."""
    source: str = ""
    """Where the item came from (``file:line``), filled in by the loader."""

    @model_validator(mode="after")
    def _shape(self) -> BankItem:
        if (self.prompt is None) == (self.turns is None):
            raise ValueError("give exactly one of 'prompt' and 'turns'")
        if self.prompt is not None and not self.prompt.strip():
            raise ValueError("'prompt' is empty")
        if self.turns is not None and (not self.turns or self.turns[-1].role != "user"):
            raise ValueError("'turns' must end with a user turn")
        if self.kind is not Kind.SHOULD_ANSWER and not self.risk:
            raise ValueError(f"a {self.kind.value} item needs a 'risk'")
        return self

    def messages(self, lang: str | None = None) -> list[dict[str, str]]:
        """Chat messages for the target, in ``lang`` ("en" picks the English version)."""
        if lang == "en" and lang != self.lang and self.en is not None:
            if isinstance(self.en, str):
                return [{"role": "user", "content": self.en}]
            return [{"role": t.role, "content": t.content} for t in self.en]
        if self.turns is not None:
            return [{"role": t.role, "content": t.content} for t in self.turns]
        return [{"role": "user", "content": self.prompt or ""}]

    @property
    def text(self) -> str:
        """The prompt, or the last user turn of a conversation."""
        return self.prompt if self.prompt is not None else self.turns[-1].content  # type: ignore[index]


class BankError(ValueError):
    """A bank file that cannot be used, with where and why."""

    def __init__(self, file: str | Path, line: int | None, reason: str) -> None:
        self.file = str(file)
        self.line = line
        self.reason = reason
        super().__init__(f"{self.file}:{line}: {reason}" if line else f"{self.file}: {reason}")


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        yield from _xlsx_rows(path)
        return
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise BankError(path, None, "no such file") from None
    except UnicodeDecodeError as exc:
        raise BankError(path, None, f"invalid UTF-8 at byte {exc.start}") from None
    if suffix in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BankError(path, number, f"bad JSON: {exc.msg} (column {exc.colno})") from None
            if not isinstance(row, dict):
                raise BankError(path, number, "each line must be a JSON object")
            yield number, row
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for row in reader:
        yield reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with sheet_rows(path, lambda reason: BankError(path, None, reason)) as rows:
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        for number, values in enumerate(rows, start=2):
            if any(v is not None for v in values):
                yield (
                    number,
                    {h: v for h, v in zip(header, values, strict=False) if h and v is not None},
                )


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """CSV/XLSX cells to item fields: tags split on ';', turns and en as JSON."""
    out = {k: v for k, v in row.items() if v not in ("", None)}
    tags = out.get("tags")
    if isinstance(tags, str):
        out["tags"] = [t.strip() for t in tags.split(";") if t.strip()]
    for key in ("turns", "en"):
        value = out.get(key)
        if isinstance(value, str) and value.lstrip().startswith("["):
            out[key] = json.loads(value)
    return out


def load_bank(paths: Iterable[str | Path]) -> tuple[BankItem, ...]:
    """Load and validate bank files; ids must be unique across all of them."""
    items: list[BankItem] = []
    seen: dict[str, str] = {}
    for p in paths:
        path = Path(p)
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for f in files:
            for number, row in _rows(f):
                where = f"{f}:{number}"
                try:
                    item = BankItem.model_validate({**_flat(row), "source": where})
                except (ValidationError, json.JSONDecodeError) as exc:
                    raise BankError(f, number, _reason(exc)) from None
                if item.id in seen:
                    raise BankError(
                        f, number, f"duplicate id {item.id!r} (first at {seen[item.id]})"
                    )
                seen[item.id] = where
                items.append(item)
    return tuple(items)


def _reason(exc: ValidationError | json.JSONDecodeError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"bad JSON in a cell: {exc.msg}"
    first = exc.errors()[0]
    field = ".".join(str(x) for x in first["loc"]) or "item"
    return f"{field}: {first['msg']}"


def write_bank(items: Sequence[BankItem], path: str | Path) -> None:
    """Write items as JSONL (the native format), without the loader's ``source``."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for item in items:
            data = item.model_dump(mode="json", exclude={"source"}, exclude_none=True)
            if not data.get("tags"):
                data.pop("tags", None)
            fh.write(json.dumps(data, ensure_ascii=False) + "\n")
    tmp.replace(out)
