"""The configuration references in docs/ (edge, harvest, retrain, scheduler), generated from the pydantic models."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from footfall.common.lines import LineConfig
from footfall.edge.config import CameraConfig, EdgeConfig
from footfall.harvest.config import HarvestConfig
from footfall.retrain.config import RetrainConfig, SequenceSettings
from footfall.scheduler.service import JobSettings, SchedulerSettings

_NESTED: dict[str, type[BaseModel]] = {
    "cameras": CameraConfig,
    "lines": LineConfig,
    "sequences": SequenceSettings,
    "jobs": JobSettings,
}


ROOT = Path(__file__).resolve().parents[1]


def _shown(value: Any) -> str:
    """A default as the docs show it; paths inside this checkout relative to it (any clone renders alike)."""
    if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(ROOT):
        return f"`{value.relative_to(ROOT)}`"
    return f"`{value}`"


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        return "" if isinstance(value, BaseModel) else _shown(value)
    return _shown(field.default)


def _rows(prefix: str, model: type[BaseModel]) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = field.annotation
        nested = _NESTED.get(name)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows += _rows(f"{key}.", ann)
            continue
        rows.append(f"| `{key}` | {_default(field)} | {(field.description or '').replace('|', '/')} |")
        args = get_args(ann)
        optional = [a for a in args if type(None) in args and isinstance(a, type) and issubclass(a, BaseModel)]
        if optional:  # a section that may be left out (e.g. retrain.signing): its keys too
            rows += _rows(f"{key}.", optional[0])
        elif nested is not None:
            rows += _rows(f"{key}[].", nested)
    return rows


# page → marker name → (model, key prefix)
PAGES: dict[str, dict[str, tuple[type[BaseModel], str]]] = {
    "docs/installer.md": {"config-reference": (EdgeConfig, "")},
    "docs/annotator.md": {"harvest-reference": (HarvestConfig, "harvest.")},
    "docs/operator.md": {
        "retrain-reference": (RetrainConfig, "retrain."),
        "scheduler-reference": (SchedulerSettings, "scheduler."),
    },
}


def reference_table(model: type[BaseModel] = EdgeConfig, prefix: str = "") -> str:
    return "\n".join(["| key | default | meaning |", "|---|---|---|", *_rows(prefix, model)])


def render_into(text: str, tables: dict[str, tuple[type[BaseModel], str]]) -> str:
    """``text`` with the table between each pair of markers replaced by the current one."""
    for marker, (model, prefix) in tables.items():
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        if start not in text:
            raise ValueError(f"no {start} marker")
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        text = f"{head}{start}\n{reference_table(model, prefix)}\n{end}{tail}"
    return text


def write_all(root: Path = ROOT) -> None:
    for page, tables in PAGES.items():
        path = root / page
        path.write_text(render_into(path.read_text(), tables))


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "--write":
        write_all()
    else:
        print(reference_table())
