"""Where hegui's time to first token goes: one streamed answer, step by step.

A diagnostic for ``bench/gateway.py``'s "added TTFT" column. It runs the same local
upstream and the same client, and ``hegui serve`` (full ``cn`` policy, SQLite ledger,
``first_byte`` evidence) in a child process whose steps are timestamped by wrapping a
few of the gateway's private functions (so this script follows their names). Both
processes read ``time.perf_counter``, which on Linux is ``CLOCK_MONOTONIC`` and shared
by all processes, so the client's and the server's stamps of one request line up.

Columns: the median time of each step after the client started the request, over
``--requests`` back-to-back answers at concurrency 1, and the same for the direct
upstream's first byte. The gaps show what the gateway's own code costs and what is
spent between processes (the bytes' way to the server and back, and waiting for a
core: on a 2-core machine the client, the upstream and the gateway share two cores).

Usage: python bench/_gateway_timeline.py [--requests 300] [--no-ledger]
       [--out bench/results/gateway_timeline.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway as bench  # noqa: E402  (bench/gateway.py: the upstream and the client)

ROOT = Path(__file__).resolve().parents[1]
STEPS = [
    ("received", "the request's bytes reach the server (uvicorn data_received)"),
    ("app", "the gateway's ASGI app is called"),
    ("input_checked", "body parsed, principal admitted, every message scanned"),
    ("upstream_sent", "the request is written to the upstream"),
    ("record_durable", "the request record is committed (fsync)"),
    ("upstream_head", "the upstream's response head is read"),
    ("first_release", "the output guard releases the first text"),
    ("first_body", "the first chunk is handed to the socket"),
]


# -- the server side: hegui serve, with its steps timestamped --------------------------------


class _Stamps:
    """Per-request timestamps, kept by wrappers around the gateway's steps."""

    def __init__(self) -> None:
        self.current: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
            "stamps", default=None
        )
        self.done: list[dict[str, float]] = []
        self.last_received = 0.0

    def stamp(self, name: str) -> None:
        stamps = self.current.get()
        if stamps is not None and name not in stamps:
            stamps[name] = time.perf_counter()

    def wrap_server(self) -> None:
        """The request's arrival, and the app call around each completion request."""
        import uvicorn.protocols.http.httptools_impl as h11

        import hegui.gateway._app as app_mod

        received = h11.HttpToolsProtocol.data_received

        def data_received(protocol: Any, data: bytes) -> None:
            self.last_received = time.perf_counter()
            received(protocol, data)

        h11.HttpToolsProtocol.data_received = data_received  # type: ignore[method-assign]
        call = app_mod.GatewayApp.__call__

        async def app_call(app: Any, scope: Any, receive: Any, send: Any) -> None:
            stamps = {"received": self.last_received, "app": time.perf_counter()}
            token = self.current.set(stamps)

            async def timed_send(message: Any) -> None:
                await send(message)
                if message["type"] == "http.response.body":
                    self.stamp("first_body")

            try:
                await call(app, scope, receive, timed_send)
            finally:
                self.current.reset(token)
                if scope.get("path") == "/v1/chat/completions":
                    self.done.append(stamps)

        app_mod.GatewayApp.__call__ = app_call  # type: ignore[method-assign]

    def wrap_steps(self) -> None:
        """Input checked, record durable, upstream sent and answered, first release."""
        import hegui.gateway._chat as chat_mod
        import hegui.gateway._evidence as evidence_mod
        import hegui.gateway._stream as stream_mod
        import hegui.gateway._upstream as upstream_mod

        scan, prepare = chat_mod._scan_input, evidence_mod.Evidence.prepare
        open_stream, text = upstream_mod.HttpUpstream.open_stream, stream_mod.StreamJob.text

        async def scan_input(*args: Any, **kwargs: Any) -> Any:
            verdict = await scan(*args, **kwargs)
            self.stamp("input_checked")
            return verdict

        def prepare_stamped(evidence: Any, *args: Any, **kwargs: Any) -> Any:
            recording = prepare(evidence, *args, **kwargs)
            stamps = self.current.get()
            if stamps is not None:
                recording.done.add_done_callback(
                    lambda _: stamps.setdefault("record_durable", time.perf_counter())
                )
            return recording

        async def open_stream_stamped(upstream: Any, body: Any, **kwargs: Any) -> Any:
            waiting = kwargs.get("while_waiting")

            def while_waiting() -> None:
                self.stamp("upstream_sent")
                if waiting is not None:
                    waiting()

            kwargs["while_waiting"] = while_waiting
            stream = await open_stream(upstream, body, **kwargs)
            self.stamp("upstream_head")
            return stream

        def text_stamped(job: Any, content: str) -> bytes:
            self.stamp("first_release")
            return text(job, content)

        chat_mod._scan_input = scan_input
        evidence_mod.Evidence.prepare = prepare_stamped  # type: ignore[method-assign]
        upstream_mod.HttpUpstream.open_stream = open_stream_stamped  # type: ignore[method-assign]
        stream_mod.StreamJob.text = text_stamped  # type: ignore[method-assign]


def _serve_with_stamps(out: str, argv: list[str]) -> None:
    """Run ``hegui serve`` with stamps; write them to ``out`` when it exits."""
    import atexit

    from hegui.cli import main

    stamps = _Stamps()
    stamps.wrap_server()
    stamps.wrap_steps()
    atexit.register(lambda: Path(out).write_text(json.dumps(stamps.done), encoding="utf-8"))
    # uvicorn re-raises SIGTERM after its graceful shutdown: exit through Python, so the
    # stamps are written
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.argv = ["hegui", *argv]
    main()


# -- the client side -------------------------------------------------------------------------


async def _client(url: str, n: int) -> list[dict[str, float]]:
    """``n`` back-to-back streamed answers: start and first model text, absolute times."""
    out = []
    async with aiohttp.ClientSession() as session:
        for i in range(n + 10):  # 10 to warm up
            start, first = time.perf_counter(), 0.0
            async with session.post(url + "/v1/chat/completions", json=bench.BODY) as resp:
                async for data in resp.content.iter_any():
                    if not first and bench.FIRST.encode() in data:
                        first = time.perf_counter()
            if i >= 10:
                out.append({"start": start, "first_text": first})
    return out


def _median_us(values: list[float]) -> float:
    return statistics.median(values) * 1e6


def _measure(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Client and server stamps of the gateway's answers, and the direct upstream's."""
    from hegui.audit import SigningKey, write_key

    port = bench._free_port()
    upstream = multiprocessing.Process(target=bench._run_upstream, args=(port,), daemon=True)
    upstream.start()
    up_url = f"http://127.0.0.1:{port}"
    bench._wait(up_url + "/v1/models", None)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        direct = asyncio.run(_client(up_url, args.requests))
        gw_port = bench._free_port()
        serve = ["serve", "--upstream", up_url, "--policy", "cn", "--port", str(gw_port)]
        if not args.no_ledger:
            write_key(SigningKey.generate("ed25519"), data / "keys")
            (data / "gateway.yaml").write_text("stream_evidence: first_byte\n", encoding="utf-8")
            serve += ["--data-dir", str(data), "--config", str(data / "gateway.yaml")]
        stamps_file = data / "stamps.json"
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-with-stamps", str(stamps_file), *serve],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        gw_url = f"http://127.0.0.1:{gw_port}"
        try:
            bench._wait(gw_url + "/healthz", proc)
            client = asyncio.run(_client(gw_url, args.requests))
        finally:
            proc.terminate()
            proc.wait(20)
            upstream.terminate()
        server = json.loads(stamps_file.read_text(encoding="utf-8"))[-args.requests :]
    rows = []
    for name, meaning in STEPS:
        times = [s[name] - c["start"] for s, c in zip(server, client, strict=True) if name in s]
        if times:
            rows.append({"step": name, "meaning": meaning, "p50_us": _median_us(times)})
    first = [c["first_text"] - c["start"] for c in client]
    rows.append(
        {
            "step": "client_first_text",
            "meaning": "the client has the first model text",
            "p50_us": _median_us(first),
        }
    )
    return rows, direct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-ledger", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/gateway_timeline.json")
    parser.add_argument("--serve-with-stamps", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_with_stamps:
        _serve_with_stamps(args.serve_with_stamps[0], args.serve_with_stamps[1:])
        return
    rows, direct = _measure(args)
    direct_first = _median_us([c["first_text"] - c["start"] for c in direct])
    lines = ["| step | p50 µs after the client's start | what |", "|---|---|---|"]
    lines += [f"| {r['step']} | {r['p50_us']:.0f} | {r['meaning']} |" for r in rows]
    lines.append(f"| direct upstream: client_first_text | {direct_first:.0f} | for comparison |")
    table = "\n".join(lines)
    print(table)
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}")
    report = {
        "requests": args.requests,
        "ledger": not args.no_ledger,
        "rows": rows,
        "direct_first_text_p50_us": direct_first,
        "load_average_1min": os.getloadavg()[0],
        "table": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
