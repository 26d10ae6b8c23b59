"""Cached DataFrames: the feed plan counts their rows from the cache's batches (no counting pass
over the rows). Uneven cached partitions, a projection of a cache and a filtered cache (which is
counted by a pass, since a filter drops rows) are each fed exactly once, split evenly."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from pyspark.sql import functions as F

from sparktf import TFCluster


def collect_ids(args: dict[str, Any], ctx: Any) -> None:
    """The node program: the ids of each of `feeds` feeds, written as one JSON list per feed."""
    feed = ctx.get_data_feed()
    feeds = []
    for _ in range(args["feeds"]):
        ids: list[int] = []
        while True:
            batch = feed.next_batch(64)
            if not batch:
                break
            ids += batch["id"].tolist()
        feeds.append(ids)
    with open(os.path.join(args["out"], f"{ctx.job_name}.json"), "w") as f:
        json.dump(feeds, f)


@pytest.mark.timeout(600)
def test_cached_dataframes_feed_every_row_once_in_even_shares(spark, tmp_path):
    # Two partitions of 7 and 1000 rows; the cache keeps them as they are.
    ids = spark.sparkContext.parallelize([range(0, 7), range(7, 1007)], 2).flatMap(
        lambda r: [(i,) for i in r]
    )
    df = (
        spark.createDataFrame(ids, "id long")
        .select("id", F.array_repeat(F.col("id").cast("float"), 8).alias("x"))
        .cache()
    )
    assert [len(p) for p in df.rdd.glom().collect()] == [7, 1000]  # also fills the cache
    projected = df.select("id", (F.col("x")[0] * 2).alias("x2"))
    filtered = df.filter(F.col("id") % 3 == 0)
    cluster = TFCluster.run(
        spark, collect_ids, {"out": str(tmp_path), "feeds": 3}, num_executors=2, feed_timeout=120
    )
    try:
        reports = [cluster.train(d) for d in (df, projected, filtered)]
    finally:
        cluster.shutdown(timeout=180)
    df.unpersist()
    filtered_ids = [i for i in range(1007) if i % 3 == 0]
    assert [r["rows_per_node"] for r in reports] == [
        {"chief:0": 504, "worker:0": 503},
        {"chief:0": 504, "worker:0": 503},
        {"chief:0": 168, "worker:0": 168},
    ]
    seen = {
        name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("chief", "worker")
    }
    for index, expected in enumerate([list(range(1007)), list(range(1007)), filtered_ids]):
        got = seen["chief"][index] + seen["worker"][index]
        assert sorted(got) == expected, f"feed {index}"
        # Each node takes its quota, whichever rows the tasks routed to it.
        assert {n: len(seen[n][index]) for n in seen} == {
            n.split(":")[0]: rows for n, rows in reports[index]["rows_per_node"].items()
        }
