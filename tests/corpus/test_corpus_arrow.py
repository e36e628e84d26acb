"""The Arrow helpers build what pyarrow's own conversions build, without importing pandas."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from corpus_support import FAST, PHONE, PLAIN_ZH, filler, source, write_jsonl, write_manifest

from hegui.corpus import _arrow
from hegui.corpus._outputs import _schemas

FINDING = _schemas()["attributes"].field("findings").type


def test_numeric_mask_and_strings_equal_pa_array() -> None:
    values = [3, -1, 1 << 40]
    assert _arrow.numeric(values, np.int64, pa.int64()).equals(pa.array(values, pa.int64()))
    hashes = np.array([0, 1 << 63, (1 << 64) - 1], dtype=np.uint64)
    assert _arrow.numeric(hashes, np.uint64, pa.uint64()).equals(pa.array(hashes))
    flags = np.array([True, False, True, True, False, False, True, False, True])
    assert _arrow.mask(flags).equals(pa.array(flags))
    texts = ["a", None, "中文", "", "😀"]
    assert _arrow.strings(texts).equals(pa.array(texts, pa.string()))
    assert _arrow.utf8([t.encode() for t in ["x", "", "中文😀"]]).equals(
        pa.array(["x", "", "中文😀"], pa.string())
    )


@pytest.mark.parametrize("values", [[], [None, None], ["a", None]])
def test_inferred_strings_infer_as_pa_array_does(values: list[str | None]) -> None:
    got, want = _arrow.inferred_strings(values), pa.array(values)
    assert got.type == want.type and got.equals(want)


def test_lists_equal_pa_array() -> None:
    risks = [[], ["A.1.h"], [], ["A.2.a", "A.1.h"]]
    assert _arrow.string_lists(risks).equals(pa.array(risks, pa.list_(pa.string())))
    finding = {
        "detector": "pii",
        "risk": "A.5.b",
        "term": "phone",
        "action": "mask",
        "severity": "medium",
        "start": 5,
        "end": 16,
        "matched": "",
    }
    rows = [[], [finding, finding | {"start": 20, "end": 31}], [], [finding]]
    assert _arrow.struct_lists(rows, FINDING).equals(pa.array(rows, FINDING))
    assert _arrow.struct_lists([[], []], FINDING).equals(pa.array([[], []], FINDING))


def test_to_numpy_reads_every_chunk_and_offset() -> None:
    chunked = pa.chunked_array(
        [pa.array([1, 2, 3], pa.int64()).slice(1), pa.array([7], pa.int64())]
    )
    got = _arrow.to_numpy(chunked, np.int64)
    assert got.tolist() == [2, 3, 7] and got.dtype == np.int64
    assert _arrow.to_numpy(pa.chunked_array([], pa.uint64()), np.uint64).tolist() == []


def test_a_scan_imports_no_pandas(tmp_path: Path) -> None:
    """pyarrow imports pandas on its first conversion of Python objects; a scan makes
    none of those, so neither the run nor its workers pay for importing pandas."""
    write_jsonl(tmp_path / "a.jsonl", [PHONE, PLAIN_ZH, *map(filler, range(30))])
    manifest = write_manifest(tmp_path, [source("a", "a.jsonl")])
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from hegui.corpus import LocalExecutor, ScanOptions, scan_corpus
        result = scan_corpus(Path({str(manifest)!r}), Path({str(tmp_path / "run")!r}),
                             ScanOptions(detectors={FAST!r}), LocalExecutor(1))
        assert result.summary["totals"]["docs"] == 32
        print("pandas" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
