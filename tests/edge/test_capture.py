"""Continuous-learning capture on the real video: YOLO labels, MOT tracks, quota, atomicity, sync."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall.common.geometry import Line, Point
from footfall.common.mot import load_mot
from footfall.edge.build import CameraPipeline
from footfall.edge.capture import CaptureSink, SamplingPolicy, Spool, blur_heads
from footfall.edge.config import CaptureConfig, ModelConfig
from footfall.edge.counting import CrossingCounter
from footfall.edge.detectors import create_detector
from footfall.edge.evaluation import mot_scores
from footfall.edge.pipeline import run_camera
from footfall.edge.sources import VideoSource
from footfall.edge.store import CountStore
from footfall.edge.sync import sync_spool
from footfall.edge.tracking import create_tracker
from footfall.registry.storage import open_storage
from tests.conftest import PETS_GT, VTEST
from tests.s3_server import create_bucket, s3_server, set_s3_env
from tests.tcp_proxy import CuttableProxy


def capture_run(video: Path, spool_dir: Path, model: Path, **overrides: object) -> tuple[CaptureSink, Path]:
    cfg = CaptureConfig(dir=spool_dir, **overrides)  # type: ignore[arg-type]
    detector = create_detector(ModelConfig(path=model, input_size=480, conf_threshold=0.3))
    tracker = create_tracker("bytetrack", stitch_max_gap_frames=50)
    counter = CrossingCounter("plaza", {"x240": Line(Point(240, 0), Point(240, 360))}, ["person"])
    with CountStore(spool_dir.parent / "c.db") as store, CaptureSink(cfg, "plaza", "s1", ["person"], "test") as sink:
        run_camera(
            CameraPipeline(detector, tracker, counter, VideoSource(str(video), start_ts=1.7e9)),
            camera="plaza",
            store=store,
            session="s1",
            on_tracks=sink.offer,
        )
    return sink, spool_dir / "plaza"


# -- the sampling policy ------------------------------------------------------------------------------


def _thumb(v: int) -> np.ndarray:
    return np.full((32, 32), v, np.uint8)


def test_rate_limit_holds_over_time() -> None:
    policy = SamplingPolicy(CaptureConfig(max_per_minute=6, min_gap_s=0), "c")
    saved = sum(policy.decide(t / 10, _thumb(t % 250), ["crowd"], empty=False) is not None for t in range(6000))
    assert 60 <= saved <= 60 + policy.capacity  # 10 minutes at 6 a minute, plus the initial burst


def test_near_identical_frames_are_skipped_within_the_gap() -> None:
    policy = SamplingPolicy(CaptureConfig(max_per_minute=600, min_gap_s=5), "c")
    assert policy.decide(0.0, _thumb(100), ["crowd"], empty=False)
    assert policy.decide(1.0, _thumb(101), ["crowd"], empty=False) is None  # same scene, too soon
    assert policy.decide(1.0, _thumb(180), ["crowd"], empty=False)  # a different scene
    assert policy.decide(7.0, _thumb(181), ["crowd"], empty=False)  # same scene, after the gap


def test_random_frames_never_crowd_out_informative_ones() -> None:
    cfg = CaptureConfig(max_per_minute=6, min_gap_s=0, random_share=1.0)
    policy = SamplingPolicy(cfg, "c")
    kinds = []
    for t in range(600):  # one minute at 10 fps; an informative frame every 20 s
        informative = ["track_appeared"] if t % 200 == 0 and t else []
        r = policy.decide(t / 10, _thumb(t % 250), informative, empty=False)
        if r:
            kinds.append(r[0])
    assert kinds.count("track_appeared") == 2


def test_blur_heads_changes_only_the_head_region() -> None:
    img = np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    out = blur_heads(img, np.array([[20, 10, 60, 90]]))
    assert not np.array_equal(out[10:26, 20:60], img[10:26, 20:60])
    assert np.array_equal(out[30:, :], img[30:, :]) and np.array_equal(out[:, 61:], img[:, 61:])


# -- real video ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_capture_on_vtest_is_a_valid_yolo_set_and_mot_scores(tmp_path: Path, yolov5n_onnx: Path) -> None:
    from ultralytics.data.utils import verify_image_label

    _sink, cam = capture_run(VTEST, tmp_path / "spool", yolov5n_onnx, max_per_minute=60, background_share=1.0)
    images = sorted((cam / "images").glob("*.jpg"))
    assert 30 <= len(images) <= 80 + 10, len(images)  # 79.5 s of video at 60 a minute
    for image in images:
        label = cam / "labels" / f"{image.stem}.txt"
        rows = [r.split() for r in label.read_text().splitlines()]
        for r in rows:
            assert len(r) == 5 and r[0] == "0" and all(0 <= float(v) <= 1 for v in r[1:])
        result = verify_image_label((str(image), str(label), "", False, 1, 0, 0, False))
        assert result[0] is not None and result[8] == 0, result[-1]  # ultralytics: not corrupt
        meta = json.loads((cam / "meta" / f"{image.stem}.json").read_text())
        assert len(meta["boxes"]) == len(rows) and meta["model_version"] == "test" and meta["reasons"]
        assert all(b["class_probs"] is not None and 0 < b["confidence"] <= 1 for b in meta["boxes"])
    hyp = load_mot(cam / "tracks" / "s1.txt", only_flagged=False)
    scores = mot_scores(load_mot(PETS_GT), hyp)
    print(f"captured MOT tracks vs PETS GT: MOTA {scores.mota:.3f} IDF1 {scores.idf1:.3f}")
    assert scores.mota > 0.6 and scores.idf1 > 0.6
    assert len(Spool(tmp_path / "spool", 1e12, 1e12).items()) == len(images)


@pytest.mark.slow
def test_tiny_quota_holds_and_nothing_half_written_is_visible(
    tmp_path: Path, short_clip: Path, yolov5n_onnx: Path
) -> None:
    spool_dir = tmp_path / "spool"
    problems: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def reader() -> None:  # an annotator's sync job listing the folder while the camera writes
        while not stop.is_set():
            for image in (spool_dir / "plaza" / "images").glob("*.jpg") if (spool_dir / "plaza").exists() else []:
                label = image.parent.parent / "labels" / f"{image.stem}.txt"
                try:
                    data = image.read_bytes()
                except FileNotFoundError:
                    continue  # evicted between listing and reading: fine
                if not label.exists() and image.exists():
                    problems.append(f"{image.name} without its label")
                if cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is None:
                    problems.append(f"{image.name} half-written")
                seen.add(image.name)

    t = threading.Thread(target=reader)
    t.start()
    try:
        sink, cam = capture_run(
            short_clip,
            spool_dir,
            yolov5n_onnx,
            quota_mb=0.4,
            max_per_minute=600,
            min_gap_s=0,
            random_share=1.0,
            background_share=1.0,
        )
    finally:
        stop.set()
        t.join()
    spool = Spool(spool_dir, 0.4e6, 1e9)
    on_disk = sum(p.stat().st_size for p in cam.glob("*/*") if p.parent.name in ("images", "labels", "meta"))
    assert sink.saved > 3 * len(spool.items()), "the run saved far more than the quota holds"
    assert spool.used_bytes() <= 0.4e6 and on_disk <= 0.4e6
    assert len(list((cam / "images").glob("*.jpg"))) == len(spool.items())
    assert not problems, problems[:5]
    assert len(seen) > 10, "the reader really watched the spool churn"


@pytest.mark.slow
def test_sync_survives_a_connection_cut(tmp_path: Path, short_clip: Path, yolov5n_onnx: Path) -> None:
    spool_dir = tmp_path / "spool"
    _sink, cam = capture_run(
        short_clip, spool_dir, yolov5n_onnx, max_per_minute=600, min_gap_s=0, random_share=1.0, background_share=1.0
    )
    total = len(Spool(spool_dir, 1e12, 1e12).items())
    assert total >= 40
    with s3_server() as endpoint:
        proxy = CuttableProxy("127.0.0.1", int(endpoint.rsplit(":", 1)[1]))
        old = set_s3_env(proxy.url)
        try:
            create_bucket(endpoint, "captures-test")
            os.environ["AWS_MAX_ATTEMPTS"] = "2"
            errors: list[BaseException] = []

            def first_try() -> None:
                spool = Spool(spool_dir, 1e12, 1e12)
                try:
                    sync_spool(spool, open_storage("s3://captures-test/fleet"), "store-7", batch=5)
                except BaseException as exc:  # the cut must surface as an error, not a silent stop
                    errors.append(exc)
                finally:
                    spool.close()

            th = threading.Thread(target=first_try)
            th.start()
            while len(Spool(spool_dir, 1e12, 1e12).pending(10_000)) > total - 5 and th.is_alive():
                time.sleep(0.005)
            proxy.cut()
            th.join(120)
            left = len(Spool(spool_dir, 1e12, 1e12).pending(10_000))
            assert errors and 0 < left < total, (errors, left, total)
            proxy.restore()
            spool = Spool(spool_dir, 1e12, 1e12)
            result = sync_spool(spool, open_storage("s3://captures-test/fleet"), "store-7")
            assert result.remaining == 0 and result.uploaded == left
            keys = open_storage("s3://captures-test/fleet").list("captures/store-7/plaza/")
        finally:
            os.environ.pop("AWS_MAX_ATTEMPTS", None)
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            proxy.close()
    images = [k for k in keys if "/images/" in k]
    markers = [k for k in keys if "/done/" in k]
    assert len(images) == len(set(images)) == total and len(markers) == total
    assert any(k.endswith("/tracks/s1.txt") for k in keys)
    assert not list((cam / "images").glob("*.jpg")), "the local spool is empty after a confirmed upload"


def test_a_saved_item_carries_the_model_version_that_ran_on_its_frame(tmp_path: Path) -> None:
    """After a hot swap, captures say the new version, not the one the sink was opened with."""
    from footfall.edge.sources import Frame
    from tests.helpers import detections, tracks

    cfg = CaptureConfig(dir=tmp_path / "spool", max_per_minute=600, min_gap_s=0, similar_below=0, tracks=False)
    boxes = [[10, 10, 40, 90], [100, 10, 130, 90]]
    dets = detections(boxes, [0, 0], [[1.0], [1.0]], conf=0.3)  # borderline: informative
    trk = tracks((1, 25, 90), (2, 115, 90))
    with CaptureSink(cfg, "c", "s1", ["person"], "people:1") as sink:
        for i, version in enumerate(["people:1", "people:2"]):
            image = np.full((120, 160, 3), 40 * (i + 1), np.uint8)
            assert sink.offer(Frame(i, float(i), image), dets, trk, version)
    metas = sorted((tmp_path / "spool" / "c" / "meta").glob("*.json"))
    assert [json.loads(p.read_text())["model_version"] for p in metas] == ["people:1", "people:2"]


def test_a_crossing_in_doubt_is_captured_with_its_reasons(tmp_path: Path) -> None:
    """A frame where the counter registered a risky crossing is informative on its own (no borderline box,
    no crowd, no track appearing): it is saved, tagged ``count_risk``, and its metadata says which line,
    track and risks, for the harvest's count-aware selection."""
    from footfall.edge.sources import Frame
    from footfall.edge.types import CountMoment, CountRisk
    from tests.helpers import detections, tracks

    cfg = CaptureConfig(
        dir=tmp_path / "spool", max_per_minute=600, min_gap_s=0, similar_below=0, tracks=False, random_share=0.0
    )
    dets = detections([[10, 10, 40, 90]], [0], [[1.0]], conf=0.95)  # a sure box
    trk = tracks((1, 25, 90))
    moment = CountMoment("door", 1, (CountRisk.SHORT_TRACK, CountRisk.RECROSSED))
    with CaptureSink(cfg, "c", "s1", ["person"], "people:1") as sink:
        image = np.full((120, 160, 3), 40, np.uint8)
        assert sink.offer(Frame(0, 0.0, image), dets, trk, "people:1")  # track appeared: informative
        assert not sink.offer(Frame(1, 1.0, image + 20), dets, trk, "people:1")  # nothing new
        assert sink.offer(Frame(2, 2.0, image + 40), dets, trk, "people:1", [moment])
    meta = json.loads(sorted((tmp_path / "spool" / "c" / "meta").glob("*.json"))[-1].read_text())
    assert meta["reasons"] == ["count_risk"]
    assert meta["count_risk"] == [{"line": "door", "track_id": 1, "risks": ["short_track", "recrossed"]}]


def test_recent_tracks_reads_only_the_end_of_a_long_track_file(tmp_path: Path) -> None:
    """A camera that ran for weeks has a long track file: its newest rows are read from the end, the
    same rows a whole read gives, whatever the row lengths."""
    from footfall.edge.capture import recent_tracks, tail_lines

    tracks = tmp_path / "cam" / "tracks"
    tracks.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = [
        f"{f},{i},{x:.{d}f},{y:.2f},20.00,50.00,-1,-1,-1,-1"
        for f, i, x, y, d in zip(
            range(1, 200_001),
            rng.integers(1, 5000, 200_000),
            rng.uniform(0, 1000, 200_000),
            rng.uniform(0, 500, 200_000),
            rng.integers(0, 9, 200_000),
            strict=True,
        )
    ]
    path = tracks / "s1.txt"
    path.write_text("\n".join(rows) + "\n")
    got = recent_tracks(tmp_path, "cam", max_rows=50_000)
    whole = np.array([r.split(",")[:6] for r in rows[-50_000:]], dtype=np.float64)
    np.testing.assert_array_equal(got, whole)
    assert tail_lines(path, 3) == [r.encode() for r in rows[-3:]]
    assert len(tail_lines(path, 10**6)) == 200_000 and tail_lines(path, 0) == []
