"""``footfall retrain``: one retraining cycle by hand, or scoring a model on a held-out version."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from footfall.common.config import ConfigError
from footfall.common.yolo import DatasetError
from footfall.registry.artefacts import Ref, RegistryError
from footfall.registry.datasets import DatasetStore
from footfall.registry.storage import open_storage
from footfall.retrain.config import RetrainConfig, load_retrain_config


def _load(path: Path, overrides: dict[str, Any]) -> RetrainConfig:
    try:
        return load_retrain_config(path, overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def print_report(report: dict[str, Any]) -> None:
    cand, base = report["candidate"], report["baseline"]["metrics"]
    click.echo(f"{report['model']}: {'ACCEPTED' if report['accepted'] else 'REJECTED'}", err=False)
    for reason in report["reasons"][1:]:
        click.echo(f"  - {reason}")
    click.echo(f"  {'metric':<22}{'candidate':>12}{report['baseline']['model']:>24}")
    for key in ("map50", "map50_95", "precision", "recall", "latency_ms_cpu"):
        click.echo(f"  {key:<22}{cand[key]:>12.4f}{base[key]:>24.4f}")
    for name, scores in cand["per_class"].items():
        click.echo(f"  AP50 {name:<17}{scores['ap50']:>12.4f}{base['per_class'].get(name, {}).get('ap50', 0):>24.4f}")
    for seq, scores in cand.get("sequences", {}).items():
        old = base.get("sequences", {}).get(seq, {})
        for key in ("mota", "idf1", "count_error_pct"):
            click.echo(f"  {seq} {key:<{21 - len(seq)}}{scores[key]:>12.4f}{old.get(key, float('nan')):>24.4f}")
    if report.get("promoted_to"):
        click.echo(f"  alias {report['promoted_to']} → {report['model']}")


@click.group()
def retrain() -> None:
    """Fine-tune, evaluate against production, publish, promote to canary if better."""


@retrain.command("run")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--validate-config", is_flag=True, help="Only validate the configuration and exit.")
@click.option("--epochs", type=int, help="Override retrain.train.epochs.")
@click.option("--report-json", type=click.Path(dir_okay=False, path_type=Path), help="Also write the report here.")
@click.option("--quiet-training", is_flag=True, help="Do not relay the training log.")
def run_cmd(
    config_path: Path, validate_config: bool, epochs: int | None, report_json: Path | None, quiet_training: bool
) -> None:
    """Run one cycle now: datasets → train → export → evaluate → gate → publish (→ canary)."""
    overrides: dict[str, Any] = {}
    cfg = _load(config_path, overrides)
    if epochs is not None:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": epochs})})
    if validate_config:
        click.echo(f"{config_path}: ok")
        return
    from footfall.retrain.cycle import CycleError, run_cycle
    from footfall.retrain.trainer import TrainingError, echo

    try:
        report = run_cycle(cfg, on_train_line=None if quiet_training else echo)
    except (CycleError, TrainingError, DatasetError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from None
    print_report(report)
    if report_json:
        report_json.parent.mkdir(parents=True, exist_ok=True)
        report_json.write_text(json.dumps(report, indent=1))


@retrain.command("release")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--burn-in-s", type=float, help="Override retrain.release.burn_in_s.")
def release_cmd(config_path: Path, burn_in_s: float | None) -> None:
    """Watch the canary stores run the candidate; release it to production, or roll the canary back.

    Exit 0 when released (or already released), 1 when refused (the reasons are printed and recorded
    in the registry history)."""
    from footfall.registry.core import Registry
    from footfall.retrain.release import release

    cfg = _load(config_path, {})
    settings = cfg.release
    if burn_in_s is not None:
        settings = settings.model_copy(update={"burn_in_s": burn_in_s})
    if not settings.canary_health:
        raise click.ClickException("retrain.release.canary_health is empty: name the canary stores' /health URLs")
    try:
        decision = release(Registry(open_storage(cfg.registry)), cfg.model_name, settings)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(decision, indent=1))
    if not decision["released"]:
        raise SystemExit(1)


@retrain.command("evaluate")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--model", "model", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--class-map", "class_map", help='JSON model class → product class, e.g. {"person": "male_adult"}.')
def evaluate_cmd(config_path: Path, model: Path, class_map: str | None) -> None:
    """Score one model (.onnx, or an original .pt exported on the fly) on the configured held-out set."""
    from footfall.retrain.evaluate import evaluate_model

    cfg = _load(config_path, {})
    try:
        assert cfg.signing is not None  # the config refuses a file without it
        folder, manifest = DatasetStore(open_storage(cfg.registry), cfg.signing.trust()).fetch(
            Ref.parse(cfg.heldout), cfg.work_dir / "datasets"
        )
    except (DatasetError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from None
    if model.suffix == ".pt":
        from footfall.edge.detectors.export import export_onnx

        model = export_onnx(model, cfg.work_dir / "evaluate" / f"{model.stem}.onnx")
    scores = evaluate_model(
        model, (folder, manifest), cfg.classes, cfg.evaluation, class_map=json.loads(class_map) if class_map else None
    )
    json.dump(scores, sys.stdout, indent=1)
    click.echo()
