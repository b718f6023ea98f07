"""Configuration plumbing shared by every part: the section base model, YAML loading, and errors that
name the file, the key path, the value and the fix.

Config models do no I/O; these helpers read the file and turn pydantic's errors into one line each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"  # no leading dot: "." and ".." become paths


class Section(BaseModel):
    """Base of every config section: unknown keys are errors (typos fail), values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def repeated(names: list[str]) -> list[str]:
    """The names that occur more than once, sorted (for a "must be unique" error)."""
    return sorted({n for n in names if names.count(n) > 1})


class ConfigError(ValueError):
    """Every problem of a config file, one line each: file, key path, value, message."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} error(s)\n" + "\n".join(f"  {p}" for p in problems))


def key_path(loc: tuple[int | str, ...]) -> str:
    """``cameras[0].lines[1].points`` for pydantic's ``("cameras", 0, "lines", 1, "points")``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _lookup(data: Any, loc: tuple[int | str, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def validation_problems(exc: ValidationError, data: Any, prefix: tuple[str, ...] = ()) -> list[str]:
    """One line per pydantic error: key path, the offending value, the message and the fix."""
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (typo?). Fix: remove it or check the configuration reference in docs/installer.md"
        value = _lookup(data, loc)
        shown = f" = {value!r}" if value is not None and not isinstance(value, (dict, list)) else ""
        problems.append(f"{key_path((*prefix, *loc))}{shown}: {msg}")
    return problems


def read_yaml(path: Path) -> Any:
    """The parsed file; ``ConfigError`` if it cannot be read or is not YAML."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from None


M = TypeVar("M", bound=BaseModel)


def load_section(
    path: Path,
    section: str,
    model: type[M],
    *,
    whole_file_ok: bool = False,
    overrides: dict[str, Any] | None = None,
    only: tuple[str, ...] | None = None,
) -> M:
    """Validate the ``section:`` mapping of a YAML file (or the whole file, if ``whole_file_ok`` and the
    section is absent) as ``model``; every problem is reported with its key path. ``only`` validates just
    those keys of the section (the others belong to another part, which checks them)."""
    doc = read_yaml(path) or {}
    if not isinstance(doc, dict) or (section not in doc and not whole_file_ok):
        raise ConfigError(str(path), [f"(top level): expected a '{section}:' section"])
    prefix: tuple[str, ...] = (section,) if section in doc else ()
    data = doc[section] if prefix else doc
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"{section}: expected a mapping"])
    data = {**data, **(overrides or {})}
    if only is not None:
        data = {k: v for k, v in data.items() if k in only}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc, data, prefix)) from None


def resolve_path(p: Path, base: Path) -> Path:
    """``p`` as written in a config file in folder ``base``."""
    return p if p.is_absolute() else base / p


def file_url_path(url: str) -> Path | None:
    """The path of a ``file://`` URL as written: ``file:///srv/reg`` is absolute, ``file://runs/reg`` is
    relative (never the host ``runs``, which would put it at ``/reg``); None for other URLs."""
    if not url.startswith("file://"):
        return None
    rest = url.removeprefix("file://")
    return Path("/" + rest.removeprefix("localhost/")) if rest.startswith("localhost/") else Path(rest)


def resolve_file_url(url: str, base: Path) -> str:
    """A ``file://`` URL with a relative path made absolute against ``base`` (the folder of the config
    file it is written in, or the working directory on the command line); other URLs unchanged."""
    path = file_url_path(url)
    if path is None or path.is_absolute():
        return url
    return f"file://{(base / path).absolute()}"
