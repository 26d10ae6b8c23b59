"""The feed plan on local-cluster[2,1,1024]: a thousand tiny partitions, uneven cached
partitions whose rows stay on the task's own node, and uncached Parquet counted without reading
a column; each node takes exactly its share (a task retried mid-partition: tests/test_feed.py)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from pyspark.sql import functions as F

from sparktf import TFCluster


def sum_ids(args: dict[str, Any], ctx: Any) -> None:
    """Counts and sums the ids of each feed it reads, one feed after another."""
    feed = ctx.get_data_feed()
    seen = []
    for _ in range(args["feeds"]):
        rows, total = 0, 0
        while True:
            batch = feed.next_batch(256)
            if not batch:
                break
            rows += len(batch["id"])
            total += int(batch["id"].sum())
        seen.append({"rows": rows, "sum": total})
    with open(os.path.join(args["out"], f"{ctx.job_name}.json"), "w") as f:
        json.dump(seen, f)


def _programs(out: str) -> dict[str, list[dict[str, int]]]:
    return {name[:-5]: json.load(open(os.path.join(out, name))) for name in os.listdir(out)}


@pytest.mark.timeout(600)
def test_tiny_partitions_and_uneven_local_partitions_feed_exact_shares(spark, tmp_path):
    out = str(tmp_path / "seen")
    os.mkdir(out)
    cluster = TFCluster.run(
        spark,
        sum_ids,
        {"feeds": 3, "out": str(tmp_path / "seen")},
        num_executors=2,
        feed_timeout=120,
    )
    try:
        # 0: a thousand partitions of 10 rows.
        began = time.monotonic()
        tiny = cluster.train(spark.range(0, 10000, 1, 1000).select("id"))
        tiny_seconds = time.monotonic() - began

        # 1: uneven cached partitions (5000 rows and 1000): each task feeds its own node first,
        # and the remainder of one node's quota goes to the other.
        cached = spark.createDataFrame(
            spark.sparkContext.parallelize([range(0, 5000), range(5000, 6000)], 2).flatMap(
                lambda r: [(i,) for i in r]
            ),
            "id long",
        ).cache()
        cached.count()
        local = cluster.train(cached)

        # 2: uncached Parquet, planned by a count that reads no column.
        path = str(tmp_path / "ids.parquet")
        spark.range(0, 3000, 1, 4).select(
            "id", F.array_repeat(F.col("id").cast("float"), 64).alias("x")
        ).write.parquet(path)
        files = spark.read.parquet(path)
        counting = spark._jvm.io.sparktf.feed.PartitionRowCounts.columnless(files._jdf)
        counting_plan = counting.queryExecution().executedPlan().toString()
        parquet = cluster.train(files)
    finally:
        cluster.shutdown(timeout=120)
    print(f"1,000 partitions of 10 rows fed in {tiny_seconds:.1f} s")
    programs = _programs(out)
    assert tiny["rows_per_node"] == {"chief:0": 5000, "worker:0": 5000}
    assert local["rows_per_node"] == {"chief:0": 3000, "worker:0": 3000}
    assert parquet["rows_per_node"] == {"chief:0": 1500, "worker:0": 1500}
    # The Parquet scan of the count reads no column (its files' footers give the row counts).
    assert "ReadSchema: struct<>" in counting_plan, counting_plan
    for feed, rows in enumerate([10000, 6000, 3000]):
        assert {n: p[feed]["rows"] for n, p in programs.items()} == {
            "chief": rows // 2,
            "worker": rows // 2,
        }
        assert sum(p[feed]["sum"] for p in programs.values()) == rows * (rows - 1) // 2
    # Both nodes are on this machine: every row went through shared memory, no batch over a
    # socket.
    assert local["shared_memory_rows"] == 6000 and local["socket_bytes"] == 0
