"""More executors than TensorFlow nodes: tasks on executors without a node feed one node each
(not every node), every node takes exactly its share, and a node takes any number of streams at
once, so a program slower than the feed holds the tasks back instead of failing them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "programs", "feed_scale_driver.py")


def run_driver(spark_env, tmp_path, *args) -> dict:
    env = dict(
        spark_env,
        PYTHONPATH=os.pathsep.join(
            [os.path.join(os.path.dirname(HERE), "python"), spark_env.get("PYTHONPATH", "")]
        ),
    )
    proc = subprocess.run(
        [sys.executable, DRIVER, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    (tmp_path / "driver.log").write_text(proc.stdout + proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"driver exited with {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    return json.loads(lines[-1][len("RESULT ") :])


def check_exact(result: dict, rows: int) -> None:
    half = rows // 2
    assert result["report"]["rows_per_node"] == {"chief:0": half, "worker:0": half}
    programs = result["programs"]
    assert {n: p["rows"] for n, p in programs.items()} == {"chief": half, "worker": half}
    # Every id exactly once: the sums add up to the sum of all ids.
    assert sum(p["sum"] for p in programs.values()) == rows * (rows - 1) // 2


@pytest.mark.timeout(600)
def test_ten_executors_feed_two_nodes_exactly_once(spark_env, tmp_path):
    result = run_driver(spark_env, tmp_path, 10, 1024, 40, 20000, 0.0)
    print(f"10 executors, 2 nodes: 20,000 rows in {result['seconds']:.1f} s")
    check_exact(result, 20000)


@pytest.mark.timeout(600)
def test_twelve_executors_feed_two_nodes_slower_than_the_feed(spark_env, tmp_path):
    # Ten tasks at once on executors without a node: with a stream per node per task and a cap
    # of 8 streams a node, this failed with RESOURCE_EXHAUSTED.
    result = run_driver(spark_env, tmp_path, 12, 768, 24, 4800, 0.02)
    print(f"12 executors, 2 slow nodes: 4,800 rows in {result['seconds']:.1f} s")
    check_exact(result, 4800)
