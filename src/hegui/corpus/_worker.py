"""One shard, start to finish: read, scan, clean, hash, write, mark done.

Every output of a shard is written under a temporary name and renamed into place; the
completion marker (``shards/<source>/<index>.json``, the shard's statistics) is
written last, so a shard whose marker exists is complete and one without it is redone.
"""

from __future__ import annotations

import gc
import hashlib
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hegui.corpus._minhash import DedupParams, signatures
from hegui.corpus._plan import Shard
from hegui.corpus._readers import Doc, Problem, read_piece
from hegui.detect import Action, Finding, Scanner, apply_actions, build_detector

if TYPE_CHECKING:
    from hegui.policy import Policy

BATCH_DOCS = 2048
BATCH_CHARS = 1 << 19
"""A MinHash batch ends at whichever of these comes first. Half a million characters
hash to 4 MB of shingles, which the signatures then read while they are still in the
CPU caches: the MinHash stage takes about a tenth less CPU than with batches of 2,048
documents only (6 million characters of the bench's corpus; measured 203 against 186
MB per CPU second), and a batch of long documents no longer holds gigabytes of
shingle hashes."""
CJK_DOC = 0.3
"""A document whose characters are at least this share CJK counts as mostly CJK."""


REVIEW_LABEL = "manual-review"
"""Names the review sheet's sample among the run's seeded draws."""
REVIEW_SPARE = 2.0
"""A shard keeps the review texts of this many times its expected share of the sample."""
REVIEW_MIN = 16
"""...and of at least this many documents more (or all of them)."""


@dataclass(frozen=True, slots=True)
class ReviewDraw:
    """The review sheet's sample, as far as a worker needs it: seed, size, corpus bytes.

    The sheet shows the ``size`` documents of the lowest priority
    (``hegui.corpus._gates.priorities``). Each shard keeps, beside its outputs, the text
    the sheet would show of its own lowest-priority documents: about twice its expected
    share (``size`` times its share of the corpus's bytes) plus a few. The whole-corpus
    phase then reads a few thousand texts instead of decompressing every cleaned shard,
    and falls back to the cleaned and rejected shards for any sampled document a shard
    did not keep (a shard with far more than its share of the lowest priorities).
    """

    seed: int = 0
    size: int = 0
    corpus_bytes: int = 0

    def quota(self, shard_bytes: int, docs: int) -> int:
        """How many of a shard's ``docs`` documents to keep the review text of."""
        if self.size <= 0 or docs == 0:
            return 0
        share = shard_bytes / max(self.corpus_bytes, 1)
        return min(docs, self.size, math.ceil(REVIEW_SPARE * self.size * share) + REVIEW_MIN)


@dataclass(frozen=True, slots=True)
class Job:
    """What every shard of a run shares; small and picklable, sent to each worker."""

    run_dir: str
    policy: str
    detectors: tuple[str, ...]
    dedup: DedupParams = DedupParams()
    review: ReviewDraw = ReviewDraw()


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


def masked(text: str, rows: Sequence[dict[str, Any]]) -> str:
    """``text`` with the spans of its finding rows whose action is mask masked."""
    spans = [
        Finding(r["detector"], r["risk"], r["start"], r["end"], "", r["term"], Action.MASK)
        for r in rows
        if r["action"] == Action.MASK.value
    ]
    return apply_actions(text, spans)[0] if spans else text


_NONE: list[Any] = []
KEPT, CLEANED, REJECTED = "kept", "cleaned", "rejected"


class ShardScan:
    """Scans the documents of one shard and keeps their columns and counts.

    Columns are plain lists, one entry per document, turned into Arrow arrays once per
    shard. ``text`` holds the UTF-8 bytes of what goes to the cleaned shard (masked
    where the pack says mask), one entry per document not rejected, in order;
    ``rejected_text`` the original text of each rejected document. Kept apart from the
    start, the cleaned text is written as it is, not filtered out of a copy of all
    text (a tenth of a CPU second per 64 MB shard).
    """

    def __init__(self, job: Job, shard: Shard) -> None:
        self.job = job
        self.shard = shard
        self.detect = scanner_for(job).scan
        self.file: list[str] = []
        self.line: list[int] = []
        self.id: list[str | None] = []
        self.bytes: list[int] = []
        self.chars: list[int] = []
        self.digest: list[bytes] = []
        self.status: list[str] = []
        self.risks: list[list[str]] = []
        self.findings_rows: list[list[dict[str, Any]]] = []
        self.text: list[bytes] = []
        self.rejected_text: list[bytes] = []
        self.reasons: dict[int, str] = {}
        self.findings: Counter[str] = Counter()
        self.docs_with: Counter[str] = Counter()
        self.pii: Counter[str] = Counter()
        self.problems: list[Problem] = []
        self.empty = 0
        self.batch: list[str] = []
        self.pending = 0
        """Characters in ``batch``."""
        self.sigs: list[np.ndarray[Any, Any]] = []

    def run(self) -> None:
        """Read and scan every document of the shard."""
        shard = self.shard
        for piece in shard.pieces:
            docs = read_piece(piece, shard.format, shard.text_field, shard.id_field, self.problems)
            self.add_all(piece.rel, docs)
        self.flush()

    def add_all(self, rel: str, docs: Iterable[Doc]) -> None:
        """Scan documents of one file and append their columns.

        The loop every document of the corpus goes through: the names it uses are
        bound once here, and a document without findings takes no further call.
        """
        detect, sha256, batch = self.detect, hashlib.sha256, self.batch
        file, line, ids, nbytes, chars = self.file, self.line, self.id, self.bytes, self.chars
        digest, status, risks, rows = self.digest, self.status, self.risks, self.findings_rows
        text_out, rejected_out, pending = self.text, self.rejected_text, self.pending
        for number, text, doc_id in docs:
            if not text or text.isspace():
                self.empty += 1
                continue
            try:
                raw = text.encode("utf-8")
            except UnicodeEncodeError as exc:
                reason = f"unpaired surrogate at character {exc.start} (a \\ud800-style escape)"
                self.problems.append(Problem(rel, number, "encoding", reason))
                continue
            found = detect(text)
            file.append(rel)
            line.append(number)
            ids.append(doc_id)
            nbytes.append(len(raw))
            size = len(text)
            chars.append(size)
            digest.append(sha256(raw.strip()).digest()[:8])
            batch.append(text)
            if found:
                seq = len(status)
                judged = self._judge(seq, found)
                status.append(judged)
                risks.append(sorted({f.risk for f in found}))
                rows.append([_finding_row(f) for f in found])
                if judged == REJECTED:
                    rejected_out.append(raw)
                elif judged == CLEANED:
                    masks = [f for f in found if f.action is Action.MASK]
                    text_out.append(apply_actions(text, masks)[0].encode("utf-8"))
                else:
                    text_out.append(raw)
            else:
                status.append(KEPT)
                risks.append(_NONE)
                rows.append(_NONE)
                text_out.append(raw)
            pending += size
            if pending >= BATCH_CHARS or len(batch) >= BATCH_DOCS:
                self.flush()
                pending = 0
        self.pending = pending

    def _judge(self, seq: int, found: list[Finding]) -> str:
        status = KEPT
        blocks = []
        for f in found:
            self.findings[f"{f.detector}|{f.risk}|{f.action.value}"] += 1
            if _is_pii(f):
                self.pii[f"{f.term}|{f.action.value}"] += 1
            if f.action is Action.BLOCK:
                blocks.append(f)
                status = REJECTED
            elif f.action is Action.MASK and status == KEPT:
                status = CLEANED
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
            self.batch.clear()  # in place: add_all holds the list
        self.pending = 0

    def signature_matrix(self) -> np.ndarray[Any, Any]:
        """All signatures of the shard, one row per document."""
        if not self.sigs:
            return np.zeros((0, self.job.dedup.num_perm), dtype=np.uint32)
        return np.concatenate(self.sigs)

    def review_texts(self, rejected: npt.NDArray[np.bool_]) -> tuple[list[int], list[bytes]]:
        """Seqs and UTF-8 texts of the documents this shard keeps for the review sheet.

        ``rejected``: per document, whether it was rejected. The text is what the sheet
        shows: the cleaned text, or for a rejected document its original text with
        personal information masked as the pack asks.
        """
        draw = self.job.review
        n = len(self.status)
        quota = draw.quota(self.shard.bytes, n)
        if not quota:
            return [], []
        from hegui.corpus._gates import lowest, priorities

        prio = priorities(self.file, np.asarray(self.line, dtype=np.int64), draw.seed, REVIEW_LABEL)
        seqs = lowest(prio, quota).tolist()
        # where each document's text is: its place among the kept or the rejected ones
        place = np.where(rejected, np.cumsum(rejected) - 1, np.cumsum(~rejected) - 1)
        texts = []
        for seq in seqs:
            if rejected[seq]:
                original = self.rejected_text[place[seq]].decode("utf-8")
                texts.append(masked(original, self.findings_rows[seq]).encode("utf-8"))
            else:
                texts.append(self.text[place[seq]])
        return seqs, texts

    def hashes(self) -> np.ndarray[Any, Any]:
        """Per document, the first 8 bytes of the SHA-256 of its stripped UTF-8 text.

        SHA-256, not BLAKE2b: with the CPU's SHA extensions it hashes a document half
        as fast again (1,180 against 760 MB per CPU second on the bench's text).
        """
        big_endian = np.frombuffer(b"".join(self.digest), dtype=">u8")
        return big_endian.astype(np.uint64)

    def cjk(self) -> np.ndarray[Any, Any]:
        """Per document, the approximate share of 3-byte (CJK) UTF-8 characters."""
        nbytes = np.asarray(self.bytes, dtype=np.int64)
        chars = np.asarray(self.chars, dtype=np.int64)
        share = (nbytes - chars) / np.maximum(2 * chars, 1)
        return np.minimum(share, 1.0).astype(np.float32)

    def counts(self) -> dict[str, int]:
        """Documents, bytes, characters, statuses, empties and mostly-CJK documents."""
        status = Counter(self.status)
        out = {
            "docs": len(self.status),
            "bytes": int(sum(self.bytes)),
            "chars": int(sum(self.chars)),
            "empty": self.empty,
            "cjk_docs": int((self.cjk() >= CJK_DOC).sum()),
        }
        return out | {k: status.get(k, 0) for k in (KEPT, CLEANED, REJECTED)}


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk phase.

    A shard makes hundreds of thousands of containers (parsed records, columns) and no
    reference cycles; each collection would walk every live object, the pack's
    dictionaries included, and cost about a tenth of the run. Reference counting still
    frees everything; collection resumes (and catches up) afterwards.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def process_shard(job: Job, shard: Shard) -> dict[str, Any]:
    """Scan one shard, write its outputs and its completion marker; return its stats.

    The stats are the marker's content plus ``worker``: the process that ran the shard
    and the CPU seconds it has used since it started (not in the marker, which must
    not depend on where or when a shard ran).
    """
    from hegui.corpus._outputs import write_shard

    with no_gc():
        scan = ShardScan(job, shard)
        scan.run()
        stats = write_shard(scan)
    return stats | {"worker": {"pid": os.getpid(), "cpu_s": time.process_time()}}
