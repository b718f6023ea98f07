"""``footfall scheduler``: run the flywheel's jobs on their triggers, and show the run ledger."""

from __future__ import annotations

import json
from pathlib import Path

import click

from footfall.common.config import ConfigError


@click.group()
def scheduler() -> None:
    """Nightly harvest and retraining on cron triggers (persistent, one run per slot)."""


@scheduler.command("run")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--validate-config", is_flag=True, help="Only validate the configuration and exit.")
def scheduler_run(config_path: Path, validate_config: bool) -> None:
    """Run the scheduler in the foreground until SIGTERM/SIGINT."""
    from footfall.scheduler.service import load_scheduler_config, serve

    try:
        settings = load_scheduler_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if validate_config:
        click.echo(f"{config_path}: ok ({len(settings.jobs)} job(s))")
        return
    raise SystemExit(serve(settings))


@scheduler.command("runs")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def scheduler_runs(config_path: Path, as_json: bool) -> None:
    """The run ledger: every slot with its status, attempts and exit code."""
    from datetime import UTC, datetime

    from footfall.scheduler.service import load_scheduler_config, show_runs

    try:
        rows = show_runs(load_scheduler_config(config_path))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        slot = datetime.fromtimestamp(r["slot"], UTC).isoformat(timespec="seconds")
        click.echo(f"{r['job']:<20} {slot}  {r['status']:<12} attempts={r['attempts']} exit={r['exit_code']}")
