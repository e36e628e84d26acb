"""Benchmark the shipped classifier against held-out sets, in one run, one table.

Data comes from ../shared/data (read by path, never copied); the model is trained
beforehand with ``hegui classifier train --recipe cn --data ../shared/data --out
src/hegui/packs/cn/classifier`` (held-out parts are never trained on). For the
shipped model and for a COLD-only peer (plain char 1-4-gram logistic regression
through the same features, fitted on COLD train.csv with C=8, threshold 0.5):

- COLD dev accuracy and macro-F1 (binary: any risk flagged vs label);
- hard unseen Chinese text written for hegui (tests/classifier/data/hard_zh.jsonl:
  anti-bias comments quoting slurs to reject them, sarcasm, reclaimed and reported
  language, veiled stereotypes), accuracy and macro-F1, never trained on;
- accuracy on the model's own held-out test split (shipped model only);
- JADE v3 held-out: share of violating answers flagged, of safe answers not flagged;
- XSTest held-out ``safe`` prompts: false-positive rate (and ``unsafe`` recall, info).
  Held out = the fixed seeded 50% of XSTest prompts that training never reads
  (``xstest_heldout``, seed 45654); the other half is trained on as hard negatives
  and contrasts, so this figure is on prompts the model has not seen;
- latency per message of ``detector.scan`` on one core, p50 / p99, for COLD dev texts
  (short) and JADE v3 answers (long, several windows): one timed pass ("wall"), the
  best of three passes per message ("best of 3", which removes most of the noise of
  a shared machine), and the thread's CPU time ("cpu");
- model size on disk.

The COLD paper's RoBERTa detector (COLDetector, about 0.81 accuracy) is quoted as
published; it was measured on COLD's own test set, which is not in ../shared/data.

With ``--compare DIR`` another model folder (say, the one being replaced) gets a
column too; with ``--card`` the evaluation table of the model card beside ``--model``
(between its ``bench:begin`` and ``bench:end`` markers) is rewritten from this run.

Usage: python bench/classifier.py [--data ../shared/data] [--model DIR] [--out FILE]
       [--compare DIR] [--card]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hegui.detect import Action
from hegui.detect._classifier import SHIPPED_MODEL, ClassifierDetector
from hegui.detect._classifier_data import SHIPPED_DIR, shipped_corpus
from hegui.detect._classifier_model import ClassifierModel
from hegui.detect._classifier_rows import SAFE, LabelledText, load_label_map, read_labelled
from hegui.detect._classifier_train import TrainConfig, _fit, _matrix

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
HARD_ZH = ROOT / "tests" / "classifier" / "data" / "hard_zh.jsonl"
PEER_CONFIG = TrainConfig()
PUBLISHED = {"COLDetector (RoBERTa), published, COLD test": {"cold_test_accuracy": 0.81}}


def _flags(det: ClassifierDetector, items: Sequence[LabelledText]) -> npt.NDArray[np.bool_]:
    return np.array([bool(det.scan(i.text)) for i in items])


def _binary(det: ClassifierDetector, items: Sequence[LabelledText]) -> dict[str, float]:
    pred = _flags(det, items)
    truth = np.array([i.risk != SAFE for i in items])
    tp, fp = int((pred & truth).sum()), int((pred & ~truth).sum())
    fn, tn = int((~pred & truth).sum()), int((~pred & ~truth).sum())
    f1_pos = 2 * tp / max(2 * tp + fp + fn, 1)
    f1_neg = 2 * tn / max(2 * tn + fp + fn, 1)
    return {"accuracy": (tp + tn) / len(items), "macro_f1": (f1_pos + f1_neg) / 2}


def _quantiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "p50_ms": statistics.median(times),
        "p99_ms": times[min(len(times) - 1, int(0.99 * len(times)))],
    }


def _latency(det: ClassifierDetector, texts: Sequence[str]) -> dict[str, float]:
    def timed(clock: Callable[[], float], text: str) -> float:
        t0 = clock()
        det.scan(text)
        return (clock() - t0) * 1e3

    for t in texts[:50]:  # warm caches
        det.scan(t)
    wall = [timed(time.perf_counter, t) for t in texts]
    best = [
        min(w, *(timed(time.perf_counter, t) for _ in range(2)))
        for w, t in zip(wall, texts, strict=True)
    ]
    cpu = [timed(time.thread_time, t) for t in texts]
    out = {"mean_chars": statistics.mean(len(t) for t in texts)}
    for name, times in (("wall", wall), ("best of 3", best), ("cpu", cpu)):
        out |= {f"{name} {k}": v for k, v in _quantiles(times).items()}
    return out


def _size(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.glob("model.*")) / 1e6


def _peer(corpus_train: Sequence[LabelledText], out: Path) -> ClassifierModel:
    cold = [i for i in corpus_train if i.source == "train.csv"]
    x = _matrix([i.text for i in cold], PEER_CONFIG)
    y = np.array([0 if i.risk != SAFE else -1 for i in cold])
    w, b = _fit(x, y, 1, 8.0)
    model = ClassifierModel(
        PEER_CONFIG.features,
        ("A.2",),
        w.astype(np.float16),
        b,
        np.array([0.5], dtype=np.float32),
        PEER_CONFIG.windowing,
        {"peer": "COLD-only char n-gram logistic regression"},
    )
    model.save(out)
    return model


def hard_zh() -> tuple[list[LabelledText], list[str]]:
    """The project-written hard Chinese set and the kind of each row."""
    rows = read_labelled(
        HARD_ZH, "text", "topic,label", load_label_map(SHIPPED_DIR / "label_map_cold.yaml")
    )
    kinds = [json.loads(line)["kind"] for line in HARD_ZH.read_text("utf-8").splitlines()]
    return rows, kinds


def _measure(
    model: ClassifierModel, folder: Path, held: dict[str, list[LabelledText]]
) -> dict[str, object]:
    det = ClassifierDetector(model, Action.FLAG)
    cold = _binary(det, held["cold_dev"])
    hard = _binary(det, held["hard_zh"])
    return {
        "cold_dev_accuracy": cold["accuracy"],
        "cold_dev_macro_f1": cold["macro_f1"],
        "hard_zh_accuracy": hard["accuracy"],
        "hard_zh_macro_f1": hard["macro_f1"],
        "own_test_accuracy": model.info.get("test", {}).get("accuracy", float("nan")),
        "jade_v3_violating_flagged": _flags(det, held["jade_v3_violating"]).mean(),
        "jade_v3_safe_passed": 1 - _flags(det, held["jade_v3_safe"]).mean(),
        "xstest_safe_fpr": _flags(det, held["xstest_safe"]).mean(),
        "xstest_unsafe_flagged": _flags(det, held["xstest_unsafe"]).mean(),
        "size_mb": _size(folder),
        "latency_short": _latency(det, [i.text for i in held["cold_dev"][:2000]]),
        "latency_long": _latency(
            det, [i.text for i in held["jade_v3_violating"] + held["jade_v3_safe"]]
        ),
    }


def _by_kind(model: ClassifierModel, rows: list[LabelledText], kinds: list[str]) -> dict[str, str]:
    det = ClassifierDetector(model, Action.FLAG)
    right = Counter(
        k for k, r in zip(kinds, rows, strict=True) if bool(det.scan(r.text)) == (r.risk != SAFE)
    )
    total = Counter(kinds)
    return {k: f"{right[k]}/{n}" for k, n in total.items()}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "classifier.json")
    ap.add_argument("--compare", type=Path, help="another model folder to measure beside it")
    ap.add_argument("--card", action="store_true", help="rewrite the model card's table")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"no data at {args.data}; see ../shared/data/README.md", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    corpus = shipped_corpus(args.data)
    shipped = ClassifierModel.load(args.model)
    peer_dir = ROOT / "bench" / "results" / "peer-cold-only"
    peer = _peer(corpus.train, peer_dir)
    held = dict(corpus.heldout)
    held["hard_zh"], kinds = hard_zh()
    rows: dict[str, dict[str, object]] = {"hegui classifier": _measure(shipped, args.model, held)}
    if args.compare is not None:
        rows["compared model"] = _measure(ClassifierModel.load(args.compare), args.compare, held)
    rows["peer: COLD-only char LR"] = _measure(peer, peer_dir, held)
    _print(rows)
    print("published reference (another test set):", json.dumps(PUBLISHED))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor()},
        "model": str(args.model),
        "trained_by": shipped.info.get("command"),
        "heldout_rows": {k: len(v) for k, v in held.items()},
        "train_rows": corpus.sources,
        "results": rows,
        "hard_zh_by_kind": {"hegui classifier": _by_kind(shipped, held["hard_zh"], kinds)},
        "published": PUBLISHED,
    }
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    if args.card:
        card = args.model / "MODEL_CARD.md"
        write_card_table(card, rows, {k: len(v) for k, v in held.items()})
        print(f"rewrote the evaluation table of {card}")
    return 0


_CARD_ROWS = (
    ("cold_dev_accuracy", "COLD dev accuracy ({cold_dev:,})", "{:.3f}"),
    ("cold_dev_macro_f1", "COLD dev macro-F1", "{:.3f}"),
    ("hard_zh_accuracy", "hard Chinese set accuracy ({hard_zh}, written for hegui)", "{:.3f}"),
    ("hard_zh_macro_f1", "hard Chinese set macro-F1", "{:.3f}"),
    ("own_test_accuracy", "own test split accuracy (same recipe)", "{:.3f}"),
    (
        "jade_v3_violating_flagged",
        "JADE v3 held-out violating answers flagged ({jade_v3_violating}; goal ≥ 0.90)",
        "{:.3f}",
    ),
    (
        "jade_v3_safe_passed",
        "JADE v3 held-out safe answers not flagged ({jade_v3_safe}; goal ≥ 0.90)",
        "{:.3f}",
    ),
    (
        "xstest_safe_fpr",
        "XSTest held-out safe prompts flagged ({xstest_safe}, never trained on; goal ≤ 0.05)",
        "{:.3f}",
    ),
    (
        "xstest_unsafe_flagged",
        "XSTest held-out unsafe prompts flagged ({xstest_unsafe}; info)",
        "{:.3f}",
    ),
    ("size_mb", "model size on disk (MB)", "{:.2f}"),
)
_LATENCY_ROWS = (
    ("latency_short", "wall", "latency p50 / p99, COLD dev texts, one pass (ms)"),
    ("latency_short", "best of 3", "latency p50 / p99, COLD dev texts, best of 3 (ms)"),
    ("latency_long", "wall", "latency p50 / p99, JADE v3 answers, one pass (ms)"),
    ("latency_long", "best of 3", "latency p50 / p99, JADE v3 answers, best of 3 (ms)"),
)


def card_table(rows: dict[str, dict[str, object]], sizes: dict[str, int]) -> str:
    """The model card's evaluation table (Markdown) from one run's rows."""
    names = list(rows)
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key, label, fmt in _CARD_ROWS:
        cells = [_cell(rows[n][key], fmt) for n in names]
        lines.append(f"| {label.format(**sizes)} | " + " | ".join(cells) + " |")
    for group, clock, label in _LATENCY_ROWS:
        cells = []
        for n in names:
            lat = rows[n][group]
            assert isinstance(lat, dict)
            cells.append(f"{lat[f'{clock} p50_ms']:.3f} / {lat[f'{clock} p99_ms']:.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: object, fmt: str) -> str:
    """A figure as the card shows it; NaN (not measured) as a dash."""
    return "–" if isinstance(value, float) and math.isnan(value) else fmt.format(value)


_MARKED = re.compile(r"(<!-- bench:begin -->\n).*?(<!-- bench:end -->)", re.S)


def write_card_table(card: Path, rows: dict[str, dict[str, object]], sizes: dict[str, int]) -> None:
    """Replace the table between the card's ``bench:begin`` and ``bench:end`` markers."""
    text = card.read_text(encoding="utf-8")
    if not _MARKED.search(text):
        raise SystemExit(f"{card}: no <!-- bench:begin --> ... <!-- bench:end --> markers")
    table = card_table(rows, sizes)
    card.write_text(_MARKED.sub(lambda m: m.group(1) + table + m.group(2), text), "utf-8")


def _print(rows: dict[str, dict[str, object]]) -> None:
    names = list(rows)
    first = rows[names[0]]
    print(f"{'metric':34}" + "".join(f"{n:>26}" for n in names))
    for k, v in first.items():
        if not isinstance(v, dict):
            print(f"{k:34}" + "".join(f"{rows[n][k]:>26.3f}" for n in names))
    for lat in ("latency_short", "latency_long"):
        for q in first[lat]:  # type: ignore[attr-defined]
            vals = "".join(f"{rows[n][lat][q]:>26.3f}" for n in names)  # type: ignore[index]
            print(f"{lat + ' ' + q:34}" + vals)


if __name__ == "__main__":
    raise SystemExit(main())
