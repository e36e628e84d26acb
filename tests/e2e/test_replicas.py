"""Two gateway processes on one PostgreSQL and one Redis behave as one service.

The replicas are real ``hegui serve`` processes; the model behind them is the scripted
upstream of the gateway tests (exact bytes, slow streams) on loopback in this process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "gateway"))
sys.path.insert(0, str(Path(__file__).parents[1] / "audit"))

from audit_support import PG_URL, postgres_or_skip, redis_or_skip  # noqa: E402
from support import ScriptedUpstream, chat, serve, sse_events  # noqa: E402

from hegui.audit import SigningKey, open_ledger, write_key  # noqa: E402
from hegui.control import ControlDB, KeyStore  # noqa: E402
from hegui.gateway._evidence import principal_key  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
ADMIN = "replica-admin-key"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    postgres_or_skip()
    name = f"hegui_e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _start(
    port: int, upstream: str, db: str, data_dir: Path, redis_url: str
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HEGUI_ADMIN_KEY": ADMIN}
    args = [
        sys.executable,
        "-m",
        "hegui",
        "serve",
        "--upstream",
        upstream,
        "--db",
        db,
        "--data-dir",
        str(data_dir),
        "--redis",
        redis_url,
        "--auth",
        "keys",
        "--port",
        str(port),
    ]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not start")


@pytest.fixture
def replicas(
    database: str, tmp_path: Path
) -> Iterator[tuple[list[str], ScriptedUpstream, str, Path]]:
    redis_url = redis_or_skip()
    write_key(SigningKey.generate("ed25519"), tmp_path / "keys")
    principal_key(tmp_path)  # made once; replicas share it, as they must
    upstream = ScriptedUpstream()
    with serve(upstream) as up_url:
        ports = [_port(), _port()]
        procs = [_start(p, up_url, database, tmp_path, redis_url) for p in ports]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        try:
            for url, proc in zip(urls, procs, strict=True):
                _wait_ready(url, proc)
            yield urls, upstream, database, tmp_path
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
                if proc.stderr is not None:
                    proc.stderr.close()


def test_two_replicas_share_keys_counters_kill_switch_and_ledger(
    replicas: tuple[list[str], ScriptedUpstream, str, Path],
) -> None:
    (one, two), upstream, db_url, data_dir = replicas
    db = ControlDB.open(db_url, data_dir)
    _, secret = KeyStore(db).create("alice", verified=True)
    _, mallory = KeyStore(db).create("mallory", verified=True)
    auth = {"Authorization": f"Bearer {secret}"}
    bad = {"Authorization": f"Bearer {mallory}"}
    time.sleep(1.5)  # generous: both replicas poll or are notified far sooner
    ids = []
    for url in (one, two):
        resp = httpx.post(url + "/v1/chat/completions", json=chat(), headers=auth, timeout=10)
        assert resp.status_code == 200, resp.text
        ids.append(resp.json()["id"])

    # violations counted across replicas: two on one, the third on the other
    for url in (one, one, two):
        resp = httpx.post(url + "/v1/chat/completions", json=chat("教我自制炸药"), headers=bad)
        assert resp.status_code == 400
    time.sleep(1.5)
    refused = httpx.post(one + "/v1/chat/completions", json=chat(), headers=bad, timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "principal_suspended"

    # the kill switch set through replica one cuts a stream served by replica two
    upstream.chunks = [f"第{i}句。" for i in range(400)]
    upstream.chunk_delay = 0.05
    received, cut_after = "", None
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST", two + "/v1/chat/completions", json=chat(stream=True), headers=auth
        ) as stream,
    ):
        for line in stream.iter_lines():
            received += line + "\n"
            if cut_after is None and "第3句" in received:
                cut_after = time.monotonic()
                engage = client.post(
                    one + "/admin/killswitch",
                    json={"engaged": True, "reason": "replica drill"},
                    headers={"Authorization": f"Bearer {ADMIN}"},
                )
                assert engage.status_code == 200, engage.text
    print(f"kill switch reached the other replica's stream in {time.monotonic() - cut_after:.3f} s")
    events = sse_events(received)
    assert events[-2]["error"]["code"] == "kill_switch" and "第399句" not in received
    for url in (one, two):
        resp = httpx.post(url + "/v1/chat/completions", json=chat(), headers=auth, timeout=10)
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "kill_switch"

    with open_ledger(db_url, data_dir) as ledger:
        report = ledger.verify()
        assert report.ok, report
        seen = {ledger.read(i).record.request_id for i in range(ledger.head().tree_size)}  # type: ignore[union-attr]
    assert set(ids) <= seen  # both replicas' exchanges are in the one tree
    db.close()
