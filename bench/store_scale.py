"""A store's cameras on one device: 1, 2, 4 and 8 live H.264 RTSP streams into one `footfall edge run`.

Usage: python bench/store_scale.py [--cameras 1,2,4,8] [--fps 12] [--seconds 30] [--warmup 15] [--json OUT]

Every camera is its own real-time RTSP stream from a real GStreamer RTSP server (tests/rtsp_server.py)
playing vtest.avi (PETS, a busy plaza) in a loop. Two designs run in the same session, on the same streams:

  footfall   the device as it is: NumPy ByteTrack (no torch in a camera process), idle detector rate,
             one shared detector process for two or more cameras (model.sharing: auto);
  own        the same, but each camera process with its own copy of the detector (model.sharing: camera);
  nostill    footfall without the stillness check of an empty scene (idle.still_every_s: 0);
  int8       footfall with the INT8 model `footfall edge quantize` writes (calibrated on 40 PETS frames);
  before     the design before issue #22: boxmot's ByteTrack in each camera process (torch loaded),
             the detector on every frame, each camera its own detector.

Per design and camera count it prints per-camera frames per second delivered (counted, not dropped),
end-to-end latency (frame read → counted; p50/p95 from /health), CPU (% of one core) and memory (RSS,
PSS) per camera — the camera processes plus the shared detector's process, divided by the cameras —
and the RTSP server's own CPU (it shares the two cores). Then the empty-scene cost: one camera on an
empty indoor scene against the same camera on the busy one, CPU per camera, for each design.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from soak import camera_workers, memory  # noqa: E402

from tests.helpers import free_port  # noqa: E402
from tests.rtsp import RtspServer, write_clip  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
BUSY = DATA / "videos" / "vtest.avi"
EMPTY = DATA / "videos" / "one-by-one-person-detection.mp4"  # frames 0–62: nobody in the room
MODEL = ROOT / "models" / "yolov5n.onnx"
DESIGNS: dict[str, dict[str, Any]] = {
    "footfall": {"tracker": {"name": "bytetrack", "stitch_max_gap_frames": 50}},
    "own": {"tracker": {"name": "bytetrack", "stitch_max_gap_frames": 50}, "model": {"sharing": "camera"}},
    "nostill": {"tracker": {"name": "bytetrack", "stitch_max_gap_frames": 50}, "idle": {"still_every_s": 0}},
    "int8": {"tracker": {"name": "bytetrack", "stitch_max_gap_frames": 50}},  # + the INT8 model (main)
    "before": {
        "tracker": {"name": "boxmot-bytetrack", "stitch_max_gap_frames": 50},
        "idle": {"detect_every_s": 0},
        "model": {"sharing": "camera"},
    },
}


def health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
        return json.load(resp)


def run(
    design: str, urls: list[str], work: Path, warmup: float, seconds: float, server: psutil.Process, model: Path
) -> dict:
    port = free_port()
    design_cfg = dict(DESIGNS[design])
    model_cfg = {"path": str(model), "classes": ["person"], "class_map": {"person": "person"}, "input_size": 480}
    cfg = {
        "cameras": [
            {"name": f"cam{i}", "source": url, "lines": [{"name": "x240", "points": [[240, 0], [240, 360]]}]}
            for i, url in enumerate(urls)
        ],
        "model": model_cfg | design_cfg.pop("model", {}),
        "storage": {"db": str(work / f"{design}-{len(urls)}.db")},
        "metrics": {"port": port},
        **design_cfg,
    }
    path = work / f"{design}-{len(urls)}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "footfall.cli", "edge", "run", "--config", str(path), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 120
        while True:  # every camera delivering
            try:
                cams = health(port)["cameras"]
                if len(cams) == len(urls) and all(c["frames"] > 0 for c in cams.values()):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{design}: cameras did not start")
            time.sleep(1)
        time.sleep(warmup)
        workers = camera_workers(parent)  # the cameras and the shared detector, when there is one
        shared = health(port).get("shared_detector")
        cpu0 = {w.pid: sum(w.cpu_times()[:2]) for w in workers}
        server0 = sum(server.cpu_times()[:2])
        h0, t0 = health(port)["cameras"], time.monotonic()
        time.sleep(seconds)
        h1, dt = health(port)["cameras"], time.monotonic() - t0
        cpu = [100 * (sum(w.cpu_times()[:2]) - cpu0[w.pid]) / dt for w in workers]
        mem = [memory(w) for w in workers]  # (RSS, PSS) in MB
        detector = [i for i, w in enumerate(workers) if shared and w.pid == shared["pid"]]
        server_cpu = 100 * (sum(server.cpu_times()[:2]) - server0) / dt
    finally:
        proc.terminate()
        proc.wait(60)
    fps = [(h1[c]["frames"] - h0[c]["frames"]) / dt for c in h1]
    lat = [h1[c]["latency_ms"] for c in h1 if h1[c]["latency_ms"]]
    return {
        "design": design,
        "cameras": len(urls),
        "fps_per_camera_min": round(min(fps), 1),
        "fps_per_camera_mean": round(statistics.mean(fps), 1),
        "latency_p50_ms": round(statistics.median(x["p50"] for x in lat), 1) if lat else None,
        "latency_p95_ms": round(max(x["p95"] for x in lat), 1) if lat else None,
        "cpu_pct_per_camera": round(sum(cpu) / len(urls), 1),
        "rss_mb_per_camera": round(sum(rss for rss, _ in mem) / len(urls), 1),
        "pss_mb_per_camera": round(sum(pss for _, pss in mem) / len(urls), 1),
        "shared_detector": {"cpu_pct": round(cpu[detector[0]], 1), "rss_mb": round(mem[detector[0]][0], 1)}
        if detector
        else None,
        "detector_share": round(statistics.mean(h1[c]["detector_share"] for c in h1), 3),
        "server_cpu_pct": round(server_cpu, 1),
    }


def line(r: dict) -> str:
    return (
        f"{r['design']:9s} {r['cameras']} cam | fps/cam {r['fps_per_camera_mean']:5.1f} "
        f"(min {r['fps_per_camera_min']:5.1f}) | latency p50 {r['latency_p50_ms']} ms p95 {r['latency_p95_ms']} ms"
        f" | CPU/cam {r['cpu_pct_per_camera']:5.1f} %"
        f" | RSS/cam {r['rss_mb_per_camera']:5.0f} MB PSS/cam {r['pss_mb_per_camera']:5.0f} MB"
        f" | detector on {100 * r['detector_share']:.0f} % of frames | RTSP server CPU {r['server_cpu_pct']:.0f} %"
        + (
            f" | shared detector CPU {r['shared_detector']['cpu_pct']:.0f} %"
            f" RSS {r['shared_detector']['rss_mb']:.0f} MB"
            if r["shared_detector"]
            else ""
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", default="1,2,4,8")
    ap.add_argument("--fps", type=int, default=12, help="frame rate of every stream")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--designs", default="footfall,own,int8,before", help="the last is the baseline of the ratios")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    counts = [int(n) for n in args.cameras.split(",")]
    designs = args.designs.split(",")
    results = []
    with tempfile.TemporaryDirectory(prefix="footfall-scale-") as tmp:
        work = Path(tmp)
        busy = write_clip(BUSY, work, 0, 300)
        models = {d: MODEL for d in designs}
        if "int8" in designs:
            from footfall.edge.detectors.quantize import calibration_frames, quantize_int8

            frames = calibration_frames(BUSY, 40)
            models["int8"] = quantize_int8(MODEL, work / "int8.onnx", frames, input_size=480)
        empty = write_clip(EMPTY, work, 0, 60, (480, 360))  # the busy clip's size: the same decode work
        mounts = {f"cam{i}": [busy] for i in range(max(counts))} | {"empty": [empty]}
        with RtspServer(work, mounts, fps=args.fps) as server:
            assert server.proc is not None
            srv = psutil.Process(server.proc.pid)
            for n in counts:
                for design in designs:
                    urls = [server.url(f"cam{i}") for i in range(n)]
                    r = run(design, urls, work, args.warmup, args.seconds, srv, models[design])
                    results.append(r)
                    print(line(r), flush=True)
                by = {r["design"]: r for r in results if r["cameras"] == n}
                base = by[designs[-1]]
                for d in designs[:-1]:
                    fps, cpu, rss = (
                        by[d][k] / base[k] for k in ("fps_per_camera_mean", "cpu_pct_per_camera", "rss_mb_per_camera")
                    )
                    print(f"  ratio {d}/{designs[-1]} at {n} cameras: fps {fps:.2f}, CPU {cpu:.2f}, RSS {rss:.2f}")
            for design in designs:
                e = run(design, [server.url("empty")], work, args.warmup, args.seconds, srv, models[design])
                e["scene"] = "empty"
                results.append(e)
                print(line(e) + " [empty scene]", flush=True)
                busy1 = [r for r in results if r["design"] == design and r["cameras"] == 1 and "scene" not in r]
                if busy1:
                    ratio = e["cpu_pct_per_camera"] / busy1[0]["cpu_pct_per_camera"]
                    print(f"  empty / busy CPU per camera ({design}): {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
