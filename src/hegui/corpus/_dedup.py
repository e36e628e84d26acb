"""Exact and near-duplicate documents across the whole corpus, per source and across.

Runs once every shard is done, over the document hashes and MinHash signatures the
shards wrote. Documents are in corpus order (manifest source order, then shard, then
position); the first of each group is the original and the others its duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hegui.corpus._minhash import DedupParams, candidate_pairs, clusters, similar_pairs

I64 = npt.NDArray[np.int64]
_EMPTY_SIG = np.uint32(0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class Duplicates:
    """Per document: the original it duplicates (itself when none) and how."""

    exact_of: I64
    near_of: I64
    similarity: npt.NDArray[np.float64]

    def counts(self, source: I64, n_sources: int) -> list[dict[str, int]]:
        """Per source: exact and near duplicates whose original is in the same or another."""
        idx = np.arange(len(source))
        exact = self.exact_of != idx
        near = (self.near_of != idx) & ~exact
        out = []
        for s in range(n_sources):
            mine = source == s
            same_e = source[self.exact_of] == s
            same_n = source[self.near_of] == s
            out.append(
                {
                    "exact_within": int((mine & exact & same_e).sum()),
                    "exact_across": int((mine & exact & ~same_e).sum()),
                    "near_within": int((mine & near & same_n).sum()),
                    "near_across": int((mine & near & ~same_n).sum()),
                }
            )
        return out


def exact_duplicates(hashes: npt.NDArray[np.uint64]) -> I64:
    """For each document, the first document with the same content hash."""
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    return np.asarray(first[inverse.reshape(-1)], dtype=np.int64)


def find_duplicates(
    hashes: npt.NDArray[np.uint64],
    sig: npt.NDArray[np.uint32],
    params: DedupParams,
    threads: int = 1,
) -> Duplicates:
    """Exact duplicates by content hash, near-duplicates by MinHash LSH among the rest.

    ``threads``: how many threads the LSH bands may use (the result is the same).
    """
    n = len(hashes)
    exact_of = exact_duplicates(hashes)
    keep = exact_of == np.arange(n)
    maybe_empty = np.flatnonzero(sig[:, 0] == _EMPTY_SIG)  # a first column short of it: real
    keep[maybe_empty[(sig[maybe_empty] == _EMPTY_SIG).all(axis=1)]] = False
    unique = np.flatnonzero(keep)
    near_of = np.arange(n, dtype=np.int64)
    similarity = np.ones(n)
    if len(unique) > 1:
        # rows of every document but exact copies and shingle-less ones (none, often)
        sub = sig if len(unique) == n else np.ascontiguousarray(sig[unique])
        pairs, _ = similar_pairs(sub, candidate_pairs(sub, params, threads), params.threshold)
        rep = clusters(len(unique), pairs)
        near_of[unique] = unique[rep]
        moved = np.flatnonzero(rep != np.arange(len(unique)))  # the rest are their own
        similarity[unique[moved]] = (sub[moved] == sub[rep[moved]]).mean(axis=1)
    near_of = near_of[exact_of]  # an exact copy belongs to its original's cluster
    return Duplicates(exact_of, near_of, similarity)


def write_duplicates(path: Path, dups: Duplicates, docs: dict[str, Any], sources: list[str]) -> int:
    """duplicates.parquet: one row per duplicate document, naming its original."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hegui.corpus._arrow import inferred_strings, numeric

    idx = np.arange(len(dups.exact_of))
    exact = dups.exact_of != idx
    near = (dups.near_of != idx) & ~exact
    rows = np.flatnonzero(exact | near)
    of = np.where(exact[rows], dups.exact_of[rows], dups.near_of[rows])
    src = docs["source"]
    table = pa.table(
        {
            "source": inferred_strings([sources[s] for s in src[rows]]),
            "file": inferred_strings([docs["file"][i] for i in rows]),
            "line": numeric(docs["line"][rows], np.int64, pa.int64()),
            "kind": inferred_strings(["exact" if e else "near" for e in exact[rows]]),
            "of_source": inferred_strings([sources[s] for s in src[of]]),
            "of_file": inferred_strings([docs["file"][i] for i in of]),
            "of_line": numeric(docs["line"][of], np.int64, pa.int64()),
            "similarity": numeric(
                np.where(exact[rows], 1.0, dups.similarity[rows]).round(4), np.float64, pa.float64()
            ),
        }
    )
    pq.write_table(table, path, compression="zstd")
    return len(rows)
