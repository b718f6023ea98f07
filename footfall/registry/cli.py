"""``footfall registry …``: publish, list, show, promote, rollback, fetch, history, diff."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import click

from footfall.registry.core import Ref, Registry, RegistryError, generate_keypair
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


@click.group()
@click.option(
    "--url",
    envvar="FOOTFALL_REGISTRY",
    default="file://./registry",
    show_default=True,
    help="file://PATH or s3://BUCKET/PREFIX (endpoint and credentials from the AWS environment).",
)
@click.pass_context
def registry(ctx: click.Context, url: str) -> None:
    """Versioned models: publish, promote, roll back, fetch verified."""
    ctx.obj = _Ctx(url)


def _run(fn: Any) -> Any:
    try:
        return fn()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None


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
@click.option(
    "--sign-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ed25519 private key (PEM) to sign the checksum manifest.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def publish(
    obj: _Ctx, name: str, files: tuple[str, ...], metadata: Path | None, sign_key: Path | None, as_json: bool
) -> None:
    """Publish a new immutable version of NAME."""
    parsed = {}
    for spec in files:
        label, sep, path = spec.partition("=")
        if not sep:
            path, label = spec, Path(spec).name
        parsed[label] = Path(path)
    meta = json.loads(metadata.read_text()) if metadata else {}
    meta.setdefault("code_revision", os.environ.get("FOOTFALL_CODE_REVISION"))
    result = _run(lambda: obj.reg.publish(name, parsed, meta, sign_key=sign_key))
    click.echo(json.dumps(result, indent=1) if as_json else f"published {name}:{result['version']}")


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
    meta = _run(lambda: obj.reg.metadata(r.name, obj.reg.resolve(r)))
    aliases = [a for a, v in obj.reg.aliases(r.name).items() if v == meta["version"]]
    if as_json:
        click.echo(json.dumps({**meta, "aliases": aliases}, indent=1))
        return
    click.echo(f"{meta['name']}:{meta['version']}  aliases: {', '.join(aliases) or '-'}")
    click.echo(f"  created {_when(meta['created_at'])} by {meta['creator']}, status {meta.get('status')}")
    for key in ("class_names", "input_size", "dataset_fingerprint", "parent_version", "code_revision"):
        if meta.get(key) is not None:
            click.echo(f"  {key}: {meta[key]}")
    click.echo(f"  metrics: {_fmt_metrics(meta.get('metrics'))}")
    for label, info in meta["files"].items():
        click.echo(f"  {label}: {info['size']} bytes sha256 {info['sha256']}")
    click.echo(f"  signed: {'yes' if 'signature' in meta else 'no'}")


@registry.command()
@click.argument("name")
@click.argument("version", type=int)
@click.option("--alias", required=True, help="production, canary, or any name.")
@click.option("--expected", type=int, help="Fail unless the alias points at this version now.")
@click.pass_obj
def promote(obj: _Ctx, name: str, version: int, alias: str, expected: int | None) -> None:
    """Point ALIAS of NAME at VERSION (one conditional write)."""
    _run(lambda: obj.reg.promote(name, version, alias, expected=expected))
    click.echo(f"{name}@{alias} → {version}")


@registry.command()
@click.argument("name")
@click.option("--alias", required=True)
@click.pass_obj
def rollback(obj: _Ctx, name: str, alias: str) -> None:
    """Move ALIAS back to its previous target."""
    doc = _run(lambda: obj.reg.rollback(name, alias))
    click.echo(f"{name}@{alias} → {doc['version']} (rolled back)")


@registry.command()
@click.argument("ref")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--verify-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ed25519 public key (PEM): refuse a model whose manifest signature does not verify.",
)
@click.pass_obj
def fetch(obj: _Ctx, ref: str, dest: Path, verify_key: Path | None) -> None:
    """Download REF, verify every checksum, place it under DEST and switch DEST/current to it."""
    placed = _run(lambda: obj.reg.fetch(Ref.parse(ref), dest, verify_key=verify_key))
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
    ma = _run(lambda: obj.reg.metadata(ra.name, obj.reg.resolve(ra)))
    mb = _run(lambda: obj.reg.metadata(rb.name, obj.reg.resolve(rb)))
    keys = sorted(set(ma.get("metrics") or {}) | set(mb.get("metrics") or {}))
    rows = [{"metric": k, a: (ma.get("metrics") or {}).get(k), b: (mb.get("metrics") or {}).get(k)} for k in keys]
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
    """Create an Ed25519 key pair for signing checksum manifests."""
    generate_keypair(private, public)
    click.echo(f"wrote {private} (keep secret) and {public} (for devices)")
