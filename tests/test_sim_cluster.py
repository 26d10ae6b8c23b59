"""The simulated multi-host cluster (scripts/sim_cluster.py): executors on distinct hosts, shared
memory private to each host, a sparktf cluster of one node per host fed exactly, and nothing
left behind by the cluster or by sparktf."""

from __future__ import annotations

import glob
import json
import os
import time
import uuid
from typing import Any

import pytest
from conftest import java_nodes
from sim_cluster import NamespaceUnavailable, SimCluster, namespace_problem

from sparktf import TFCluster


def count_rows(args: dict[str, Any], ctx: Any) -> None:
    """The node program: counts the rows of one feed and writes what it saw and where."""
    import glob
    import json
    import os

    feed = ctx.get_data_feed()
    rows = ids = 0
    while True:
        batch = feed.next_batch(256)
        if not batch:
            break
        rows += len(batch["id"])
        ids += int(batch["id"].sum())
    seen = {
        "rows": rows,
        "id_sum": ids,
        "host": os.environ.get("SPARK_LOCAL_IP"),
        "shared_dirs": sorted(glob.glob("/dev/shm/sparktf-*")),
    }
    with open(os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.json"), "w") as f:
        json.dump(seen, f)


def host_processes(sim: SimCluster, needle: str) -> list[int]:
    """Processes under the simulated workers whose command line holds ``needle``."""
    import psutil

    found = []
    for pid in sim.pids.values():
        try:
            for p in psutil.Process(pid).children(recursive=True):
                if needle in " ".join(p.cmdline()):
                    found.append(p.pid)
        except psutil.Error:
            pass
    return found


def test_start_and_stop_leave_nothing_behind() -> None:
    """One host, no application: the worker has its own /dev/shm and /tmp and address, and
    stop() ends every process, releases the mount namespace and removes the directory."""
    problem = namespace_problem()
    if problem:
        pytest.skip(f"no simulated cluster on this machine: {problem}")
    sim = SimCluster(hosts=1, memory_mb=512)
    try:
        sim.start()
    except NamespaceUnavailable as e:
        pytest.skip(f"no simulated cluster on this machine: {e}")
    try:
        worker = sim.pids["worker-0"]
        with open(f"/proc/{worker}/mountinfo") as f:
            mounts = f.read()
        assert " /dev/shm " in mounts and "sparktf-sim-shm" in mounts, mounts
        assert " /tmp " in mounts and "sparktf-sim-tmp" in mounts, mounts
        assert os.readlink(f"/proc/{worker}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        marker = f"/dev/shm/sparktf-simtest-{uuid.uuid4().hex}"
        os.mkdir(f"/proc/{worker}/root{marker}")  # made on the host's private /dev/shm
        assert sim.host_glob(0, marker) == [marker]
        assert not os.path.exists(marker), "the worker's /dev/shm is the machine's"
        state = sim.master_state()
        assert [w["host"] for w in sim.alive_workers(state)] == ["127.0.0.2"], state
        base, started = sim.base_dir, [worker, sim.pids["master"]]
    finally:
        left = sim.stop(check=False)
    assert left == []
    assert not os.path.exists(base)
    assert not [p for p in started if os.path.exists(f"/proc/{p}")]


@pytest.mark.timeout(300)
def test_executors_on_distinct_hosts_with_private_shared_memory(sim_hosts) -> None:
    """Three executors, each on its own host as Spark reports it; a file one task writes to
    /dev/shm or /tmp is seen by no task on another host, nor by the driver."""
    spark = sim_hosts.spark
    assert sorted(sim_hosts.executors.values()) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    token = uuid.uuid4().hex

    def look(index: int, _: Any) -> Any:
        import glob
        import os

        from pyspark import BarrierTaskContext

        tc = BarrierTaskContext.get()
        mine = [
            f"/dev/shm/sparktf-simtest-{token}-{index}",
            f"/tmp/sparktf-simtest-{token}-{index}",
        ]
        for path in mine:
            open(path, "w").close()
        tc.barrier()  # every task has written its files before any looks
        seen = sorted(
            glob.glob(f"/dev/shm/sparktf-simtest-{token}-*")
            + glob.glob(f"/tmp/sparktf-simtest-{token}-*")
        )
        tc.barrier()
        for path in mine:
            os.remove(path)
        yield {
            "index": index,
            "local_ip": os.environ.get("SPARK_LOCAL_IP"),
            "mine": mine,
            "seen": seen,
        }

    found = (
        spark.sparkContext.parallelize(range(3), 3).barrier().mapPartitionsWithIndex(look).collect()
    )
    for f in found:
        print(f)
    # The barrier tasks' own addresses (getTaskInfos) are no help here: Spark records the
    # source address of each executor's connection to the driver, 127.0.0.1 on loopback.
    assert sorted(f["local_ip"] for f in found) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert all(f["seen"] == sorted(f["mine"]) for f in found), found
    assert not glob.glob(f"/dev/shm/sparktf-simtest-{token}-*")
    assert not glob.glob(f"/tmp/sparktf-simtest-{token}-*")


@pytest.mark.timeout(300)
def test_three_nodes_on_three_hosts_train_exact_counts(sim_hosts) -> None:
    """A sparktf cluster of one node per host is fed every row exactly once; each node's
    shared-memory dir lives on its own host only; nothing is left on any host afterwards."""
    spark, sim = sim_hosts.spark, sim_hosts.sim
    out = os.path.join(sim.shared_dir, f"train-{uuid.uuid4().hex}")
    os.makedirs(out)
    rows = 3000
    df = spark.range(0, rows, 1, 6)
    t0 = time.time()
    cluster = TFCluster.run(
        spark, count_rows, {"out": out}, num_executors=3, feed_timeout=120, reservation_timeout=120
    )
    try:
        nodes = java_nodes(cluster)
        node_hosts = sorted(n.host() for n in nodes)
        per_host = {k: sim.host_glob(k, "/dev/shm/sparktf-*") for k in range(sim.hosts)}
        report = cluster.train(df)
    finally:
        cluster.shutdown(timeout=120)
    print(f"cluster start + train + shutdown: {time.time() - t0:.1f} s")
    share = report["shared_memory_rows"] / report["rows_total"]
    print(f"report: {json.dumps(report)}")
    print(
        f"shared_memory_rows {report['shared_memory_rows']} of {report['rows_total']} rows "
        f"({share:.0%}) reached their node through shared memory"
    )

    assert node_hosts == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    # One node per host, its shared-memory dir on its own host's /dev/shm only.
    assert all(len(dirs) == 1 for dirs in per_host.values()), per_host
    assert not set(glob.glob("/dev/shm/sparktf-*")) & {d for ds in per_host.values() for d in ds}
    assert report["rows_total"] == rows
    assert sorted(report["rows_per_node"].values()) == [rows // 3] * 3, report
    seen = {}
    for name in sorted(os.listdir(out)):
        with open(os.path.join(out, name)) as f:
            seen[name] = json.load(f)
    assert sorted(s["rows"] for s in seen.values()) == [rows // 3] * 3, seen
    assert sum(s["id_sum"] for s in seen.values()) == rows * (rows - 1) // 2
    assert sorted(s["host"] for s in seen.values()) == node_hosts
    # Each node sees its own shared dir and none of the other hosts' nodes.
    assert all(len(s["shared_dirs"]) == 1 for s in seen.values()), seen
    # Each task feeds the node of its own host (shared memory) up to that node's share; only a
    # host that ran more than its share of the uncached partitions sends the rest over the
    # network (the cached case, >= 90%: tests/test_sim_feed.py).
    assert report["shared_memory_rows"] > 0

    deadline = time.time() + 30
    while time.time() < deadline and (
        host_processes(sim, "sparktf.node")
        or any(sim.host_glob(k, "/dev/shm/sparktf-*") for k in range(sim.hosts))
    ):
        time.sleep(0.5)
    assert host_processes(sim, "sparktf.node") == []
    assert {k: sim.host_glob(k, "/dev/shm/sparktf-*") for k in range(sim.hosts)} == {
        k: [] for k in range(sim.hosts)
    }


def test_local_cluster_session_after_the_simulated_one(spark) -> None:
    """The session-scoped local-cluster `spark` starts after the simulated cluster's session
    ended (the sim_hosts tests run first) and inherits none of its settings."""
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master.startswith("local-cluster[")
    assert conf.get("spark.cores.max") is None
    assert conf.get("spark.executor.memory") is None
    assert spark.range(10).count() == 10
