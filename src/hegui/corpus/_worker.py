"""One shard, start to finish: read, scan, clean, hash, write, mark done.

Every output of a shard is written under a temporary name and renamed into place; the
completion marker (``shards/<source>/<index>.json``, the shard's statistics) is
written last, so a shard whose marker exists is complete and one without it is redone.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hegui.corpus._minhash import DedupParams, signatures
from hegui.corpus._plan import Shard
from hegui.corpus._readers import Problem, read_piece
from hegui.detect import Action, Finding, Scanner, apply_actions, build_detector

if TYPE_CHECKING:
    from hegui.policy import Policy

BATCH_DOCS = 2048
CJK_DOC = 0.3
"""A document whose characters are at least this share CJK counts as mostly CJK."""


@dataclass(frozen=True, slots=True)
class Job:
    """What every shard of a run shares; small and picklable, sent to each worker."""

    run_dir: str
    policy: str
    detectors: tuple[str, ...]
    dedup: DedupParams = DedupParams()


def build_scanner(policy: Policy, names: Sequence[str]) -> Scanner:
    """A scanner with exactly the named detectors of ``policy``.

    Raises:
        KeyError: the policy has no detector of that name.
        ValueError: the detector is disabled in the policy.
    """
    built = []
    for name in names:
        spec = policy.detectors.get(name)
        if spec is None:
            known = ", ".join(policy.detectors) or "none"
            raise KeyError(f"policy {policy.id!r} has no detector {name!r} (has: {known})")
        if not spec.enabled:
            raise ValueError(f"detector {name!r} is disabled in policy {policy.id!r}")
        built.append(build_detector(name, spec, policy))
    return Scanner(built)


_SCANNERS: dict[tuple[str, tuple[str, ...]], Scanner] = {}


def scanner_for(job: Job) -> Scanner:
    """The job's scanner, built once per process."""
    key = (job.policy, job.detectors)
    if key not in _SCANNERS:
        from hegui.policy import load_policy

        _SCANNERS[key] = build_scanner(load_policy(job.policy), job.detectors)
    return _SCANNERS[key]


def _is_pii(f: Finding) -> bool:
    return f.detector == "pii" or f.kind == "pii"


def _finding_row(f: Finding) -> dict[str, Any]:
    return {
        "detector": f.detector,
        "risk": f.risk,
        "term": f.term,
        "action": f.action.value,
        "severity": f.severity.value,
        "start": f.start,
        "end": f.end,
        "matched": "" if _is_pii(f) else f.matched,  # personal data stays out of the evidence
    }


_NONE: list[Any] = []
COLUMNS = ("seq", "file", "line", "id", "bytes", "chars", "status", "hash", "risks")


class ShardScan:
    """Scans the documents of one shard and keeps their columns and counts.

    ``cols["text"]`` holds what goes to the cleaned shard (masked where the pack says
    mask) and, for rejected documents, the original text.
    """

    def __init__(self, job: Job, shard: Shard) -> None:
        self.job = job
        self.shard = shard
        self.scanner = scanner_for(job)
        self.cols: dict[str, list[Any]] = {name: [] for name in (*COLUMNS, "findings", "text")}
        self.reasons: dict[int, str] = {}
        self.findings: Counter[str] = Counter()
        self.docs_with: Counter[str] = Counter()
        self.pii: Counter[str] = Counter()
        self.problems: list[Problem] = []
        self.empty = 0
        self.batch: list[str] = []
        self.sigs: list[np.ndarray[Any, Any]] = []

    def run(self) -> None:
        """Read and scan every document of the shard."""
        shard = self.shard
        for piece in shard.pieces:
            for line, text, doc_id in read_piece(
                piece, shard.format, shard.text_field, shard.id_field, self.problems
            ):
                if not text or text.isspace():
                    self.empty += 1
                else:
                    self.add(piece.rel, line, text, doc_id)
        self.flush()

    def add(self, rel: str, line: int, text: str, doc_id: str | None) -> None:
        """Scan one document and append its columns."""
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            reason = f"unpaired surrogate at character {exc.start} (a \\ud800-style escape)"
            self.problems.append(Problem(rel, line, "encoding", reason))
            return
        found = self.scanner.scan(text)
        c = self.cols
        seq = len(c["seq"])
        c["seq"].append(seq)
        c["file"].append(rel)
        c["line"].append(line)
        c["id"].append(doc_id)
        c["bytes"].append(len(raw))
        c["chars"].append(len(text))
        c["hash"].append(int.from_bytes(hashlib.blake2b(raw.strip(), digest_size=8).digest()))
        self.batch.append(text)
        status = "kept"
        if found:
            status = self._judge(seq, found)
            c["risks"].append(sorted({f.risk for f in found}))
            c["findings"].append([_finding_row(f) for f in found])
            if status == "cleaned":
                text = apply_actions(text, [f for f in found if f.action is Action.MASK])[0]
        else:
            c["risks"].append(_NONE)
            c["findings"].append(_NONE)
        c["status"].append(status)
        c["text"].append(text)
        if len(self.batch) >= BATCH_DOCS:
            self.flush()

    def _judge(self, seq: int, found: list[Finding]) -> str:
        status = "kept"
        blocks = []
        for f in found:
            self.findings[f"{f.detector}|{f.risk}|{f.action.value}"] += 1
            if _is_pii(f):
                self.pii[f"{f.term}|{f.action.value}"] += 1
            if f.action is Action.BLOCK:
                blocks.append(f)
                status = "rejected"
            elif f.action is Action.MASK and status == "kept":
                status = "cleaned"
        for risk in {f.risk for f in found}:
            self.docs_with[risk] += 1
        if blocks:
            reasons = {f"{f.risk} {f.detector}:{f.term}" for f in blocks}
            self.reasons[seq] = "; ".join(sorted(reasons))
        return status

    def flush(self) -> None:
        """MinHash signatures of the documents added since the last flush."""
        if self.batch:
            sig, _ = signatures(self.batch, self.job.dedup)
            self.sigs.append(sig)
            self.batch = []

    def signature_matrix(self) -> np.ndarray[Any, Any]:
        """All signatures of the shard, one row per document."""
        if not self.sigs:
            return np.zeros((0, self.job.dedup.num_perm), dtype=np.uint32)
        return np.concatenate(self.sigs)

    def cjk(self) -> np.ndarray[Any, Any]:
        """Per document, the approximate share of 3-byte (CJK) UTF-8 characters."""
        nbytes = np.asarray(self.cols["bytes"], dtype=np.int64)
        chars = np.asarray(self.cols["chars"], dtype=np.int64)
        share = (nbytes - chars) / np.maximum(2 * chars, 1)
        return np.minimum(share, 1.0).astype(np.float32)

    def counts(self) -> dict[str, int]:
        """Documents, bytes, characters, statuses, empties and mostly-CJK documents."""
        c = self.cols
        status = Counter(c["status"])
        out = {
            "docs": len(c["seq"]),
            "bytes": int(sum(c["bytes"])),
            "chars": int(sum(c["chars"])),
            "empty": self.empty,
            "cjk_docs": int((self.cjk() >= CJK_DOC).sum()),
        }
        return out | {k: status.get(k, 0) for k in ("kept", "cleaned", "rejected")}


def process_shard(job: Job, shard: Shard) -> dict[str, Any]:
    """Scan one shard, write its outputs and its completion marker; return its stats."""
    from hegui.corpus._outputs import write_shard

    scan = ShardScan(job, shard)
    scan.run()
    return write_shard(scan)
