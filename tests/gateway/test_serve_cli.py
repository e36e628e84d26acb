"""``hegui serve`` stays thin: it builds the config and hands the app to uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from hegui.cli import serve as serve_cli


def _app() -> typer.Typer:
    app = typer.Typer()
    serve_cli.register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps `serve` a named subcommand
        """Nothing."""

    return app


def test_serve_builds_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        "uvicorn.run",
        lambda app, host, port, access_log: seen.update(
            app=app, host=host, port=port, access_log=access_log
        ),
    )
    monkeypatch.setenv(serve_cli.UPSTREAM_KEY_ENV, "sk-hidden")
    args = ["serve", "--upstream", "http://127.0.0.1:9", "--port", "8123", "--producer", "ACME"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    state = seen["app"].state.gateway
    assert seen["port"] == 8123 and state.config.producer == "ACME"
    assert seen["access_log"] is False  # the ledger is the request log; --access-log adds one
    assert CliRunner().invoke(_app(), [*args, "--access-log"]).exit_code == 0
    assert seen["access_log"] is True
    assert state.config.upstream_key.get_secret_value() == "sk-hidden"
    assert "sk-hidden" not in repr(state.config)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "ftp://x"], "upstream"),
        (["--upstream", "http://x", "--policy", "no-such-pack"], "no-such-pack"),
        (["--upstream", "http://x", "--refusal-mode", "shout"], "refusal_mode"),
        (["--upstream", "http://x", "--auth", "keys"], "auth 'keys' needs a data dir"),
        (["--policy", "cn"], "--upstream is required"),
    ],
)
def test_serve_refuses_bad_config(
    monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    result = CliRunner().invoke(_app(), ["serve", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_serve_reads_a_config_file_and_names_its_bad_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, host, port, access_log: seen.update(app=app))
    good = tmp_path / "gateway.yaml"
    good.write_text(
        "upstream: http://127.0.0.1:9\nproducer: ACME-01\nlimits: {max_messages: 7}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(_app(), ["serve", "--config", str(good), "--producer", "ACME-02"])
    assert result.exit_code == 0, result.output
    config = seen["app"].state.gateway.config
    assert (config.producer, config.limits.max_messages) == ("ACME-02", 7)  # flags win
    bad = tmp_path / "bad.yaml"
    bad.write_text("upstream: http://x\nlimits: {max_messages: -1}\n", encoding="utf-8")
    result = CliRunner().invoke(_app(), ["serve", "--config", str(bad)])
    assert result.exit_code == 2
    assert str(bad) in result.output and "limits.max_messages" in result.output


def test_the_local_upstream_carries_the_watermark_key(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from hegui.gateway import GatewayConfig, create_app
    from hegui.trace import WatermarkKey

    key = WatermarkKey.generate()
    path = key.write(tmp_path / "wm.json")
    with pytest.raises(ValueError, match="watermark_key needs the local upstream"):
        GatewayConfig(upstream="http://127.0.0.1:9", watermark_key=path)
    app = create_app(GatewayConfig(upstream="local:smollm2", watermark_key=path))
    with TestClient(app):
        target = app.state.gateway.upstream.target
        assert target.watermark is not None and target.watermark.key_id == key.key_id
