"""Driver for tests/test_gpu_binding.py, run in its own process (one SparkContext per JVM, and
the test session already has one): on local-cluster[2,1,1024] whose workers "have" GPUs 0,1 and
2,3 (a fake discovery script), each executor gets one GPU and runs under a CUDA_VISIBLE_DEVICES of
"6,7,8,9". Starts three small clusters (chief+worker; ps+chief; ps+chief with ps_gpus) and
prints one JSON line with what each node saw.

    python gpu_binding_driver.py DISCOVERY_SCRIPT OUT_DIR
"""

import json
import os
import shutil
import sys
import tempfile
import time

import psutil
from pyspark import TaskContext
from pyspark.sql import SparkSession

import sparktf
from sparktf import InputMode, TFCluster

EXECUTOR_VISIBLE_DEVICES = "6,7,8,9"


def record_gpus(args, ctx):
    import os

    path = os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.json")
    with open(path, "w") as fh:
        json.dump(
            {
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "executor_pid": os.getppid(),
            },
            fh,
        )


def executor_pid():
    """The executor JVM above this Python worker (pyspark's daemon sits in between)."""
    proc = psutil.Process()
    while proc is not None:
        if "org.apache.spark.executor.CoarseGrainedExecutorBackend" in proc.cmdline():
            return proc.pid
        proc = proc.parent()
    raise RuntimeError("no executor JVM above this Python worker")


def task_gpus(_):
    return [(executor_pid(), list(TaskContext.get().resources()["gpu"].addresses))]


def run_cluster(spark, out_root, name, **kwargs):
    out = os.path.join(out_root, name)
    os.makedirs(out)
    cluster = TFCluster.run(
        spark,
        record_gpus,
        {"out": out},
        num_executors=2,
        input_mode=InputMode.SPARK,
        master_node="chief",
        reservation_timeout=120,
        shutdown_timeout=60,
        **kwargs,
    )
    nodes = cluster.nodes
    cluster.shutdown()  # waits for the programs: every file is written
    for n in nodes:
        with open(os.path.join(out, n["role"].replace(":", "-") + ".json")) as fh:
            n["seen"] = json.load(fh)
    return nodes


def main(discovery_script, out_root):
    # A private copy: a rebuild of the jar during the test must not pull classes from under us.
    scratch = tempfile.mkdtemp(prefix="sparktf-jar-")
    jar = os.path.join(scratch, "sparktf.jar")
    shutil.copyfile(sparktf.jar_path(), jar)
    spark = (
        SparkSession.builder.master("local-cluster[2,1,1024]")
        .appName("sparktf GPU binding test")
        .config("spark.jars", jar)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.worker.resource.gpu.amount", "2")
        .config("spark.worker.resource.gpu.discoveryScript", discovery_script)
        .config("spark.executor.resource.gpu.amount", "1")
        .config("spark.task.resource.gpu.amount", "1")
        .config("spark.executorEnv.CUDA_VISIBLE_DEVICES", EXECUTOR_VISIBLE_DEVICES)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.task.maxFailures", "1")
        .getOrCreate()
    )
    try:
        deadline = time.monotonic() + 120
        while spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() < 3:
            if time.monotonic() > deadline:
                raise RuntimeError("two executors did not register within 120 s")
            time.sleep(0.5)
        # What Spark gives any task on each executor: each owns one GPU, so its tasks get that one.
        owned = {}
        for pid, addresses in (
            spark.sparkContext.parallelize(range(8), 8).flatMap(task_gpus).collect()
        ):
            owned.setdefault(str(pid), set()).add(tuple(addresses))
        result = {
            "executor_visible_devices": EXECUTOR_VISIBLE_DEVICES,
            "executor_gpus": {pid: sorted(map(list, a)) for pid, a in owned.items()},
            "workers": run_cluster(spark, out_root, "workers"),
            "ps": run_cluster(spark, out_root, "ps", num_ps=1),
            "ps_gpus": run_cluster(spark, out_root, "ps_gpus", num_ps=1, ps_gpus=True),
        }
    finally:
        spark.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
