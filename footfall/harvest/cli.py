"""``footfall harvest``: choose the captured frames worth labelling and push them to Label Studio."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from footfall.common.config import ConfigError
from footfall.harvest.config import HarvestConfig, load_harvest_config
from footfall.harvest.run import last_night, run_harvest
from footfall.labeling.cli import studio_client
from footfall.labeling.contract import LabelMismatch
from footfall.labeling.studio import StudioUnavailable


def _when(text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: use an ISO date or time, e.g. 2026-11-24 or 2026-11-24T18:00") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _config(path: Path) -> HarvestConfig:
    try:
        return load_harvest_config(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def harvest() -> None:
    """Pick the captured frames worth labelling and push them to Label Studio."""


@harvest.command("run")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--since", help="Window start (ISO, UTC if no zone). Default: yesterday 00:00 UTC.")
@click.option("--until", help="Window end (exclusive). Default: today 00:00 UTC.")
@click.option("--budget", type=int, help="Override harvest.budget.")
@click.option("--strategy", help="Override harvest.strategy.")
@click.option("--validate-config", is_flag=True, help="Only validate the configuration and exit.")
def run_cmd(
    config_path: Path,
    since: str | None,
    until: str | None,
    budget: int | None,
    strategy: str | None,
    validate_config: bool,
) -> None:
    """Select within the window and push; re-running a window resumes it without duplicates."""
    cfg = _config(config_path)
    updates = {k: v for k, v in (("budget", budget), ("strategy", strategy)) if v is not None}
    if updates:
        try:
            cfg = HarvestConfig.model_validate({**cfg.model_dump(), **updates})
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    if validate_config:
        click.echo(f"{config_path}: ok")
        return
    start, end = last_night()
    try:
        report = run_harvest(cfg, _when(since, start), _when(until, end), studio=studio_client(cfg.studio))
    except (StudioUnavailable, LabelMismatch) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"harvest {report['window']}: {report['chosen']} chosen of {report['pool']} "
        f"({report['strategy']}), {report['pushed']} pushed, {report['already_in_project']} already there"
    )
    for store, s in report["per_store"].items():
        click.echo(f"  {store}: {s['frames']} frames; reasons {s['reasons']}; predicted boxes {s['boxes']}")
