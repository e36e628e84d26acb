"""Labelled rows for the classifier: reading CSV/JSONL, label maps and seeded splits.

Rows are read from CSV or JSONL with configurable columns; a label map turns each
label into a risk id or ``safe``. Splits everywhere are decided by a seeded hash of
a row's text (or group), so they are the same in every run and process.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SAFE = "safe"
SPREADSHEET_ERRORS = frozenset({"#NAME?", "#VALUE!", "#REF!", "#N/A", "#DIV/0!"})
"""Cells a spreadsheet export left instead of text; rows holding them are skipped."""
_SAFE_WORDS = frozenset({"safe", "none", "null", "0", "benign", "~", ""})


class DataError(ValueError):
    """A data or label-map file cannot be used; the message names file and row."""


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One training or evaluation row: its text and risk id (``safe`` for none)."""

    text: str
    risk: str
    source: str = ""
    group: str = ""
    """Rows with the same non-empty group land in the same split part (a row and the
    variants made from it); empty: the text itself decides."""


def load_label_map(path: str | Path) -> dict[str, str]:
    """Read a YAML mapping ``label -> risk id``; ``safe``/null/``none`` mean no risk."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: a label map must be a mapping of label -> risk id")
    out: dict[str, str] = {}
    for key, value in raw.items():
        risk = SAFE if value is None or str(value).strip().lower() in _SAFE_WORDS else str(value)
        out[str(key).strip()] = risk
    return out


def map_label(value: str, mapping: Mapping[str, str]) -> str | None:
    """Risk id of a label: the whole label, else its last, else its first ``/`` part.

    Labels from several columns are joined with ``/`` (``race/1``, ``违法犯罪/诈骗``), so
    a map can name a combination, the finer part alone, or the coarse part as a
    fallback (the first ``|`` alternative of the last part too); ``*`` is the default.
    Returns None when nothing matches.
    """
    value = value.strip()
    parts = [p.strip() for p in value.split("/")]
    for key in (value, parts[-1], parts[-1].split("|")[0].strip(), parts[0], "*"):
        if key in mapping:
            return mapping[key]
    return None


def _rows(path: Path) -> Iterable[tuple[int, Mapping[str, Any]]]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{line_no}: {exc}") from None
                    if not isinstance(row, dict):
                        raise DataError(f"{path}:{line_no}: each line must be a JSON object")
                    yield line_no, row
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            yield from enumerate(csv.DictReader(fh), 2)


def read_labelled(
    path: str | Path,
    text_col: str = "text",
    label_col: str = "label",
    label_map: Mapping[str, str] | None = None,
    known_risks: Iterable[str] | None = None,
) -> list[LabelledText]:
    """Rows of a CSV or JSONL file as labelled texts.

    ``label_col`` may name several columns separated by commas; their values are
    joined with ``/`` before the label map is applied. Without a map, labels must be
    risk ids or ``safe``.

    Raises:
        DataError: a column is missing, a label has no mapping or names an unknown risk.
    """
    p = Path(path)
    cols = [c.strip() for c in label_col.split(",") if c.strip()]
    known = set(known_risks) if known_risks is not None else None
    out: list[LabelledText] = []
    try:
        for line_no, row in _rows(p):
            missing = [c for c in (text_col, *cols) if c not in row]
            if missing:
                raise DataError(f"{p}:{line_no}: no column(s) {', '.join(missing)}")
            text = str(row[text_col] or "").strip()
            if not text or text in SPREADSHEET_ERRORS:
                continue
            label = "/".join(str(row[c]).strip() for c in cols)
            if label_map is None:
                risk: str | None = SAFE if label.lower() in _SAFE_WORDS else label
            else:
                risk = map_label(label, label_map)
            if risk is None:
                raise DataError(f"{p}:{line_no}: label {label!r} is not in the label map")
            if known is not None and risk != SAFE and risk not in known:
                raise DataError(f"{p}:{line_no}: label {label!r} -> unknown risk {risk!r}")
            out.append(LabelledText(text, risk, p.name))
    except OSError as exc:
        raise DataError(f"{p}: {exc}") from None
    return out


def seeded_fraction(key: str, seed: int) -> float:
    """A stable number in [0, 1) for ``key``: the basis of every split here."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
