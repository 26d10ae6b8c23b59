"""A/B of the cluster's console settings (progress, node_output) in ONE Spark application:
clusters with each setting alternate on the same executors (so both see the same JIT state and
machine load), each counting FEEDS feeds of the cached 200,000 rows with bench_feed's node
program. Prints one JSON object: {config: [per feed: rows/s, wall s, CPU s by process kind]}.

Run (under the lock): PYTHONPATH=python $SPARKTF_PYTHON notes/bench_s7/console_ab.py \\
    default,quiet,default,quiet,default,quiet 4
"""

import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["SPARKTF_ROOT"], "scripts"))
import bench_feed as bf  # noqa: E402
from benchlib.processes import (  # noqa: E402
    child_pids,
    cpu_by_kind,
    cpu_delta,
    cpu_total,
    end_leftovers,  # noqa: E402
)
from benchlib.rounds import log, wait_files  # noqa: E402
from benchlib.session import end_spark, start_spark  # noqa: E402

CONFIGS = {
    "default": {},
    "quiet": {"progress": False, "node_output": "none"},
    "noprogress": {"progress": False},
    "nooutput": {"node_output": "none"},
}


def feed_once(cluster, df, work: str, i: int) -> dict:
    before = cpu_by_kind()
    t0 = time.perf_counter()
    report = cluster.train(df, num_epochs=1)
    wall = time.perf_counter() - t0
    wait_files(work, f"count-{i}-*.json", 2, 600, "count")
    k = cpu_delta(before)
    return {
        "rows_per_s": round(report["rows_per_second"]),
        "wall": round(wall, 3),
        "cpu": round(cpu_total(k), 2),
        "exe": round(k["executor_jvm"] + k["executor_jvm_system"], 2),
        "node": round(k["node"] + k["node_system"], 2),
        "drv": round(k["driver"] + k["driver_system"], 2),
    }


def main() -> None:
    order, feeds = sys.argv[1].split(","), int(sys.argv[2])
    base = child_pids()
    spark = start_spark("ab", "local-cluster[2,1,2048]", executors=2, task_max_failures=2)
    from sparktf import InputMode, TFCluster

    df = spark.read.parquet("/work/bench/data200k").repartition(4).cache()
    df.count()
    out: dict[str, list] = {c: [] for c in CONFIGS}
    try:
        for name in order:
            work = tempfile.mkdtemp(prefix="ab-")
            args = {"out_dir": work, "repeats": feeds, "keras": False, "wait_timeout": 600}
            cluster = TFCluster.run(
                spark, bf.node_main, args, num_executors=2, num_ps=0,
                input_mode=InputMode.SPARK, master_node="chief", reservation_timeout=300,
                feed_timeout=600, shutdown_timeout=300, queue_capacity=16, **CONFIGS[name],
            )  # fmt: skip
            for i in range(feeds):
                out[name].append(feed_once(cluster, df, work, i))
                log(f"{name} {i}: {out[name][-1]}")
            cluster.shutdown(timeout=120)
            shutil.rmtree(work, ignore_errors=True)
    finally:
        end_spark(spark, None)
        end_leftovers(base)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
