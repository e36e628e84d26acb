"""Benchmark of traceability: label survival through re-encodings, and the text watermark.

- Labels: every carrier's files written with a signed label, read back; then the label
  after common re-encodings (Pillow resave, JPEG quality 75, resize 50%, audio re-tag).
- Watermark on SmolLM2-135M-Instruct (the embedded model, in process): ``--answers``
  should-answer prompts of the built-in bank, ``--tokens`` new tokens each (EOS held off
  so every answer has that length), with and without the watermark. TPR at the z-score
  whose one-sided normal tail is 1e-4; negatives are the unwatermarked answers and
  200-token windows of human-written Chinese and English text from ../shared/data/.
  Perplexity of both sets under the plain model; robustness to word deletion, word
  substitution and truncation; detection speed in tokens per second.

Usage: python bench/trace.py [--answers 40] [--tokens 200] [--delta 2.0] [--skip-model]
       [--out bench/results/trace.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from mutagen.id3 import ID3, TIT2
from PIL import Image

from hegui.audit import SigningKey
from hegui.policy import load_policy
from hegui.trace import (
    FileLabeler,
    WatermarkDetector,
    WatermarkKey,
    WatermarkParams,
    load_tokenizer,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
Z_AT_FPR_1E4 = 3.719  # one-sided standard normal quantile for 1e-4
sys.path.insert(0, str(ROOT / "tests" / "trace"))


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


# --- the model -------------------------------------------------------------------------


class Model:
    """SmolLM2 loaded the way ``local:smollm2`` loads it, batched left-padded generation."""

    def __init__(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from hegui.assess._local import smollm2_path

        hf_logging.disable_progress_bar()
        torch.set_num_threads(2)
        path = smollm2_path()
        self.tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        self.tok.padding_side = "left"
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.float32
        ).eval()

    def generate(
        self, prompts: list[str], tokens: int, key: WatermarkKey | None, sample: bool
    ) -> list[list[int]]:
        import torch
        from transformers import LogitsProcessorList

        from hegui.trace import logits_processor

        chats = [[{"role": "user", "content": p}] for p in prompts]
        texts = [
            self.tok.apply_chat_template(c, add_generation_prompt=True, tokenize=False)
            for c in chats
        ]
        batch = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        processors = LogitsProcessorList([logits_processor(key)]) if key else None
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
        import torch

        chat = [{"role": "user", "content": prompt}]
        text = self.tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        head = list(self.tok(text, add_special_tokens=False)["input_ids"])
        ids = torch.tensor([head + answer])
        labels = ids.clone()
        labels[0, : len(head)] = -100
        with torch.inference_mode():
            loss = self.model(input_ids=ids, labels=labels).loss
        return math.exp(float(loss))


def _prompts(n: int, lang: str, seed: int) -> list[str]:
    rows = [
        json.loads(line)
        for line in (ROOT / "src/hegui/packs/cn/banks/should_answer.jsonl").read_text().splitlines()
        if line.strip()
    ]
    random.Random(seed).shuffle(rows)
    return [row["en"] if lang == "en" else row["prompt"] for row in rows[:n]]


def _human_texts() -> list[str]:
    texts: list[str] = []
    if not DATA.is_dir():
        return texts
    with (DATA / "jade/v3_alignment_medium_zh.csv").open(encoding="utf-8") as handle:
        texts += [row["安全有用回答"] for row in csv.DictReader(handle)]
    with (DATA / "cold/dev.csv").open(encoding="utf-8") as handle:
        texts += [row["TEXT"] for row in csv.DictReader(handle)]
    with (DATA / "xstest/xstest_prompts.csv").open(encoding="utf-8") as handle:
        texts += [row["prompt"] for row in csv.DictReader(handle)]
    with (DATA / "jade/v1_en.csv").open(encoding="utf-8") as handle:
        texts += [" ".join(row.values()) for row in csv.DictReader(handle)]
    return texts


def human_windows(
    encode: Callable[[str], Any], size: int, limit: int
) -> dict[str, list[list[int]]]:
    """Human text as ``size``-token windows, per language (zh: JADE, COLD; en: XSTest, JADE)."""
    windows: dict[str, list[list[int]]] = {"zh": [], "en": []}
    for text in _human_texts():
        lang = "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en"
        windows.setdefault(lang + "_buffer", []).append(list(encode(text + "\n")))
    for lang in ("zh", "en"):
        ids = [i for chunk in windows.pop(lang + "_buffer", []) for i in chunk]
        windows[lang] = [ids[i : i + size] for i in range(0, len(ids) - size + 1, size)][:limit]
    return windows


def _attacks(rng: random.Random, vocab: list[str]) -> dict[str, Callable[[str], str]]:
    def delete(share: float) -> Callable[[str], str]:
        return lambda t: " ".join(w for w in t.split() if rng.random() >= share)

    def substitute(share: float) -> Callable[[str], str]:
        return lambda t: " ".join(
            rng.choice(vocab) if rng.random() < share else w for w in t.split()
        )

    def truncate(share: float) -> Callable[[str], str]:
        return lambda t: " ".join(t.split()[: int(len(t.split()) * share)])

    return {
        "none": lambda t: t,
        "delete 10% of words": delete(0.10),
        "delete 20% of words": delete(0.20),
        "delete 30% of words": delete(0.30),
        "substitute 10% of words": substitute(0.10),
        "substitute 20% of words": substitute(0.20),
        "truncate to 50%": truncate(0.50),
        "truncate to 25%": truncate(0.25),
    }


def watermark_figures(args: argparse.Namespace) -> dict[str, Any]:
    params = WatermarkParams(args.gamma, args.delta, args.context_width)
    key = WatermarkKey(b"hegui-bench-watermark-key-000001", params)
    start = time.perf_counter()
    model = Model()
    encode = load_tokenizer("local:smollm2")
    detector = WatermarkDetector(key, encode, z_threshold=Z_AT_FPR_1E4)
    load_s = time.perf_counter() - start
    prompts = _prompts(args.answers, args.lang, args.seed)
    marked: list[list[int]] = []
    plain: list[list[int]] = []
    gen_start = time.perf_counter()
    for i in range(0, len(prompts), args.batch):
        part = prompts[i : i + args.batch]
        marked += model.generate(part, args.tokens, key, args.sample)
        plain += model.generate(part, args.tokens, None, args.sample)
        print(f"  generated {len(marked)}/{len(prompts)} pairs", file=sys.stderr)
    gen_s = time.perf_counter() - gen_start
    decode = lambda ids: model.tok.decode(ids, skip_special_tokens=True)  # noqa: E731
    marked_text = [decode(ids) for ids in marked]
    plain_text = [decode(ids) for ids in plain]
    z_marked = [detector.detect(t).z for t in marked_text]
    z_plain = [detector.detect(t).z for t in plain_text]
    humans = human_windows(encode, args.tokens, args.human_windows)
    z_human = {lang: [detector.score_ids(w).z for w in ws] for lang, ws in humans.items()}
    ppl_marked = [model.perplexity(p, a) for p, a in zip(prompts, marked, strict=True)]
    ppl_plain = [model.perplexity(p, a) for p, a in zip(prompts, plain, strict=True)]
    rng = random.Random(args.seed)
    vocab = sorted({w for t in plain_text for w in t.split()})
    robustness = {}
    for name, attack in _attacks(rng, vocab).items():
        zs = [detector.detect(attack(t)).z for t in marked_text]
        robustness[name] = {"tpr": _rate(zs), "mean_z": statistics.fmean(zs)}
    negatives = z_plain + [z for zs in z_human.values() for z in zs]
    return {
        "params": {**params.__dict__, "z_threshold": Z_AT_FPR_1E4, "key_id": key.key_id},
        "answers": len(prompts),
        "tokens_per_answer": args.tokens,
        "decoding": "multinomial sampling" if args.sample else "greedy",
        "prompt_language": args.lang,
        "model_load_s": load_s,
        "generation_tokens_per_s": 2 * args.tokens * len(prompts) / gen_s,
        "tpr": _rate(z_marked),
        "z_marked": _summary(z_marked),
        "fpr_unwatermarked_answers": _rate(z_plain),
        "z_unwatermarked": _summary(z_plain),
        "human_windows": {lang: len(zs) for lang, zs in z_human.items()},
        "fpr_human": {lang: _rate(zs) for lang, zs in z_human.items()},
        "z_human": {lang: _summary(zs) for lang, zs in z_human.items() if zs},
        "fpr_all_negatives": _rate(negatives),
        "perplexity_watermarked": _summary(ppl_marked),
        "perplexity_plain": _summary(ppl_plain),
        "robustness": robustness,
        "sample_answer": marked_text[0][:400],
    }


def _rate(zs: list[float]) -> float:
    return sum(z >= Z_AT_FPR_1E4 for z in zs) / len(zs) if zs else float("nan")


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
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


def _print(results: dict[str, Any]) -> None:
    labels = results["labels"]
    ok = sum(labels["readback_valid"].values())
    print(f"\nLabels read back with a valid signature: {ok}/{len(labels['readback_valid'])}")
    print(
        f"{'re-encoding':40} "
        + " ".join(f"{f:>6}" for f in ("png", "jpg", "webp", "mp3", "flac", "ogg"))
    )
    for name, row in labels["survival"].items():
        cells = [
            ("kept" if row[f] else "lost") if f in row else "-"
            for f in ("png", "jpg", "webp", "mp3", "flac", "ogg")
        ]
        print(f"{name:40} " + " ".join(f"{c:>6}" for c in cells))
    speed = results["detection_speed"]
    print(f"\nDetection: {speed['tokens_per_s']:,.0f} tokens/s ({speed['tokens']:,} tokens)")
    wm = results.get("watermark")
    if not wm:
        return
    print(
        f"\nWatermark on SmolLM2 ({wm['answers']} answers x {wm['tokens_per_answer']} tokens, "
        f"{wm['decoding']}, gamma {wm['params']['gamma']}, delta {wm['params']['delta']}, "
        f"z >= {Z_AT_FPR_1E4})"
    )
    z_marked = wm["z_marked"]
    print(f"  TPR {wm['tpr']:.3f}  (z median {z_marked['median']:.2f}, min {z_marked['min']:.2f})")
    print(
        f"  FPR unwatermarked answers {wm['fpr_unwatermarked_answers']:.4f} "
        f"(max z {wm['z_unwatermarked']['max']:.2f})"
    )
    for lang, rate in wm["fpr_human"].items():
        top = wm["z_human"].get(lang, {}).get("max", float("nan"))
        windows = wm["human_windows"][lang]
        print(f"  FPR human {lang} ({windows} windows) {rate:.4f} (max z {top:.2f})")
    print(
        f"  perplexity plain {wm['perplexity_plain']['median']:.2f} -> watermarked "
        f"{wm['perplexity_watermarked']['median']:.2f} (medians)"
    )
    print(f"  generation {wm['generation_tokens_per_s']:.1f} tokens/s")
    print(f"\n{'attack':28} {'TPR':>6} {'mean z':>7}")
    for name, row in wm["robustness"].items():
        print(f"{name:28} {row['tpr']:6.3f} {row['mean_z']:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--answers", type=int, default=40)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--gamma", type=float, default=0.25)
    parser.add_argument("--delta", type=float, default=2.0)
    parser.add_argument("--context-width", type=int, default=1)
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    parser.add_argument("--sample", action="store_true", help="multinomial sampling, not greedy")
    parser.add_argument("--human-windows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/trace.json")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": platform.platform(), "labels": label_survival()}
    results["detection_speed"] = detection_speed()
    if not args.skip_model:
        results["watermark"] = watermark_figures(args)
    _print(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
