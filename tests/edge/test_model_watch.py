"""Hot swap of the model between frames; a bad release is refused and the running model kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from footfall.common.geometry import Line, Point
from footfall.edge.build import CameraPipeline
from footfall.edge.config import ModelConfig
from footfall.edge.counting import CrossingCounter
from footfall.edge.detectors import ModelFileError, create_detector
from footfall.edge.model_watch import ModelWatcher
from footfall.edge.pipeline import run_camera
from footfall.edge.sources import VideoSource
from footfall.edge.store import CountStore
from footfall.edge.tracking import create_tracker
from footfall.registry.artefacts import Ref
from footfall.registry.core import Registry
from footfall.registry.signing import Trust
from footfall.registry.storage import FileStorage


@pytest.fixture
def device(tmp_path: Path, yolov5n_onnx: Path, trust: Trust) -> tuple[Registry, Path]:
    reg = Registry(FileStorage(tmp_path / "registry"), trust)
    for _ in range(2):
        reg.publish("people", {"model.onnx": yolov5n_onnx})
    truncated = tmp_path / "broken.onnx"
    truncated.write_bytes(yolov5n_onnx.read_bytes()[:50_000])
    reg.publish("people", {"model.onnx": truncated})  # a bad release: the registry stores bytes, not judgement
    dest = tmp_path / "device" / "models"
    reg.fetch(Ref("people", version=1), dest)
    return reg, dest


def test_swap_refuse_and_keep(device: tuple[Registry, Path]) -> None:
    reg, dest = device
    cfg = ModelConfig(path=dest / "current" / "model.onnx")
    first = create_detector(cfg)
    assert first.model_version == "people:1"
    watcher = ModelWatcher(cfg, first, check_every_s=0)
    assert watcher.poll() is None  # nothing changed
    reg.fetch(Ref("people", version=2), dest)
    second = watcher.poll()
    assert second is not None and second.model_version == "people:2"
    reg.fetch(Ref("people", version=3), dest)  # the truncated ONNX
    assert watcher.poll() is None and watcher.refusals == 1
    assert watcher.current.model_version == "people:2"
    assert watcher.poll() is None and watcher.refusals == 1, "a refused file is not retried until it changes"


def test_tampered_file_is_refused_at_start(device: tuple[Registry, Path]) -> None:
    _, dest = device
    model = dest / "v1" / "model.onnx"
    data = bytearray(model.read_bytes())
    data[-10] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="has sha256"):
        create_detector(ModelConfig(path=dest / "current" / "model.onnx"))


@pytest.mark.slow
def test_swap_mid_run_loses_no_count(device: tuple[Registry, Path], short_clip: Path, tmp_path: Path) -> None:
    reg, dest = device
    cfg = ModelConfig(path=dest / "current" / "model.onnx", input_size=480)
    lines = {"x240": Line(Point(240, 0), Point(240, 360)), "y200": Line(Point(0, 200), Point(480, 200))}

    def run(db: str, swap_at: int | None) -> list[tuple]:
        reg.fetch(Ref("people", version=1), dest)
        detector = create_detector(cfg)
        watcher = ModelWatcher(cfg, detector, check_every_s=0)
        seen = {"n": 0}

        def reload() -> object:
            seen["n"] += 1
            if seen["n"] == swap_at:
                reg.fetch(Ref("people", version=2), dest)
            return watcher.poll()

        with CountStore(tmp_path / db) as store:
            run_camera(
                CameraPipeline(
                    detector,
                    create_tracker("bytetrack"),
                    CrossingCounter("c", lines, ["person"]),
                    VideoSource(str(short_clip), start_ts=0.0),
                ),
                camera="c",
                store=store,
                session="s",
                reload_detector=reload,
            )  # type: ignore[arg-type]
            assert (watcher.swaps, watcher.current.model_version) == ((1, "people:2") if swap_at else (0, "people:1"))
            return [e[2:] for e in store.events("s")]

    plain = run("a.db", None)
    swapped = run("b.db", 150)
    assert len(plain) >= 3
    assert swapped == plain, "the same weights swapped in between frames count exactly the same"
    os.sync()
