"""``footfall registry …`` (publish, list, show, promote, rollback, fetch, history, diff) and ``footfall dataset …``
(publish, list, show, fetch): the versioned models and datasets of one registry storage."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from footfall.common.yolo import DatasetError
from footfall.registry.artefacts import Ref, RegistryError
from footfall.registry.core import Registry
from footfall.registry.datasets import DatasetStore
from footfall.registry.signing import Trust, generate_keypair
from footfall.registry.storage import open_storage


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds") if ts else "-"


def _fmt_metrics(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return "-"
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in sorted(metrics.items())
        if not isinstance(v, dict)
    )


class _Ctx:
    def __init__(self, url: str) -> None:
        self.url = url
        self._reg: Registry | None = None

    @property
    def reg(self) -> Registry:
        if self._reg is None:
            self._reg = Registry(open_storage(self.url))
        return self._reg

    def with_trust(self, trust: Trust) -> Registry:
        return Registry(self.reg.storage, trust)


# one storage for models and datasets: the same option, the same environment variable
url_option = click.option(
    "--url",
    envvar="FOOTFALL_REGISTRY",
    default="file://./registry",
    show_default=True,
    help="file://PATH or s3://BUCKET/PREFIX (endpoint and credentials from the AWS environment).",
)


def _key_options(key: str, envvar: str, key_help: str, opt_out: str, opt_out_help: str) -> Callable[[Any], Any]:
    """A key option (a PEM path, also from ``envvar``) and its loud development-only opt-out flag."""

    def decorate(fn: Any) -> Any:
        fn = click.option(opt_out, is_flag=True, help=f"Development only: {opt_out_help}")(fn)
        path = click.Path(dir_okay=False, path_type=Path)
        return click.option(key, envvar=envvar, type=path, help=f"{key_help} Env: {envvar}.")(fn)

    return decorate


# a command that publishes (a model or a dataset version) / one that reads versions
sign_options = _key_options(
    "--sign-key",
    "FOOTFALL_SIGN_KEY",
    "Ed25519 private key (PEM) that signs the version (its checksums and metadata).",
    "--unsigned",
    "publish without a signature (fetchers refuse it).",
)
verify_options = _key_options(
    "--verify-key",
    "FOOTFALL_VERIFY_KEY",
    "Ed25519 public key (PEM) the version must be signed with.",
    "--allow-unsigned",
    "read versions without checking their signatures.",
)


class _Group(click.Group):
    """Every registry or dataset error of every command is one line and exit 1, never a traceback (the
    one place these errors become command-line errors)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (RegistryError, DatasetError) as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@url_option
@click.pass_context
def registry(ctx: click.Context, url: str) -> None:
    """Versioned models: publish, promote, roll back, fetch verified."""
    ctx.obj = _Ctx(url)


@registry.command()
@click.argument("name")
@click.option(
    "--file",
    "files",
    multiple=True,
    required=True,
    metavar="LABEL=PATH",
    help="Artefact, e.g. model.onnx=runs/best.onnx (repeatable).",
)
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON with class_names, input_size, metrics, dataset_fingerprint, parent_version, …",
)
@sign_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def publish(
    obj: _Ctx,
    name: str,
    files: tuple[str, ...],
    metadata: Path | None,
    sign_key: Path | None,
    unsigned: bool,
    as_json: bool,
) -> None:
    """Publish a new immutable, signed version of NAME."""
    parsed = {}
    for spec in files:
        label, sep, path = spec.partition("=")
        if not sep:
            path, label = spec, Path(spec).name
        parsed[label] = Path(path)
    meta = json.loads(metadata.read_text()) if metadata else {}
    meta.setdefault("code_revision", os.environ.get("FOOTFALL_CODE_REVISION"))
    reg = obj.with_trust(Trust(sign_key=sign_key, allow_unsigned=unsigned))
    result = reg.publish(name, parsed, meta)
    click.echo(json.dumps(result.to_dict(), indent=1) if as_json else f"published {result.ref}")


@registry.command("list")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_cmd(obj: _Ctx, name: str | None, as_json: bool) -> None:
    """Models, or the versions of NAME with their aliases."""
    if name is None:
        models = obj.reg.models()
        click.echo(json.dumps(models) if as_json else "\n".join(models) or "(no models)")
        return
    versions = obj.reg.versions(name)
    aliases = obj.reg.aliases(name)
    by_version: dict[int, list[str]] = {}
    for alias, target in aliases.items():
        by_version.setdefault(target, []).append(alias)
    if as_json:
        click.echo(json.dumps([{**v, "aliases": sorted(by_version.get(v["version"], []))} for v in versions]))
        return
    click.echo(f"{'version':>7}  {'created':<25} {'creator':<24} {'aliases':<20} metrics")
    for v in versions:
        click.echo(
            f"{v['version']:>7}  {_when(v['created_at']):<25} {str(v['creator'])[:24]:<24} "
            f"{','.join(sorted(by_version.get(v['version'], []))) or '-':<20} {_fmt_metrics(v.get('metrics'))}"
        )


@registry.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(obj: _Ctx, ref: str, as_json: bool) -> None:
    """Metadata of NAME, NAME@ALIAS or NAME:VERSION."""
    r = Ref.parse(ref)
    meta = obj.reg.metadata(r.name, obj.reg.resolve(r))
    aliases = [a for a, v in obj.reg.aliases(r.name).items() if v == meta.version]
    doc = meta.to_dict()
    if as_json:
        click.echo(json.dumps({**doc, "aliases": aliases}, indent=1))
        return
    click.echo(f"{meta.ref}  aliases: {', '.join(aliases) or '-'}")
    click.echo(f"  created {_when(meta.created_at)} by {meta.creator}, status {meta.status}")
    for key in ("class_names", "input_size", "dataset_fingerprint", "parent_version", "code_revision"):
        if doc.get(key) is not None:
            click.echo(f"  {key}: {doc[key]}")
    click.echo(f"  metrics: {_fmt_metrics(meta.metrics)}")
    for label, info in meta.files.items():
        click.echo(f"  {label}: {info.size} bytes sha256 {info.sha256}")
    click.echo(f"  signed: {'yes' if meta.signature else 'no'}")


@registry.command()
@click.argument("name")
@click.argument("version", type=int)
@click.option("--alias", required=True, help="production, canary, or any name.")
@click.option("--expected", type=int, help="Fail unless the alias points at this version now.")
@click.pass_obj
def promote(obj: _Ctx, name: str, version: int, alias: str, expected: int | None) -> None:
    """Point ALIAS of NAME at VERSION (one conditional write)."""
    obj.reg.promote(name, version, alias, expected=expected)
    click.echo(f"{name}@{alias} → {version}")


@registry.command()
@click.argument("name")
@click.option("--alias", required=True)
@click.pass_obj
def rollback(obj: _Ctx, name: str, alias: str) -> None:
    """Move ALIAS back to its previous target."""
    doc = obj.reg.rollback(name, alias)
    click.echo(f"{name}@{alias} → {doc['version']} (rolled back)")


@registry.command()
@click.argument("ref")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), required=True)
@verify_options
@click.option(
    "--rollback",
    is_flag=True,
    help="Allow a version older than the one DEST runs (an operator's rollback; refused otherwise).",
)
@click.option(
    "--needs",
    multiple=True,
    metavar="FILE",
    help="Refuse a version without this file, before anything is placed (e.g. model-int8.onnx). Repeatable.",
)
@click.pass_obj
def fetch(
    obj: _Ctx,
    ref: str,
    dest: Path,
    verify_key: Path | None,
    allow_unsigned: bool,
    rollback: bool,
    needs: tuple[str, ...],
) -> None:
    """Verify REF's signature, download it, verify every checksum, place it under DEST and switch
    DEST/current to it."""
    reg = obj.with_trust(Trust(verify_key=verify_key, allow_unsigned=allow_unsigned))
    placed = reg.fetch(Ref.parse(ref), dest, rollback=rollback, needs=needs)
    click.echo(str(placed))


@registry.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def history(obj: _Ctx, name: str, as_json: bool) -> None:
    """Every publish, alias move and rollback of NAME, oldest first."""
    events = obj.reg.history(name)
    if as_json:
        click.echo(json.dumps(events))
        return
    for e in events:
        what = f"{e['event']:<8} v{e['version']}"
        if e.get("alias"):
            what += f"  {e['alias']} (was {e.get('from')})"
        click.echo(f"{_when(e['time'])}  {e['actor']:<28} {what}")


@registry.command()
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def diff(obj: _Ctx, a: str, b: str, as_json: bool) -> None:
    """Metrics of two versions side by side."""
    ra, rb = Ref.parse(a), Ref.parse(b)
    ma = obj.reg.metadata(ra.name, obj.reg.resolve(ra))
    mb = obj.reg.metadata(rb.name, obj.reg.resolve(rb))
    metrics_a, metrics_b = ma.metrics or {}, mb.metrics or {}
    keys = sorted(set(metrics_a) | set(metrics_b))
    rows = [{"metric": k, a: metrics_a.get(k), b: metrics_b.get(k)} for k in keys]
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'metric':<24} {a:>18} {b:>18}")
    for r in rows:
        click.echo(f"{r['metric']:<24} {r[a]!s:>18} {r[b]!s:>18}")


@registry.command()
@click.option("--private", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--public", type=click.Path(dir_okay=False, path_type=Path), required=True)
def keygen(private: Path, public: Path) -> None:
    """Create an Ed25519 key pair: the private key signs what the training server publishes, the public
    key goes to every store (ansible: footfall_model_public_key). Never overwrites a key."""
    generate_keypair(private, public)
    click.echo(f"wrote {private} (keep secret) and {public} (for devices)")


# -- datasets -----------------------------------------------------------------------------------


@click.group(cls=_Group)
@url_option
@click.pass_context
def dataset(ctx: click.Context, url: str) -> None:
    """Immutable, checksummed, fingerprinted YOLO dataset versions."""
    ctx.obj = url


def _store(ctx: click.Context, trust: Trust) -> DatasetStore:
    return DatasetStore(open_storage(ctx.obj), trust)


@dataset.command("publish")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Dataset name, e.g. pets-person.")
@click.option("--source", "sources", multiple=True, help="KEY=VALUE recorded in the manifest (store, camera, …).")
@click.option(
    "--split",
    "splits",
    multiple=True,
    type=click.Choice(["train", "val", "test"]),
    help="Publish only this split (repeatable), e.g. a held-out set apart from the training data.",
)
@sign_options
@click.pass_context
def dataset_publish(
    ctx: click.Context,
    folder: Path,
    name: str,
    sources: tuple[str, ...],
    splits: tuple[str, ...],
    sign_key: Path | None,
    unsigned: bool,
) -> None:
    """Check FOLDER (YOLO layout) and store it as the next version of NAME; print the manifest summary."""
    try:
        meta = dict(s.split("=", 1) for s in sources)
    except ValueError:
        raise click.BadParameter("use KEY=VALUE", param_hint="--source") from None
    trust = Trust(sign_key=sign_key, allow_unsigned=unsigned)
    manifest = _store(ctx, trust).publish(name, folder, sources=meta, splits=splits or None)
    click.echo(f"{manifest.ref} fingerprint {manifest.fingerprint}")
    click.echo(json.dumps(manifest.splits, indent=1))


@dataset.command("list")
@click.argument("name")
@verify_options
@click.pass_context
def dataset_list(ctx: click.Context, name: str, verify_key: Path | None, allow_unsigned: bool) -> None:
    """Versions of NAME with their fingerprints and sizes (each manifest's signature checked)."""
    store = _store(ctx, Trust(verify_key=verify_key, allow_unsigned=allow_unsigned))
    for version in store.versions(name):
        m = store.manifest(Ref(name, version=version))
        sizes = ", ".join(f"{s}: {v['images']} images / {v['boxes']} boxes" for s, v in m.splits.items())
        click.echo(f"{m.ref}  {m.fingerprint[:16]}  {sizes}")


@dataset.command("show")
@click.argument("ref")
@verify_options
@click.pass_context
def dataset_show(ctx: click.Context, ref: str, verify_key: Path | None, allow_unsigned: bool) -> None:
    """The manifest of NAME:VERSION (without the file list), its signature checked."""
    m = _store(ctx, Trust(verify_key=verify_key, allow_unsigned=allow_unsigned)).manifest(Ref.parse(ref))
    doc = m.to_dict()
    click.echo(json.dumps({k: v for k, v in doc.items() if k != "files"} | {"files": len(m.files)}, indent=1))


@dataset.command("fetch")
@click.argument("ref")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), required=True)
@verify_options
@click.pass_context
def dataset_fetch(ctx: click.Context, ref: str, dest: Path, verify_key: Path | None, allow_unsigned: bool) -> None:
    """Place NAME:VERSION under DEST/NAME/vN after verifying its signature and every checksum; print the
    folder."""
    folder, _ = _store(ctx, Trust(verify_key=verify_key, allow_unsigned=allow_unsigned)).fetch(Ref.parse(ref), dest)
    click.echo(str(folder))
