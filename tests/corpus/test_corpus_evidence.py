from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from corpus_support import FAST, ILLEGAL, PHONE, filler, source, write_jsonl, write_manifest
from typer.testing import CliRunner

from hegui.cli import app
from hegui.corpus import LocalExecutor, ScanOptions, diff_runs, record_run, scan_corpus
from hegui.corpus._gates import lowest, priorities, seeded_sample, verdict, wilson


def _scan(folder: Path, sources: list[dict], **card: str) -> Path:
    manifest = (
        write_manifest(folder, sources, card=card) if card else write_manifest(folder, sources)
    )
    out = folder / "run"
    scan_corpus(manifest, out, ScanOptions(detectors=FAST, fresh=True), LocalExecutor(1))
    return out


@pytest.fixture
def run(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "a.jsonl", [filler(i) for i in range(20)] + [PHONE])
    write_jsonl(tmp_path / "b.jsonl", [filler(i) for i in range(20, 30)])
    sources = [
        source("a", "a.jsonl", origin="<script>alert(1)</script> crawl", annotation="found"),
        source("b", "b.jsonl", license="MIT", language=["en"], collected="2025-06/2025-09"),
    ]
    return _scan(tmp_path, sources, biases="Mostly forum text.", limitations="No code.")


def test_dataset_card_front_matter_and_sections(run: Path) -> None:
    text = (run / "README.md").read_text(encoding="utf-8")
    _, front, body = text.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["license"] == ["cc-by-4.0", "mit"]
    assert meta["language"] == ["en", "zh"] and meta["multilinguality"] == "multilingual"
    assert meta["size_categories"] == ["n<1K"]
    assert meta["annotations_creators"] == ["found", "no-annotation"]
    for heading in (
        "Data collection",
        "Annotation",
        "Personal and sensitive information",
        "Biases",
        "Limitations",
        "Safety gates",
    ):
        assert f"## {heading}" in body
    assert "cn_mobile (1, mask)" in body and "Mostly forum text." in body


def test_croissant_has_rai_fields_and_file_hashes(run: Path) -> None:
    doc = json.loads((run / "croissant.json").read_text(encoding="utf-8"))
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert doc["@context"]["rai"] == "http://mlcommons.org/croissant/RAI/"
    for key in (
        "dataCollection",
        "dataAnnotationProtocol",
        "personalSensitiveInformation",
        "dataBiases",
        "dataLimitations",
        "dataCollectionTimeframe",
    ):
        assert doc[f"rai:{key}"], key
    assert doc["rai:dataCollectionTimeframe"] == "2025-06/2026-01"
    inputs = json.loads((run / "inputs.json").read_text(encoding="utf-8"))
    assert {(f["name"], f["sha256"]) for f in doc["distribution"]} == {
        (i["rel"], i["sha256"]) for i in inputs
    }


def test_report_escapes_manifest_text(run: Path) -> None:
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert "Verdict" in page and "cn_mobile" in page and "PENDING" in page


def test_diff_of_two_versions(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "v1" / "a.jsonl", [filler(i) for i in range(10)])
    write_jsonl(tmp_path / "v1" / "b.jsonl", [filler(i) for i in range(10, 15)])
    v1 = _scan(tmp_path / "v1", [source("a", "a.jsonl"), source("b", "b.jsonl")])
    write_jsonl(tmp_path / "v2" / "a.jsonl", [filler(i) for i in range(12)] + [ILLEGAL])
    write_jsonl(tmp_path / "v2" / "c.jsonl", [filler(i) for i in range(40, 45)])
    v2 = _scan(tmp_path / "v2", [source("a", "a.jsonl", license="MIT"), source("c", "c.jsonl")])
    d = diff_runs(v1, v2)
    assert d["sources_added"] == ["c"] and d["sources_removed"] == ["b"]
    assert d["sources"]["a"]["docs"] == [10, 13]
    assert d["sources"]["a"]["files_changed"] == ["a.jsonl"]
    assert d["sources"]["a"]["terms_changed"] == {"license": ["CC-BY-4.0", "MIT"]}
    assert d["sources"]["a"]["risk_doc_rates_changed"] == {"A.1.h": [0.0, round(1 / 13, 6)]}
    assert d["data_changed"] and d["new_filing_suggested"]
    res = CliRunner().invoke(app, ["corpus", "diff", str(v1), str(v2)])
    assert res.exit_code == 1 and "new filing suggested: yes" in res.output
    res = CliRunner().invoke(app, ["corpus", "diff", str(v1), str(v1), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["data_changed"] is False
    res = CliRunner().invoke(app, ["corpus", "diff", str(v1), str(tmp_path)])
    assert res.exit_code == 2 and "not a finished corpus run" in res.stderr


def test_seeded_samples_are_stable_and_independent() -> None:
    a = seeded_sample(10_000, 4000, 2026, "web")
    assert len(a) == 4000 and len(set(a.tolist())) == 4000
    assert np.array_equal(a, seeded_sample(10_000, 4000, 2026, "web"))
    assert not np.array_equal(a, seeded_sample(10_000, 4000, 2026, "forum"))
    assert not np.array_equal(a, seeded_sample(10_000, 4000, 7, "web"))
    assert seeded_sample(30, 4000, 2026, "web").tolist() == list(range(30))


def test_review_priorities_give_a_uniform_sample_named_by_place_not_order() -> None:
    files = ["a.jsonl"] * 6000 + ["b/c.jsonl"] * 6000
    lines = np.concatenate([np.arange(1, 6001), np.arange(1, 6001)])
    prio = priorities(files, lines, 2026, "manual-review")
    picked = lowest(prio, 1200)
    assert len(picked) == 1200 and np.all(np.diff(picked) > 0)  # distinct, in corpus order
    # the same documents in another order (another shard cut, another worker) get the
    # same priorities, so the same documents are drawn
    shuffle = np.random.default_rng(1).permutation(len(files))
    again = priorities([files[i] for i in shuffle], lines[shuffle], 2026, "manual-review")
    assert np.array_equal(again, prio[shuffle])
    assert not np.array_equal(prio, priorities(files, lines, 7, "manual-review"))
    # uniform: 1,200 of 12,000 over 12 blocks of 1,000 documents, about 100 each
    per_block = np.bincount(picked // 1000, minlength=12)
    chi2 = float(((per_block - 100.0) ** 2 / 100.0).sum())
    assert chi2 < 31.3, per_block  # chi-square, 11 degrees of freedom, p = 0.001
    assert lowest(prio[:30], 4000).tolist() == list(range(30))
    # ties (which 64-bit priorities all but never have) go to the lower position
    tied = np.random.default_rng(2).integers(0, 40, 5000).astype(np.uint64)
    for k in (1, 39, 400, 4999):
        expect = np.sort(np.lexsort((np.arange(len(tied)), tied))[:k])
        assert np.array_equal(lowest(tied, k), expect), k


def test_wilson_interval_and_verdict() -> None:
    low, high = wilson(40, 4000)
    assert low is not None and high is not None and low < 0.01 < high < 0.0136
    assert wilson(0, 0) == (None, None)
    ok = {"blocking": True, "passed": True}
    assert verdict([ok]) == "pass"
    assert verdict([ok, {"blocking": True, "passed": None}]) == "pending"
    assert verdict([{"blocking": True, "passed": None}, {"blocking": True, "passed": False}]) == (
        "fail"
    )
    assert verdict([ok, {"blocking": False, "passed": False}]) == "pass"


def test_run_is_recorded_in_the_audit_ledger(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hegui.audit import open_ledger

    monkeypatch.delenv("HEGUI_DATABASE_URL", raising=False)
    data = tmp_path / "data"
    res = CliRunner().invoke(app, ["audit", "keygen", "--out", str(data / "keys")])
    assert res.exit_code == 0, res.output
    line = record_run(run, data_dir=data)
    assert "ledger index 0" in line
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["ledger"]["index"] == 0
    ledger = open_ledger(data_dir=data, need_signer=False)
    try:
        assert ledger.verify().ok
        stored = ledger.read(0)
    finally:
        ledger.close()
    assert stored.record is not None
    content = stored.record.content
    assert isinstance(content, dict) and content["front_door"] == "corpus"
    assert content["verdict"] == summary["verdict"] and content["documents"] == 31
    assert set(content["sha256"]) == {
        "summary.json",
        "spec.json",
        "inputs.json",
        "duplicates.parquet",
    }
