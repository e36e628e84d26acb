"""``hegui serve``: run the guarded, labeling OpenAI-compatible gateway."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import SecretStr, ValidationError

from hegui.cli._common import fail

UPSTREAM_KEY_ENV = "HEGUI_UPSTREAM_KEY"


def serve(
    upstream: Annotated[
        str, typer.Option("--upstream", help="OpenAI-compatible base URL, or local:smollm2.")
    ],
    policy: Annotated[str, typer.Option("--policy", help="Policy pack name or folder.")] = "cn",
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Ledger data directory (evidence, label signatures)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="HEGUI_DATABASE_URL", help="Ledger store URL."),
    ] = None,
    producer: Annotated[
        str, typer.Option("--producer", help="ContentProducer code written into labels.")
    ] = "hegui",
    refusal_mode: Annotated[
        str, typer.Option("--refusal-mode", help="Blocked requests get an 'error' or 'completion'.")
    ] = "error",
) -> None:
    """Run the gateway: screen input, filter output (streams too), label, record."""
    import uvicorn

    from hegui.gateway import GatewayConfig, create_app

    mode: Literal["error", "completion"] = "completion" if refusal_mode == "completion" else "error"
    if refusal_mode not in ("error", "completion"):
        fail(f"--refusal-mode must be 'error' or 'completion', not {refusal_mode!r}")
    key = os.environ.get(UPSTREAM_KEY_ENV)
    try:
        config = GatewayConfig(
            upstream=upstream,
            upstream_key=SecretStr(key) if key else None,
            policy=policy,
            data_dir=data_dir,
            db_url=db,
            producer=producer,
            refusal_mode=mode,
        )
    except ValidationError as exc:
        fail(str(exc))
    app = create_app(config)
    broken = app.state.gateway.broken
    if broken is not None:
        fail(broken)
    uvicorn.run(app, host=host, port=port)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root command."""
    app.command("serve")(serve)
