"""Driver for tests/test_feed_scale.py, run in its own process (one SparkContext per JVM, and the
test session already has one on local-cluster[2,1,1024]): on local-cluster[E,1,MEM], more
executors than TensorFlow nodes feed two nodes, and it prints one JSON line with the report and
what each node's program counted.

    python feed_scale_driver.py EXECUTORS MEMORY_MB PARTITIONS ROWS SLEEP_PER_BATCH
"""

import json
import os
import shutil
import sys
import tempfile
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import sparktf
from sparktf import TFCluster


def count_rows(args, ctx):
    """Counts and sums the ids it is fed, sleeping per batch when asked (a slow model)."""
    import json
    import os
    import time

    feed = ctx.get_data_feed()
    rows, total = 0, 0
    while not feed.should_stop():
        batch = feed.next_batch(64)
        if not batch:
            break
        rows += len(batch["id"])
        total += int(batch["id"].sum())
        time.sleep(args["sleep"])
    with open(os.path.join(args["out"], f"{ctx.job_name}.json"), "w") as f:
        json.dump({"rows": rows, "sum": total}, f)


def main(executors, memory_mb, partitions, rows, sleep):
    scratch = tempfile.mkdtemp(prefix="sparktf-scale-")
    try:
        # A private copy: a rebuild of the jar during the test must not pull classes from under us.
        jar = shutil.copy(sparktf.jar_path(), os.path.join(scratch, "sparktf.jar"))
        spark = (
            SparkSession.builder.master(f"local-cluster[{executors},1,{memory_mb}]")
            .appName("sparktf feed scale")
            .config("spark.jars", jar)
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.pyspark.python", sys.executable)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.executor.memory", f"{memory_mb}m")
            .config("spark.task.maxFailures", "1")
            .config("spark.executor.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
            .getOrCreate()
        )
        try:
            deadline = time.time() + 300
            while spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() < executors + 1:
                assert time.time() < deadline, "executors did not register within 300 s"
                time.sleep(0.5)
            out = os.path.join(scratch, "out")
            os.mkdir(out)
            cluster = TFCluster.run(
                spark, count_rows, {"out": out, "sleep": sleep}, num_executors=2, feed_timeout=120
            )
            try:
                df = spark.range(0, rows, 1, partitions).select(
                    "id", F.array_repeat(F.col("id").cast("float"), 64).alias("x")
                )
                began = time.monotonic()
                report = cluster.train(df)
                seconds = time.monotonic() - began
            finally:
                cluster.shutdown(timeout=120)
            programs = {}
            for name in os.listdir(out):
                with open(os.path.join(out, name)) as f:
                    programs[name[: -len(".json")]] = json.load(f)
            print(
                "RESULT " + json.dumps({"report": report, "programs": programs, "seconds": seconds})
            )
        finally:
            spark.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
