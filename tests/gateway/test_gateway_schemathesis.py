"""Schemathesis drives the gateway from its own OpenAPI spec: no input gives a 5xx
that is not one the spec promises (fail-closed 503s, upstream 502/504), and every
answer matches the spec.

The gateway runs under uvicorn with a ledger, keys off, and an admin key; the model
behind it is the scripted upstream (exact bytes) on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from support import ScriptedUpstream, serve

from hegui.audit import SigningKey, write_key
from hegui.gateway import GatewayConfig, create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis")
    write_key(SigningKey.generate("ed25519"), data_dir / "keys")
    upstream = ScriptedUpstream()
    upstream.chunks = ["你好，", "今天", "天气不错。"]
    with serve(upstream) as up_url:
        # refusal_mode completion: a prompt the policy blocks is a 200 refusal, so a
        # schema-valid request is never "rejected" for its content
        config = GatewayConfig(
            upstream=up_url,
            data_dir=data_dir,
            admin_key="schema-admin",
            refusal_mode="completion",
        )
        with serve(create_app(config)) as url:
            yield url


def test_the_gateway_keeps_its_spec(gateway_url: str) -> None:
    schema = schemathesis.openapi.from_url(gateway_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7  # every route of the spec, admin included

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate()

        check()
