"""``hegui serve``: run the guarded, labeling OpenAI-compatible gateway."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import SecretStr, ValidationError

from hegui.cli._common import err_console, fail

UPSTREAM_KEY_ENV = "HEGUI_UPSTREAM_KEY"
ADMIN_KEY_ENV = "HEGUI_ADMIN_KEY"


def _file_config(path: Path | None) -> dict[str, Any]:
    """Fields from ``--config`` (YAML mapping of ``GatewayConfig`` fields)."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        fail(f"{path}: cannot read the gateway config: {exc}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        fail(f"{path}: the gateway config must be a mapping of fields")
    return data


def _validation_message(exc: ValidationError, path: Path | None) -> str:
    where = f"{path}: " if path is not None else ""
    lines = [
        f"{where}{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
        for err in exc.errors()
    ]
    return "\n".join(lines)


def serve(
    upstream: Annotated[
        str | None,
        typer.Option("--upstream", help="OpenAI-compatible base URL, or local:smollm2."),
    ] = None,
    policy: Annotated[
        str | None, typer.Option("--policy", help="Policy pack name or folder.")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML file of gateway settings (flags win).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (ledger, keys, control database)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="HEGUI_DATABASE_URL", help="PostgreSQL URL (replicas)."),
    ] = None,
    redis_url: Annotated[
        str | None,
        typer.Option("--redis", envvar="HEGUI_REDIS_URL", help="Redis URL for shared counters."),
    ] = None,
    producer: Annotated[
        str | None, typer.Option("--producer", help="ContentProducer code written into labels.")
    ] = None,
    refusal_mode: Annotated[
        str | None,
        typer.Option("--refusal-mode", help="Blocked requests get an 'error' or 'completion'."),
    ] = None,
    auth: Annotated[
        str | None, typer.Option("--auth", help="'keys' (API keys required) or 'none'.")
    ] = None,
    watermark_key: Annotated[
        Path | None,
        typer.Option("--watermark-key", help="Watermark the local upstream's answers."),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log one line per HTTP request (off: the ledger records every exchange).",
        ),
    ] = False,
) -> None:
    """Run the gateway: screen input, filter output (streams too), label, record."""
    import uvicorn

    from hegui.gateway import GatewayConfig, create_app

    fields = _file_config(config_file)
    flags = {
        "upstream": upstream,
        "policy": policy,
        "data_dir": data_dir,
        "db_url": db,
        "redis_url": redis_url,
        "producer": producer,
        "refusal_mode": refusal_mode,
        "auth": auth,
        "watermark_key": watermark_key,
    }
    fields.update({k: v for k, v in flags.items() if v is not None})
    for field, env in (("upstream_key", UPSTREAM_KEY_ENV), ("admin_key", ADMIN_KEY_ENV)):
        if os.environ.get(env):
            fields[field] = SecretStr(os.environ[env])
    if "upstream" not in fields:
        fail("--upstream is required (or 'upstream:' in --config)")
    try:
        config = GatewayConfig(**fields)
    except ValidationError as exc:
        fail(_validation_message(exc, config_file))
    app = create_app(config)
    state = app.state.gateway
    if state.broken is not None:
        fail(state.broken)
    for warning in state.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    uvicorn.run(app, host=host, port=port, access_log=access_log)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root command."""
    app.command("serve")(serve)
