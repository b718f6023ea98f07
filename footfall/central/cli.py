"""``footfall central``: the chain's central store (PostgreSQL): schema, catalogue, ingest server, status."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from footfall.common.auth import is_loopback

DSN_HELP = "postgresql://USER@HOST:PORT/DB of the central store (or $FOOTFALL_CENTRAL_DSN)."


class _Group(click.Group):
    """Catalogue and database errors are one line with their fix, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from footfall.central.db import CentralError

        try:
            return super().invoke(ctx)
        except CentralError as exc:
            raise click.ClickException(str(exc)) from None


def _dsn(f: Callable) -> Callable:
    return click.option("--dsn", envvar="FOOTFALL_CENTRAL_DSN", required=True, help=DSN_HELP)(f)


@click.group(cls=_Group)
def central() -> None:
    """The chain's central store: every store's counts in one PostgreSQL."""


@central.command("migrate")
@_dsn
def migrate_cmd(dsn: str) -> None:
    """Create or upgrade the schema (safe to run again; 'init' is the same on an empty database)."""
    from footfall.central.db import migrate

    applied = migrate(dsn)
    click.echo("applied: " + ", ".join(applied) if applied else "the schema is up to date")


central.add_command(migrate_cmd, "init")


@central.group("store")
def store_group() -> None:
    """The catalogue of stores."""


@store_group.command("add")
@_dsn
@click.argument("store")
@click.option("--name", default="")
@click.option("--region", default="")
@click.option("--timezone", "tz", default="UTC", show_default=True, help="IANA zone, e.g. Europe/Berlin.")
@click.option("--opening-hour", type=click.IntRange(0, 23), default=0, show_default=True)
@click.option("--closing-hour", type=click.IntRange(1, 24), default=24, show_default=True)
@click.option("--tag", "tags", multiple=True)
@click.option("--entrance", "entrances", multiple=True, help="CAMERA/LINE whose crossings are visitors (repeat).")
def store_add(dsn: str, store: str, name: str, region: str, tz: str, opening_hour: int, closing_hour: int,
              tags: tuple[str, ...], entrances: tuple[str, ...]) -> None:  # fmt: skip
    """Add a store, or update its entry."""
    from footfall.central.db import StoreInfo, connect, put_store

    info = StoreInfo(store, name, region, tz, opening_hour, closing_hour, tags, entrances)
    with connect(dsn) as con:
        put_store(con, info)
    click.echo(f"store {store} saved")


@central.group("device")
def device_group() -> None:
    """Devices that ship for a store (a token each)."""


@device_group.command("add")
@_dsn
@click.argument("store")
@click.argument("device")
@click.option("--replaces", help="A dead device whose cameras the new one takes over (its token is revoked).")
def device_add(dsn: str, store: str, device: str, replaces: str | None) -> None:
    """Register a device and print its token (once: only its hash is kept). Put it in the device's
    config as central.token (or $FOOTFALL_CENTRAL_TOKEN)."""
    from footfall.central.db import add_device, connect

    with connect(dsn) as con:
        token = add_device(con, store, device, replaces=replaces)
    click.echo(token)


@device_group.command("revoke")
@_dsn
@click.argument("device")
def device_revoke(dsn: str, device: str) -> None:
    """Refuse the device's token from now on (its crossings stay on it until a new token is given)."""
    from footfall.central.db import connect, revoke_device

    with connect(dsn) as con:
        revoke_device(con, device)
    click.echo(f"device {device} revoked")


@central.command("status")
@_dsn
@click.option("--json", "as_json", is_flag=True)
def status_cmd(dsn: str, as_json: bool) -> None:
    """Per store and device: last request (heartbeat), newest crossing received, lag, clock skew."""
    from footfall.central.db import connect, require_schema, status

    with connect(dsn) as con:
        require_schema(con)
        rows = status(con)
    now = time.time()
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows], indent=1))
        return

    def ago(ts: float | None) -> str:
        if ts is None:
            return "never"
        return f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%d %H:%M}Z ({(now - ts) / 60:.0f} min ago)"

    click.echo(f"{'store':<14}{'device':<14}{'last request':<34}{'newest crossing':<34}skew")
    for r in rows:
        skew = "" if r.clock_skew_s is None else f"{r.clock_skew_s:+.0f} s"
        state = " REVOKED" if r.revoked else ""
        click.echo(f"{r.store:<14}{r.device:<14}{ago(r.last_seen):<34}{ago(r.last_crossing):<34}{skew}{state}")


@central.command("prune")
@_dsn
def prune_cmd(dsn: str) -> None:
    """Apply the retention table: drop crossing days and rollup rows older than it keeps."""
    from footfall.central.db import connect, prune

    with connect(dsn) as con:
        click.echo(json.dumps(prune(con)))


@central.command("serve")
@_dsn
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8090, show_default=True)
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate for HTTPS.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM key of --tls-cert.")
def serve_cmd(dsn: str, host: str, port: int, tls_cert: str | None, tls_key: str | None) -> None:
    """Serve the ingest endpoint the devices ship to (and /metrics, /health)."""
    import uvicorn

    from footfall.central.db import connect, require_schema
    from footfall.central.server import create_app

    with connect(dsn) as con:
        require_schema(con)
    if not is_loopback(host) and not tls_cert:
        click.echo(
            f"WARNING: plain HTTP on {host}: device tokens cross the network in clear; give --tls-cert", err=True
        )
    click.echo(f"footfall central ingest on {'https' if tls_cert else 'http'}://{host}:{port}/", err=True)
    uvicorn.run(create_app(dsn), host=host, port=port, log_level="warning", ssl_certfile=tls_cert, ssl_keyfile=tls_key)
