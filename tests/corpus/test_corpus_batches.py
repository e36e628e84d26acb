"""Batching inside a shard changes how the work is cut, never what a run writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow.parquet as pq
import pytest
from corpus_support import (
    EMAIL,
    FAST,
    ILLEGAL,
    PHONE,
    filler,
    outputs,
    source,
    write_jsonl,
    write_manifest,
)

from hegui.corpus import LocalExecutor, ScanOptions, scan_corpus
from hegui.corpus import _outputs as outputs_module
from hegui.corpus import _worker as worker_module
from hegui.corpus._minhash import shingle_hashes, signatures
from hegui.corpus._review import SHEET, TAB

FNV_PRIME = 0x01000193


def _reference_shingles(text: str, ngram: int) -> list[int]:
    """The shingle hash written out: a 32-bit polynomial over the window's code points."""
    out = []
    for i in range(len(text) - ngram + 1):
        h = 0
        for ch in text[i : i + ngram]:
            h = (h * FNV_PRIME + ord(ch)) & 0xFFFFFFFF
        out.append(h)
    return out


@pytest.mark.parametrize("ngram", [1, 3, 5, 9])
def test_shingle_hashes_match_the_polynomial_for_every_string_width(ngram: int) -> None:
    texts = [
        "plain ascii text, long enough",
        "ascii",
        "",
        "中文的文本，也要足够长才行",
        "mixed 中文 and ascii",
        "astral \U0001f600\U0001f601 emoji \U00020000",
        "lone \ud800 surrogate kept as its code point",
        "\x00nul\x00inside",
        "é" * 12,
    ]
    flat, offsets = shingle_hashes(texts, ngram)
    expected = [_reference_shingles(t, ngram) for t in texts]
    assert offsets.tolist() == np.cumsum([0] + [len(e) for e in expected]).tolist()
    assert flat.tolist() == [h for e in expected for h in e]


DOCS = 40


def _corpus(folder: Path) -> tuple[Path, list[str]]:
    docs = [filler(i) for i in range(DOCS)]
    docs[5], docs[17], docs[29] = ILLEGAL + docs[5], PHONE + docs[17], EMAIL
    docs[33] = docs[3]  # an exact copy, several batches after its original
    docs[38] = docs[8][:-3] + "结尾变了"  # a near copy
    write_jsonl(folder / "a.jsonl", docs)
    return write_manifest(folder, [source("a", "a.jsonl")]), docs


def _sheet(run: Path) -> list[list[object]]:
    book = openpyxl.load_workbook(run / SHEET, read_only=True)
    try:
        return [list(row) for row in book[TAB].iter_rows(values_only=True)]
    finally:
        book.close()


def test_batch_and_row_group_sizes_do_not_change_any_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, docs = _corpus(tmp_path / "data")
    opts = ScanOptions(detectors=FAST, manual_sample=25)
    whole = scan_corpus(manifest, tmp_path / "whole", opts, LocalExecutor(1))
    # one process runs shards in-process, so the patched sizes reach the shard
    monkeypatch.setattr(worker_module, "BATCH_DOCS", 3)
    monkeypatch.setattr(worker_module, "BATCH_CHARS", 200)  # and on size: two documents
    monkeypatch.setattr(outputs_module, "ROW_GROUP", 4)
    cut = scan_corpus(manifest, tmp_path / "cut", opts, LocalExecutor(1))

    assert cut.summary == whole.summary
    assert cut.summary["totals"]["duplicates"]["exact_within"] == 1
    assert cut.summary["totals"]["duplicates"]["near_within"] == 1
    for kind in ("attributes", "cleaned", "rejected"):
        mine = pq.ParquetFile(tmp_path / "cut" / kind / "a" / "00000.parquet")
        theirs = pq.read_table(tmp_path / "whole" / kind / "a" / "00000.parquet")
        assert mine.read().equals(theirs)
        assert mine.metadata.num_row_groups == -(-max(theirs.num_rows, 1) // 4)
    sig = np.load(tmp_path / "cut" / "minhash" / "a" / "00000.npy")
    assert np.array_equal(sig, signatures(docs, opts.dedup)[0])
    assert np.array_equal(sig, np.load(tmp_path / "whole" / "minhash" / "a" / "00000.npy"))
    for name in ("duplicates.parquet", "review_sample.parquet"):
        assert pq.read_table(tmp_path / "cut" / name).equals(
            pq.read_table(tmp_path / "whole" / name)
        )
    assert _sheet(tmp_path / "cut") == _sheet(tmp_path / "whole")
    skip = ("timing.json", "review.xlsx", "shards/a/00000.json")
    assert outputs(tmp_path / "cut", skip).keys() == outputs(tmp_path / "whole", skip).keys()


def test_workers_report_their_cpu_but_markers_do_not(tmp_path: Path) -> None:
    manifest, _ = _corpus(tmp_path / "data")
    opts = ScanOptions(detectors=FAST, shard_mb=0.002)
    result = scan_corpus(manifest, tmp_path / "run", opts, LocalExecutor(2))
    assert result.shards_total > 2
    assert 1 <= len(result.workers) <= 2 and all(cpu > 0 for cpu in result.workers.values())
    timing = json.loads((tmp_path / "run" / "timing.json").read_text(encoding="utf-8"))
    assert timing["worker_cpu_s"] == sorted(result.workers.values())
    for marker in (tmp_path / "run" / "shards" / "a").glob("*.json"):
        assert "worker" not in json.loads(marker.read_text(encoding="utf-8"))
