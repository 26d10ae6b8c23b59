"""Spark for a benchmark: a session on local-cluster (or any master), or on a simulated
multi-host cluster (``--hosts H``: ``sim_cluster.py``, one executor of 1 core per host), with
the settings of the integration tests; and ending it, failed or not, with its driver JVM.

    hosts = SimHosts(3).start()                     # only for --hosts
    spark = start_spark("bench", hosts.master_url, executors=3, task_max_failures=2,
                        hosts=hosts)
    ...
    end_spark(spark, cluster); hosts.stop()
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from typing import Any

from benchlib.rounds import log


class SimHosts:
    """``hosts`` simulated hosts (see ``sim_cluster.py``), one executor slot each, the workers
    sized for ``executor_memory_mb``; ``work_parent`` is a directory all hosts see."""

    def __init__(self, hosts: int, executor_memory_mb: int = 1024) -> None:
        from sim_cluster import SimCluster

        self.hosts, self.executor_memory_mb = hosts, executor_memory_mb
        self.sim = SimCluster(hosts=hosts, cores=1, memory_mb=executor_memory_mb + 64)

    def start(self) -> SimHosts:
        log(f"starting {self.hosts} simulated hosts (private /dev/shm and /tmp each)")
        self.sim.start()
        atexit.register(self.stop)  # a run that fails before its own cleanup leaves no cluster
        return self

    @property
    def master_url(self) -> str:
        return self.sim.master_url

    @property
    def work_parent(self) -> str:
        return self.sim.shared_dir

    def stop(self) -> None:
        for item in self.sim.stop(check=False):
            log(f"simulated cluster left behind: {item}")


def start_spark(
    app: str,
    master: str | None,
    executors: int,
    task_max_failures: int,
    hosts: SimHosts | None = None,
    timeout: float = 120,
) -> Any:
    """A session with ``executors`` executors registered (waits up to ``timeout`` s)."""
    from pyspark.sql import SparkSession

    import sparktf

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    log(f"starting Spark on {master}")
    builder = (
        SparkSession.builder.appName(app)
        .config("spark.jars", sparktf.jar_path())
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "1")
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s")
        .config("spark.task.maxFailures", str(task_max_failures))
    )
    if hosts is not None:
        builder = (
            builder.config("spark.executor.cores", "1")
            .config("spark.cores.max", str(executors))
            .config("spark.executor.memory", f"{hosts.executor_memory_mb}m")
        )
    if os.environ.get("BENCH_EXECUTOR_JAVA_OPTS"):  # profiling (a flight recording, say)
        builder = builder.config(
            "spark.executor.extraJavaOptions", os.environ["BENCH_EXECUTOR_JAVA_OPTS"]
        )
    if master:
        builder = builder.master(master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    deadline = time.time() + timeout
    while spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() < executors + 1:
        if time.time() > deadline:
            raise TimeoutError(f"{executors} executors did not register within {timeout:.0f} s")
        time.sleep(0.5)
    return spark


def end_spark(spark: Any, cluster: Any) -> None:
    """After a run, failed or not: stops a cluster still up, then Spark and its driver JVM."""
    if cluster is not None:
        try:
            cluster.shutdown(timeout=60)
        except Exception as e:  # noqa: BLE001  (already failing; report and go on)
            log(f"shutdown after failure: {e}")
    if spark is not None:
        from pyspark import SparkContext

        gateway = SparkContext._gateway
        spark.stop()
        # The driver JVM exits when its stdin closes (pyspark's gateway watches it).
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            try:
                gateway.shutdown()
                if proc.stdin:
                    proc.stdin.close()
                proc.wait(timeout=30)
            except Exception as e:  # noqa: BLE001
                log(f"driver JVM did not exit by itself: {e}")
