"""``footfall labeling``: the Label Studio project (set it up) and its annotations (export a dataset version)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from footfall.common.config import ConfigError
from footfall.labeling.config import LabelingProject, StudioSettings, load_labeling_project
from footfall.labeling.contract import LabelMismatch
from footfall.labeling.studio import Studio, StudioUnavailable


def _project(path: Path) -> LabelingProject:
    try:
        return load_labeling_project(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def studio_client(settings: StudioSettings) -> Studio:
    """A client of the configured Label Studio, its token from the environment variable the config names."""
    token = os.environ.get(settings.token_env)
    if not token:
        raise click.ClickException(f"${settings.token_env} is not set: export the Label Studio API token there")
    return Studio(settings.url, token)


@click.group()
def labeling() -> None:
    """The Label Studio project: set it up, export finished annotations as a dataset version."""


@labeling.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--update", is_flag=True, help="Rewrite the labels of an existing project that differ.")
def setup(config_path: Path, update: bool) -> None:
    """Create (or check) the project with the labelling config generated from the classes."""
    cfg = _project(config_path)
    try:
        project = studio_client(cfg.studio).ensure_project(cfg.studio.project, cfg.classes, update=update)
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

    cfg = _project(config_path)
    studio = studio_client(cfg.studio)
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
