"""Bad configs produce errors naming the key path and the fix."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from footfall.common.config import ConfigError
from footfall.common.lines import parse_line_arg
from footfall.edge.config import load_config, validate_config
from tests.conftest import footfall_cmd

GOOD = {"cameras": [{"name": "door", "source": "v.avi", "lines": [{"name": "a", "points": [[0, 0], [0, 10]]}]}]}


def with_(path: str, value: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    node = data
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node.setdefault(k, {})
    node[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "key", "text"),
    [
        (with_("cameras.0.lines.0.points", [[1, 1], [1, 1]]), "cameras[0].lines[0].points", "distinct"),
        (with_("cameras.0.lines.0.pionts", 3), "cameras[0].lines[0].pionts", "unknown key"),
        (with_("model.conf_threshold", 1.5), "model.conf_threshold = 1.5", "less than 1"),
        (with_("model.input_size", 500), "model.input_size = 500", "multiple of 32"),
        (with_("tracker.name", "sort"), "tracker", "unknown tracker 'sort'"),
        (with_("tracker.name", "strongsort"), "tracker", "Fix: set tracker.reid_weights"),
        (with_("tracker.params", {"max_agee": 3}), "tracker", "unknown params ['max_agee']"),
        (with_("counting.uturn_window_s", 20), "counting", "Fix: raise counting.forget_after_s"),
        (with_("cameras.0.name", "front door"), "cameras[0].name = 'front door'", "pattern"),
        ({"cameras": []}, "cameras", "at least 1"),
        ({"cameras": GOOD["cameras"] * 2}, "(top level)", "repeated: ['door']"),
    ],
)
def test_errors_name_the_key(data: dict, key: str, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(data, "store.yaml")
    line = next((p for p in info.value.problems if p.startswith(key)), None)
    assert line is not None, info.value.problems
    assert text in line


def test_every_error_is_reported_at_once() -> None:
    data = with_("model.conf_threshold", 2)
    data["storage"] = {"checkpoint_every_s": 0}
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    assert len(info.value.problems) == 2


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    data = with_("storage.db", "data/x.db")
    data["model"] = {"path": "/abs/m.onnx"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.cameras[0].source == str(tmp_path / "v.avi")
    assert cfg.storage.db == tmp_path / "data" / "x.db"
    assert cfg.model.path == Path("/abs/m.onnx")


@pytest.mark.parametrize(
    ("spec", "ok"),
    [
        ("door=240,0,240,360", True),
        ("door=240,0,240,360,invert", True),
        ("door=240,0,240", False),
        ("240,0,240,360", False),
        ("door=a,b,c,d", False),
    ],
)
def test_line_argument(spec: str, ok: bool) -> None:
    if ok:
        assert parse_line_arg(spec)["points"] == [[240, 0], [240, 360]]
    else:
        with pytest.raises(ValueError, match="x1,y1,x2,y2"):
            parse_line_arg(spec)


def test_validate_config_cli_prints_every_error_and_fails(tmp_path: Path) -> None:
    bad = with_("model.conf_threshold", 2)
    bad["cameras"][0]["lines"][0]["pionts"] = 1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    proc = subprocess.run(
        footfall_cmd("edge", "run", "--config", str(path), "--validate-config"), capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert str(path) in proc.stderr
    assert "model.conf_threshold = 2" in proc.stderr
    assert "cameras[0].lines[0].pionts" in proc.stderr


def test_validate_config_cli_accepts_the_sample() -> None:
    sample = Path(__file__).resolve().parents[2] / "configs" / "sample.yaml"
    proc = subprocess.run(
        footfall_cmd("edge", "run", "--config", str(sample), "--validate-config"), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "OK (1 camera(s))" in proc.stdout


def test_the_capture_upload_url_is_relative_to_the_config_file(tmp_path: Path) -> None:
    from footfall.edge.config import load_config

    path = tmp_path / "etc" / "edge.yaml"
    path.parent.mkdir()
    path.write_text(
        "cameras: [{name: c, source: v.mp4, lines: [{name: l, points: [[0, 0], [1, 1]]}]}]\n"
        "capture: {enabled: true, sync: {url: 'file://../bucket', store: s1}}\n"
    )
    assert load_config(path).capture.sync.url == f"file://{tmp_path / 'etc' / '..' / 'bucket'}"


def test_validate_config_warns_of_a_line_people_walk_along_from_the_cameras_recent_tracks(tmp_path: Path) -> None:
    """The device's own recent tracks (the capture spool's track files; PETS's people here) say where
    people walk: a line they walk along is warned of, before and without running the detector."""
    from footfall.common.mot import load_mot
    from tests.conftest import PETS_GT, ROOT

    cfg = yaml.safe_load((ROOT / "configs" / "sample.yaml").read_text())
    cfg["cameras"][0]["source"] = str(ROOT.parent / "shared" / "data" / "videos" / "vtest.avi")
    cfg["model"]["path"] = str(ROOT / "models" / "yolov5n.onnx")
    cfg["capture"]["dir"] = str(tmp_path / "spool")
    cfg["storage"]["db"] = str(tmp_path / "f.db")
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(cfg))

    def validate() -> subprocess.CompletedProcess[str]:
        cmd = footfall_cmd("edge", "run", "--config", str(path), "--validate-config")
        return subprocess.run(cmd, capture_output=True, text=True)

    before = validate()
    assert before.returncode == 0 and "walk nearly along" not in before.stderr  # no tracks yet: nothing known
    tracks = tmp_path / "spool" / "plaza" / "tracks" / "s1.txt"
    tracks.parent.mkdir(parents=True)
    rows = load_mot(PETS_GT)
    tracks.write_text("".join(f"{int(f)},{int(i)},{x},{y},{w},{h},0.9,0,1\n" for f, i, x, y, w, h in rows))
    after = validate()
    assert after.returncode == 0, after.stderr
    assert "warning: cameras[plaza].line y200: people walk nearly along it (18° to the line)" in after.stderr
    assert "line x240" not in after.stderr and "line diag" not in after.stderr
