from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from corpus_support import (
    EMAIL,
    FAST,
    ILLEGAL,
    PHONE,
    filler,
    mixed_corpus,
    source,
    tree_digest,
    write_jsonl,
    write_manifest,
)
from typer.testing import CliRunner

from hegui.cli import app
from hegui.corpus import LocalExecutor, RunDirError, ScanOptions, scan_corpus


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """One scan of the mixed corpus, shared by the tests that only read its outputs."""
    data = tmp_path_factory.mktemp("data")
    manifest = mixed_corpus(data)
    before = tree_digest(data)
    run = tmp_path_factory.mktemp("run") / "run"
    scan_corpus(manifest, run, ScanOptions(detectors=FAST), LocalExecutor(1))
    return data, run, before


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text(encoding="utf-8"))


def _rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_originals_are_never_modified(mixed: tuple[Path, Path, dict[str, str]]) -> None:
    data, _, before = mixed
    assert tree_digest(data) == before


def test_documents_are_judged_by_the_pack(mixed: tuple[Path, Path, dict[str, str]]) -> None:
    _, run, _ = mixed
    attrs = {r["line"]: r for r in _rows(run / "attributes" / "web" / "00000.parquet")}
    assert attrs[21]["status"] == "rejected" and "A.1" in attrs[21]["risks"][0]
    assert attrs[22]["status"] == "cleaned" and attrs[23]["status"] == "cleaned"
    assert attrs[1]["status"] == "kept" and attrs[1]["findings"] == []
    # personal data is never copied into the evidence, other matches are
    pii = [f for r in attrs.values() for f in r["findings"] if f["detector"] == "pii"]
    assert pii and all(f["matched"] == "" for f in pii)
    assert any(f["matched"] == "炸药配方" for f in attrs[21]["findings"])
    assert [r["line"] for r in attrs.values()] == sorted(attrs)


def test_cleaned_shards_mask_and_rejected_keep_reasons(
    mixed: tuple[Path, Path, dict[str, str]],
) -> None:
    _, run, _ = mixed
    cleaned = {r["line"]: r["text"] for r in _rows(run / "cleaned" / "web" / "00000.parquet")}
    assert 21 not in cleaned
    assert "13812345678" not in cleaned[22] and "*" * 11 in cleaned[22]
    assert cleaned[22].replace("*" * 11, "13812345678") == PHONE
    assert "@example.com" not in cleaned[23] and cleaned[23].startswith("write to ")
    rejected = _rows(run / "rejected" / "web" / "00000.parquet")
    assert [(r["line"], r["text"]) for r in rejected] == [(21, ILLEGAL)]
    assert "lexicon:炸药配方" in rejected[0]["reasons"]
    assert EMAIL  # the original stays in the data, untouched


def test_summary_counts_sources_findings_and_what_could_not_be_read(
    mixed: tuple[Path, Path, dict[str, str]],
) -> None:
    _, run, _ = mixed
    s = _summary(run)
    by = {src["id"]: src for src in s["sources"]}
    assert by["web"]["docs"] == 26 and by["forum"]["docs"] == 15 and by["books"]["docs"] == 3
    assert by["web"]["status"] == {"kept": 23, "cleaned": 2, "rejected": 1}
    assert by["web"]["problems"] == {"malformed": 1}
    assert s["unread"]["records"] == 1
    assert s["unread"]["examples"][0]["line"] == 26 and s["unread"]["examples"][0]["file"] == (
        "web/part-0.jsonl"
    )
    assert by["web"]["pii"] == {"cn_mobile|mask": 1, "email|mask": 1}
    assert by["web"]["risks"]["A.4.f"]["docs"] == 2
    assert by["books"]["files"] == 3 and by["forum"]["files"] == 2
    assert s["totals"]["docs"] == 44
    problems = (run / "problems.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(problems[0])["line"] == 26


def test_gates_come_from_the_pack(mixed: tuple[Path, Path, dict[str, str]]) -> None:
    _, run, _ = mixed
    s = _summary(run)
    web = next(src for src in s["sources"] if src["id"] == "web")
    # 1 rejected of 26: 3.8% <= 5%, the cn pack's source gate
    assert web["sample"]["n"] == 26 and web["gate"]["passed"] is True
    assert web["gate"]["threshold"] == 0.05
    checks = {c["name"]: c for c in s["checks"]}
    auto = checks["automated qualified rate >= 0.98"]
    assert auto["value"] == pytest.approx(43 / 44, abs=1e-6) and auto["passed"] is False
    coverage = checks["automated check covers >= 0.1 of the corpus"]
    assert coverage["value"] == pytest.approx(44 / 45, abs=1e-6)
    methods = checks["automated methods include keyword, classifier"]
    assert methods["passed"] is False and methods["blocking"] is False
    assert s["verdict"] == "fail"


def test_outputs_of_a_run(mixed: tuple[Path, Path, dict[str, str]]) -> None:
    _, run, _ = mixed
    for name in (
        "spec.json",
        "inputs.json",
        "summary.json",
        "report.html",
        "README.md",
        "croissant.json",
        "review.xlsx",
        "duplicates.parquet",
        "timing.json",
    ):
        assert (run / name).is_file(), name
    spec = json.loads((run / "spec.json").read_text(encoding="utf-8"))
    assert spec["packages"]["pyarrow"] and spec["policy"]["id"] == "cn"
    assert any(k.endswith("lexicon/starter.csv") for k in spec["policy"]["files"])
    inputs = json.loads((run / "inputs.json").read_text(encoding="utf-8"))
    assert {f["rel"] for f in inputs} >= {"web/part-0.jsonl", "forum/b.csv", "books/book0.txt"}
    assert not list(run.rglob("*.tmp"))


def _clean_corpus(tmp_path: Path, n: int = 30) -> Path:
    write_jsonl(tmp_path / "a.jsonl", [filler(i) for i in range(n)])
    return write_manifest(tmp_path, [source("a", "a.jsonl")])


def test_cli_exit_codes(tmp_path: Path) -> None:
    manifest = _clean_corpus(tmp_path)
    run = tmp_path / "run"
    args = [
        "corpus",
        "scan",
        str(manifest),
        "--out",
        str(run),
        "--detectors",
        "lexicon,pii",
        "--processes",
        "1",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output  # clean: automated gates pass, review pending
    assert "PENDING" in res.output and _summary(run)["verdict"] == "pending"
    write_jsonl(tmp_path / "a.jsonl", [filler(i) for i in range(30)] + [ILLEGAL] * 5)
    res = CliRunner().invoke(app, [*args, "--fresh"])
    assert res.exit_code == 1, res.output
    res = CliRunner().invoke(app, [*args, "--detectors", "nope", "--fresh"])
    assert res.exit_code == 2 and "no detector 'nope'" in res.stderr
    res = CliRunner().invoke(app, [*args[:3], "--out", str(tmp_path), "--processes", "1"])
    assert res.exit_code == 2 and "not empty" in res.stderr
    res = CliRunner().invoke(app, [*args, "--minhash", "simhash", "--fresh"])
    assert res.exit_code == 2 and "'simhash' is not one of oph, rensa" in res.stderr


@pytest.mark.parametrize("method", ["oph", "rensa"])
def test_the_minhash_method_is_chosen_and_recorded(tmp_path: Path, method: str) -> None:
    base = [filler(i) + " " + filler(i + 100) for i in range(12)]
    near = [t[:40] + "，" + t[41:] for t in base[:4]]  # one character changed
    write_jsonl(tmp_path / "a.jsonl", base + near)
    manifest = write_manifest(tmp_path, [source("a", "a.jsonl")])
    run = tmp_path / "run"
    args = ["corpus", "scan", str(manifest), "--out", str(run), "--detectors", "lexicon"]
    res = CliRunner().invoke(app, [*args, "--processes", "1", "--minhash", method])
    assert res.exit_code == 0, res.output
    spec = json.loads((run / "spec.json").read_text(encoding="utf-8"))
    assert spec["dedup"]["method"] == method
    dups = pq.read_table(run / "duplicates.parquet").to_pylist()
    assert sorted((d["line"], d["of_line"]) for d in dups) == [(13, 1), (14, 2), (15, 3), (16, 4)]


def test_a_changed_pipeline_is_not_mixed_into_an_old_run(tmp_path: Path) -> None:
    manifest = _clean_corpus(tmp_path)
    run = tmp_path / "run"
    scan_corpus(manifest, run, ScanOptions(detectors=FAST), LocalExecutor(1))
    with pytest.raises(RunDirError, match="changed: seed"):
        scan_corpus(manifest, run, ScanOptions(detectors=FAST, seed=1), LocalExecutor(1))
    result = scan_corpus(
        manifest, run, ScanOptions(detectors=FAST, seed=1, fresh=True), LocalExecutor(1)
    )
    assert result.shards_run == 1 and not result.resumed


def test_thresholds_are_pack_data(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [filler(i) for i in range(30)] + [ILLEGAL])
    manifest = write_manifest(tmp_path, [source("a", "a.jsonl")])
    pack = tmp_path / "strict" / "pack.yaml"
    pack.parent.mkdir()
    pack.write_text(
        "id: strict\nversion: '1'\nextends: cn\n"
        "corpus:\n  source_gate: {max_illegal_share: 0.01}\n"
        "  manual_sample: {min_items: 10, qualified_rate_min: 0.9}\n"
        "  automated_sample: {min_share: 0.1, qualified_rate_min: 0.9, methods: [keyword]}\n",
        encoding="utf-8",
    )
    # 1 illegal document of 31 (3.2%): the strict pack's 1% source gate fails and its
    # 90% corpus rate passes; under cn the 5% gate passes and the 98% rate fails
    strict = ScanOptions(policy=str(pack), detectors=FAST, source_sample=100)
    s = scan_corpus(manifest, tmp_path / "run", strict, LocalExecutor(1)).summary
    checks = {c["name"]: c["passed"] for c in s["checks"]}
    assert checks["source a: illegal share of a 31-document sample <= 0.01"] is False
    assert checks["automated qualified rate >= 0.9"] is True
    assert checks["automated methods include keyword"] is True
    assert s["manual"]["sample_size"] == 10
    cn = ScanOptions(detectors=FAST, source_sample=100)
    s = scan_corpus(manifest, tmp_path / "run_cn", cn, LocalExecutor(1)).summary
    checks = {c["name"]: c["passed"] for c in s["checks"]}
    assert checks["source a: illegal share of a 31-document sample <= 0.05"] is True
    assert checks["automated qualified rate >= 0.98"] is False


def test_two_processes_give_the_same_outputs_as_one(tmp_path: Path) -> None:
    from corpus_support import outputs

    manifest = mixed_corpus(tmp_path / "data")
    opts = ScanOptions(detectors=FAST, shard_mb=0.0005)
    one = scan_corpus(manifest, tmp_path / "one", opts, LocalExecutor(1))
    two = scan_corpus(manifest, tmp_path / "two", opts, LocalExecutor(2))
    assert one.shards_total > 4 and two.shards_run == one.shards_total
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")


def test_a_source_that_cannot_be_read_fails_closed(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [filler(i) for i in range(5)])
    (tmp_path / "b.jsonl.gz").write_bytes(b"this is not gzip")
    (tmp_path / "c.jsonl").write_text("\n\n", encoding="utf-8")
    manifest = write_manifest(
        tmp_path, [source("a", "a.jsonl"), source("b", "b.jsonl.gz"), source("c", "c.jsonl")]
    )
    s = scan_corpus(
        manifest, tmp_path / "run", ScanOptions(detectors=FAST), LocalExecutor(1)
    ).summary
    gates = {src["id"]: src["gate"]["passed"] for src in s["sources"]}
    assert gates == {"a": True, "b": False, "c": False}
    assert s["unread"]["files"] == 1 and s["unread"]["problems"] == {"unreadable": 1}
    assert s["verdict"] == "fail"


def test_an_empty_corpus_is_reported_not_crashed(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"text": "   "}\n', encoding="utf-8")
    manifest = write_manifest(tmp_path, [source("a", "a.jsonl")])
    s = scan_corpus(
        manifest, tmp_path / "run", ScanOptions(detectors=FAST), LocalExecutor(1)
    ).summary
    assert s["totals"]["docs"] == 0 and s["totals"]["empty"] == 1
    checks = {c["name"]: c["passed"] for c in s["checks"]}
    assert checks["automated qualified rate >= 0.98"] is False
    assert s["verdict"] == "fail"


def test_the_inputs_are_hashed_while_the_executor_prepares(tmp_path: Path) -> None:
    import threading

    manifest = _clean_corpus(tmp_path)
    hashing = threading.Event()

    class SlowToStart(LocalExecutor):
        """Prepares as a Ray cluster does: for a while, on the calling (main) thread."""

        waited = False

        def prepare(self) -> None:
            assert threading.current_thread() is threading.main_thread()
            self.waited = hashing.wait(timeout=30)

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "hash":
            hashing.set()

    executor = SlowToStart(1)
    scan_corpus(manifest, tmp_path / "run", ScanOptions(detectors=FAST), executor, progress)
    assert executor.waited  # the hashing went on while prepare() was still running
