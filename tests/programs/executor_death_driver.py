"""Driver for tests/test_executor_death.py, run in its own process (one SparkContext per JVM, and
the test session already has one): on a standalone cluster, starts two nodes, SIGKILLs the
executor JVM of worker:0 mid-feed, and prints one JSON line with what happened.

    python executor_death_driver.py spark://127.0.0.1:PORT WORKER_PID [WORKER_PID ...]

Only executor JVMs that are children of the given Worker PIDs (which the test started) are
candidates for the kill.
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

import psutil
from pyspark.sql import SparkSession

import sparktf
from sparktf import InputMode, TFCluster
from sparktf.cluster import SparkTFError


def read_until_stopped(args, ctx):
    feed = ctx.get_data_feed()
    while not feed.should_stop():
        feed.next_batch(16)
        # Tells the driver that this node has taken data, so the kill lands mid-feed.
        with open(f"{args['fed_marker']}.{ctx.job_name}", "w"):
            pass


def running(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def executor_pid(worker_pids, executor_id):
    for worker in worker_pids:
        for child in psutil.Process(worker).children(recursive=True):
            try:
                cmd = child.cmdline()
            except psutil.NoSuchProcess:  # also a zombie: an executor that already ended
                continue
            if (
                "org.apache.spark.executor.CoarseGrainedExecutorBackend" in cmd
                and cmd[cmd.index("--executor-id") + 1] == executor_id
            ):
                return child.pid
    raise RuntimeError(f"no executor JVM with id {executor_id} under workers {worker_pids}")


def main(master, worker_pids):
    result = {}
    # A private copy: a rebuild of the jar during the test must not pull classes from under us.
    scratch = tempfile.mkdtemp(prefix="sparktf-death-")
    jar = os.path.join(scratch, "sparktf.jar")
    shutil.copyfile(sparktf.jar_path(), jar)
    spark = (
        SparkSession.builder.master(master)
        .appName("sparktf executor death test")
        .config("spark.jars", jar)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.executor.cores", "1")
        .config("spark.cores.max", "2")
        .config("spark.executor.memory", "512m")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.task.maxFailures", "2")
        .getOrCreate()
    )
    try:
        # Case e on a cluster that could grow: the reservation waits, then names what it found.
        started = time.monotonic()
        try:
            TFCluster.run(spark, read_until_stopped, {}, num_executors=3, reservation_timeout=5)
            result["too_many_error"] = None
        except SparkTFError as e:
            result["too_many_error"] = str(e)
        result["too_many_seconds"] = time.monotonic() - started

        marker = os.path.join(scratch, "fed")
        cluster = TFCluster.run(
            spark,
            read_until_stopped,
            {"fed_marker": marker},
            num_executors=2,
            input_mode=InputMode.SPARK,
            master_node="chief",
            reservation_timeout=120,
            feed_timeout=60,
            shutdown_timeout=30,
        )
        seq = cluster._java_obj.nodes()
        nodes = [seq.apply(i) for i in range(seq.size())]
        result["node_pids"] = [n.pid() for n in nodes]
        victim = next(n for n in nodes if n.role().address() == "worker:0")
        victim_node = result["victim_node_pid"] = victim.pid()
        victim_executor = executor_pid(worker_pids, victim.executorId())
        # The node runs in its working directory (bootstrap with the cluster secret, program).
        victim_dir = psutil.Process(victim_node).cwd()
        killed_at = []

        def kill_when_fed():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not os.path.exists(f"{marker}.worker"):
                time.sleep(0.05)
            killed_at.append(time.monotonic())
            os.kill(victim_executor, signal.SIGKILL)
            # The orphaned node polls its parent every second: it must be gone soon after.
            while time.monotonic() - killed_at[0] < 20:
                if not running(victim_node):
                    result["victim_node_exit_seconds"] = time.monotonic() - killed_at[0]
                    result["victim_dir_left"] = os.path.exists(victim_dir)
                    return
                time.sleep(0.1)
            result["victim_node_exit_seconds"] = None

        watcher = threading.Thread(target=kill_when_fed, daemon=True)
        watcher.start()
        df = spark.range(0, 200000, numPartitions=4).selectExpr("cast(id as double) as x")
        try:
            cluster.train(df, num_epochs=1000)
            result["error"] = None
        except SparkTFError as e:
            result["error"] = str(e)
        result["seconds_to_error"] = time.monotonic() - killed_at[0] if killed_at else None
        watcher.join(25)
        cluster.shutdown(timeout=10)
    finally:
        spark.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], [int(p) for p in sys.argv[2:]])
