"""The watermark half of ``bench/trace.py``: SmolLM2 answers, negatives, calibration, tuning.

Prompts: the English (or Chinese) should-answer prompts of the ``cn`` bank, shuffled once
with ``SPLIT_SEED`` and cut in two halves. ``--tune`` measures candidate parameters on the
first half (sampling seed ``TUNE_SEED``); the reported figures use the second half only
(sampling seed ``--seed``), so the defaults were not chosen on the answers they report.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hegui.trace import (
    WatermarkDetector,
    WatermarkKey,
    WatermarkParams,
    binomial_p_values,
    p_value,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SPLIT_SEED = 7  # fixes which prompts are for tuning and which for the report
TUNE_SEED = 1  # sampling seed of the tuning runs (the report uses --seed)
BENCH_SECRET = b"hegui-bench-watermark-key-000001"
Ints = NDArray[np.int64]


# --- the model -------------------------------------------------------------------------


class Model:
    """SmolLM2 loaded the way ``local:smollm2`` loads it; batched left-padded generation."""

    def __init__(self, threads: int = 1) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from hegui.assess._local import smollm2_path

        hf_logging.disable_progress_bar()
        torch.set_num_threads(threads)
        path = smollm2_path()
        self.tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        self.tok.padding_side = "left"
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.float32
        ).eval()

    def _heads(self, prompts: list[str]) -> list[str]:
        return [
            self.tok.apply_chat_template(
                [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
            )
            for p in prompts
        ]

    def generate(
        self, prompts: list[str], tokens: int, key: WatermarkKey | None, sample: bool, seed: int
    ) -> list[list[int]]:
        """``tokens`` new tokens per prompt (EOS held off), watermarked when ``key`` is set."""
        import torch
        from transformers import LogitsProcessorList

        from hegui.trace import logits_processor

        batch = self.tok(
            self._heads(prompts), return_tensors="pt", padding=True, add_special_tokens=False
        )
        processors = (
            LogitsProcessorList([logits_processor(key, greedy=not sample)]) if key else None
        )
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(
                **batch,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=sample,
                top_k=0 if sample else None,
                logits_processor=processors,
                pad_token_id=self.tok.pad_token_id,
            )
        return [row[batch["input_ids"].shape[1] :].tolist() for row in out]

    def perplexity(self, prompt: str, answer: list[int]) -> float:
        """Perplexity of ``answer`` after ``prompt`` under the plain model."""
        import torch

        head = list(self.tok(self._heads([prompt])[0], add_special_tokens=False)["input_ids"])
        ids = torch.tensor([head + answer])
        labels = ids.clone()
        labels[0, : len(head)] = -100
        with torch.inference_mode():
            loss = self.model(input_ids=ids, labels=labels).loss
        return math.exp(float(loss))

    def decode(self, ids: list[int]) -> str:
        return str(self.tok.decode(ids, skip_special_tokens=True))


def prompts(split: str, n: int, lang: str) -> list[str]:
    """``n`` prompts of one half (``tune`` or ``report``) of the shuffled should-answer bank."""
    bank = ROOT / "src/hegui/packs/cn/banks/should_answer.jsonl"
    rows = [json.loads(line) for line in bank.read_text().splitlines() if line.strip()]
    random.Random(SPLIT_SEED).shuffle(rows)
    half = rows[: len(rows) // 2] if split == "tune" else rows[len(rows) // 2 :]
    if n > len(half):
        raise SystemExit(f"the {split} half has {len(half)} prompts, not {n}")
    return [row["en"] if lang == "en" else row["prompt"] for row in half[:n]]


def generate_pairs(
    model: Model, texts: list[str], args: Any, key: WatermarkKey, *, sample: bool, seed: int
) -> tuple[list[list[int]], list[list[int]], float]:
    """Watermarked and plain answers to ``texts``, and the generation rate in tokens/s."""
    marked: list[list[int]] = []
    plain: list[list[int]] = []
    start = time.perf_counter()
    for i in range(0, len(texts), args.batch):
        part = texts[i : i + args.batch]
        marked += model.generate(part, args.tokens, key, sample, seed + i)
        plain += model.generate(part, args.tokens, None, sample, seed + i)
        mode = "sampling" if sample else "greedy"
        print(f"  {mode}: generated {len(marked)}/{len(texts)} pairs", file=sys.stderr)
    return marked, plain, 2 * args.tokens * len(texts) / (time.perf_counter() - start)


# --- statistics ------------------------------------------------------------------------


def upper_bound(failures: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate (about 3/N when nothing failed)."""
    from scipy.stats import beta

    if trials == 0:
        return math.nan
    if failures >= trials:
        return 1.0
    return float(beta.ppf(confidence, failures + 1, trials - failures))


def summary(values: list[float] | NDArray[Any]) -> dict[str, float]:
    items = [float(v) for v in values]
    if not items:
        return {}
    return {
        "mean": statistics.fmean(items),
        "median": statistics.median(items),
        "min": min(items),
        "max": max(items),
    }


def _min_green_at(scored: Ints, gamma: float, fpr: float) -> Ints:
    """The least green count whose exact p-value is at most ``fpr``, per scored count."""
    out = np.empty_like(scored)
    for n in np.unique(scored):
        tails = binomial_p_values(np.arange(n + 2), int(n), gamma)
        out[scored == n] = int(np.argmax(tails <= fpr))  # tails[n + 1] is 0
    return out


def _min_green_at_z(scored: Ints, gamma: float, z: float) -> Ints:
    return np.ceil(gamma * scored + z * np.sqrt(scored * gamma * (1 - gamma)) - 1e-9).astype(
        np.int64
    )


def calibration(scored: Ints, green: Ints, gamma: float, fpr: float) -> list[dict[str, Any]]:
    """Observed false-positive rates at several thresholds beside the exact and normal tails.

    The exact null expectation is the mean over negatives of ``P(X >= k)`` at each one's own
    scored count: it is what a calibrated detector must show.
    """
    z = (green - gamma * scored) / np.sqrt(np.maximum(scored, 1) * gamma * (1 - gamma))
    p = binomial_p_values(green, scored, gamma)
    rows = []
    thresholds: list[tuple[str, NDArray[np.bool_], Ints, float]] = [
        ("z >= 2", z >= 2.0, _min_green_at_z(scored, gamma, 2.0), p_value(2.0)),
        ("z >= 3", z >= 3.0, _min_green_at_z(scored, gamma, 3.0), p_value(3.0)),
        ("z >= 3.719", z >= 3.719, _min_green_at_z(scored, gamma, 3.719), p_value(3.719)),
        ("p <= 1e-3", p <= 1e-3, _min_green_at(scored, gamma, 1e-3), 1e-3),
        (f"p <= {fpr:g} (detector)", p <= fpr, _min_green_at(scored, gamma, fpr), fpr),
    ]
    for name, hits, kmin, normal in thresholds:
        count = int(np.count_nonzero(hits & (scored > 0)))
        rows.append(
            {
                "threshold": name,
                "false_positives": count,
                "negatives": int(scored.shape[0]),
                "observed": count / scored.shape[0],
                "exact_null": float(np.mean(binomial_p_values(kmin, scored, gamma))),
                "normal_tail": normal,
                "upper_95": upper_bound(count, int(scored.shape[0])),
            }
        )
    return rows


# --- negatives: public text from ../shared/data ---------------------------------------


def _column(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [row[column] for row in csv.DictReader(handle) if row.get(column)]


def _sources() -> Iterator[tuple[str, str, list[str]]]:
    """(name, language, texts) of the public sets; none when ../shared/data is absent."""
    jade = DATA / "jade"
    yield (
        "COLD train+dev comments",
        "zh",
        [
            *_column(DATA / "cold/train.csv", "TEXT"),
            *_column(DATA / "cold/dev.csv", "TEXT"),
        ],
    )
    yield (
        "JADE v3 answers (safe and violating)",
        "zh",
        [
            *_column(jade / "v3_alignment_medium_zh.csv", "安全有用回答"),
            *_column(jade / "v3_alignment_medium_zh.csv", "违规回答"),
        ],
    )
    questions = [
        *_column(jade / "v3_alignment_medium_zh.csv", "问题"),
        *_column(jade / "v2_easy_zh.csv", "问题"),
        *_column(jade / "v2_medium_zh.csv", "问题"),
        *_column(jade / "v1_zh.csv", "问题"),
    ]
    flames = (DATA / "flames/flames_1k_zh.jsonl").read_text(encoding="utf-8").splitlines()
    questions += [json.loads(line)["prompt"] for line in flames if line.strip()]
    yield "JADE v1-v3 and Flames questions", "zh", questions
    yield (
        "XSTest and JADE v1 English questions",
        "en",
        [
            *_column(DATA / "xstest/xstest_prompts.csv", "prompt"),
            *_column(jade / "v1_en.csv", "问题"),
        ],
    )


def public_windows(encode: Callable[[str], Any], size: int) -> dict[str, Any]:
    """Non-overlapping ``size``-token windows of each public set (texts joined by newlines)."""
    if not DATA.is_dir():
        print(f"  {DATA} is absent: no public-text negatives", file=sys.stderr)
        return {}
    sets: dict[str, Any] = {}
    for name, lang, texts in _sources():
        ids = np.fromiter((i for text in texts for i in encode(text + "\n")), dtype=np.int64)
        count = ids.shape[0] // size
        sets[name] = {"lang": lang, "windows": ids[: count * size].reshape(count, size)}
    return sets


def negative_keys(params: WatermarkParams, count: int) -> list[WatermarkKey]:
    """The bench key and ``count - 1`` more, derived by hashing (independent green lists)."""
    extra = [
        WatermarkKey(hashlib.sha256(b"hegui-bench-negative-key-%d" % i).digest(), params)
        for i in range(1, count)
    ]
    return [WatermarkKey(BENCH_SECRET, params), *extra]


def score_negatives(
    sets: dict[str, Any], keys: list[WatermarkKey], fpr: float
) -> tuple[Ints, Ints, Ints, dict[str, Any]]:
    """Scored and green counts and key index of every (key, window); per-set summaries."""
    scored_all: list[Ints] = []
    green_all: list[Ints] = []
    key_all: list[Ints] = []
    per_set: dict[str, Any] = {}
    gamma = keys[0].params.gamma
    for name, entry in sets.items():
        rows: list[dict[str, Any]] = []
        for index, key in enumerate(keys):
            scored, green = WatermarkDetector(key, fpr=fpr).green_counts(entry["windows"])
            scored_all.append(scored)
            green_all.append(green)
            key_all.append(np.full(scored.shape[0], index, dtype=np.int64))
            z = (green - gamma * scored) / np.sqrt(np.maximum(scored, 1) * gamma * (1 - gamma))
            hits = binomial_p_values(green, scored, gamma) <= fpr
            rows.append({"false_positives": int(hits.sum()), "max_z": float(z.max())})
        per_set[name] = {
            "lang": entry["lang"],
            "windows": int(entry["windows"].shape[0]),
            "false_positives_per_key": [r["false_positives"] for r in rows],
            "max_z": max(r["max_z"] for r in rows),
        }
    empty = [np.empty(0, dtype=np.int64)]
    return (
        np.concatenate(scored_all or empty),
        np.concatenate(green_all or empty),
        np.concatenate(key_all or empty),
        per_set,
    )


def key_spread(scored: Ints, green: Ints, key_ids: Ints, gamma: float) -> dict[str, Any]:
    """How far one key's scores on this corpus stray from the pooled ones.

    Texts of one corpus share frequent (context, token) pairs; under one key those pairs
    are green or not for every text at once, which shifts that key's scores together.
    """
    z = (green - gamma * scored) / np.sqrt(np.maximum(scored, 1) * gamma * (1 - gamma))
    keys = np.unique(key_ids)
    means = [float(z[key_ids == k].mean()) for k in keys]
    spread: dict[str, Any] = {"keys": int(keys.shape[0]), "z_mean": [min(means), max(means)]}
    for threshold in (2.0, 3.0):
        rates = [float(np.mean(z[key_ids == k] >= threshold)) for k in keys]
        spread[f"rate_z_ge_{threshold:g}"] = [min(rates), max(rates)]
    return spread


# --- robustness ------------------------------------------------------------------------


def attacks(rng: random.Random, vocab: list[str]) -> dict[str, Callable[[str], str]]:
    def delete(share: float) -> Callable[[str], str]:
        return lambda t: " ".join(w for w in t.split() if rng.random() >= share)

    def substitute(share: float) -> Callable[[str], str]:
        return lambda t: " ".join(
            rng.choice(vocab) if rng.random() < share else w for w in t.split()
        )

    def truncate(share: float) -> Callable[[str], str]:
        return lambda t: " ".join(t.split()[: int(len(t.split()) * share)])

    return {
        "delete 10% of words": delete(0.10),
        "delete 20% of words": delete(0.20),
        "delete 30% of words": delete(0.30),
        "substitute 10% of words": substitute(0.10),
        "substitute 20% of words": substitute(0.20),
        "truncate to 50%": truncate(0.50),
        "truncate to 25%": truncate(0.25),
    }


# --- one decoding mode -----------------------------------------------------------------


def mode_figures(
    model: Model, key: WatermarkKey, texts: list[str], args: Any, *, sample: bool, seed: int
) -> dict[str, Any]:
    """TPR, z and p of watermarked answers, scores of plain ones, perplexity of both."""
    from hegui.trace import load_tokenizer

    detector = WatermarkDetector(key, load_tokenizer("local:smollm2"), fpr=args.fpr)
    marked, plain, rate = generate_pairs(model, texts, args, key, sample=sample, seed=seed)
    marked_text = [model.decode(ids) for ids in marked]
    plain_text = [model.decode(ids) for ids in plain]
    found = [detector.detect(t) for t in marked_text]
    clean = [detector.detect(t) for t in plain_text]
    ppl_marked = [model.perplexity(p, a) for p, a in zip(texts, marked, strict=True)]
    ppl_plain = [model.perplexity(p, a) for p, a in zip(texts, plain, strict=True)]
    rng = random.Random(seed)
    vocab = sorted({w for t in plain_text for w in t.split()})
    robustness = {}
    for name, attack in attacks(rng, vocab).items():
        results = [detector.detect(attack(t)) for t in marked_text]
        robustness[name] = sum(r.detected for r in results) / len(results)
    return {
        "decoding": "multinomial sampling" if sample else "greedy",
        "delta": key.params.delta if sample else key.params.greedy_delta,
        "answers": len(texts),
        "generation_tokens_per_s": rate,
        "tpr": sum(r.detected for r in found) / len(found),
        "detected": sum(r.detected for r in found),
        "tpr_upper_95_misses": upper_bound(sum(not r.detected for r in found), len(found)),
        "z_marked": summary([r.z for r in found]),
        "p_marked_max": max(r.p_value for r in found),
        "scored_marked": summary([r.scored for r in found]),
        "false_positives_plain": sum(r.detected for r in clean),
        "z_plain": summary([r.z for r in clean]),
        "scored_plain": [r.scored for r in clean],
        "green_plain": [r.green for r in clean],
        "perplexity_plain": summary(ppl_plain),
        "perplexity_watermarked": summary(ppl_marked),
        "robustness_tpr": robustness,
        "sample_answer": marked_text[0][:400],
    }


# --- tuning on the other half ----------------------------------------------------------


def parse_grid(text: str) -> list[tuple[int, float, float]]:
    """``"1/0.25:2,3 4/0.25:2"`` -> [(1, 0.25, 2.0), (1, 0.25, 3.0), (4, 0.25, 2.0)]."""
    grid = []
    for part in text.split():
        width, _, rest = part.rpartition("/")
        gamma, _, deltas = rest.partition(":")
        grid += [(int(width or 1), float(gamma), float(d)) for d in deltas.split(",")]
    return grid


def width_calibration(
    encode: Callable[[str], Any], widths: list[int], size: int, keys: int = 16
) -> dict[int, Any]:
    """Per-key spread of scores on the public text for each context width.

    The keys are derived apart from the report's (``negative_keys``), so the report's
    false-positive figures do not reuse these draws.
    """
    sets = public_windows(encode, size)
    if not sets:
        return {}
    windows = np.concatenate([entry["windows"] for entry in sets.values()])
    spread = {}
    for width in sorted(set(widths)):
        params = WatermarkParams(context_width=width)
        counts = []
        for i in range(keys):
            secret = hashlib.sha256(b"hegui-bench-tune-key-%d" % i).digest()
            counts.append(WatermarkDetector(WatermarkKey(secret, params)).green_counts(windows))
        scored = np.concatenate([c[0] for c in counts])
        green = np.concatenate([c[1] for c in counts])
        key_ids = np.repeat(np.arange(keys), windows.shape[0])
        spread[width] = key_spread(scored, green, key_ids, params.gamma)
        spread[width]["scored_median"] = float(np.median(scored))
    return spread


def tune(args: Any) -> dict[str, Any]:
    """TPR and perplexity over a (width, gamma, delta) grid on the tuning half of the prompts."""
    from hegui.trace import load_tokenizer

    encode = load_tokenizer("local:smollm2")
    grid = parse_grid(args.grid)
    calibration_by_width = width_calibration(encode, [w for w, _, _ in grid], args.tokens)
    print("public text, 16 tuning keys: per-key mean z and rate at z >= 2, by context width")
    for width, spread in calibration_by_width.items():
        print(
            f"  width {width}: mean z {spread['z_mean'][0]:+.3f} to {spread['z_mean'][1]:+.3f}, "
            f"z >= 2 {spread['rate_z_ge_2'][0]:.4f} to {spread['rate_z_ge_2'][1]:.4f}, "
            f"median distinct pairs {spread['scored_median']:.0f}",
            flush=True,
        )
    model = Model(args.threads)
    texts = prompts("tune", args.answers, args.lang)
    sample = args.sample
    mode = "sampling" if sample else "greedy"
    plain: list[list[int]] = []
    for i in range(0, len(texts), args.batch):
        plain += model.generate(texts[i : i + args.batch], args.tokens, None, sample, TUNE_SEED + i)
    ppl_plain = statistics.median(model.perplexity(p, a) for p, a in zip(texts, plain, strict=True))
    print(f"tuning on {len(texts)} prompts, {mode}; plain perplexity (median) {ppl_plain:.2f}")
    print(
        f"{'width':>5} {'gamma':>6} {'delta':>6} {'TPR@1e-4':>9} {'TPR@1e-5':>9} {'min z':>6} "
        f"{'med z':>6} {'scored':>7} {'ppl':>6}",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    for width, gamma, delta in grid:
        key = WatermarkKey(BENCH_SECRET, WatermarkParams(gamma, delta, width, delta))
        detector = WatermarkDetector(key, encode, fpr=1e-4)
        marked: list[list[int]] = []
        for i in range(0, len(texts), args.batch):
            part = texts[i : i + args.batch]
            marked += model.generate(part, args.tokens, key, sample, TUNE_SEED + i)
        found = [detector.detect(model.decode(ids)) for ids in marked]
        ppl = [model.perplexity(p, a) for p, a in zip(texts, marked, strict=True)]
        row = {
            "context_width": width,
            "gamma": gamma,
            "delta": delta,
            "tpr_1e-4": sum(r.p_value <= 1e-4 for r in found) / len(found),
            "tpr_1e-5": sum(r.p_value <= 1e-5 for r in found) / len(found),
            "z": summary([r.z for r in found]),
            "scored_median": statistics.median(r.scored for r in found),
            "perplexity_median": statistics.median(ppl),
            "answers_z_scored": [(round(r.z, 2), r.scored) for r in found],
        }
        rows.append(row)
        print(
            f"{width:5d} {gamma:6.2f} {delta:6.1f} {row['tpr_1e-4']:9.3f} {row['tpr_1e-5']:9.3f} "
            f"{row['z']['min']:6.2f} {row['z']['median']:6.2f} {row['scored_median']:7.0f} "
            f"{row['perplexity_median']:6.2f}",
            flush=True,
        )
    return {
        "split": "tune",
        "decoding": mode,
        "answers": len(texts),
        "tokens": args.tokens,
        "seed": TUNE_SEED,
        "perplexity_plain_median": ppl_plain,
        "width_calibration": calibration_by_width,
        "grid": rows,
        "rule": "the width whose per-key scores on public text stray least, then the smallest"
        " delta whose tuning TPR at p <= 1e-5 is 1.0 (a 10x margin on 1e-4)",
    }
