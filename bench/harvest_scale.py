"""Harvest selection over a million synthetic capture records: time and memory beyond the table.

Prints seconds per strategy, the ratio of `balanced` to `random` (the baseline, same run, same
table), and the peak memory the selection allocates (tracemalloc) as a share of the table's size.

    .venv/bin/python bench/harvest_scale.py [--records 1000000] [--budget 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from dataclasses import fields
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from footfall.harvest.select import Budget, Records, select


def synthetic(n: int, seed: int = 0) -> Records:
    rng = np.random.default_rng(seed)
    counts = np.zeros((n, 3), np.int32)
    counts[:, 2] = rng.integers(0, 4, n)
    counts[rng.random(n) < 0.03, 0] = 1
    counts[rng.random(n) < 0.2, 1] = 1
    return Records(
        ids=np.arange(n, dtype=np.int64),  # row ids; the string ids stay in the manifest
        store=rng.integers(0, 50, n),
        camera=rng.integers(0, 200, n),
        ts=np.sort(rng.random(n) * 86400),
        dhash=rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64),
        uncertainty=rng.random(n),
        disagreement=(rng.random(n) < 0.05).astype(np.float64),
        class_counts=counts,
        count_risk=np.where(rng.random(n) < 0.05, rng.integers(1, 4, n) / 3, 0.0),
        class_mass=counts * 0.8 + rng.random((n, 3)) * 0.2,
        layout=rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--budget", type=int, default=2000)
    args = ap.parse_args()
    records = synthetic(args.records)
    columns = [getattr(records, f.name) for f in fields(records)]
    table = sum(c.nbytes for c in columns if isinstance(c, np.ndarray))
    out: dict[str, object] = {"records": args.records, "budget": args.budget, "table_mb": round(table / 1e6, 1)}
    for strategy in ("random", "uncertainty", "diversity", "count-aware", "balanced"):
        tracemalloc.start()
        started = time.perf_counter()
        chosen = select(records, Budget(args.budget, per_camera=50), strategy)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[strategy] = {
            "seconds": round(seconds, 2),
            "chosen": len(chosen.index),
            "peak_alloc_mb": round(peak / 1e6, 1),
            "peak_over_table": round(peak / table, 2),
        }
    out["balanced_over_random_time"] = round(out["balanced"]["seconds"] / max(out["random"]["seconds"], 1e-9), 2)  # type: ignore[index]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
