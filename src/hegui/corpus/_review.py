"""The manual check: export a seeded sample for human reviewers, read their labels back.

The sheet shows each sampled document with personal information masked as the pack
asks, and nothing of the automated verdict, so reviewers judge on their own; the
automated verdicts stay in ``review_sample.parquet`` and are compared on import.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hegui._sheets import sheet_rows
from hegui.corpus._finish import Docs
from hegui.corpus._gates import lowest, priorities, rate
from hegui.corpus._outputs import shard_paths
from hegui.corpus._plan import Plan
from hegui.corpus._worker import REVIEW_LABEL, masked

SHEET = "review.xlsx"
SAMPLE = "review_sample.parquet"
TAB = "抽检 review"
CELL_MAX = 32000  # Excel holds at most 32,767 characters in a cell
QUALIFIED = frozenset({"合格", "qualified", "pass", "ok", "yes", "y", "1", "true"})
UNQUALIFIED = frozenset({"不合格", "unqualified", "fail", "no", "n", "0", "false"})
HEADER = ["编号 key", "来源 source", "位置 location", "文本 text", "判定 label", "说明 note"]


class ReviewError(ValueError):
    """A labels file that cannot be used, naming the file, row and reason."""

    def __init__(self, file: Path | str, row: int | None, reason: str) -> None:
        self.file, self.row, self.reason = Path(file), row, reason
        where = f"{file}: row {row}" if row is not None else str(file)
        super().__init__(f"{where}: {reason}")


def _texts(run_dir: Path, plan: Plan, docs: Docs, positions: np.ndarray[Any, Any]) -> list[str]:
    """Text of the chosen documents: cleaned text, or rejected text with PII masked.

    Each shard kept the texts of its likeliest documents (``ReviewDraw``); only a
    document it did not keep is read from its cleaned or rejected shard.
    """
    wanted: dict[int, set[int]] = defaultdict(set)
    for pos in positions:
        wanted[int(docs.shard[pos])].add(int(docs.seq[pos]))
    found: dict[tuple[int, int], str] = {}
    for shard_no, seqs in wanted.items():
        paths = shard_paths(run_dir, plan.shards[shard_no])
        kept = dict(_rows_with(paths["review"], seqs)) if paths["review"].exists() else {}
        found.update(((shard_no, seq), text) for seq, text in kept.items())
        if len(kept) < len(seqs):
            missing = seqs - kept.keys()
            found.update(((shard_no, seq), text) for seq, text in _from_shard(paths, missing))
    return [found[(int(docs.shard[p]), int(docs.seq[p]))] for p in positions]


def _from_shard(paths: dict[str, Path], seqs: set[int]) -> Iterator[tuple[int, str]]:
    """``(seq, text)`` of documents read back from a shard's cleaned and rejected files."""
    import pyarrow.parquet as pq

    yield from _rows_with(paths["cleaned"], seqs)
    rejected = dict(_rows_with(paths["rejected"], seqs))
    if rejected:
        attrs = pq.ParquetFile(paths["attributes"])
        findings = attrs.read(columns=["findings"], use_threads=False).column(0)
        for seq, text in rejected.items():
            yield seq, masked(text, findings[seq].as_py())


def _rows_with(path: Path, seqs: set[int]) -> Iterator[tuple[int, str]]:
    """``(seq, text)`` of the rows of a shard file whose seq is in ``seqs``.

    Reads one row group at a time, and only those whose seq range holds a wanted one:
    reading a whole shard's text at once costs up to twice the CPU, most of it in
    touching fresh memory.
    """
    import pyarrow.parquet as pq

    lowest, highest = min(seqs), max(seqs)
    file = pq.ParquetFile(path)
    meta = file.metadata
    seq_col = file.schema_arrow.get_field_index("seq")
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(seq_col).statistics
        if stats is not None and stats.has_min_max:
            if stats.max < lowest or stats.min > highest:
                continue
            if not any(stats.min <= s <= stats.max for s in seqs):
                continue
        table = file.read_row_group(group, columns=["seq", "text"], use_threads=False)
        texts = table.column("text")
        for i, seq in enumerate(table.column("seq").to_pylist()):
            if seq in seqs:
                yield seq, texts[i].as_py()


def _cell(text: str) -> str:
    if len(text) > CELL_MAX:
        text = text[:CELL_MAX] + f" …[{len(text) - CELL_MAX} more characters not shown]"
    return text


def _digest(keys: list[str], where: list[str]) -> str:
    lines = "\n".join(f"{k} {w}" for k, w in zip(keys, where, strict=True))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _existing_digest(run_dir: Path) -> str | None:
    import pyarrow.parquet as pq

    if not (run_dir / SHEET).exists() or not (run_dir / SAMPLE).exists():
        return None
    table = pq.read_table(run_dir / SAMPLE, columns=["key", "location"])
    return _digest(table.column("key").to_pylist(), table.column("location").to_pylist())


def review_sample(docs: Docs, size: int, seed: int) -> tuple[np.ndarray[Any, Any], str]:
    """Positions of the documents in the review sheet and the sample's SHA-256."""
    positions = lowest(priorities(docs.file, docs.line, seed, REVIEW_LABEL), size)
    keys = [f"R{i + 1:05d}" for i in range(len(positions))]
    return positions, _digest(keys, _where(docs, positions))


def _where(docs: Docs, positions: np.ndarray[Any, Any]) -> list[str]:
    return [f"{docs.file[p]}:{int(docs.line[p])}" for p in positions]


def export_review(
    *,
    run_dir: Path,
    plan: Plan,
    docs: Docs,
    sources: list[str],
    sample: tuple[np.ndarray[Any, Any], str],
) -> None:
    """Write review.xlsx and review_sample.parquet for ``sample`` (``review_sample``'s).

    A sheet already written for the same sample is left alone: reviewers may be
    filling it in.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hegui.corpus._arrow import inferred_strings

    positions, digest = sample
    if _existing_digest(run_dir) == digest:
        return
    table = pa.table(
        {
            "key": inferred_strings([f"R{i + 1:05d}" for i in range(len(positions))]),
            "source": inferred_strings([sources[int(docs.source[p])] for p in positions]),
            "location": inferred_strings(_where(docs, positions)),
            "id": inferred_strings([docs.ids[p] for p in positions]),
            "automated": inferred_strings([str(docs.status[p]) for p in positions]),
        }
    )
    pq.write_table(table, run_dir / SAMPLE, compression="zstd")
    _write_sheet(run_dir / SHEET, table.to_pylist(), _texts(run_dir, plan, docs, positions))


NOTES = [
    "Judge each text as a training item under the policy's risks (GB/T 45654 Appendix A).",
    "In 判定 label write 合格 (qualified) or 不合格 (unqualified); leave it empty to skip.",
    "Personal information is masked with *; judge the rest of the text.",
    "Then run: hegui corpus review import RUN_DIR THIS_FILE.xlsx",
]
WIDTHS = (10, 14, 28, 90, 12, 30)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_DOC = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PLAIN, _BOLD, _WRAP = 0, 1, 2  # cell formats in _STYLES
_STYLES = (
    f'<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""The control characters XML 1.0 cannot hold (openpyxl refuses the same ones)."""


def _legal(value: str) -> str:
    """``value`` with the control characters XML cannot hold replaced by U+FFFD."""
    return _ILLEGAL.sub("\ufffd", value)


def _xml_text(value: str) -> str:
    """``value`` as XML character data."""
    value = _legal(value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _row(number: int, cells: list[tuple[str, int]]) -> str:
    """One ``<row>`` of inline-string cells, each ``(text, format)``, from column A."""
    out = [f'<row r="{number}">']
    for col, (text, style) in zip("ABCDEF", cells, strict=False):
        if not text:  # as openpyxl does: an empty string is no value
            continue
        attr = f' s="{style}"' if style else ""
        out.append(
            f'<c r="{col}{number}"{attr} t="inlineStr"><is>'
            f'<t xml:space="preserve">{_xml_text(text)}</t></is></c>'
        )
    out.append("</row>")
    return "".join(out)


def _sheet_xml(rows: list[str], *, frozen: bool, widths: tuple[int, ...], extra: str) -> str:
    """A worksheet of ``rows`` (from ``_row``), its column widths and what follows the data."""
    view = (
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        if frozen
        else ""
    )
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
        for i, w in enumerate(widths, start=1)
    )
    return (
        f'{_HEAD}<worksheet xmlns="{_MAIN}" xmlns:r="{_OFFICE}">'
        f'<dimension ref="A1:{"ABCDEF"[max(len(widths), 1) - 1]}{max(len(rows), 1)}"/>'
        f'<sheetViews><sheetView workbookViewId="0">{view}</sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + f"<sheetData>{''.join(rows)}</sheetData>{extra}"
        '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
        "</worksheet>"
    )


def _write_sheet(path: Path, rows: list[dict[str, Any]], texts: list[str]) -> None:
    """Write review.xlsx: the sample on the first sheet, instructions on the second.

    The workbook's XML is written directly (openpyxl reads it back, and reviewers may
    fill it in with any spreadsheet program): openpyxl's writer took 0.3 CPU seconds
    more for 4,000 documents (0.82 s against 0.51 s, most of which is deflating). The
    header is bold, column D wraps, column E offers 合格/不合格 in a drop-down, and
    the header row stays in view.
    """
    lines = [_row(1, [(h, _BOLD) for h in HEADER])]
    for number, (row, text) in enumerate(zip(rows, texts, strict=True), start=2):
        cells = [(row["key"], _PLAIN), (row["source"], _PLAIN), (row["location"], _PLAIN)]
        lines.append(_row(number, [*cells, (_cell(text), _WRAP)]))
    pick = (
        '<dataValidations count="1"><dataValidation type="list" allowBlank="1" '
        f'showErrorMessage="1" sqref="E2:E{len(rows) + 1}">'
        '<formula1>"合格,不合格"</formula1></dataValidation></dataValidations>'
        if rows
        else ""
    )
    review = _sheet_xml(lines, frozen=True, widths=WIDTHS, extra=pick)
    notes_rows = [_row(i, [(line, _PLAIN)]) for i, line in enumerate(NOTES, start=1)]
    notes = _sheet_xml(notes_rows, frozen=False, widths=(), extra="")
    sheets = [TAB, "说明 instructions"]
    workbook = (
        f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE}"><bookViews><workbookView/>'
        "</bookViews><sheets>"
        + "".join(
            f'<sheet name="{_xml_text(name)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, name in enumerate(sheets, start=1)
        )
        + "</sheets></workbook>"
    )
    parts = {
        "[Content_Types].xml": (
            f'{_HEAD}<Types xmlns="{_TYPES}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_DOC}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_DOC}.styles+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                f'ContentType="{_DOC}.worksheet+xml"/>'
                for i in range(1, len(sheets) + 1)
            )
            + "</Types>"
        ),
        "_rels/.rels": (
            f'{_HEAD}<Relationships xmlns="{_PACKAGE}"><Relationship Id="rId1" '
            f'Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": workbook,
        "xl/_rels/workbook.xml.rels": (
            f'{_HEAD}<Relationships xmlns="{_PACKAGE}">'
            + "".join(
                f'<Relationship Id="rId{i}" Type="{_OFFICE}/worksheet" '
                f'Target="worksheets/sheet{i}.xml"/>'
                for i in range(1, len(sheets) + 1)
            )
            + f'<Relationship Id="rId{len(sheets) + 1}" Type="{_OFFICE}/styles" '
            'Target="styles.xml"/></Relationships>'
        ),
        "xl/styles.xml": _HEAD + _STYLES,
        "xl/worksheets/sheet1.xml": review,
        "xl/worksheets/sheet2.xml": notes,
    }
    _save(path, parts)


def _save(path: Path, parts: dict[str, str]) -> None:
    """Zip the workbook's parts with the fastest deflate level and a fixed time stamp.

    zlib's default level (6) on 4,000 documents of text takes a large share of the
    whole-corpus phase; level 1 deflates text three times as fast into about an eighth
    more bytes (measured on the pack's and docs' text). The fixed time stamp makes the
    same sample give the same file.
    """
    from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

    with ZipFile(path, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=1) as archive:
        for name, text in parts.items():
            info = ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"), compresslevel=1)


def _label(value: object, file: Path, row: int) -> bool | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().lower()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if text in QUALIFIED:
        return True
    if text in UNQUALIFIED:
        return False
    raise ReviewError(file, row, f"label {value!r} is not 合格/不合格 (qualified/unqualified)")


def read_labels(path: Path, keys: set[str]) -> dict[str, tuple[bool, str]]:
    """Labels from a filled-in review sheet: key -> (qualified, note).

    Raises:
        ReviewError: unreadable file, missing columns, unknown or repeated key, bad label.
    """
    with sheet_rows(path, lambda reason: ReviewError(path, None, reason), TAB) as rows:
        header = [str(v or "") for v in next(rows, ())]
        key_col, label_col = _column(header, "编号", path), _column(header, "判定", path)
        note_col = next((i for i, h in enumerate(header) if h.startswith("说明")), None)
        labels: dict[str, tuple[bool, str]] = {}
        for number, row in enumerate(rows, start=2):
            key = row[key_col] if key_col < len(row) else None
            if key is None:
                continue
            key = str(key).strip()
            if key not in keys:
                raise ReviewError(path, number, f"key {key!r} is not in this run's sample")
            if key in labels:
                raise ReviewError(path, number, f"key {key!r} is labeled twice")
            label = _label(row[label_col] if label_col < len(row) else None, path, number)
            note = row[note_col] if note_col is not None and note_col < len(row) else None
            if label is not None:
                labels[key] = (label, "" if note is None else str(note))
        return labels


def _column(header: list[str], prefix: str, path: Path) -> int:
    for i, name in enumerate(header):
        if name.startswith(prefix):
            return i
    raise ReviewError(path, 1, f"no column starting with {prefix!r} in the header")


def import_review(run_dir: Path, labels_path: Path) -> dict[str, Any]:
    """Read labels back; return the manual check's figures (also written to review.json)."""
    import pyarrow.parquet as pq

    sample_path = run_dir / SAMPLE
    if not sample_path.exists():
        raise ReviewError(sample_path, None, "no review sample here; is this a corpus run?")
    sample = pq.read_table(sample_path).to_pylist()
    labels = read_labels(labels_path, {r["key"] for r in sample})
    auto = {r["key"]: r["automated"] == "rejected" for r in sample}
    good = sum(ok for ok, _ in labels.values())
    both_bad = sum(not ok and auto[k] for k, (ok, _) in labels.items())
    both_good = sum(ok and not auto[k] for k, (ok, _) in labels.items())
    return {
        "labels_file": str(labels_path),
        "labels_sha256": hashlib.sha256(labels_path.read_bytes()).hexdigest(),
        "sample_size": len(sample),
        "labeled": len(labels),
        "qualified": good,
        "qualified_rate": rate(good, len(labels)),
        "agreement": {
            "both_qualified": both_good,
            "both_unqualified": both_bad,
            "only_reviewer_unqualified": sum(
                not ok and not auto[k] for k, (ok, _) in labels.items()
            ),
            "only_automated_rejected": sum(ok and auto[k] for k, (ok, _) in labels.items()),
            "rate": rate(both_good + both_bad, len(labels))["value"],
        },
        "unqualified": [
            {"key": k, "note": note} for k, (ok, note) in sorted(labels.items()) if not ok
        ][:200],
    }
