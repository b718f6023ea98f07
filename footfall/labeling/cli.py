"""``footfall dataset``: versioned YOLO datasets in the registry storage."""

from __future__ import annotations

import json
from pathlib import Path

import click

from footfall.labeling.datasets import DatasetError, DatasetRef, DatasetStore
from footfall.registry.storage import open_storage


@click.group()
@click.option(
    "--url",
    envvar="FOOTFALL_REGISTRY",
    default="file://./registry",
    show_default=True,
    help="file://PATH or s3://BUCKET/PREFIX, the same storage as the model registry.",
)
@click.pass_context
def dataset(ctx: click.Context, url: str) -> None:
    """Immutable, checksummed, fingerprinted YOLO dataset versions."""
    ctx.obj = url


def _store(ctx: click.Context) -> DatasetStore:
    return DatasetStore(open_storage(ctx.obj))


@dataset.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Dataset name, e.g. pets-person.")
@click.option("--source", "sources", multiple=True, help="KEY=VALUE recorded in the manifest (store, camera, …).")
@click.pass_context
def publish(ctx: click.Context, folder: Path, name: str, sources: tuple[str, ...]) -> None:
    """Check FOLDER (YOLO layout) and store it as the next version of NAME; print the manifest summary."""
    try:
        meta = dict(s.split("=", 1) for s in sources)
    except ValueError:
        raise click.BadParameter("use KEY=VALUE", param_hint="--source") from None
    try:
        manifest = _store(ctx).publish(name, folder, sources=meta)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{manifest['name']}:{manifest['version']} fingerprint {manifest['fingerprint']}")
    click.echo(json.dumps(manifest["splits"], indent=1))


@dataset.command("list")
@click.argument("name")
@click.pass_context
def list_cmd(ctx: click.Context, name: str) -> None:
    """Versions of NAME with their fingerprints and sizes."""
    store = _store(ctx)
    for version in store.versions(name):
        m = store.manifest(DatasetRef(name, version))
        sizes = ", ".join(f"{s}: {v['images']} images / {v['boxes']} boxes" for s, v in m["splits"].items())
        click.echo(f"{name}:{version}  {m['fingerprint'][:16]}  {sizes}")


@dataset.command()
@click.argument("ref")
@click.pass_context
def show(ctx: click.Context, ref: str) -> None:
    """The manifest of NAME:VERSION (without the file list)."""
    try:
        m = _store(ctx).manifest(DatasetRef.parse(ref))
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({k: v for k, v in m.items() if k != "files"} | {"files": len(m["files"])}, indent=1))


@dataset.command()
@click.argument("ref")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.pass_context
def fetch(ctx: click.Context, ref: str, dest: Path) -> None:
    """Place NAME:VERSION under DEST/NAME/vN after verifying every checksum; print the folder."""
    try:
        folder, _ = _store(ctx).fetch(DatasetRef.parse(ref), dest)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(folder))
