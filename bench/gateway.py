"""Gateway overhead: hegui with the full cn policy against LiteLLM's bare proxy.

A fast local upstream (uvicorn in its own process) streams every answer as 200 SSE
chunks of realistic mixed Chinese and English text, at once. Rows, one run:

- direct: the client talks to the upstream itself;
- hegui: ``hegui serve`` with the full ``cn`` policy (lexicon, PII, classifier on
  sentence windows, GB 45438 labels) and a SQLite ledger recording every exchange,
  with the request record durable before the first byte (``stream_evidence:
  first_byte``, the default) and before the finish chunk (``finish``), and with no
  ledger;
- litellm: LiteLLM's proxy (one worker, no guardrails), installed in the benchmark's
  own virtual environment (``bench/.venvs/litellm``, made on first use), or the
  ``litellm`` executable given with ``--litellm``.

Columns: time to first token (the first byte of the model's own text, so hegui's label
does not count), p50 and p99 at concurrency 1, and what
the proxy adds to it; what the proxy adds per streamed chunk; streaming requests per
second at concurrency 64; the server's CPU time per streamed answer (it moves little
when other jobs share the machine, unlike the times) and the load average; and, for
hegui, how long a kill switch set in the control database takes to cut a stream in
flight. The latency of one 1 KB write and fsync on the
ledger's disk is measured in the same run: with ``first_byte`` evidence it is a floor
under the time to first token.

Usage: python bench/gateway.py [--sequential 200] [--requests 640] [--concurrency 64]
       [--litellm PATH | --no-litellm] [--out bench/results/gateway.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
CHUNKS = 200
TEXT = (
    "城市公园的设计要兼顾遮阴、水景和步道。A good park has shade, water and quiet paths. "
    "树木最好选本地品种，养护成本低，也更适应气候。Benches should face the view. "
    "夜间照明要柔和，避免打扰附近居民。"
)
FIRST = "城市"
BENCH_KEY = "sk-bench-5f0c2a9e41d37b86a0e4c1f29b7d6e38"  # LiteLLM refuses to start without one


def _pieces() -> list[str]:
    text = (TEXT * 8)[: CHUNKS * 3]
    return [text[i * 3 : i * 3 + 3] for i in range(CHUNKS)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the upstream --------------------------------------------------------------------------


def _events() -> list[bytes]:
    out = []
    for piece in _pieces():
        chunk = {
            "id": "up",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        out.append(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n")
    end = {
        "id": "up",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    out.append(b"data: " + json.dumps(end).encode() + b"\n\ndata: [DONE]\n\n")
    return out


async def _upstream_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """OpenAI-compatible enough for three proxies: models, and streamed chat."""
    if scope["type"] != "http":
        return
    more, body = True, b""
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    slow = b'"slow"' in body  # the kill-switch probe: a stream that lasts seconds
    if scope["path"].endswith("/models"):
        models = {"object": "list", "data": [{"id": "m", "object": "model"}]}
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(models).encode()})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream")],
        }
    )
    for event in _EVENTS:
        await send({"type": "http.response.body", "body": event, "more_body": True})
        if slow:
            await asyncio.sleep(0.02)
    await send({"type": "http.response.body", "body": b""})


_EVENTS = _events()


def _run_upstream(port: int) -> None:
    import uvicorn

    uvicorn.run(_upstream_app, host="127.0.0.1", port=port, log_level="error", lifespan="off")


# -- the proxies ---------------------------------------------------------------------------


def _wait(url: str, proc: subprocess.Popen[bytes] | None, seconds: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{url}: the server exited ({proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {seconds:.0f} s")


def _start_hegui(
    upstream: str, data_dir: Path | None, evidence: str = "first_byte"
) -> tuple[subprocess.Popen[bytes], str]:
    from hegui.audit import SigningKey, write_key

    port = _free_port()
    args = [sys.executable, "-m", "hegui", "serve", "--upstream", upstream, "--policy", "cn"]
    args += ["--port", str(port)]
    if data_dir is not None:  # a ledger recording every exchange
        write_key(SigningKey.generate("ed25519"), data_dir / "keys")
        config = data_dir / "gateway.yaml"
        config.write_text(f"stream_evidence: {evidence}\n", encoding="utf-8")
        args += ["--data-dir", str(data_dir), "--config", str(config)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/healthz", proc)
    return proc, url


def _litellm_binary(given: str | None) -> Path:
    if given:
        return Path(given)
    venv = ROOT / "bench" / ".venvs" / "litellm"
    binary = venv / "bin" / "litellm"
    if not binary.exists():
        print("installing litellm[proxy] into bench/.venvs/litellm (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "litellm[proxy]"], check=True
        )
    return binary


def _start_litellm(binary: Path, upstream: str, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    config = work / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/m\n"
        f"      api_base: {upstream}/v1\n      api_key: sk-bench\n",
        encoding="utf-8",
    )
    port = _free_port()
    env = {
        **os.environ,
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_MASTER_KEY": BENCH_KEY,
    }
    proc = subprocess.Popen(
        [str(binary), "--config", str(config), "--port", str(port), "--num_workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/health/liveliness", proc, 180)
    return proc, url


# -- the client ----------------------------------------------------------------------------

BODY = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "公园怎么设计？"}]}


async def _one(session: aiohttp.ClientSession, url: str) -> tuple[float, float, int]:
    """One streamed answer: (time to first model token, total time, content chunks)."""
    start = time.perf_counter()
    first, text, chunks, pending = 0.0, "", 0, b""
    async with session.post(
        url + "/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {BENCH_KEY}"}
    ) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status}: {(await resp.read())[:200]!r}")
        async for data in resp.content.iter_any():
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not line.startswith(b"data: {"):
                    continue
                delta = json.loads(line[6:])["choices"]
                content = delta[0]["delta"].get("content") if delta else None
                if content:
                    chunks += 1
                    text += content
                    if not first and FIRST in text:
                        first = time.perf_counter() - start
    if FIRST not in text:
        raise RuntimeError(f"{url}: the answer never carried the model's text")
    return first, time.perf_counter() - start, chunks


async def _sequential(url: str, n: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        for _ in range(10):  # warm up connections, caches, the classifier
            await _one(session, url)
        runs = [await _one(session, url) for _ in range(n)]
    ttft = sorted(r[0] for r in runs)
    total = [r[1] for r in runs]
    return {
        "ttft_p50_ms": statistics.median(ttft) * 1e3,
        "ttft_p99_ms": ttft[min(len(ttft) - 1, int(len(ttft) * 0.99))] * 1e3,
        "stream_p50_ms": statistics.median(total) * 1e3,
        "chunks_seen": statistics.median(r[2] for r in runs),
    }


async def _throughput(url: str, requests: int, concurrency: int) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        gate = asyncio.Semaphore(concurrency)

        async def task() -> None:
            async with gate:
                await _one(session, url)

        await asyncio.gather(*(task() for _ in range(concurrency)))  # warm-up
        start = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(requests)))
        return requests / (time.perf_counter() - start)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process and its live children (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # a process that ended meanwhile
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _measure(name: str, url: str, args: argparse.Namespace, pid: int) -> dict[str, Any]:
    print(f"measuring {name} ...", flush=True)
    row: dict[str, Any] = {"name": name, "load_average_1min": os.getloadavg()[0]}
    before = _cpu_seconds(pid)
    row.update(asyncio.run(_sequential(url, args.sequential)))
    # the server's CPU per streamed answer (10 warm-up answers included): unlike the
    # times, this barely moves when other jobs share the machine
    row["server_cpu_ms_per_answer"] = (_cpu_seconds(pid) - before) / (args.sequential + 10) * 1e3
    row["rps_c64"] = asyncio.run(_throughput(url, args.requests, args.concurrency))
    return row


def _kill_latency(url: str, data_dir: Path) -> float:
    """Seconds from setting the kill switch in the control database to the cut."""
    from hegui.control import ControlDB
    from hegui.incidents import IncidentStore, KillSwitch
    from hegui.policy import load_policy

    async def run() -> float:
        slow = {**BODY, "messages": [{"role": "user", "content": "slow"}]}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url + "/v1/chat/completions", json=slow) as resp,
        ):
            db = ControlDB.open(None, data_dir)
            KillSwitch(IncidentStore(db, load_policy("cn"))).engage("bench", actor="bench")
            set_at = time.perf_counter()
            async for line in resp.content:
                if b"kill_switch" in line:
                    return time.perf_counter() - set_at
            return float("nan")

    return asyncio.run(run())


def _fsync_ms(folder: Path, n: int = 200) -> float:
    """The median time of appending 1 KB to a file and fsyncing it, in ms."""
    times = []
    fd = os.open(folder / "fsync.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for _ in range(n):
            start = time.perf_counter()
            os.write(fd, b"x" * 1024)
            os.fsync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
    return statistics.median(times) * 1e3


def _table(rows: list[dict[str, Any]]) -> str:
    base = rows[0]
    head = (
        "| row | TTFT p50 ms | TTFT p99 ms | added TTFT p50 ms | added per chunk µs "
        "| req/s at c64 | server CPU ms per answer | load |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for row in rows:
        added = row["ttft_p50_ms"] - base["ttft_p50_ms"]
        per_chunk = (row["stream_p50_ms"] - base["stream_p50_ms"]) / CHUNKS * 1e3
        row["added_ttft_p50_ms"], row["added_per_chunk_us"] = added, per_chunk
        lines.append(
            f"| {row['name']} | {row['ttft_p50_ms']:.2f} | {row['ttft_p99_ms']:.2f} | "
            f"{added:+.2f} | {per_chunk:+.1f} | {row['rps_c64']:.1f} | "
            f"{row['server_cpu_ms_per_answer']:.2f} | {row['load_average_1min']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--requests", type=int, default=640)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--litellm", default=None, help="path of a litellm executable")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gateway.json")
    args = parser.parse_args()

    port = _free_port()
    server = multiprocessing.Process(target=_run_upstream, args=(port,), daemon=True)
    server.start()
    upstream = f"http://127.0.0.1:{port}"
    _wait(upstream + "/v1/models", None)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            assert server.pid is not None
            rows = [_measure("direct", upstream, args, server.pid)]
            hegui, hegui_url = _start_hegui(upstream, Path(tmp) / "hegui")
            procs.append(hegui)
            rows.append(
                _measure("hegui (full cn policy, ledger, first_byte)", hegui_url, args, hegui.pid)
            )
            overlap, overlap_url = _start_hegui(upstream, Path(tmp) / "overlap", "finish")
            procs.append(overlap)
            rows.append(
                _measure("hegui (full cn policy, ledger, finish)", overlap_url, args, overlap.pid)
            )
            bare, bare_url = _start_hegui(upstream, None)
            procs.append(bare)
            rows.append(_measure("hegui (full cn policy, no ledger)", bare_url, args, bare.pid))
            if not args.no_litellm:
                binary = _litellm_binary(args.litellm)
                litellm, litellm_url = _start_litellm(binary, upstream, Path(tmp))
                procs.append(litellm)
                rows.append(
                    _measure(
                        "litellm proxy (1 worker, no guardrails)", litellm_url, args, litellm.pid
                    )
                )
            kill_s = _kill_latency(hegui_url, Path(tmp) / "hegui")
            fsync_ms = _fsync_ms(Path(tmp))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(20)
            server.terminate()
    table = _table(rows)
    print(table)
    print(f"kill switch set in the control database -> stream cut: {kill_s * 1e3:.0f} ms")
    print(f"1 KB write + fsync on the ledger's disk: p50 {fsync_ms:.2f} ms")
    report = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "chunks_per_answer": CHUNKS,
        "rows": rows,
        "kill_switch_cut_ms": kill_s * 1e3,
        "fsync_p50_ms": fsync_ms,
        "table": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
