"""Train (optionally) and benchmark the shipped classifier, in one run, one table.

Data comes from ../shared/data (read by path, never copied). With ``--train`` the
shipped model in src/hegui/packs/cn/classifier/ is rebuilt first from the recipe in
hegui.detect._classifier_data (held-out parts are never trained on). Then, for the
shipped model and for a COLD-only peer (plain char 1-4-gram logistic regression
through the same features, fitted on COLD train.csv with C=8, default threshold 0.5):

- COLD dev accuracy and macro-F1 (binary: any risk flagged vs label);
- accuracy on the model's own held-out test split (shipped model only);
- JADE v3 held-out: share of violating answers flagged, of safe answers not flagged;
- XSTest held-out ``safe`` prompts: false-positive rate (and ``unsafe`` recall, info);
- latency per message (detector.scan, one core): p50 / p99 on COLD dev texts and on
  JADE v3 answers (several sentence windows each);
- model size on disk.

Usage: python bench/classifier.py [--train] [--data ../shared/data] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hegui.detect import Action
from hegui.detect._classifier import SHIPPED_MODEL, ClassifierDetector
from hegui.detect._classifier_data import shipped_corpus
from hegui.detect._classifier_model import ClassifierModel
from hegui.detect._classifier_train import (
    SAFE,
    LabelledText,
    TrainConfig,
    _fit,
    _matrix,
    train,
)
from hegui.policy import load_policy

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
CONFIG = TrainConfig()


def _flag_rate(det: ClassifierDetector, items: Sequence[LabelledText]) -> float:
    return sum(bool(det.scan(i.text)) for i in items) / max(len(items), 1)


def _binary(det: ClassifierDetector, items: Sequence[LabelledText]) -> dict[str, float]:
    pred = np.array([bool(det.scan(i.text)) for i in items])
    truth = np.array([i.risk != SAFE for i in items])
    tp, fp = int((pred & truth).sum()), int((pred & ~truth).sum())
    fn, tn = int((~pred & truth).sum()), int((~pred & ~truth).sum())
    f1_pos = 2 * tp / max(2 * tp + fp + fn, 1)
    f1_neg = 2 * tn / max(2 * tn + fp + fn, 1)
    return {"accuracy": (tp + tn) / len(items), "macro_f1": (f1_pos + f1_neg) / 2}


def _latency(det: ClassifierDetector, texts: Sequence[str]) -> dict[str, float]:
    times = []
    for t in texts:
        t0 = time.perf_counter()
        det.scan(t)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p99_ms": times[min(len(times) - 1, int(0.99 * len(times)))],
        "mean_chars": statistics.mean(len(t) for t in texts),
    }


def _size(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.glob("model.*")) / 1e6


def _peer(corpus_train: Sequence[LabelledText], out: Path) -> ClassifierModel:
    cold = [i for i in corpus_train if i.source == "train.csv"]
    x = _matrix([i.text for i in cold], CONFIG)
    y = np.array([0 if i.risk != SAFE else -1 for i in cold])
    w, b = _fit(x, y, 1, 8.0)
    model = ClassifierModel(
        CONFIG.features,
        ("A.2",),
        w.astype(np.float16),
        b,
        np.array([0.5], dtype=np.float32),
        CONFIG.windowing,
        {"peer": "COLD-only char n-gram logistic regression"},
    )
    model.save(out)
    return model


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", action="store_true", help="rebuild the shipped model first")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "classifier.json")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"no data at {args.data}; see ../shared/data/README.md", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    corpus = shipped_corpus(args.data)
    if args.train:
        pol = load_policy("cn")
        parents = {rid: r.parent for rid, r in pol.risks.items()}
        t0 = time.perf_counter()
        model, report = train(
            corpus.train,
            parents,
            CONFIG,
            info={"data": corpus.sources, "trained_by": "bench/classifier.py --train"},
        )
        model.save(args.model)
        print(f"trained in {time.perf_counter() - t0:.0f} s: {report}")
    shipped = ClassifierModel.load(args.model)
    peer_dir = ROOT / "bench" / "results" / "peer-cold-only"
    peer = _peer(corpus.train, peer_dir)
    held = corpus.heldout
    lat_texts = [i.text for i in held["cold_dev"][:2000]]
    long_texts = [i.text for i in held["jade_v3_violating"] + held["jade_v3_safe"]]
    rows = {}
    for name, model, folder in (
        ("hegui classifier", shipped, args.model),
        ("peer: COLD-only char LR", peer, peer_dir),
    ):
        det = ClassifierDetector(model, Action.FLAG)
        cold = _binary(det, held["cold_dev"])
        rows[name] = {
            "cold_dev_accuracy": cold["accuracy"],
            "cold_dev_macro_f1": cold["macro_f1"],
            "own_test_accuracy": model.info.get("test", {}).get("accuracy", float("nan")),
            "jade_v3_violating_flagged": _flag_rate(det, held["jade_v3_violating"]),
            "jade_v3_safe_passed": 1 - _flag_rate(det, held["jade_v3_safe"]),
            "xstest_safe_fpr": _flag_rate(det, held["xstest_safe"]),
            "xstest_unsafe_flagged": _flag_rate(det, held["xstest_unsafe"]),
            "latency_short": _latency(det, lat_texts),
            "latency_long": _latency(det, long_texts),
            "size_mb": _size(folder),
        }
    _print(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor()},
        "heldout_rows": {k: len(v) for k, v in held.items()},
        "train_rows": corpus.sources,
        "results": rows,
    }
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    return 0


def _print(rows: dict[str, dict[str, object]]) -> None:
    names = list(rows)
    keys = [k for k in rows[names[0]] if not k.startswith("latency")]
    print(f"{'metric':32}" + "".join(f"{n:>26}" for n in names))
    for k in keys:
        print(f"{k:32}" + "".join(f"{rows[n][k]:>26.3f}" for n in names))  # type: ignore[str-format]
    for lat in ("latency_short", "latency_long"):
        for q in ("p50_ms", "p99_ms", "mean_chars"):
            vals = "".join(f"{rows[n][lat][q]:>26.3f}" for n in names)  # type: ignore[index]
            print(f"{lat + ' ' + q:32}" + vals)


if __name__ == "__main__":
    raise SystemExit(main())
