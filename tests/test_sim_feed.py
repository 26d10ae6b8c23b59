"""The feed plan on the simulated multi-host cluster (private /dev/shm per host): with one node
per host the rows stay on their host, an app with more executors than nodes feeds the node of
its host, and cluster.inference answers near the data, in row order and count."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest

from sparktf import TFCluster


def count_rows(args: dict[str, Any], ctx: Any) -> None:
    """Counts and sums the ids of one feed and writes them."""
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
    with open(os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.json"), "w") as f:
        json.dump({"rows": rows, "id_sum": ids}, f)


def answer_twice(args: dict[str, Any], ctx: Any) -> None:
    """Answers every inference batch until the cluster shuts down."""
    feed = ctx.get_data_feed(train_mode=False)
    while not feed.should_stop():
        batch = feed.next_batch(100)
        if batch:
            feed.batch_results({"twice": batch["id"] * 2})


def _seen(out: str) -> list[dict[str, int]]:
    return [json.load(open(os.path.join(out, n))) for n in sorted(os.listdir(out))]


@pytest.mark.timeout(400)
def test_one_node_per_host_feeds_cached_rows_through_shared_memory(sim_hosts) -> None:
    spark, sim = sim_hosts.spark, sim_hosts.sim
    out = os.path.join(sim.shared_dir, f"feed-{uuid.uuid4().hex}")
    os.makedirs(out)
    # One cached partition per executor: each task feeds the node of its own executor.
    df = spark.range(0, 3000, 1, 3).cache()
    assert df.count() == 3000
    cluster = TFCluster.run(
        spark,
        count_rows,
        {"out": out},
        num_executors=3,
        feed_timeout=120,
        reservation_timeout=120,
    )
    try:
        report = cluster.train(df)
    finally:
        cluster.shutdown(timeout=120)
    print(f"report: {json.dumps(report)}")
    assert sorted(report["rows_per_node"].values()) == [1000] * 3
    assert sorted(s["rows"] for s in _seen(out)) == [1000] * 3
    assert sum(s["id_sum"] for s in _seen(out)) == 3000 * 2999 // 2
    share = report["shared_memory_rows"] / report["rows_total"]
    print(
        f"{share:.0%} of the rows through shared memory, {report['socket_bytes']} bytes over "
        "sockets"
    )
    assert share >= 0.9, report


@pytest.mark.timeout(400)
def test_inference_on_three_hosts_keeps_row_order_and_count(sim_hosts) -> None:
    spark = sim_hosts.spark
    cluster = TFCluster.run(
        spark, answer_twice, None, num_executors=3, feed_timeout=120, reservation_timeout=120
    )
    try:
        scored = cluster.inference(spark.range(0, 2000, 1, 5), "twice long").collect()
    finally:
        cluster.shutdown(timeout=120)
    assert [(r["id"], r["twice"]) for r in scored] == [(i, 2 * i) for i in range(2000)]


@pytest.mark.timeout(400)
@pytest.mark.parametrize("sim_hosts", [{"hosts": 2, "executors_per_host": 2}], indirect=True)
def test_four_executors_feed_two_nodes_on_their_hosts(sim_hosts) -> None:
    spark, sim = sim_hosts.spark, sim_hosts.sim
    out = os.path.join(sim.shared_dir, f"feed-{uuid.uuid4().hex}")
    os.makedirs(out)
    cluster = TFCluster.run(
        spark,
        count_rows,
        {"out": out},
        num_executors=2,
        feed_timeout=120,
        reservation_timeout=120,
    )
    try:
        report = cluster.train(spark.range(0, 4000, 1, 8))
    finally:
        cluster.shutdown(timeout=120)
    print(f"report: {json.dumps(report)}")
    assert sorted(report["rows_per_node"].values()) == [2000, 2000]
    assert sorted(s["rows"] for s in _seen(out)) == [2000, 2000]
    assert sum(s["id_sum"] for s in _seen(out)) == 4000 * 3999 // 2
    # The spare executor of each host feeds the node on its host: shared memory, except the
    # remainder of a host that ran more than its node's share, or a host without a node.
    assert report["shared_memory_rows"] > 0
