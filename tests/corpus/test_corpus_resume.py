from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpus_support import FAST, filler, mixed_corpus, outputs, source, write_jsonl, write_manifest

from hegui.corpus import LocalExecutor, ScanOptions, scan_corpus

SMALL_SHARDS = ScanOptions(detectors=FAST, shard_mb=0.0005)


class _Stop(KeyboardInterrupt):
    """What Ctrl-C raises, from inside the run."""


def test_an_interrupted_run_resumes_to_identical_outputs(tmp_path: Path) -> None:
    manifest = mixed_corpus(tmp_path / "data")
    clean = scan_corpus(manifest, tmp_path / "clean", SMALL_SHARDS, LocalExecutor(1))
    total = clean.shards_total
    assert total >= 6
    seen: list[int] = []

    def stop_after_three(stage: str, done: int, _total: int) -> None:
        if stage == "scan":
            seen.append(done)
            if len(seen) == 3:
                raise _Stop

    run = tmp_path / "run"
    with pytest.raises(_Stop):
        scan_corpus(manifest, run, SMALL_SHARDS, LocalExecutor(1), stop_after_three)
    assert len(list((run / "shards").rglob("*.json"))) == 3
    assert not (run / "summary.json").exists()
    # a shard killed half-way leaves files but no marker: it is done again
    leftover = next((run / "attributes").rglob("*.parquet"))
    (leftover.parent / "00099.parquet.tmp").write_bytes(b"half a file")
    resumed = scan_corpus(manifest, run, SMALL_SHARDS, LocalExecutor(1))
    assert resumed.resumed and resumed.shards_run == total - 3
    assert not (leftover.parent / "00099.parquet.tmp").exists()
    assert outputs(run) == outputs(tmp_path / "clean")
    again = scan_corpus(manifest, run, SMALL_SHARDS, LocalExecutor(1))
    assert again.shards_run == 0 and outputs(run) == outputs(tmp_path / "clean")


def test_shards_of_a_removed_file_are_removed(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [filler(i) for i in range(5)])
    write_jsonl(tmp_path / "b.jsonl", [filler(i) for i in range(5, 10)])
    manifest = write_manifest(tmp_path, [source("a", "*.jsonl")])
    run = tmp_path / "run"
    opts = ScanOptions(detectors=FAST, shard_mb=0.0005)
    first = scan_corpus(manifest, run, opts, LocalExecutor(1))
    (tmp_path / "b.jsonl").unlink()
    second = scan_corpus(manifest, run, opts, LocalExecutor(1))
    assert second.shards_total < first.shards_total and second.shards_run == 0
    markers = sorted(p.name for p in (run / "shards" / "a").iterdir())
    assert len(markers) == second.shards_total
    assert len(list((run / "attributes" / "a").iterdir())) == second.shards_total
    assert second.summary["totals"]["docs"] == 5


def test_a_changed_input_file_is_scanned_again(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [filler(i) for i in range(5)])
    write_jsonl(tmp_path / "b.jsonl", [filler(i) for i in range(5, 10)])
    manifest = write_manifest(tmp_path, [source("a", "a.jsonl"), source("b", "b.jsonl")])
    run = tmp_path / "run"
    scan_corpus(manifest, run, ScanOptions(detectors=FAST), LocalExecutor(1))
    write_jsonl(tmp_path / "b.jsonl", [filler(i) for i in range(5, 12)])
    result = scan_corpus(manifest, run, ScanOptions(detectors=FAST), LocalExecutor(1))
    assert result.shards_run == 1  # only b's shard: its file's hash changed
    assert result.summary["totals"]["docs"] == 12


@pytest.mark.slow
def test_a_killed_process_resumes_to_identical_outputs(tmp_path: Path) -> None:
    """SIGKILL the console script once some shards are marked done, then resume."""
    texts = [filler(i) * 4 for i in range(600)]
    write_jsonl(tmp_path / "a.jsonl", texts)
    manifest = write_manifest(tmp_path, [source("a", "a.jsonl")])
    args = [
        sys.executable,
        "-m",
        "hegui",
        "corpus",
        "scan",
        str(manifest),
        "--detectors",
        "lexicon,pii",
        "--processes",
        "1",
        "--shard-mb",
        "0.002",
    ]
    clean = subprocess.run(
        [*args, "--out", str(tmp_path / "clean")], capture_output=True, check=False
    )
    assert clean.returncode in (0, 1), clean.stderr
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [*args, "--out", str(run)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    markers = run / "shards" / "a"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(markers.glob("*.json"))) < 3:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(markers.glob("*.json")))
    total = len(list((tmp_path / "clean" / "shards" / "a").glob("*.json")))
    if done >= total:
        pytest.skip("the run finished before it could be killed")
    assert not (run / "summary.json").exists()
    resumed = subprocess.run(
        [*args, "--out", str(run)], capture_output=True, text=True, check=False
    )
    assert resumed.returncode in (0, 1), resumed.stderr
    assert "(resumed)" in resumed.stdout
    assert outputs(run) == outputs(tmp_path / "clean")
