"""Integration fixtures: a real local-cluster (separate executor JVMs), the sparktf jar, and a
check after every test that no node process it started is left running."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

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
    return {
        d for d in glob.glob("/dev/shm/sparktf-*") if not d.startswith("/dev/shm/sparktf-model-")
    }


def executor_logs(spark: Any) -> list[str]:
    """Paths of the stdout/stderr files of this application's executors."""
    from pyspark.find_spark_home import _find_spark_home

    # local-cluster workers always use SPARK_HOME/work (scripts/test prunes old runs).
    app = os.path.join(_find_spark_home(), "work", spark.sparkContext.applicationId)
    return sorted(glob.glob(os.path.join(app, "*", "std*")))


def launch(cmd: list[str], env: dict[str, str], cwd: Any, timeout: float) -> Any:
    """Runs a Spark launcher (spark-submit, spark-shell) to its end within ``timeout`` seconds,
    with no stdin, and fails the test unless it exits 0, showing its stdout's tail and the
    driver's traceback (not the shutdown chatter after it). Returns the CompletedProcess."""
    done = subprocess.run(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(cwd),
    )
    at = done.stderr.find("Traceback (most recent call last)")
    cause = done.stderr[at : at + 8000] if at >= 0 else done.stderr[-8000:]
    name = os.path.basename(cmd[0])
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stdout[-4000:]}\n{cause}"
    return done


@pytest.fixture(scope="session")
def spark_env() -> dict[str, str]:
    """Environment for Spark processes: loopback only, nodes run this interpreter."""
    env = dict(os.environ)
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env["PYSPARK_PYTHON"] = sys.executable
    return env


@pytest.fixture(scope="session")
def spark(spark_env: dict[str, str]) -> Iterator[object]:
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


# ---- a simulated multi-host cluster (scripts/sim_cluster.py) ----------------------------------

sys.path.insert(0, os.path.join(ROOT, "scripts"))


def _sim_params(item: Any) -> dict[str, Any] | None:
    """The sim_hosts parameters of a test ({} for the defaults), None when it uses none."""
    if "sim_hosts" not in getattr(item, "fixturenames", ()):
        return None
    callspec = getattr(item, "callspec", None)
    return dict(callspec.params.get("sim_hosts") or {}) if callspec else {}


def pytest_collection_modifyitems(items: list) -> None:
    """Tests on the simulated cluster run first, those of one size together: a Python process
    holds one SparkContext, and the session-scoped local-cluster `spark` must not be alive while
    `sim_hosts` is (the simulated cluster ends after the last test of a run of them)."""
    items.sort(key=lambda item: (_sim_params(item) is None, repr(_sim_params(item))))


class SimSpark:
    """A SparkSession on a simulated cluster: ``spark``, the ``sim`` cluster (``SimCluster``),
    the ``hosts`` (addresses), ``executors`` ({"host:port": host}) and the fixture's
    ``params``."""

    def __init__(
        self, spark: Any, sim: Any, executors: dict[str, str], params: dict[str, Any]
    ) -> None:
        self.spark, self.sim, self.executors, self.params = spark, sim, executors, params
        self.hosts = sim.addresses


def sim_executors(session: Any, hosts: list[str]) -> dict[str, str]:
    """{"host:port": host} of a session's executors on the simulated ``hosts`` (the driver, on
    127.0.0.1, left out), as Spark's status tracker reports them."""
    infos = session.sparkContext._jsc.sc().statusTracker().getExecutorInfos()
    return {f"{i.host()}:{i.port()}": i.host() for i in infos if i.host() in hosts}


_running_sim: list[SimSpark] = []  # the simulated cluster of the current run of sim tests


@pytest.fixture
def sim_hosts(request: Any) -> SimSpark:
    """A SparkSession on a simulated standalone cluster of 3 hosts (127.0.0.2-4), each a worker
    in its own mount namespace (private /dev/shm and /tmp), with one executor of 1 core and
    512 MB per host. Parametrize indirectly with {"hosts": H, "executors_per_host": E} to
    resize. Skips, saying why, where a private mount namespace cannot be made. The cluster is
    shared by consecutive tests of the same size and stopped after the last of them (not at the
    module's end: a later `spark` would get this session); its stop fails that test's teardown
    when it leaves a process, mount namespace or directory behind."""
    params = _sim_params(request.node) or {}
    if _running_sim and _running_sim[0].params != params:
        _stop_sim()
    if not _running_sim:
        _running_sim.append(_start_sim(params))
    return _running_sim[0]


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: Any, nextitem: Any) -> None:
    if _running_sim and (nextitem is None or _sim_params(nextitem) != _running_sim[0].params):
        _stop_sim()


def pytest_sessionfinish(session: Any) -> None:
    """A run cut short (-x, Ctrl-C) still stops the simulated cluster."""
    if _running_sim:
        _stop_sim()


def _stop_sim() -> None:
    running = _running_sim.pop()
    try:
        running.spark.stop()
    finally:
        running.sim.stop()  # raises on anything left behind


def _start_sim(params: dict[str, Any]) -> SimSpark:
    from pyspark import SparkContext
    from pyspark.sql import SparkSession
    from sim_cluster import NamespaceUnavailable, SimCluster

    hosts, per_host = params.get("hosts", 3), params.get("executors_per_host", 1)
    executor_mb = params.get("executor_memory_mb", 512)
    if SparkContext._active_spark_context is not None:
        pytest.fail(
            "a SparkContext is already running in this process, so the simulated "
            "cluster cannot have its own: run the sim_hosts tests first (conftest's "
            "pytest_collection_modifyitems does) or in a pytest run of their own"
        )
    sim = SimCluster(hosts=hosts, cores=per_host, memory_mb=per_host * (executor_mb + 64))
    try:
        sim.start()
    except NamespaceUnavailable as e:
        pytest.skip(f"no simulated cluster on this machine: {e}")
    session = None
    try:
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
        os.environ["PYSPARK_PYTHON"] = sys.executable
        session = (
            SparkSession.builder.master(sim.master_url)
            .appName("sparktf simulated-hosts tests")
            .config("spark.jars", sparktf.jar_path())
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.pyspark.python", sys.executable)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.executor.cores", "1")
            .config("spark.cores.max", str(hosts * per_host))
            .config("spark.executor.memory", f"{executor_mb}m")
            .config("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "1")
            .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s")
            .config("spark.task.maxFailures", "2")
            .getOrCreate()
        )
        # The first SparkContext's settings become the driver JVM's system properties, the
        # defaults of every later SparkContext in this process: the local-cluster `spark` after
        # this one must not get these.
        system = session.sparkContext._jvm.java.lang.System
        for key in ("spark.executor.cores", "spark.cores.max", "spark.executor.memory"):
            system.clearProperty(key)
        deadline = time.time() + 120
        while len(sim_executors(session, sim.addresses)) < hosts * per_host:
            assert time.time() < deadline, (
                f"{hosts * per_host} executors did not register within 120 s: "
                f"{sim_executors(session, sim.addresses)}; worker log:\n"
                f"{sim.log_tail('worker-0')}"
            )
            time.sleep(0.5)
        return SimSpark(session, sim, sim_executors(session, sim.addresses), params)
    except BaseException:
        if session is not None:
            session.stop()
        sim.stop(check=False)
        raise
