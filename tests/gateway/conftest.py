"""Fixtures: a scripted upstream and gateways built against it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))

from support import ScriptedUpstream, serve  # noqa: E402

from hegui.audit import SigningKey, write_key  # noqa: E402
from hegui.gateway import GatewayConfig, create_app  # noqa: E402

MakeClient = Callable[..., TestClient]


@pytest.fixture
def upstream() -> ScriptedUpstream:
    return ScriptedUpstream()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write_key(SigningKey.generate("ed25519"), tmp_path / "keys")
    return tmp_path


@pytest.fixture
def upstream_url(upstream: ScriptedUpstream) -> Iterator[str]:
    """The scripted upstream served by uvicorn on loopback (the gateway's real client)."""
    with serve(upstream) as url:
        yield url


@pytest.fixture
def make_client(upstream_url: str) -> Iterator[MakeClient]:
    """Build a gateway (lifespan running) against the scripted upstream."""
    with ExitStack() as stack:

        def make(ledger: Any = None, **fields: Any) -> TestClient:
            config = GatewayConfig(upstream=fields.pop("upstream", upstream_url), **fields)
            app = create_app(config, ledger=ledger)
            return stack.enter_context(TestClient(app, raise_server_exceptions=True))

        yield make
