"""Rounds of timed runs: progress lines, run names, best/median/cold summaries, and the JSON
files a benchmark's node programs write for the driver.

    set_bench("bench_feed")
    log("starting")                      # [bench_feed 12:00:00] starting  (on stderr)
    summary([{"seconds": 2.0, "rows_per_s": 5e4}, {"seconds": 1.0, "rows_per_s": 1e5}], 1)
"""

from __future__ import annotations

import glob
import json
import os
import statistics
import sys
import time
from typing import Any

_bench = "bench"


def set_bench(name: str) -> None:
    """Names the benchmark in every progress line."""
    global _bench
    _bench = name


def log(msg: str) -> None:
    print(f"[{_bench} {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_name(run: int, warmups: int) -> str:
    return f"warm-up {run}" if run < warmups else str(run - warmups)


def median_rows_per_s(runs: list[dict[str, Any]]) -> float:
    # The median as well as the best: on a shared machine one lucky or unlucky run says little.
    return round(statistics.median(r["rows_per_s"] for r in runs), 1)


def summary(runs: list[dict[str, Any]], warmups: int) -> dict[str, Any]:
    """Best of the timed runs (all listed), their median, the warm-up runs apart, and the first
    (cold) run of all."""
    warm_runs, timed_runs = runs[:warmups], runs[warmups:]
    best = min(timed_runs, key=lambda r: r["seconds"])
    return {
        "rows_per_s": best["rows_per_s"],
        "seconds": best["seconds"],
        "median_rows_per_s": median_rows_per_s(timed_runs),
        "runs": timed_runs,
        "warmup_runs": warm_runs,
        "cold_rows_per_s": runs[0]["rows_per_s"],
    }


def wait_files(out_dir: str, pattern: str, count: int, timeout: float, what: str) -> list[dict]:
    """The JSON files matching ``pattern`` in ``out_dir`` once ``count`` of them exist."""
    deadline = time.time() + timeout
    while True:
        paths = sorted(glob.glob(os.path.join(out_dir, pattern)))
        if len(paths) >= count:
            result = []
            for p in paths:
                with open(p) as f:
                    result.append(json.load(f))
            return result
        if time.time() > deadline:
            raise TimeoutError(f"{what}: {len(paths)}/{count} nodes reported within {timeout} s")
        time.sleep(0.2)
