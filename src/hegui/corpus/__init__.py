"""Training-corpus governance: scan corpora, apply the pack's gates, write the evidence.

``scan_corpus(manifest, out_dir)`` reads every source a manifest lists, passes each
document through the policy's detectors, writes per-document attribute files, cleaned
and rejected shards, exact and near-duplicate lists, the source and corpus gates of
GB/T 45654, a review sheet for the manual check, summary.json, report.html and a
dataset card. See ``docs/corpus.md``.
"""

from hegui.corpus._diff import DiffError, diff_runs
from hegui.corpus._executors import (
    RAY_HINT,
    Executor,
    ExecutorError,
    LocalExecutor,
    RayExecutor,
    make_executor,
)
from hegui.corpus._ledger import record_run
from hegui.corpus._manifest import (
    Annotation,
    Card,
    Format,
    LegalBasis,
    Manifest,
    ManifestError,
    Source,
    load_manifest,
)
from hegui.corpus._minhash import DedupParams
from hegui.corpus._plan import InputFile, Plan, Shard, plan_corpus
from hegui.corpus._readers import Piece, Problem, read_piece
from hegui.corpus._review import ReviewError
from hegui.corpus._run import RunResult, ScanOptions, apply_review, scan_corpus
from hegui.corpus._spec import RunDirError
from hegui.corpus._template import TEMPLATE, write_template
from hegui.corpus._worker import Job, build_scanner, process_shard

__all__ = [
    "RAY_HINT",
    "TEMPLATE",
    "Annotation",
    "Card",
    "DedupParams",
    "DiffError",
    "Executor",
    "ExecutorError",
    "Format",
    "InputFile",
    "Job",
    "LegalBasis",
    "LocalExecutor",
    "Manifest",
    "ManifestError",
    "Piece",
    "Plan",
    "Problem",
    "RayExecutor",
    "ReviewError",
    "RunDirError",
    "RunResult",
    "ScanOptions",
    "Shard",
    "Source",
    "apply_review",
    "build_scanner",
    "diff_runs",
    "load_manifest",
    "make_executor",
    "plan_corpus",
    "process_shard",
    "read_piece",
    "record_run",
    "scan_corpus",
    "write_template",
]
