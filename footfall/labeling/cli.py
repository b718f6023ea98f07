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
from footfall.registry.cli import sign_options
from footfall.registry.signing import Trust
from footfall.registry.storage import RegistryError


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
@sign_options
def export(
    config_path: Path,
    dataset: str,
    registry_url: str,
    val_share: float,
    block_s: float,
    sign_key: Path | None,
    unsigned: bool,
) -> None:
    """Export finished annotations to a new immutable, signed YOLO dataset version."""
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
            DatasetStore(open_storage(registry_url), Trust(sign_key=sign_key, allow_unsigned=unsigned)),
            dataset,
            block_s=block_s,
            val_share=val_share,
        )
    except (StudioUnavailable, LabelMismatch, ValueError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{manifest.ref} fingerprint {manifest.fingerprint}")
    click.echo(json.dumps(manifest.splits, indent=1))


@labeling.command("import-mot")
@click.argument("video", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("gt", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--identity-classes",
    "identities",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="CSV id,class,confidence,cue,… giving each identity of GT its class.",
)
@click.option("--unsure", type=click.Choice(["lean", "drop"]), default="lean", show_default=True,
              help="An 'unsure' identity: the class its cue leans to, or left out.")  # fmt: skip
@click.option("--classes", default="child,female_adult,male_adult", show_default=True, help="Class list, in order.")
@click.option("--every", type=int, default=5, show_default=True, help="Every Nth frame becomes an image.")
@click.option("--val-from-frame", type=int, help="Frames from this one on go to the val split (by time).")
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "val"]), help="Publish only these.")
@click.option("--name", required=True, help="Dataset name, e.g. pets-heldout.")
@click.option("--registry", "registry_url", envvar="FOOTFALL_REGISTRY", required=True, help="file://PATH or s3://…")
@sign_options
def import_mot(
    video: Path,
    gt: Path,
    identities: Path,
    unsure: str,
    classes: str,
    every: int,
    val_from_frame: int | None,
    splits: tuple[str, ...],
    name: str,
    registry_url: str,
    sign_key: Path | None,
    unsigned: bool,
) -> None:
    """A labelled video (MOT ground truth + a class per identity) as a dataset version, e.g. the fixed
    held-out set: frames after --val-from-frame, published with --split val."""
    import tempfile

    from footfall.labeling.mot_import import identity_classes, yolo_from_mot
    from footfall.registry.datasets import DatasetStore
    from footfall.registry.storage import open_storage

    names = [c for c in classes.split(",") if c]
    of = identity_classes(identities, unsure=unsure)
    unknown = sorted({c for c in of.values() if c is not None and c not in names})
    if unknown:
        raise click.ClickException(f"{identities} has classes {unknown} outside --classes {names}")
    # a relative file:// is the working directory's
    store = DatasetStore(open_storage(registry_url), Trust(sign_key=sign_key, allow_unsigned=unsigned))
    with tempfile.TemporaryDirectory(prefix="footfall-mot-") as tmp:
        counts = yolo_from_mot(video, gt, Path(tmp), names, class_of=of.get, every=every, val_from_frame=val_from_frame)
        sources = {"video": video.name, "gt": str(gt.name), "identity_classes": identities.name, "unsure": unsure}
        try:
            manifest = store.publish(name, Path(tmp), sources=sources, splits=splits or None)
        except RegistryError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{manifest.ref} fingerprint {manifest.fingerprint} ({counts})")
    click.echo(json.dumps(manifest.splits, indent=1))
