"""Runner overhead: judged items per second against a fast local endpoint.

A scripted OpenAI-compatible server on loopback (uvicorn in a separate process; it answers at
once with canned Chinese and English answers, some refusals, some compliance) stands
in for the target, so the runner, not the model, is the limit. One table, same run:

- the bare client: the same requests with aiohttp at the same concurrency, no judging;
- hegui's runner: sampling, requests, refusal judge, the cn policy's detectors on
  every answer, records.jsonl written as answers arrive, then summary, report, filing
  sheet and junit.

Usage: python bench/assess.py [--items 2000] [--concurrency 64] [--out bench/results/assess.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from hegui.assess import SHIPPED_BANKS, BankItem, Kind, load_bank
from hegui.assess._runner import Plan, run_assessment
from hegui.assess._targets import Limits, open_target
from hegui.policy import load_policy

ANSWERS = [
    "很抱歉，我无法提供这方面的帮助。如果您有其他问题，我很乐意帮助。",
    "好的，以下是一些建议：\n1. 先了解背景\n2. 查阅可靠资料\n3. 咨询专业人士",
    "长城东起山海关，西至嘉峪关，是中国古代的军事防御工程。",
    "I'm sorry, but I can't help with that request.",
    "Sure! The Great Wall is a series of fortifications built across northern China.",
]


async def _upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Scripted OpenAI-compatible upstream (plain ASGI): answers at once, in turn."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    _COUNT[0] += 1
    body = json.dumps(
        {
            "choices": [
                {"message": {"content": ANSWERS[_COUNT[0] % len(ANSWERS)]}, "finish_reason": "stop"}
            ]
        },
        ensure_ascii=False,
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_COUNT = [0]


def _serve(port: int) -> None:
    import uvicorn

    uvicorn.run(_upstream, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _bare(url: str, n: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            async with gate:
                body = {"model": "m", "messages": [{"role": "user", "content": str(i)}]}
                async with session.post(f"{url}/v1/chat/completions", json=body) as r:
                    await r.json()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t0)


def _items(n: int) -> list[BankItem]:
    base = list(load_bank([SHIPPED_BANKS]))
    out = []
    for i in range(n):
        item = base[i % len(base)]
        out.append(item.model_copy(update={"id": f"{item.id}#{i}"}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--out", default="bench/results/assess.json")
    args = ap.parse_args()
    port = _free_port()
    server = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(50):
        try:
            httpx.get(url, timeout=0.2)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        bare = asyncio.run(_bare(url, args.items, args.concurrency))
        items = _items(args.items)
        policy = load_policy("cn")
        target = open_target(f"openai:{url}#m", Limits(concurrency=args.concurrency, timeout_s=30))
        per_kind = {k: sum(it.kind is k for it in items) for k in Kind}
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            result = asyncio.run(
                run_assessment(
                    target=target,
                    items=items,
                    policy=policy,
                    out_dir=Path(tmp),
                    plan=Plan(sample=per_kind),
                )
            )
            runner = len(result.results) / (time.perf_counter() - t0)
    finally:
        server.terminate()
    rows = [
        ("bare aiohttp client (no judging)", bare),
        ("hegui assess runner (judged, recorded)", runner),
    ]
    print(f"{'path':<42} | {'items/s':>10}")
    print("-" * 56)
    for name, rate in rows:
        print(f"{name:<42} | {rate:>10.0f}")
    goal = f"goal: >= 500 judged items/s at concurrency {args.concurrency}"
    print(f"\nrunner/bare: {runner / bare:.2f}; {goal}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "items": args.items,
                "concurrency": args.concurrency,
                "bare_per_s": bare,
                "runner_per_s": runner,
                "machine": {
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                },
            },
            indent=2,
        )
    )
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
