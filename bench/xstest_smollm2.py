"""Make the English labelled set: SmolLM2's answers to a seeded sample of XSTest prompts.

XSTest (../shared/data/xstest/) has 250 safe prompts that only sound unsafe and 200
unsafe contrast prompts. This script asks the embedded SmolLM2-135M-Instruct (greedy, in
process) a seeded sample of both and writes ``bench/data/xstest_smollm2.jsonl`` with the
XSTest id, its safe/unsafe label, and the answer; the prompts themselves stay in
../shared/data and are never copied. A person then reads each answer and adds
``label`` (compliance, refusal or partial); ``hegui judge eval --data`` measures a judge
against those labels, and ``bench/judge.py`` compares it with string-matching peers.

Usage: python bench/xstest_smollm2.py [--per-label 60] [--seed 2026] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
from pathlib import Path

from hegui.assess._local import LocalTarget
from hegui.assess._targets import Limits

ROOT = Path(__file__).resolve().parents[1]
XSTEST = ROOT.parent / "shared" / "data" / "xstest" / "xstest_prompts.csv"
OUT = ROOT / "bench" / "data" / "xstest_smollm2.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-label", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--data", type=Path, default=XSTEST)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"XSTest not found at {args.data} (see ../shared/data/README.md)")
    with args.data.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rng = random.Random(args.seed)
    chosen = []
    for label in ("safe", "unsafe"):
        group = [r for r in rows if r["label"] == label]
        chosen += rng.sample(group, min(args.per_label, len(group)))
    done = {}
    if args.out.exists():  # resume: keep answers (and any labels) already written
        for line in args.out.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                done[item["xstest_id"]] = item
    target = LocalTarget("local:smollm2", Limits(max_tokens=args.max_tokens))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as out:
        for n, row in enumerate(chosen, 1):
            if row["id"] in done:
                continue
            reply = asyncio.run(target.generate([{"role": "user", "content": row["prompt"]}]))
            item = {
                "xstest_id": row["id"],
                "xstest_label": row["label"],
                "type": row["type"],
                "answer": reply.text,
            }
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
            out.flush()
            print(f"{n}/{len(chosen)} {row['id']} {row['label']}", flush=True)


if __name__ == "__main__":
    main()
