from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
from corpus_support import FAST, ILLEGAL, PHONE, filler, source, write_jsonl, write_manifest
from typer.testing import CliRunner

from hegui.cli import app
from hegui.corpus import LocalExecutor, ReviewError, ScanOptions, apply_review, scan_corpus


@pytest.fixture
def run(tmp_path: Path) -> Path:
    texts = [filler(i) for i in range(40)] + [PHONE, ILLEGAL]
    write_jsonl(tmp_path / "a.jsonl", texts)
    manifest = write_manifest(tmp_path, [source("a", "a.jsonl")])
    out = tmp_path / "run"
    opts = ScanOptions(detectors=FAST, source_sample=100)
    scan_corpus(manifest, out, opts, LocalExecutor(1))
    return out


def _sheet(run: Path) -> list[list[object]]:
    book = openpyxl.load_workbook(run / "review.xlsx")
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


def _fill(run: Path, labels: dict[int, str], path: Path) -> Path:
    book = openpyxl.load_workbook(run / "review.xlsx")
    sheet = book.worksheets[0]
    for row, label in labels.items():
        sheet.cell(row=row, column=5).value = label
    book.save(path)
    return path


def test_sheet_is_a_seeded_blind_sample_with_pii_masked(run: Path) -> None:
    rows = _sheet(run)
    assert rows[0][:5] == ["编号 key", "来源 source", "位置 location", "文本 text", "判定 label"]
    assert len(rows) == 43 and rows[1][0] == "R00001"  # all 42: fewer than the pack's 4,000
    texts = " ".join(str(r[3]) for r in rows[1:])
    assert "13812345678" not in texts  # masked, as the pack asks, even for reviewers
    flat = json.dumps(rows, ensure_ascii=False)
    assert "rejected" not in flat and "cleaned" not in flat  # no automated verdict shown
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["manual"]["status"] == "pending" and summary["manual"]["sample_size"] == 42


def _review_corpus(tmp_path: Path) -> Path:
    texts = [filler(i) for i in range(240)]
    texts[7] = f"{ILLEGAL} {PHONE}"  # rejected, and the sheet masks its phone number
    texts[100] = PHONE
    write_jsonl(tmp_path / "a.jsonl", texts)
    return write_manifest(tmp_path, [source("a", "a.jsonl")])


def test_the_sheet_is_the_same_from_kept_texts_and_from_the_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hegui.corpus import _worker

    manifest = _review_corpus(tmp_path)
    # many small shards, each keeping fewer texts than its share: most sampled
    # documents come from the shards' kept texts, the rest from their cleaned and
    # rejected files
    monkeypatch.setattr(_worker, "REVIEW_SPARE", 0.6)
    monkeypatch.setattr(_worker, "REVIEW_MIN", 0)
    opts = ScanOptions(detectors=FAST, manual_sample=120, shard_mb=0.004)
    out = tmp_path / "run"
    result = scan_corpus(manifest, out, opts, LocalExecutor(1))
    assert result.shards_total >= 8
    kept = sum(pq.read_metadata(p).num_rows for p in (out / "review").rglob("*.parquet"))
    assert 0 < kept < 120
    mixed = _sheet(out)
    for path in [*(out / "review").rglob("*.parquet"), out / "review.xlsx"]:
        path.unlink()  # every text now comes from the shards' files
    scan_corpus(manifest, out, opts, LocalExecutor(1))
    assert _sheet(out) == mixed and len(mixed) == 121
    texts = [str(row[3]) for row in mixed[1:]]
    assert all("13812345678" not in t for t in texts)
    masked_illegal = [t for t in texts if t.startswith(ILLEGAL)]
    assert len(masked_illegal) == 1 and "*" in masked_illegal[0]


def test_the_review_sample_does_not_depend_on_the_shards(tmp_path: Path) -> None:
    manifest = _review_corpus(tmp_path)
    where = []
    for shard_mb in (0.004, 64.0):
        out = tmp_path / f"run-{shard_mb}"
        opts = ScanOptions(detectors=FAST, manual_sample=50, shard_mb=shard_mb)
        scan_corpus(manifest, out, opts, LocalExecutor(1))
        where.append(pq.read_table(out / "review_sample.parquet").column("location").to_pylist())
        assert len(_sheet(out)) == 51
    assert where[0] == where[1] and len(set(where[0])) == 50


def test_a_smaller_sheet_cannot_meet_the_pack_minimum(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [filler(i) for i in range(30)])
    manifest = write_manifest(tmp_path, [source("a", "a.jsonl")])
    opts = ScanOptions(detectors=FAST, manual_sample=10)
    scan_corpus(manifest, tmp_path / "run", opts, LocalExecutor(1))
    labels = _fill(tmp_path / "run", dict.fromkeys(range(2, 12), "合格"), tmp_path / "l.xlsx")
    checks = {c["name"]: c for c in apply_review(tmp_path / "run", labels)["checks"]}
    assert checks["manual review labels >= 30"]["passed"] is False


def test_import_computes_the_manual_rate_and_decides_again(run: Path, tmp_path: Path) -> None:
    labels = _fill(run, dict.fromkeys(range(2, 44), "合格"), tmp_path / "labels.xlsx")
    summary = apply_review(run, labels)
    assert summary["manual"]["labeled"] == 42
    assert summary["manual"]["qualified_rate"]["value"] == 1.0
    checks = {c["name"]: c for c in summary["checks"]}
    assert checks["manual review labels >= 42"]["passed"] is True
    assert checks["manual qualified rate >= 0.96"]["passed"] is True
    saved = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert saved["manual"]["status"] == "imported"
    assert json.loads((run / "review.json").read_text(encoding="utf-8"))["labeled"] == 42
    assert "agreement with the automated verdict" in (run / "report.html").read_text("utf-8")


def test_import_below_the_rate_fails_and_the_cli_exits_1(run: Path, tmp_path: Path) -> None:
    marks = {r: ("不合格" if r % 4 == 0 else "qualified") for r in range(2, 44)}
    labels = _fill(run, marks, tmp_path / "labels.xlsx")
    res = CliRunner().invoke(app, ["corpus", "review", "import", str(run), str(labels)])
    assert res.exit_code == 1, res.output
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["verdict"] == "fail"
    assert summary["manual"]["qualified_rate"]["value"] == pytest.approx(32 / 42)


def test_too_few_labels_fail_the_count_check(run: Path, tmp_path: Path) -> None:
    labels = _fill(run, {2: "合格", 3: "1"}, tmp_path / "labels.xlsx")
    summary = apply_review(run, labels)
    checks = {c["name"]: c for c in summary["checks"]}
    assert checks["manual review labels >= 42"]["passed"] is False
    assert summary["verdict"] == "fail"


def test_bad_labels_name_the_row(run: Path, tmp_path: Path) -> None:
    labels = _fill(run, {2: "合格", 5: "maybe"}, tmp_path / "labels.xlsx")
    with pytest.raises(ReviewError) as info:
        apply_review(run, labels)
    assert info.value.row == 5 and "maybe" in info.value.reason
    book = openpyxl.load_workbook(run / "review.xlsx")
    book.worksheets[0].cell(row=3, column=1).value = "R99999"
    book.save(tmp_path / "other.xlsx")
    res = CliRunner().invoke(
        app, ["corpus", "review", "import", str(run), str(tmp_path / "other.xlsx")]
    )
    assert res.exit_code == 2 and "row 3" in res.stderr and "R99999" in res.stderr
    (tmp_path / "junk.xlsx").write_text("not a workbook", encoding="utf-8")
    with pytest.raises(ReviewError, match="cannot read"):
        apply_review(run, tmp_path / "junk.xlsx")


def test_a_resumed_run_keeps_the_imported_review(run: Path, tmp_path: Path) -> None:
    labels = _fill(run, dict.fromkeys(range(2, 44), "合格"), tmp_path / "labels.xlsx")
    apply_review(run, labels)
    manifest = tmp_path / "manifest.yaml"
    opts = ScanOptions(detectors=FAST, source_sample=100)
    again = scan_corpus(manifest, run, opts, LocalExecutor(1))
    assert again.shards_run == 0
    assert again.summary["manual"]["status"] == "imported"


def test_a_review_of_another_sample_is_dropped(run: Path, tmp_path: Path) -> None:
    labels = _fill(run, dict.fromkeys(range(2, 44), "合格"), tmp_path / "labels.xlsx")
    apply_review(run, labels)
    write_jsonl(tmp_path / "a.jsonl", [filler(i) for i in range(50)])  # the data changed
    opts = ScanOptions(detectors=FAST, source_sample=100)
    again = scan_corpus(tmp_path / "manifest.yaml", run, opts, LocalExecutor(1))
    assert again.shards_run == 1
    assert again.summary["manual"]["status"] == "pending"
    assert not (run / "review.json").exists()
    assert len(_sheet(run)) == 51  # a new sheet for the new sample


def test_sheet_written_directly_reads_back_in_openpyxl(tmp_path: Path) -> None:
    from hegui.corpus._review import CELL_MAX, HEADER, NOTES, TAB, _write_sheet

    texts = [
        '  & <b>粗体</b> "quoted" \x01 control \t tab\nnew line  ',
        "x" * (CELL_MAX + 10),
        "表情 😀 and 𠀀",
    ]
    rows = [
        {"key": f"R{i:05d}", "source": "src&<1>", "location": f"a.jsonl:{i}"} for i in range(1, 4)
    ]
    _write_sheet(tmp_path / "a.xlsx", rows, texts)
    _write_sheet(tmp_path / "b.xlsx", rows, texts)
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()

    book = openpyxl.load_workbook(tmp_path / "a.xlsx")
    assert book.sheetnames == [TAB, "说明 instructions"]
    sheet = book[TAB]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == HEADER
    assert values[1] == [
        "R00001",
        "src&<1>",
        "a.jsonl:1",
        '  & <b>粗体</b> "quoted" \ufffd control \t tab\nnew line  ',
        None,
        None,
    ]
    assert values[2][3] == "x" * CELL_MAX + " …[10 more characters not shown]"
    assert values[3][3] == "表情 😀 and 𠀀"
    assert all(sheet.cell(1, c).font.b for c in range(1, 7))
    assert not sheet.cell(2, 1).font.b
    assert all(sheet.cell(r, 4).alignment.wrap_text for r in range(2, 5))
    assert sheet.cell(2, 4).alignment.vertical == "top"
    assert sheet.freeze_panes == "A2"
    assert [sheet.column_dimensions[c].width for c in "ABCDEF"] == [10, 14, 28, 90, 12, 30]
    (pick,) = sheet.data_validations.dataValidation
    assert (pick.type, pick.formula1, str(pick.sqref)) == ("list", '"合格,不合格"', "E2:E4")
    notes = [r[0] for r in book["说明 instructions"].iter_rows(values_only=True)]
    assert notes == NOTES
