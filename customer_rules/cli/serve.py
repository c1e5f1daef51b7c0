"""``customer-rules serve``: run the HTTP decision service (needs the ``serve`` extra)."""

from __future__ import annotations

from pathlib import Path

import click

from customer_rules.cli.common import (
    CliError,
    cli,
    debug_option,
    fitted_option,
    given_params,
    param_option,
    policy_option,
)

SERVE_EXTRA = "pip install 'customer-rules[serve]'"


@cli.command(
    "serve",
    short_help="Serve decisions over HTTP (FastAPI + uvicorn).",
    epilog=(
        "Examples:\n\n"
        "  customer-rules serve                       # 127.0.0.1:8000, every installed scheme\n\n"
        "  customer-rules serve --policy tiers.yaml --fitted cuts.json\n\n"
        "  customer-rules serve --param value_pyramid.measure=revenue\n\n"
        "  customer-rules serve --host 0.0.0.0 --token-file tokens.sha256\n\n"
        "Reload policies, plugins and fitted cut-offs with `kill -HUP <pid>` or "
        "POST /v1/admin/reload (token needed)."
    ),
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; non-local needs tokens."
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@policy_option
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Load a plugin module (importable name) besides the installed ones; repeatable.",
)
@param_option
@fitted_option
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="API token sha256 digests, one a line (also: CUSTOMER_RULES_TOKEN_SHA256).",
)
@click.option(
    "--max-body-bytes",
    default=1_048_576,
    show_default=True,
    type=click.IntRange(1),
    help="Request body limit.",
)
@click.option(
    "--max-batch", default=1000, show_default=True, type=click.IntRange(1), help="Most rows in one batch."
)
@click.option(
    "--time-limit",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a request may take to decide.",
)
@click.option(
    "--body-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a client may pause while sending a body (slow clients get 408).",
)
@click.option(
    "--callback-url", default=None, metavar="URL", help="Where the CRM webhook adapter sends changed labels."
)
@click.option(
    "--store",
    "store_url",
    default=None,
    metavar="URL",
    help="Log every decision in this decision store (sqlite:///grades.db, postgresql+psycopg://...).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@debug_option
def serve(
    host: str,
    port: int,
    policies: tuple[Path, ...],
    plugins: tuple[str, ...],
    fitted: Path | None,
    token_file: Path | None,
    max_body_bytes: int,
    max_batch: int,
    time_limit: float,
    body_timeout: float,
    callback_url: str | None,
    store_url: str | None,
    log_level: str,
) -> None:
    """Serve classification over HTTP: /v1/classify, /v1/classify/batch,
    /v1/events, /v1/schemes, /v1/webhooks/record-changed, /healthz, /readyz,
    /metrics; the OpenAPI document at /openapi.json and /docs."""
    try:
        import uvicorn

        from customer_rules.serve import ServeConfig, create_app
    except ImportError as exc:
        raise CliError(f"customer-rules serve needs the 'serve' extra ({exc})", SERVE_EXTRA) from exc
    config = ServeConfig.from_sources(
        token_file=token_file,
        host=host,
        port=port,
        policies=policies,
        plugins=plugins,
        params=given_params(),
        fitted=fitted,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        time_limit_s=time_limit,
        body_timeout_s=body_timeout,
        callback_url=callback_url,
        store_url=store_url,
    )
    config.check_bind()  # before loading anything: refuse a public bind without tokens
    app = create_app(config=config, reload_on_sighup=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level=log_level, server_header=False)
