"""The Ray executor gives the same outputs as the local one (a local Ray cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_support import FAST, mixed_corpus, outputs
from typer.testing import CliRunner

from hegui.cli import app
from hegui.corpus import (
    RAY_HINT,
    LocalExecutor,
    ManifestError,
    RayExecutor,
    ScanOptions,
    scan_corpus,
)

# Ray 2.60 sets deprecated fields of its own DataContext when it builds one; nothing
# here uses them, so only that module's DeprecationWarnings are let through.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


@pytest.mark.slow
def test_ray_and_local_executors_write_the_same_outputs(tmp_path: Path) -> None:
    pytest.importorskip("ray.data", reason="Ray is not installed: pip install 'hegui[ray]'")
    manifest = mixed_corpus(tmp_path / "data")
    opts = ScanOptions(detectors=FAST, shard_mb=0.0005)
    local = scan_corpus(manifest, tmp_path / "local", opts, LocalExecutor(1))
    ray_run = scan_corpus(manifest, tmp_path / "ray", opts, RayExecutor(workers=2))
    assert ray_run.shards_run == local.shards_total > 4
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")
    import ray

    assert not ray.is_initialized()  # the cluster started for the run is shut down


@pytest.mark.slow
def test_a_cluster_started_early_is_shut_down_when_planning_fails(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'hegui[ray]'")
    manifest = mixed_corpus(tmp_path)
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("web/*.jsonl", "web/missing-*.jsonl"), encoding="utf-8")
    with pytest.raises(ManifestError, match="no file at web/missing"):
        scan_corpus(manifest, tmp_path / "r", ScanOptions(detectors=FAST), RayExecutor(workers=1))
    assert not ray.is_initialized()


def test_the_ray_option_explains_how_to_install_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_ray)
    manifest = mixed_corpus(tmp_path)
    res = CliRunner().invoke(
        app, ["corpus", "scan", str(manifest), "--out", str(tmp_path / "r"), "--executor", "ray"]
    )
    assert res.exit_code == 2 and RAY_HINT in res.stderr
    res = CliRunner().invoke(
        app, ["corpus", "scan", str(manifest), "--out", str(tmp_path / "r"), "--address", "x:1"]
    )
    assert res.exit_code == 2 and "--address is for --executor ray" in res.stderr
