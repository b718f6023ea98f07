"""The configuration reference of README.md, generated from the pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from edge.config import CameraConfig, EdgeConfig, LineConfig

_NESTED: dict[str, type[BaseModel]] = {"cameras": CameraConfig, "lines": LineConfig}


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        return "" if isinstance(value, BaseModel) else f"`{value}`"
    return f"`{field.default}`"


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
        if nested is not None:
            rows += _rows(f"{key}[].", nested)
    return rows


def reference_table() -> str:
    return "\n".join(["| key | default | meaning |", "|---|---|---|", *_rows("", EdgeConfig)])


START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def render_into(readme: str) -> str:
    """``readme`` with the table between the markers replaced by the current one."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{reference_table()}\n{END}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if len(sys.argv) > 2 and sys.argv[1] == "--write":
        path = Path(sys.argv[2])
        path.write_text(render_into(path.read_text()))
    else:
        print(reference_table())
