"""Near-duplicate detection: MinHash signatures and LSH banding.

A document's shingles are its overlapping ``ngram``-character windows (characters,
not words, so Chinese and English are treated alike), hashed to 32 bits in C
(``hegui.detect._fastscan``). Two methods turn them into signatures (``DedupParams.method``):

* ``"oph"`` (the default): one permutation hashing (Li, Owen & Zhang, "One Permutation
  Hashing", 2012) with optimal densification (Shrivastava, "Optimal Densification for
  Fast and Accurate Minwise Hashing", ICML 2017), in C, in the same pass that hashes
  the shingles. Every shingle hash is mixed once with a 64-bit mixer keyed by the
  seed; the high half picks one of ``num_perm`` bins, the low half is its value, and a
  bin keeps its least value. A bin no shingle fell into copies the value of a filled
  bin chosen by a probe sequence that depends only on the bin, the attempt and the
  seed, the same for every document, so two documents agree on a bin with probability
  their Jaccard similarity, as with ``num_perm`` independent permutations.
* ``"rensa"``: classic MinHash, ``num_perm`` hash functions per shingle, built by rensa
  in Rust on the calling thread (see ``RENSA_ROWS``) from the flat shingle hashes.

The two give different signatures for the same text (compare only signatures of one
method); both estimate the same similarity. Banding, candidate verification and
clustering run over the signatures of the whole corpus once every shard is done.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hegui.detect._fastscan import oph_signatures as _oph
from hegui.detect._fastscan import shingle_hashes as _shingles

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
_KEY_PRIME = np.uint64(0x100000001B3)  # FNV-1 64-bit prime, for band keys
RENSA_ROWS = 255
"""Documents per call to rensa. From 256 rows on (its default), rensa spreads a call
over a thread per core (rayon), which on a busy machine costs more CPU than it saves
and competes with the other worker processes; a call of fewer rows stays on the
calling thread. The signatures are the same either way."""
METHODS = ("oph", "rensa")
"""Signature methods ``DedupParams.method`` may name (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class DedupParams:
    """How near-duplicates are found; recorded in the pipeline spec."""

    ngram: int = 5
    """Characters per shingle."""
    num_perm: int = 100
    """MinHash permutations (signature length)."""
    bands: int = 20
    """LSH bands; ``num_perm / bands`` rows each."""
    threshold: float = 0.7
    """Estimated Jaccard similarity from which two documents are near-duplicates."""
    seed: int = 45654
    """Seed of the MinHash permutations (for ``"oph"``: of its mixer and probe sequence)."""
    method: str = "oph"
    """How signatures are made: ``"oph"``, one permutation hashing with optimal
    densification, or ``"rensa"``, classic MinHash with ``num_perm`` hash functions."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        if self.num_perm < 1:
            raise ValueError("num_perm must be at least 1")
        if self.num_perm % self.bands:
            raise ValueError(f"num_perm {self.num_perm} is not a multiple of bands {self.bands}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")

    @property
    def rows(self) -> int:
        """Signature rows per band."""
        return self.num_perm // self.bands


def shingle_hashes(texts: list[str], ngram: int) -> tuple[U64, U64]:
    """Hashes of every ``ngram``-character window, flat, with row offsets.

    Row ``i`` is ``flat[offsets[i]:offsets[i + 1]]``; a text shorter than ``ngram``
    characters has no shingles. The hash is a 32-bit polynomial over code points (FNV-1
    prime; 224 collisions among 1.5 million distinct shingles measured, which moves no
    similarity estimate), computed in C window by window (``hegui.detect._fastscan``:
    the same values as a rolling hash, several windows per instruction); both signature
    methods mix it again (rensa once per permutation), so it needs no mixing here.
    """
    flat, offsets = _shingles(texts, ngram)
    return np.frombuffer(flat, dtype=np.uint64), np.frombuffer(offsets, dtype=np.uint64)


def signatures(texts: list[str], params: DedupParams) -> tuple[U32, npt.NDArray[np.bool_]]:
    """MinHash signatures of a batch (``len(texts) x num_perm``) and which rows are real.

    Made by ``params.method``. A text with no shingle gets no signature (its row is all
    ones and marked false), so short texts never collide with each other; exact
    matching covers them. A row depends only on its text and the parameters, never on
    the rest of the batch.
    """
    if params.method == "oph":
        return _oph_signatures(texts, params)
    return _rensa_signatures(texts, params)


def _oph_signatures(texts: list[str], params: DedupParams) -> tuple[U32, npt.NDArray[np.bool_]]:
    """One permutation hashing with optimal densification, shingles and all, in C."""
    sig, has = _oph(texts, params.ngram, params.num_perm, params.seed & 0xFFFFFFFFFFFFFFFF)
    matrix = np.frombuffer(sig, dtype=np.uint32).reshape(len(texts), params.num_perm)
    return matrix, np.frombuffer(has, dtype=np.bool_)


def _rensa_signatures(texts: list[str], params: DedupParams) -> tuple[U32, npt.NDArray[np.bool_]]:
    """Classic MinHash by rensa, ``RENSA_ROWS`` documents per call."""
    import rensa

    flat, offsets = shingle_hashes(texts, params.ngram)
    has = offsets[1:] > offsets[:-1]
    if not len(texts):
        return np.zeros((0, params.num_perm), dtype=np.uint32), has
    values = array("I")  # rensa hands rows back as lists; array.extend is the fast copy
    for start in range(0, len(texts), RENSA_ROWS):
        stop = min(start + RENSA_ROWS, len(texts))
        part = offsets[start : stop + 1]
        matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
            flat[int(part[0]) : int(part[-1])], part - part[0], params.num_perm, params.seed
        )
        for row in matrix.to_rows():
            values.extend(row)
    sig = np.frombuffer(values, dtype=np.uint32).reshape(len(texts), params.num_perm)
    return sig, has


def _band_keys(sig: U32, band: int, rows: int) -> U64:
    part = sig[:, band * rows : (band + 1) * rows].astype(np.uint64)
    key = np.zeros(len(sig), dtype=np.uint64)
    for col in range(rows):
        key *= _KEY_PRIME
        key ^= part[:, col]
    return key


def _band_pairs(sig: U32, band: int, rows: int) -> I64 | None:
    """The pairs of one band: each row of a bucket of two or more with its lowest row."""
    n = len(sig)
    keys = _band_keys(sig, band, rows)
    order = np.argsort(keys)
    ordered = keys[order]
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return None
    shared = np.zeros(n, dtype=bool)  # in a bucket with another row
    shared[1:] |= same
    shared[:-1] |= same
    order, ordered = order[shared], ordered[shared]
    new_run = np.ones(len(order), dtype=bool)
    new_run[1:] = ordered[1:] != ordered[:-1]
    head = np.minimum.reduceat(order, np.flatnonzero(new_run))[np.cumsum(new_run) - 1]
    member = order != head
    return np.stack([head[member], order[member]], axis=1)


def candidate_pairs(sig: U32, params: DedupParams, threads: int = 1) -> I64:
    """Pairs ``(a, b)`` with ``a < b`` that share at least one LSH band, sorted, unique.

    Within a bucket every member is paired with the bucket's first (lowest) row only:
    at most ``n`` pairs per band however large a bucket grows; clustering joins the rest.
    Keys are sorted without a stable sort (twice as fast); the lowest row of each
    bucket is found by a reduction instead, and only buckets of two or more are kept.
    With ``threads`` above 1 the bands are done on that many threads (numpy lets go of
    the GIL to sort and compare); the pairs are the same.
    """
    n = len(sig)
    bands = range(params.bands)
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads, thread_name_prefix="hegui-lsh") as pool:
            per_band = list(pool.map(lambda b: _band_pairs(sig, b, params.rows), bands))
    else:
        per_band = [_band_pairs(sig, b, params.rows) for b in bands]
    found = [pairs for pairs in per_band if pairs is not None]
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found).astype(np.int64)
    if n < 1 << 31:  # one int64 per pair sorts as the pair does, and much faster
        flat = np.unique(pairs[:, 0] * n + pairs[:, 1])
        return np.stack([flat // n, flat % n], axis=1)
    return np.unique(pairs, axis=0)


def similar_pairs(sig: U32, pairs: I64, threshold: float) -> tuple[I64, npt.NDArray[np.float64]]:
    """The candidate pairs whose estimated Jaccard similarity reaches ``threshold``."""
    keep: list[I64] = [np.zeros((0, 2), dtype=np.int64)]
    sims: list[npt.NDArray[np.float64]] = [np.zeros(0)]
    for start in range(0, len(pairs), 65536):
        chunk = pairs[start : start + 65536]
        est = (sig[chunk[:, 0]] == sig[chunk[:, 1]]).mean(axis=1)
        ok = est >= threshold
        keep.append(chunk[ok])
        sims.append(est[ok])
    return np.concatenate(keep), np.concatenate(sims)


def clusters(n: int, pairs: I64) -> I64:
    """For each of ``n`` rows, the lowest row of its connected component.

    Label propagation with pointer jumping, in numpy: every row points at a row of its
    component no higher than itself; each round hooks, across every pair whose ends
    still point at different rows, the higher of those two rows onto the lower, then
    follows pointers until each row points at a row that points at itself. When no
    pair is left between different roots, each component has one root, its lowest row.
    A few rounds suffice, and it spares the run importing scipy (a quarter of a CPU
    second).
    """
    label = np.arange(n, dtype=np.int64)
    if not len(pairs):
        return label
    a, b = pairs[:, 0], pairs[:, 1]
    while True:
        la, lb = label[a], label[b]
        apart = la != lb
        if not apart.any():
            return label
        np.minimum.at(label, np.maximum(la, lb)[apart], np.minimum(la, lb)[apart])
        while True:
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
