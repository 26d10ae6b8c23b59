"""Integration fixtures: a real local-cluster (separate executor JVMs), the sparktf jar, and a
check after every test that no node process it started is left running."""

from __future__ import annotations

import glob
import os
import sys
import time
from typing import Any, Iterator

import psutil
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))

import sparktf  # noqa: E402


def node_pids() -> set[int]:
    """PIDs of the sparktf node processes this test session started: descendants of this
    process (local-cluster executors and spark-submit children are), never anyone else's."""
    pids = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "sparktf.node" in p.cmdline():
                pids.add(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return pids


@pytest.fixture(autouse=True)
def no_leftover_nodes() -> Iterator[None]:
    """Fails a test that leaves a node behind, after killing the nodes it started (only those:
    processes that appeared during the test), or a node's shared-memory directory (model
    servers keep theirs for the Spark session, so those are not counted)."""
    before = node_pids()
    shared_before = node_shared_dirs()
    yield
    deadline = time.time() + 30
    left = node_pids() - before
    while left and time.time() < deadline:
        time.sleep(0.5)
        left = node_pids() - before
    for pid in left:
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            pass
    assert not left, f"node processes left running after the test: {sorted(left)}"
    deadline = time.time() + 10  # an executor removes the dir as its node's exit is noticed
    stale = node_shared_dirs() - shared_before
    while stale and time.time() < deadline:
        time.sleep(0.2)
        stale = node_shared_dirs() - shared_before
    assert not stale, f"node shared-memory directories left after the test: {sorted(stale)}"


def node_shared_dirs() -> set[str]:
    return {d for d in glob.glob("/dev/shm/sparktf-*") if not d.startswith("/dev/shm/sparktf-model-")}


def executor_logs(spark: Any) -> list[str]:
    """Paths of the stdout/stderr files of this application's executors."""
    from pyspark.find_spark_home import _find_spark_home

    # local-cluster workers always use SPARK_HOME/work (scripts/test prunes old runs).
    app = os.path.join(_find_spark_home(), "work", spark.sparkContext.applicationId)
    return sorted(glob.glob(os.path.join(app, "*", "std*")))


@pytest.fixture(scope="session")
def spark_env() -> dict[str, str]:
    """Environment for Spark processes: loopback only, nodes run this interpreter."""
    env = dict(os.environ)
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env["PYSPARK_PYTHON"] = sys.executable
    return env


@pytest.fixture(scope="session")
def spark(spark_env: dict[str, str]) -> Iterator["object"]:
    """One local-cluster[2,1,1024] session for the module's tests: two executor JVMs, one task
    slot each, as a sparktf cluster of two nodes needs."""
    from pyspark.sql import SparkSession

    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local-cluster[2,1,1024]")
        .appName("sparktf integration tests")
        .config("spark.jars", sparktf.jar_path())
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Fail fast instead of retrying for minutes when a barrier stage cannot get its slots.
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "1")
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s")
        .config("spark.task.maxFailures", "2")
        .getOrCreate()
    )
    deadline = time.time() + 120
    while session.sparkContext._jsc.sc().getExecutorMemoryStatus().size() < 3:
        assert time.time() < deadline, "local-cluster executors did not register within 120 s"
        time.sleep(0.5)
    session.range(4).repartition(2).count()  # warm-up: both executors have run a task
    yield session
    session.stop()


def java_nodes(cluster) -> list:
    """The started nodes of a Python ``TFCluster`` as py4j ``NodeInfo`` objects (host(), port(),
    pid(), role().address(), ...)."""
    seq = cluster._java_obj.nodes()
    return [seq.apply(i) for i in range(seq.size())]
