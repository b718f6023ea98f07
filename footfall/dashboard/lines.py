"""Saving counting lines drawn on the live page into the device's YAML config.

The file is edited in place (comments, order and the other sections stay as written), the result is
validated like any config before it replaces the old one, and the replacement is atomic. A save based
on an older version of the file than the one on disk is refused (``StaleConfig``) instead of
overwriting someone else's change.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from footfall.common.config import ConfigError
from footfall.common.files import write_atomic
from footfall.edge.config import EdgeConfig, validate_config


class StaleConfig(RuntimeError):
    """The file changed since the client read it."""


def config_version(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _flow(points: Any) -> CommentedSeq:
    seq = CommentedSeq([CommentedSeq([_num(x), _num(y)]) for x, y in points])
    for p in seq:
        p.fa.set_flow_style()
    seq.fa.set_flow_style()
    return seq


def _num(v: float) -> float | int:
    v = round(float(v), 2)
    return int(v) if v.is_integer() else v


def save_lines(
    path: Path,
    camera: str,
    lines: list[dict[str, Any]],
    expected_version: str,
    frame_size: tuple[int, int] | None = None,
) -> EdgeConfig:
    """Replace ``camera``'s lines in the config file at ``path``; return the validated new config.

    ``frame_size``, the [width, height] of the picture they were drawn on, is written beside them:
    a camera that later sends another resolution has its frames scaled back to it.

    Lines whose name already exists keep their comments; others are added, missing ones removed.
    Raises ``ConfigError`` (naming the key) when the result is not a valid config, ``KeyError`` for an
    unknown camera and ``StaleConfig`` when ``expected_version`` no longer matches the file. The file
    and its ``.bak`` keep the config's mode and owner (it holds the dashboard token and camera passwords).
    """
    path = Path(path)
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 120
    rt.indent(mapping=2, sequence=4, offset=2)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = path.read_text()
        if config_version(path) != expected_version:
            raise StaleConfig(f"{path} changed since it was read; reload the page and draw again")
        doc = rt.load(text)
        cams = doc.get("cameras") if isinstance(doc, dict) else None
        cam = next((c for c in cams or [] if isinstance(c, dict) and c.get("name") == camera), None)
        if cam is None:
            raise KeyError(camera)
        old = {ln.get("name"): ln for ln in cam.get("lines") or [] if isinstance(ln, dict)}
        new = CommentedSeq()
        for line in lines:
            entry = old.get(line.get("name")) or CommentedMap()
            entry["name"] = line.get("name")
            entry["points"] = _flow(line.get("points") or [])
            if line.get("invert"):
                entry["invert"] = True
            elif "invert" in entry:
                del entry["invert"]
            new.append(entry)
        cam["lines"] = new
        if frame_size is not None:
            size = CommentedSeq([int(frame_size[0]), int(frame_size[1])])
            size.fa.set_flow_style()
            cam["frame_size"] = size
        buf = io.StringIO()
        rt.dump(doc, buf)
        out = buf.getvalue()
        cfg = validate_config(yaml.safe_load(out), str(path), path.resolve().parent)
        # the previous version, for an undo by hand, then the new one
        write_atomic(path.with_name(path.name + ".bak"), text.encode(), like=path)
        write_atomic(path, out.encode(), like=path)
        return cfg


__all__ = ["ConfigError", "StaleConfig", "config_version", "save_lines"]
