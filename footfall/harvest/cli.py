"""``footfall harvest`` and ``footfall labeling``: frames to Label Studio, annotations back to datasets."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from footfall.common.config import ConfigError
from footfall.harvest.run import HarvestConfig, last_night, load_harvest_config, run_harvest
from footfall.labeling.contract import LabelMismatch
from footfall.labeling.studio import Studio, StudioUnavailable


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


def _studio(cfg: HarvestConfig) -> Studio:
    token = os.environ.get(cfg.studio.token_env)
    if not token:
        raise click.ClickException(f"${cfg.studio.token_env} is not set: export the Label Studio API token there")
    return Studio(cfg.studio.url, token)


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
        report = run_harvest(cfg, _when(since, start), _when(until, end), studio=_studio(cfg))
    except (StudioUnavailable, LabelMismatch) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"harvest {report['window']}: {report['chosen']} chosen of {report['pool']} "
        f"({report['strategy']}), {report['pushed']} pushed, {report['already_in_project']} already there"
    )
    for store, s in report["per_store"].items():
        click.echo(f"  {store}: {s['frames']} frames; reasons {s['reasons']}; predicted boxes {s['boxes']}")


@click.group()
def labeling() -> None:
    """The Label Studio project: set it up, export finished annotations as a dataset version."""


@labeling.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--update", is_flag=True, help="Rewrite the labels of an existing project that differ.")
def setup(config_path: Path, update: bool) -> None:
    """Create (or check) the project with the labelling config generated from the classes."""
    cfg = _config(config_path)
    try:
        project = _studio(cfg).ensure_project(cfg.studio.project, cfg.classes, update=update)
    except (StudioUnavailable, LabelMismatch) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"project {project}: {cfg.studio.project!r} labels {cfg.classes}")


@labeling.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--dataset", required=True, help="Dataset name, e.g. store-labels.")
@click.option(
    "--registry",
    "registry_url",
    envvar="FOOTFALL_REGISTRY",
    required=True,
    help="Where dataset versions live: file://PATH or s3://BUCKET/PREFIX.",
)
@click.option("--val-share", type=float, default=0.2, show_default=True, help="Share of camera/time blocks in val.")
@click.option("--block-s", type=float, default=3600, show_default=True, help="Time block kept on one side.")
def export(config_path: Path, dataset: str, registry_url: str, val_share: float, block_s: float) -> None:
    """Export finished annotations to a new immutable YOLO dataset version."""
    from footfall.labeling.export import export_project
    from footfall.registry.datasets import DatasetStore
    from footfall.registry.storage import open_storage

    cfg = _config(config_path)
    studio = _studio(cfg)
    try:
        project = studio.ensure_project(cfg.studio.project, cfg.classes)
        manifest = export_project(
            studio,
            project,
            cfg.classes,
            cfg.studio.files_root,
            DatasetStore(open_storage(registry_url)),
            dataset,
            block_s=block_s,
            val_share=val_share,
        )
    except (StudioUnavailable, LabelMismatch, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{manifest.ref} fingerprint {manifest.fingerprint}")
    click.echo(json.dumps(manifest.splits, indent=1))
