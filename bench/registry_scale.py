"""Registry latency with 1,000 versions: publish, list, show and fetch, on a folder and on S3 (moto server).

Usage: python bench/registry_scale.py [--versions 1000] [--backend file|s3|both]
The baseline is the same operation with 10 versions in the same run: ``list`` reads one index object,
so its time must not grow with the number of versions the way reading every metadata file would.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from footfall.registry.artefacts import Ref  # noqa: E402
from footfall.registry.core import Registry  # noqa: E402
from footfall.registry.signing import Trust, generate_keypair  # noqa: E402
from footfall.registry.storage import open_storage  # noqa: E402
from tests.s3_server import create_bucket, s3_server, set_s3_env  # noqa: E402


def _ms(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def measure(url: str, versions: int, tmp: Path) -> dict:
    if not (tmp / "registry.key").exists():
        generate_keypair(tmp / "registry.key", tmp / "registry.pub")
    reg = Registry(open_storage(url), Trust(tmp / "registry.key", tmp / "registry.pub"))  # signed, as in production
    artefact = tmp / "model.onnx"
    artefact.write_bytes(os.urandom(256 * 1024))
    publish_ms: list[float] = []
    out: dict = {"backend": url.split(":")[0], "versions": versions}
    for i in range(1, versions + 1):
        t0 = time.perf_counter()
        reg.publish("people", {"model.onnx": artefact}, {"metrics": {"map50": i / versions}})
        publish_ms.append(1000 * (time.perf_counter() - t0))
        if i == 10:
            out["list_ms_at_10"] = _ms(lambda: reg.versions("people"))
            out["fetch_ms_at_10"] = _ms(lambda: reg.fetch(Ref("people", version=5), tmp / "dest10"))
    reg.promote("people", versions // 2, "production")
    out["publish_ms_first_10"] = round(statistics.median(publish_ms[:10]), 1)
    out["publish_ms_last_10"] = round(statistics.median(publish_ms[-10:]), 1)
    out["list_ms_at_n"] = _ms(lambda: (reg.versions("people"), reg.aliases("people")))
    out["show_ms_at_n"] = _ms(lambda: reg.metadata("people", reg.resolve(Ref("people", alias="production"))))
    out["fetch_ms_at_n"] = _ms(lambda: reg.fetch(Ref("people", alias="production"), tmp / "destn"))
    out["list_growth_ratio"] = round(out["list_ms_at_n"] / max(out["list_ms_at_10"], 1e-6), 2)
    # the baseline a registry without an index would pay: read every version's metadata
    out["list_by_reading_every_metadata_ms"] = _ms(
        lambda: [reg.metadata("people", v) for v in range(1, versions + 1)], repeat=1
    )
    out["list_speedup_vs_reading_all"] = round(out["list_by_reading_every_metadata_ms"] / out["list_ms_at_n"], 1)
    for k, v in list(out.items()):
        if isinstance(v, float):
            out[k] = round(v, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", type=int, default=1000)
    ap.add_argument("--backend", choices=["file", "s3", "both"], default="both")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend in ("file", "both"):
            results.append(measure(f"file://{tmp}/registry", args.versions, Path(tmp)))
        if args.backend in ("s3", "both"):
            with s3_server() as endpoint:
                set_s3_env(endpoint)
                create_bucket(endpoint, "bench-models")
                results.append(measure("s3://bench-models/reg", args.versions, Path(tmp)))
    for r in results:
        print(
            f"{r['backend']:>4}: publish {r['publish_ms_first_10']} ms (first 10) → {r['publish_ms_last_10']} ms "
            f"(last 10); list {r['list_ms_at_10']} ms at 10 → {r['list_ms_at_n']} ms at {r['versions']} "
            f"(x{r['list_growth_ratio']}; reading every metadata instead: {r['list_by_reading_every_metadata_ms']} ms,"
            f" {r['list_speedup_vs_reading_all']}x slower); show {r['show_ms_at_n']} ms; fetch {r['fetch_ms_at_10']} → "
            f"{r['fetch_ms_at_n']} ms"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
