"""The pipeline spec of a run: what was asked, with which code and data, as one hash.

A run directory keeps ``spec.json``; resuming into it requires the same fingerprint, so
a resumed run can only ever finish the work it started.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hegui.corpus._manifest import Manifest
from hegui.corpus._minhash import DedupParams

if TYPE_CHECKING:
    from hegui.policy import Policy

SPEC = "spec.json"
PACKAGES = (
    "hegui",
    "numpy",
    "pyarrow",
    "rensa",
    "scipy",
    "zstandard",
    "pydantic",
    "PyYAML",
    "opencc",
    "pypinyin",
    "scikit-learn",
    "openpyxl",
    "jinja2",
)
OUTPUTS = (
    "attributes",
    "cleaned",
    "rejected",
    "minhash",
    "shards",
    "spec.json",
    "inputs.json",
    "summary.json",
    "report.html",
    "README.md",
    "croissant.json",
    "review.xlsx",
    "review_sample.parquet",
    "review.json",
    "duplicates.parquet",
    "problems.jsonl",
    "timing.json",
)
"""Everything a run writes into its directory (``--fresh`` removes exactly these)."""


class RunDirError(RuntimeError):
    """A run directory that cannot be used for this run, and why."""


def packages() -> dict[str, str]:
    """Versions of the packages whose behaviour shapes a run's outputs."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def policy_files(policy: Policy) -> dict[str, str]:
    """SHA-256 of every file of the packs the policy was built from (lexicons, models)."""
    out: dict[str, str] = {}
    for pack_file in policy.files:
        folder = pack_file.parent
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                out[f"{folder.name}/{path.relative_to(folder).as_posix()}"] = _sha256(path)
    return out


def build_spec(
    *,
    manifest: Manifest,
    manifest_path: Path,
    policy_ref: str,
    policy: Policy,
    detectors: tuple[str, ...],
    seed: int,
    shard_bytes: int,
    dedup: DedupParams,
    samples: dict[str, int],
) -> dict[str, Any]:
    """The spec of a run, with its fingerprint (SHA-256 of everything else in it)."""
    spec: dict[str, Any] = {
        "kind": "hegui corpus scan",
        "manifest": {
            "path": str(manifest_path.resolve()),
            "sha256": _sha256(manifest_path),
            "content": manifest.model_dump(mode="json"),
        },
        "policy": {
            "ref": policy_ref,
            "id": policy.id,
            "version": policy.version,
            "files": policy_files(policy),
        },
        "detectors": list(detectors),
        "seed": seed,
        "shard_bytes": shard_bytes,
        "dedup": asdict(dedup),
        "samples": samples,
        "packages": packages(),
    }
    canonical = json.dumps(spec, sort_keys=True, ensure_ascii=False).encode("utf-8")
    spec["fingerprint"] = hashlib.sha256(canonical).hexdigest()
    return spec


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted((set(old) | set(new)) - {"fingerprint"})
    return [k for k in keys if old.get(k) != new.get(k)]


def prepare_run_dir(out: Path, spec: dict[str, Any], *, fresh: bool) -> bool:
    """Make ``out`` ready for ``spec``; return True when it resumes an earlier run.

    Raises:
        RunDirError: ``out`` holds other files, or a run with a different spec.
    """
    spec_path = out / SPEC
    if out.exists() and any(out.iterdir()):
        if not spec_path.exists():
            raise RunDirError(f"{out} is not empty and holds no corpus run; choose another --out")
        if fresh:
            clear_run_dir(out)
        else:
            old = json.loads(spec_path.read_text(encoding="utf-8"))
            if old.get("fingerprint") != spec["fingerprint"]:
                changed = ", ".join(_differences(old, spec)) or "fingerprint"
                raise RunDirError(
                    f"{out} holds a run with a different pipeline (changed: {changed}); "
                    "pass --fresh to start over there, or choose another --out"
                )
            return True
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(spec, ensure_ascii=False, indent=2, sort_keys=True)
    spec_path.write_text(text, encoding="utf-8")
    return False


def clear_run_dir(out: Path) -> None:
    """Remove what a run wrote into ``out`` (and nothing else)."""
    for name in OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
