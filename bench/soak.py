"""Memory of a camera over a long run: the real edge service on a long video, capture on, the live
view watched part of the time; resident memory (RSS and PSS) of the camera process sampled throughout.

Usage: python bench/soak.py [--frames 100000] [--baseline-frames 20000] [--json OUT]
       [--trackers bytetrack,boxmot-bytetrack] [--sharing camera|device]

With --sharing device the camera sends its pictures to the device's shared detector process (as on a
store with several cameras), whose memory is sampled and reported too.

Each tracker runs the same service on the same video (vtest.avi looped to --frames; the baseline,
boxmot's ByteTrack in the camera process as the device ran it before, on its first --baseline-frames).
Per run it prints memory after warm-up (the first 5 % of frames), at the end, the growth in % and in
bytes per frame, the peak, and the parent's memory; then the ratio of the camera's memory to the
baseline's. PSS divides shared pages (libraries) between the processes that map them, which is what
several camera processes on one device really cost; RSS counts them in full in each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import cv2
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
VIDEO = DATA / "videos" / "vtest.avi"
MODEL = ROOT / "models" / "yolov5n.onnx"
MB = 1024 * 1024


def looped_video(frames: int, out: Path) -> Path:
    """vtest.avi looped to ``frames`` frames (MPEG-4, a few hundred MB for 100,000 frames)."""
    if out.is_file() and cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT) >= frames:
        return out
    cap = cv2.VideoCapture(str(VIDEO))
    clip = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        clip.append(frame)
    h, w = clip[0].shape[:2]
    tmp = out.with_suffix(".part.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), 7.0, (w, h))
    for i in range(frames):
        writer.write(clip[i % len(clip)])
    writer.release()
    os.replace(tmp, out)
    return out


def memory(proc: psutil.Process) -> tuple[float, float]:
    """(RSS, PSS) in MB."""
    full = proc.memory_full_info()
    return full.rss / MB, getattr(full, "pss", full.rss) / MB


def watch_live(port: int, camera: str, seconds: float, stop: threading.Event) -> None:
    """Read the live MJPEG stream for ``seconds``, as an installer looking at the camera would."""
    end = time.monotonic() + seconds
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/live/{camera}.mjpg", timeout=10) as resp:
            while time.monotonic() < end and not stop.is_set():
                if not resp.read(65536):
                    break
    except OSError:
        pass


def run(tracker: str, video: Path, frames: int, work: Path, port: int, sharing: str = "camera") -> dict[str, Any]:
    cfg = {
        "cameras": [
            {"name": "soak", "source": str(video), "lines": [{"name": "x240", "points": [[240, 0], [240, 360]]}]}
        ],
        "model": {
            "path": str(MODEL),
            "classes": ["person"],
            "class_map": {"person": "person"},
            "input_size": 480,
            "sharing": sharing,
        },
        "tracker": {"name": tracker, "stitch_max_gap_frames": 50},
        "storage": {"db": str(work / f"{tracker}.db")},
        "metrics": {"port": port},
        "capture": {"enabled": True, "dir": str(work / f"spool-{tracker}"), "max_per_minute": 12},
    }
    path = work / f"{tracker}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "footfall.cli", "edge", "run", "--config", str(path), "--max-frames", str(frames)]
    cmd += ["--no-progress"]
    parent = psutil.Process(subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL).pid)
    # (t, frame, rss, pss, parent rss, shared detector rss or 0)
    samples: list[tuple[float, int, float, float, float, float]] = []
    stop = threading.Event()
    watcher: threading.Thread | None = None
    t0 = time.monotonic()
    db = work / f"{tracker}.db"
    try:
        while parent.is_running() and parent.status() != psutil.STATUS_ZOMBIE:
            detector = shared_detector(port) if sharing == "device" else None
            camera = camera_process(parent, skip=detector)
            if camera is not None and (sharing != "device" or detector is not None):
                rss, pss = memory(camera)
                n = frames_done(db)
                shared = memory(psutil.Process(detector))[0] if detector is not None else 0.0
                samples.append((time.monotonic() - t0, n, rss, pss, memory(parent)[0], shared))
                # the live view is watched for 20 s out of every 120
                if (watcher is None or not watcher.is_alive()) and int(time.monotonic() - t0) % 120 < 5:
                    watcher = threading.Thread(target=watch_live, args=(port, "soak", 20, stop), daemon=True)
                    watcher.start()
            time.sleep(2)
    finally:
        stop.set()
        if parent.is_running():
            parent.terminate()
    return summarise(tracker, frames, samples, time.monotonic() - t0)


def camera_workers(parent: psutil.Process) -> list[psutil.Process]:
    """The service's camera processes: its spawned children but multiprocessing's resource tracker."""
    try:
        return [c for c in parent.children() if "resource_tracker" not in " ".join(c.cmdline())]
    except psutil.Error:
        return []


def camera_process(parent: psutil.Process, skip: int | None = None) -> psutil.Process | None:
    """The one camera worker of the soak's service (None while it starts or restarts); ``skip``: the
    shared detector's process id."""
    workers = [w for w in camera_workers(parent) if w.pid != skip]
    return workers[0] if len(workers) == 1 else None


def shared_detector(port: int) -> int | None:
    """The process id of the service's shared detector, from its /health."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            pid = (json.load(resp).get("shared_detector") or {}).get("pid")
    except urllib.error.HTTPError as exc:  # 503 while degraded still carries the report
        pid = (json.load(exc).get("shared_detector") or {}).get("pid")
    except OSError:
        return None
    return int(pid) if pid else None


def frames_done(db: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            row = con.execute("SELECT max(next_frame) FROM sessions").fetchone()
            return int(row[0] or 0)
    except sqlite3.Error:
        return 0


def summarise(tracker: str, frames: int, samples: list, wall: float) -> dict[str, Any]:
    if len(samples) < 4:
        raise SystemExit(f"{tracker}: the service ran too briefly to measure ({len(samples)} samples)")
    warm = [s for s in samples if s[1] >= 0.05 * frames] or samples[len(samples) // 4 :]
    first, last = warm[0], samples[-1]
    span = max(last[1] - first[1], 1)
    return {
        "tracker": tracker,
        "frames": frames,
        "wall_s": round(wall, 1),
        "fps": round(frames / wall, 1),
        "rss_after_warmup_mb": round(first[2], 1),
        "rss_end_mb": round(last[2], 1),
        "rss_peak_mb": round(max(s[2] for s in samples), 1),
        "rss_growth_pct": round(100 * (last[2] - first[2]) / first[2], 2),
        "rss_growth_bytes_per_frame": round((last[2] - first[2]) * MB / span, 1),
        "pss_after_warmup_mb": round(first[3], 1),
        "pss_end_mb": round(last[3], 1),
        "parent_rss_end_mb": round(last[4], 1),
        "shared_detector_rss_after_warmup_mb": round(first[5], 1) if first[5] else None,
        "shared_detector_rss_end_mb": round(last[5], 1) if last[5] else None,
        "shared_detector_rss_growth_pct": round(100 * (last[5] - first[5]) / first[5], 2) if first[5] else None,
        "samples": len(samples),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--baseline-frames", type=int, default=20_000)
    ap.add_argument(
        "--trackers", default="bytetrack,boxmot-bytetrack", help="the first is measured, the last is the baseline"
    )
    ap.add_argument("--port", type=int, default=9188)
    ap.add_argument("--sharing", choices=["camera", "device"], default="camera")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    names = args.trackers.split(",")
    with tempfile.TemporaryDirectory(prefix="footfall-soak-") as tmp:
        work = Path(tmp)
        video = looped_video(max(args.frames, args.baseline_frames), Path(tempfile.gettempdir()) / "footfall-soak.mp4")
        results = []
        for i, name in enumerate(names):
            n = args.frames if i == 0 else args.baseline_frames
            r = run(name, video, n, work, args.port, args.sharing)
            results.append(r)
            print(
                f"{name:18s} {r['frames']:>7d} frames {r['fps']:5.1f} fps | camera RSS "
                f"{r['rss_after_warmup_mb']:.0f} → {r['rss_end_mb']:.0f} MB ({r['rss_growth_pct']:+.2f} %, "
                f"{r['rss_growth_bytes_per_frame']:+.0f} B/frame, "
                f"peak {r['rss_peak_mb']:.0f}) | PSS {r['pss_after_warmup_mb']:.0f} → {r['pss_end_mb']:.0f} MB | "
                f"parent RSS {r['parent_rss_end_mb']:.0f} MB"
                + (
                    f" | shared detector RSS {r['shared_detector_rss_after_warmup_mb']:.0f} → "
                    f"{r['shared_detector_rss_end_mb']:.0f} MB ({r['shared_detector_rss_growth_pct']:+.2f} %)"
                    if r["shared_detector_rss_end_mb"]
                    else ""
                ),
                flush=True,
            )
    if len(results) > 1:
        base = results[-1]
        for r in results[:-1]:
            print(
                f"ratio {r['tracker']} / {base['tracker']}: RSS {r['rss_end_mb'] / base['rss_end_mb']:.2f}, "
                f"PSS {r['pss_end_mb'] / base['pss_end_mb']:.2f}, growth per frame "
                f"{r['rss_growth_bytes_per_frame']:.0f} vs {base['rss_growth_bytes_per_frame']:.0f} B"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
