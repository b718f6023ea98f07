"""``footfall serve``: the store dashboard."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from footfall.common.auth import access_token, is_loopback
from footfall.common.config import ConfigError
from footfall.common.localtime import local_zone
from footfall.common.redact import redact_url
from footfall.edge.config import DashboardConfig, load_config


@click.command()
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="The device config (edge YAML)."
)
@click.option(
    "--db",
    help="A count store without a config: a device's SQLite file, or postgresql://… of the chain's central store "
    "(or $FOOTFALL_CENTRAL_DSN with --db central).",
)
@click.option("--host", help="Bind address (default: dashboard.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: dashboard.port, 8080).")
@click.option("--timezone", "tz_name", help="IANA zone of the store (default: dashboard.timezone or the machine's).")
def serve(config_path: Path | None, db: str | None, host: str | None, port: int | None, tz_name: str | None) -> None:
    """Serve the store dashboard: charts, CSV, live view and line drawing.

    With --config the dashboard knows the cameras, shows the live view and saves drawn lines into that
    file; with only --db FILE it serves the charts and the API; with --db postgresql://… it shows the
    chain (a page ranking every store) and each store's charts.
    """
    import uvicorn

    from footfall.dashboard.app import Settings, create_app

    if config_path is None and db is None:
        raise click.UsageError("give --config FILE (a device) or --db FILE (a count store)")
    try:
        cfg = load_config(config_path) if config_path else None
        dash = cfg.dashboard if cfg else DashboardConfig()
        if tz_name:
            DashboardConfig(timezone=tz_name)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from None
    token = access_token(dash.token)
    if token is not None and len(token) < 16:
        raise click.ClickException("FOOTFALL_DASHBOARD_TOKEN is shorter than 16 characters; use a longer secret")
    host = host or dash.host
    if not is_loopback(host) and token is None:
        raise click.ClickException(
            f"refusing to serve on {host}: beyond loopback the dashboard needs a token. Fix: set dashboard.token "
            "(at least 16 characters) in the config or FOOTFALL_DASHBOARD_TOKEN, or bind to 127.0.0.1"
        )
    zone = tz_name or dash.timezone
    tz = ZoneInfo(zone) if zone else local_zone()
    central = None
    if db == "central":
        db = os.environ.get("FOOTFALL_CENTRAL_DSN")
        if not db:
            raise click.BadParameter("--db central needs $FOOTFALL_CENTRAL_DSN", param_hint="--db")
    if db is not None and db.startswith(("postgresql://", "postgres://")):
        central, db = db, None
        if config_path is not None:
            raise click.UsageError("--config is a device's; a chain's dashboard takes only --db postgresql://…")
        from footfall.central.db import CentralError, connect, require_schema

        try:
            with connect(central) as con:
                require_schema(con)
        except CentralError as exc:
            raise click.ClickException(str(exc)) from None
    if cfg is not None and config_path is not None:
        settings = Settings.from_config(config_path, cfg, token, tz)
        if db is not None:
            settings.db = Path(db)
    else:
        settings = Settings(db=Path(db) if db else None, tz=tz, token=token, central=central)
    port = port or dash.port
    scheme = "https" if dash.tls_cert else "http"
    if scheme == "http" and not is_loopback(host) and not dash.secure_cookie:
        click.echo(
            f"WARNING: serving plain HTTP on {host}: the token and the sign-in cookie cross the network in clear. "
            "Set dashboard.tls_cert and tls_key, or put a TLS proxy in front and set dashboard.secure_cookie",
            err=True,
        )
    what = f"chain {redact_url(central)}" if central else f"store {settings.db}, time zone {tz}"
    click.echo(f"footfall dashboard on {scheme}://{host}:{port}/ ({what})", err=True)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=str(dash.tls_cert) if dash.tls_cert else None,
        ssl_keyfile=str(dash.tls_key) if dash.tls_key else None,
    )
