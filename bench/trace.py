"""Benchmark of traceability: label survival through re-encodings, and the text watermark.

- Labels: every carrier's files written with a signed label, read back; then the label
  after common re-encodings (Pillow resave, JPEG quality 75, resize 50%, audio re-tag).
- Watermark on SmolLM2-135M-Instruct (the embedded model, in process), greedy and
  sampled: ``--answers`` should-answer prompts, ``--tokens`` new tokens each (EOS held off
  so every answer has that length), with and without the watermark. A text counts as
  watermarked when its exact binomial p-value is at most ``--fpr`` (1e-4). Reported:
  TPR, perplexity of both sets under the plain model, robustness to word deletion,
  substitution and truncation, detection speed in tokens per second.
- Held apart: the bank is shuffled once (split seed 7) and halved. ``--tune`` sweeps
  gamma and delta on the first half (sampling seed 1); the defaults it chose
  (``WatermarkParams``: delta 2.0 for sampling, ``greedy_delta`` for greedy) are reported
  here on the second half only (sampling seed ``--seed``).
- False positives: non-overlapping ``--tokens`` windows of the public Chinese and English
  text in ../shared/data/ (read by path; skipped with a message when absent), each scored
  under ``--negative-keys`` independent keys, plus the unwatermarked answers. Observed
  rates at z >= 2, z >= 3, z >= 3.719, p <= 1e-3 and the detector's threshold beside the
  exact binomial and the normal tails, with one-sided 95% Clopper-Pearson upper bounds.

Usage: python bench/trace.py [--quick] [--answers 32] [--skip-model] [--out FILE]
       python bench/trace.py --tune [--answers 96] [--grid "WIDTH/GAMMA:DELTA,..."] [--sample]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from mutagen.id3 import ID3, TIT2
from PIL import Image

from hegui.audit import SigningKey
from hegui.policy import load_policy
from hegui.trace import (
    DEFAULT_FPR,
    FileLabeler,
    WatermarkDetector,
    WatermarkKey,
    WatermarkParams,
    load_tokenizer,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "trace"))
sys.path.insert(0, str(ROOT / "bench"))
import _trace_watermark as wm  # noqa: E402

# --- labels ----------------------------------------------------------------------------


def _media_files(folder: Path) -> list[Path]:
    from trace_media import write_audio, write_image, write_mp4

    files = [write_image(folder / f"img.{ext}", 320, 240) for ext in ("png", "jpg", "webp")]
    files += [write_audio(folder / f"snd.{ext}") for ext in ("wav", "mp3", "flac", "ogg")]
    files.append(write_mp4(folder / "clip.m4a"))
    (folder / "doc.md").write_text("# Notes\n\nSome text.\n", encoding="utf-8")
    (folder / "doc.txt").write_text("plain text\n", encoding="utf-8")
    return [*files, folder / "doc.md", folder / "doc.txt"]


def _resave(path: Path, fmt: str | None = None, scale: float = 1.0, **params: Any) -> Path:
    with Image.open(path) as image:
        image.load()
        source_format = image.format
        out = image.convert("RGB") if fmt == "JPEG" else image.copy()
    if scale != 1.0:
        out = out.resize((int(out.width * scale), int(out.height * scale)))
    fmt = fmt or source_format
    target = path.with_name(f"{path.stem}-{fmt}-{scale}-{len(params)}.{fmt.lower()}")
    out.save(target, format=fmt, **params)
    return target


def _retag(path: Path) -> Path:
    import mutagen

    handle: Any = mutagen.File(path)
    if path.suffix == ".mp3":
        tags = ID3(path)
        tags.add(TIT2(encoding=3, text=["re-tagged"]))
        tags.save(path, v2_version=3)  # also converts ID3v2.4 to v2.3
    else:
        handle["title"] = ["re-tagged"]
        handle.save()
    return path


def label_survival() -> dict[str, Any]:
    spec = load_policy("cn").labels
    assert spec is not None
    key = SigningKey.generate()
    labeler = FileLabeler(spec, signer=key, keys=[key.public_key])
    with tempfile.TemporaryDirectory() as tmp:
        files = _media_files(Path(tmp))
        written = {path.suffix.lstrip("."): labeler.add(path, "BENCH-01") for path in files}
        readback = {fmt: labeler.check(path).ok for fmt, path in zip(written, files, strict=True)}
        images = [p for p in files if p.suffix in (".png", ".jpg", ".webp")]
        transforms: dict[str, Callable[[Path], Path]] = {
            "Pillow resave (defaults)": _resave,
            "Pillow resave, XMP carried over": _resave_with_xmp,
            "JPEG quality 75": lambda p: _resave(p, "JPEG", quality=75),
            "resize 50%": lambda p: _resave(p, scale=0.5),
        }
        survival: dict[str, dict[str, bool]] = {}
        for name, transform in transforms.items():
            survival[name] = {p.suffix.lstrip("."): labeler.check(transform(p)).ok for p in images}
        audio = [p for p in files if p.suffix in (".mp3", ".flac", ".ogg")]
        survival["audio re-tag (mutagen)"] = {
            p.suffix.lstrip("."): labeler.check(_retag(p)).ok for p in audio
        }
    return {"readback_valid": readback, "survival": survival}


def _resave_with_xmp(path: Path) -> Path:
    """What an application that keeps metadata does: pass the XMP packet to the writer."""
    from PIL import PngImagePlugin

    with Image.open(path) as image:
        xmp = image.info.get("xmp")
    if not xmp:
        return _resave(path)
    if path.suffix == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8") if isinstance(xmp, bytes) else xmp)
        return _resave(path, pnginfo=info)
    return _resave(path, xmp=xmp)


# --- the watermark ---------------------------------------------------------------------


def watermark_figures(args: argparse.Namespace) -> dict[str, Any]:
    params = WatermarkParams(args.gamma, args.delta, args.context_width, args.greedy_delta)
    key = WatermarkKey(wm.BENCH_SECRET, params)
    start = time.perf_counter()
    model = wm.Model(args.threads)
    encode = load_tokenizer("local:smollm2")
    load_s = time.perf_counter() - start
    texts = wm.prompts("report", args.answers, args.lang)
    modes = {
        name: wm.mode_figures(model, key, texts, args, sample=sample, seed=args.seed)
        for name, sample in (("greedy", False), ("sampling", True))
    }
    sets = wm.public_windows(encode, args.tokens)
    keys = wm.negative_keys(params, args.negative_keys)
    scored, green, key_ids, per_set = wm.score_negatives(sets, keys, args.fpr)
    spread = wm.key_spread(scored, green, key_ids, params.gamma) if sets else {}
    for figures in modes.values():  # the unwatermarked answers, under the bench key
        scored = np.concatenate([scored, np.asarray(figures.pop("scored_plain"), np.int64)])
        green = np.concatenate([green, np.asarray(figures.pop("green_plain"), np.int64)])
    return {
        "params": {**asdict(params), "fpr": args.fpr, "key_id": key.key_id},
        "prompts": f"report half of the should-answer bank ({args.lang}), split seed "
        f"{wm.SPLIT_SEED}; sampling seed {args.seed}",
        "tokens_per_answer": args.tokens,
        "model_load_s": load_s,
        "modes": modes,
        "negatives": {
            "public_windows": sum(entry["windows"] for entry in per_set.values()),
            "keys": len(keys),
            "unwatermarked_answers": 2 * len(texts),
            "total": int(scored.shape[0]),
            "sets": per_set,
            "per_key_spread": spread,
        },
        "calibration": wm.calibration(scored, green, params.gamma, args.fpr),
    }


def detection_speed(tokens: int = 2_000_000) -> dict[str, float]:
    key = WatermarkKey(b"hegui-bench-watermark-key-000001")
    detector = WatermarkDetector(key)
    ids = np.random.default_rng(0).integers(0, 49152, tokens)
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        detector.score_ids(ids)
        best = min(best, time.perf_counter() - start)
    return {"tokens": tokens, "seconds": best, "tokens_per_s": tokens / best}


def _print_labels(labels: dict[str, Any]) -> None:
    ok = sum(labels["readback_valid"].values())
    print(f"\nLabels read back with a valid signature: {ok}/{len(labels['readback_valid'])}")
    formats = ("png", "jpg", "webp", "mp3", "flac", "ogg")
    print(f"{'re-encoding':40} " + " ".join(f"{f:>6}" for f in formats))
    for name, row in labels["survival"].items():
        cells = [("kept" if row[f] else "lost") if f in row else "-" for f in formats]
        print(f"{name:40} " + " ".join(f"{c:>6}" for c in cells))


def _print_watermark(wm_results: dict[str, Any]) -> None:
    modes = wm_results["modes"]
    params = wm_results["params"]
    greedy, sampled = modes["greedy"], modes["sampling"]
    print(
        f"\nWatermark on SmolLM2: {greedy['answers']} held-out prompts x "
        f"{wm_results['tokens_per_answer']} tokens, gamma {params['gamma']}, "
        f"context width {params['context_width']}, detected when exact p <= {params['fpr']:g}"
    )

    def row(name: str, cell: Callable[[dict[str, Any]], str]) -> None:
        print(f"  {name:34} {cell(greedy):>22} {cell(sampled):>22}")

    row("", lambda m: str(m["decoding"]))
    row("delta", lambda m: f"{m['delta']:g}")
    row("TPR", lambda m: f"{m['tpr']:.3f} ({m['detected']}/{m['answers']})")
    row(
        "z watermarked: median (min)",
        lambda m: f"{m['z_marked']['median']:.2f} ({m['z_marked']['min']:.2f})",
    )
    row(
        "false positives, plain answers",
        lambda m: f"{m['false_positives_plain']}/{m['answers']} (max z {m['z_plain']['max']:.2f})",
    )
    row(
        "perplexity plain -> watermarked",
        lambda m: (
            f"{m['perplexity_plain']['median']:.2f} -> {m['perplexity_watermarked']['median']:.2f}"
        ),
    )
    for attack in greedy["robustness_tpr"]:
        row(f"TPR after: {attack}", lambda m, a=attack: f"{m['robustness_tpr'][a]:.3f}")
    row("generation tokens/s", lambda m: f"{m['generation_tokens_per_s']:.1f}")
    neg = wm_results["negatives"]
    print(
        f"\nFalse positives: {neg['public_windows']:,} public-text windows x {neg['keys']} keys"
        f" + {neg['unwatermarked_answers']} plain answers = {neg['total']:,} negatives"
    )
    print(
        f"  {'threshold':22} {'FP':>5} {'observed':>10} {'exact null':>11} "
        f"{'normal tail':>12} {'95% upper':>10}"
    )
    for line in wm_results["calibration"]:
        print(
            f"  {line['threshold']:22} {line['false_positives']:5d} {line['observed']:10.2e} "
            f"{line['exact_null']:11.2e} {line['normal_tail']:12.2e} {line['upper_95']:10.2e}"
        )
    spread = neg["per_key_spread"]
    if spread:
        low, high = spread["rate_z_ge_2"]
        print(
            f"  one key at a time ({spread['keys']} keys, public text): mean z "
            f"{spread['z_mean'][0]:+.2f} to {spread['z_mean'][1]:+.2f}; rate at z >= 2 "
            f"{low:.4f} to {high:.4f}; at z >= 3 {spread['rate_z_ge_3'][0]:.1e} to "
            f"{spread['rate_z_ge_3'][1]:.1e}"
        )
    for name, entry in neg["sets"].items():
        print(
            f"  {name} ({entry['lang']}): {entry['windows']:,} windows, false positives per key "
            f"{entry['false_positives_per_key']}, max z {entry['max_z']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="8 answers, 1 key: a smoke run")
    parser.add_argument("--answers", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (on a shared machine 1 is fastest)"
    )
    parser.add_argument("--gamma", type=float, default=WatermarkParams.gamma)
    parser.add_argument("--delta", type=float, default=WatermarkParams.delta)
    parser.add_argument("--greedy-delta", type=float, default=WatermarkParams.greedy_delta)
    parser.add_argument("--context-width", type=int, default=WatermarkParams.context_width)
    parser.add_argument("--fpr", type=float, default=DEFAULT_FPR)
    parser.add_argument("--negative-keys", type=int, default=32)
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--tune", action="store_true", help="sweep --grid on the tuning half")
    parser.add_argument("--grid", default="1/0.25:2,3 2/0.25:3 4/0.25:2,3")
    parser.add_argument("--sample", action="store_true", help="--tune: sampling, not greedy")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.answers, args.negative_keys, args.batch = 8, 1, 8
    if args.tune:
        out = args.out or ROOT / "bench/results/trace_tune.json"
        results = wm.tune(args)
    else:
        out = args.out or ROOT / "bench/results/trace.json"
        results = {"machine": platform.platform(), "labels": label_survival()}
        results["detection_speed"] = detection_speed()
        if not args.skip_model:
            results["watermark"] = watermark_figures(args)
        _print_labels(results["labels"])
        speed = results["detection_speed"]
        print(f"\nDetection: {speed['tokens_per_s']:,.0f} tokens/s ({speed['tokens']:,} tokens)")
        if "watermark" in results:
            _print_watermark(results["watermark"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
