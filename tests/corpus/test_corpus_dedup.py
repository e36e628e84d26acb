from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from corpus_support import FAST, filler, source, write_jsonl, write_manifest

from hegui.corpus import DedupParams, LocalExecutor, ScanOptions, scan_corpus
from hegui.corpus._dedup import exact_duplicates, find_duplicates
from hegui.corpus._minhash import candidate_pairs, clusters, shingle_hashes, signatures

PARAMS = DedupParams()


def _article(rng: random.Random, n: int = 600) -> str:
    han = [chr(0x4E00 + rng.randrange(3000)) for _ in range(n)]
    return "".join(han)


def _edit(rng: random.Random, text: str, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        at = rng.randrange(len(chars))
        chars[at] = chr(0x4E00 + rng.randrange(3000))
    return "".join(chars)


def _jaccard(a: str, b: str, k: int = 5) -> float:
    sa = {a[i : i + k] for i in range(len(a) - k + 1)}
    sb = {b[i : i + k] for i in range(len(b) - k + 1)}
    return len(sa & sb) / len(sa | sb)


def test_shingles_never_span_two_texts() -> None:
    flat, offsets = shingle_hashes(["abcdef", "xy", "", "ghijk"], 5)
    assert offsets.tolist() == [0, 2, 2, 2, 3]
    alone = [shingle_hashes([t], 5)[0].tolist() for t in ("abcdef", "ghijk")]
    assert flat.tolist() == alone[0] + alone[1]


def _rolling(text: str, ngram: int) -> list[int]:
    """The shingle hash as first defined: a 32-bit rolling polynomial over code points."""
    prime, top, out, h = 0x01000193, pow(0x01000193, ngram - 1, 1 << 32), [], 0
    for i, ch in enumerate(text):
        if i >= ngram:
            h = (h - ord(text[i - ngram]) * top) % (1 << 32)
        h = (h * prime + ord(ch)) % (1 << 32)
        if i >= ngram - 1:
            out.append(h)
    return out


FIXED_FIRST_ROW = [93743617, 1811986846, 3223028924, 3239208972]
"""rensa 0.5's first four signature values of the first text of the sliced-signature
test: a rensa release that changes them changes every near-duplicate decision (and
spec.json's package versions)."""

SHINGLE_TEXTS = [
    "",
    "abcd",
    "abcde",
    "héllo wörld, ümlaut",  # one byte per code point
    "中文文本" * 300 + "混合 text",  # two bytes, longer than a block of windows
    "emoji 😀 and 𠀋 beyond the BMP",  # four bytes
    "\U0010ffff" * 9 + "\x00" * 6,
    "x" * 2049,
]


@pytest.mark.parametrize("ngram", [1, 2, 5, 9])
def test_shingle_hashes_are_the_rolling_polynomial(ngram: int) -> None:
    flat, offsets = shingle_hashes(SHINGLE_TEXTS, ngram)
    want = [h for text in SHINGLE_TEXTS for h in _rolling(text, ngram)]
    assert flat.tolist() == want
    assert [int(x) for x in offsets[1:] - offsets[:-1]] == [
        max(len(t) - ngram + 1, 0) for t in SHINGLE_TEXTS
    ]


def test_shingle_hashes_refuse_bad_input() -> None:
    from hegui.detect._fastscan import shingle_hashes as raw

    with pytest.raises(ValueError):
        raw(["abc"], 0)
    with pytest.raises(TypeError):
        raw(["abc", b"abc"], 2)  # type: ignore[list-item]


def test_signatures_in_slices_match_one_rensa_call() -> None:
    """Signatures are computed RENSA_ROWS documents per rensa call: the same rows as
    one call over the whole batch (fixed input, short and empty texts among them)."""
    import rensa

    from hegui.corpus._minhash import RENSA_ROWS

    params = DedupParams(method="rensa")
    rng = random.Random(11)
    texts = [_article(rng, rng.randrange(0, 80)) for _ in range(3 * RENSA_ROWS + 7)]
    sig, has = signatures(texts, params)
    flat, offsets = shingle_hashes(texts, params.ngram)
    whole = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        flat, offsets, params.num_perm, params.seed
    ).to_rows()
    assert sig.tolist() == [list(row) for row in whole]
    assert has.tolist() == [len(t) >= params.ngram for t in texts]
    assert sig[0, :4].tolist() == FIXED_FIRST_ROW


@pytest.mark.parametrize("method", ["oph", "rensa"])
def test_signature_agreement_estimates_jaccard_similarity(method: str) -> None:
    params = DedupParams(method=method)
    rng = random.Random(7)
    base = _article(rng)
    texts, truth = [base], []
    for edits in (5, 15, 40, 120, 600):
        copy = _edit(rng, base, edits)
        texts.append(copy)
        truth.append(_jaccard(base, copy))
    sig, has = signatures(texts, params)
    assert has.all() and sig.shape == (6, params.num_perm)
    est = [(sig[0] == sig[i]).mean() for i in range(1, 6)]
    assert np.allclose(est, truth, atol=0.12)
    assert est[0] > 0.8 and est[-1] < 0.1


@pytest.mark.parametrize("method", ["oph", "rensa"])
def test_short_texts_get_no_signature_and_never_collide(method: str) -> None:
    params = DedupParams(method=method)
    sig, has = signatures(["abc", "xyz", "a much longer text here"], params)
    assert has.tolist() == [False, False, True]
    dups = find_duplicates(np.array([1, 2, 3], dtype=np.uint64), sig, params)
    assert dups.near_of.tolist() == [0, 1, 2]


@pytest.mark.parametrize("method", ["oph", "rensa"])
def test_near_duplicates_found_and_unrelated_documents_left_alone(method: str) -> None:
    params = DedupParams(method=method)
    rng = random.Random(11)
    originals = [_article(rng) for _ in range(60)]
    copies = [_edit(rng, originals[i], 12) for i in range(20)]
    texts = originals + copies
    sig, _ = signatures(texts, params)
    hashes = np.arange(len(texts), dtype=np.uint64)
    dups = find_duplicates(hashes, sig, params)
    assert dups.near_of[60:].tolist() == list(range(20))
    assert dups.near_of[:60].tolist() == list(range(60))
    agree = [(sig[60 + i] == sig[i]).mean() for i in range(20)]  # each copy to its original
    assert np.allclose(dups.similarity[60:], agree) and (dups.similarity[:60] == 1.0).all()


def test_exact_duplicates_point_at_the_first_copy() -> None:
    hashes = np.array([5, 7, 5, 9, 7, 5], dtype=np.uint64)
    assert exact_duplicates(hashes).tolist() == [0, 1, 0, 3, 1, 0]


def test_duplicates_per_source_and_across(tmp_path: Path) -> None:
    rng = random.Random(3)
    shared = _article(rng)
    a = [filler(i) for i in range(10)] + [shared, shared, _edit(rng, shared, 10)]
    b = [filler(i) for i in range(10, 15)] + [shared, "  " + shared + "\n", _edit(rng, shared, 8)]
    write_jsonl(tmp_path / "a.jsonl", a)
    write_jsonl(tmp_path / "b.jsonl", b)
    manifest = write_manifest(tmp_path, [source("a", "a.jsonl"), source("b", "b.jsonl")])
    run = tmp_path / "run"
    s = scan_corpus(manifest, run, ScanOptions(detectors=FAST), LocalExecutor(1)).summary
    by = {src["id"]: src["duplicates"] for src in s["sources"]}
    assert by["a"] == {"exact_within": 1, "exact_across": 0, "near_within": 1, "near_across": 0}
    # b's copies of the shared text (one with extra spaces) point at a's first copy
    assert by["b"] == {"exact_within": 0, "exact_across": 2, "near_within": 0, "near_across": 1}
    rows = pq.read_table(run / "duplicates.parquet").to_pylist()
    assert {(r["source"], r["line"], r["kind"], r["of_source"], r["of_line"]) for r in rows} == {
        ("a", 12, "exact", "a", 11),
        ("a", 13, "near", "a", 11),
        ("b", 6, "exact", "a", 11),
        ("b", 7, "exact", "a", 11),
        ("b", 8, "near", "a", 11),
    }
    assert all(r["similarity"] >= PARAMS.threshold for r in rows)


@pytest.mark.parametrize("bad", [dict(num_perm=100, bands=30), dict(threshold=0.0)])
def test_dedup_parameters_are_checked(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DedupParams(**bad)  # type: ignore[arg-type]


def _pairs_by_stable_sort(sig: np.ndarray, params: DedupParams) -> np.ndarray:
    """candidate_pairs as first written: a stable sort per band, pairs deduplicated by row."""
    found = [np.zeros((0, 2), dtype=np.int64)]
    for band in range(params.bands):
        part = sig[:, band * params.rows : (band + 1) * params.rows].astype(np.uint64)
        keys = np.zeros(len(sig), dtype=np.uint64)
        for col in range(params.rows):
            keys = keys * np.uint64(0x100000001B3) ^ part[:, col]
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        new_run = np.ones(len(order), dtype=bool)
        new_run[1:] = ordered[1:] != ordered[:-1]
        heads = order[new_run][np.cumsum(new_run) - 1]
        members = ~new_run
        found.append(np.sort(np.stack([heads[members], order[members]], axis=1), axis=1))
    return np.unique(np.concatenate(found), axis=0)


@pytest.mark.parametrize("seed", range(20))
def test_candidate_pairs_match_the_stable_sort_version(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    if seed % 2:  # few distinct values: large buckets in every band
        sig = rng.integers(0, 3, size=(n, PARAMS.num_perm), dtype=np.uint32)
    else:  # random rows, half of them copied or partly copied
        sig = rng.integers(0, 2**32, size=(n, PARAMS.num_perm), dtype=np.uint32)
        copies = rng.integers(0, max(n, 1), size=n // 2)
        sig[n // 2 :][: len(copies)] = sig[copies]
        sig[n // 2 :, : int(rng.integers(0, PARAMS.num_perm))] = 7
    pairs = candidate_pairs(sig, PARAMS)
    expected = _pairs_by_stable_sort(sig, PARAMS)
    assert pairs.dtype == np.int64 and pairs.shape == expected.shape
    assert np.array_equal(pairs, expected)


def _clusters_by_scipy(n: int, pairs: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not len(pairs):
        return np.arange(n)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    first = np.full(labels.max() + 1, n)
    np.minimum.at(first, labels, np.arange(n))
    return first[labels]


@pytest.mark.parametrize("seed", range(20))
def test_clusters_match_scipy_connected_components(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(50):
        n = int(rng.integers(1, 80))
        ends = rng.integers(0, n, size=(int(rng.integers(0, 2 * n)), 2)).astype(np.int64)
        if seed % 2:  # a long chain in shuffled order, both orientations
            order = rng.permutation(n)
            ends = np.concatenate([ends, np.stack([order[1:], order[:-1]], axis=1)])
        got = clusters(n, ends)
        assert got.dtype == np.int64
        assert np.array_equal(got, _clusters_by_scipy(n, ends))


def test_lsh_bands_on_threads_give_the_same_pairs() -> None:
    from hegui.corpus._minhash import candidate_pairs

    rng = np.random.default_rng(8)
    sig = rng.integers(0, 4, size=(3000, PARAMS.num_perm), dtype=np.uint32)  # many buckets
    sig[1500:] = rng.integers(0, 2**32, size=(1500, PARAMS.num_perm), dtype=np.uint32)
    sig[2000:2100] = sig[100:200]
    one = candidate_pairs(sig, PARAMS)
    assert len(one) > 1000 and {(a, a + 1900) for a in range(100, 200)} <= set(map(tuple, one))
    assert np.array_equal(candidate_pairs(sig, PARAMS, threads=3), one)
