"""The data feed on a real cluster: every column type, several train() calls on one cluster,
exactly-once when Spark retries a feed task, rows larger than gRPC's default 4 MiB, bounded node
memory, and terminate() stopping the feed."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from conftest import executor_logs
from pyspark.sql import functions as F

from sparktf import TFCluster

MiB = 1 << 20


def summarize_feeds(args: dict[str, Any], ctx: Any) -> None:
    """The node program: reads `feeds` feeds one after another and writes what it saw."""
    import time

    import numpy as np

    from sparktf.wire.column_batch import RaggedColumn

    def rss_mb(field: str = "VmRSS") -> float:
        # VmHWM is the peak; ru_maxrss would count the forking executor JVM's peak too.
        with open("/proc/self/status") as f:
            line = next(l for l in f if l.startswith(field))
        return int(line.split()[1]) / 1024

    feed = ctx.get_data_feed()
    summaries = []
    for index in range(args["feeds"]):
        seen: dict[str, Any] = {"rows": 0, "columns": {}, "batches": 0}
        slow = index == args.get("slow_feed")
        while True:
            batch = feed.next_batch(args.get("batch", 256))
            if not batch:
                break
            seen["batches"] += 1
            first = next(iter(batch.values()))
            seen["rows"] += len(first)
            for name, col in batch.items():
                info = seen["columns"].setdefault(name, {"sum": 0.0, "bytes": 0})
                if isinstance(col, RaggedColumn):
                    info["kind"] = "ragged"
                    info["dtype"] = str(col.values.dtype)
                    info["sum"] += float(col.values.sum())
                    info["lengths"] = info.get("lengths", []) + np.diff(col.row_splits).tolist()
                elif col.dtype == object:
                    info["kind"] = "bytes"
                    info["bytes"] += sum(len(v) for v in col)
                else:
                    info["kind"] = "dense"
                    info["dtype"] = str(col.dtype)
                    info["shape"] = list(col.shape[1:])
                    info["sum"] += float(col.astype("float64").sum())
            if slow:
                if seen["batches"] in (3, 40):  # 40 of the 80 batches a node gets: half way
                    seen[f"rss_after_{seen['batches']}_batches_mb"] = rss_mb()
                time.sleep(0.01)  # slower than Spark: the queue fills, backpressure holds
            if index == args.get("terminate_feed") and seen["rows"] >= args["terminate_rows"]:
                feed.terminate()
                break
        seen["rss_end_mb"] = rss_mb()
        seen["peak_rss_mb"] = rss_mb("VmHWM")
        summaries.append(seen)
    path = os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.json")
    with open(path, "w") as f:
        json.dump(summaries, f)


def _merged(out_dir: str, feed: int) -> dict[str, Any]:
    """One feed's summaries of both nodes, added up."""
    total: dict[str, Any] = {"rows": 0, "columns": {}, "nodes": []}
    for name in sorted(os.listdir(out_dir)):
        with open(os.path.join(out_dir, name)) as f:
            seen = json.load(f)[feed]
        total["nodes"].append(seen)
        total["rows"] += seen["rows"]
        for col, info in seen["columns"].items():
            t = total["columns"].setdefault(col, dict(info, sum=0.0, bytes=0, lengths=[]))
            t["sum"] += info["sum"]
            t["bytes"] += info["bytes"]
            t["lengths"] += info.get("lengths", [])
    return total


def _executor_logs(spark: Any) -> str:
    """The text of this application's executor logs."""
    text = []
    for path in executor_logs(spark):
        with open(path, errors="replace") as f:
            text.append(f.read())
    return "\n".join(text)


@pytest.mark.timeout(600)
def test_feeds_every_type_exactly_once_through_retries_big_rows_and_terminate(spark, tmp_path):
    from pyspark.ml.linalg import Vectors
    from pyspark.sql import Row

    out = tmp_path / "out"
    out.mkdir()
    cluster = TFCluster.run(
        spark,
        summarize_feeds,
        {"feeds": 6, "out": str(out), "slow_feed": 4, "terminate_feed": 5, "terminate_rows": 512},
        num_executors=2,
        queue_capacity=2,
        feed_timeout=120,
    )
    reports = []
    try:
        # 0: every scalar type, a fixed array, string and binary, renamed by input_mapping.
        scalars = spark.range(0, 1000, 1, 4).select(
            (F.col("id") % 2 == 0).alias("flag"),
            (F.col("id") % 100).cast("byte").alias("i8"),
            F.col("id").cast("short").alias("i16"),
            F.col("id").cast("int").alias("i32"),
            F.col("id").alias("i64"),
            F.col("id").cast("float").alias("f32"),
            (F.col("id") / 4).alias("f64"),
            F.array(F.col("id").cast("float"), F.lit(1.0).cast("float")).alias("pair"),
            F.concat(F.lit("row"), F.col("id").cast("string")).alias("name"),
            F.col("id").cast("string").cast("binary").alias("blob"),
        )
        mapping = {c: c for c in scalars.columns}
        mapping["pair"] = "features"
        reports.append(cluster.train(scalars, input_mapping=mapping))
        # 1: ragged arrays and ML vectors, dense and sparse.
        rows = [
            Row(
                tokens=list(range(i % 5)),
                vec=Vectors.dense([i, 1.0, 0.0]) if i % 2 else Vectors.sparse(3, {2: float(i)}),
            )
            for i in range(200)
        ]
        mixed = spark.createDataFrame(rows).repartition(2)
        reports.append(cluster.train(mixed, ragged_columns=["tokens"]))

        # 2: a feed task fails once mid-partition; Spark retries it (spark.task.maxFailures=2).
        # The rows come from Python in 2 MB Arrow batches, so those before the failure reach the
        # JVM (and the node) first: a partial delivery the retry must continue, not repeat.
        def fail_once(batches):
            import time

            import numpy as np
            import pyarrow as pa
            from pyspark import TaskContext

            tc = TaskContext.get()
            for b in batches:
                ids = b.column(0).to_numpy()
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    if tc.attemptNumber() == 0 and tc.partitionId() == 0 and 3000 in chunk:
                        time.sleep(2)  # lets the rows already sent land in the node
                        raise RuntimeError("injected feed task failure")
                    values = pa.array(np.repeat(chunk.astype("float32"), 1024))
                    offsets = pa.array(np.arange(len(chunk) + 1, dtype="int32") * 1024)
                    yield pa.RecordBatch.from_arrays(
                        [pa.array(chunk), pa.ListArray.from_arrays(offsets, values)],
                        names=["id", "wide"],
                    )

        wide = spark.range(0, 8000, 1, 2).mapInArrow(fail_once, "id long, wide array<float>")
        reports.append(cluster.train(wide))
        # 3: rows of 8 MiB, twice gRPC's default message limit.
        big = spark.range(0, 4, 1, 2).select(
            F.expr(f"repeat('x', {8 * MiB})").cast("binary").alias("payload")
        )
        reports.append(cluster.train(big))
        # 4: 20 times the node's queue capacity (2 chunks of ~4 MiB) through a slow consumer.
        heavy = spark.range(0, 20 * 2 * 1024, 1, 4).select(
            F.array_repeat(F.lit(1.0).cast("float"), 1024).alias("x")
        )
        reports.append(cluster.train(heavy))
        # 5: the program calls terminate() early; later partitions are not streamed.
        many = spark.range(0, 20000, 1, 20).select(F.col("id"))
        reports.append(cluster.train(many, num_epochs=3))
    finally:
        cluster.shutdown(timeout=120)

    # Every row exactly once, counted by the feed and by the programs.
    assert [r["rows_total"] for r in reports[:5]] == [1000, 200, 8000, 4, 40960]
    seen = _merged(str(out), 0)
    assert seen["rows"] == 1000
    cols = seen["columns"]
    assert cols["flag"]["dtype"] == "bool" and cols["flag"]["sum"] == 500
    assert cols["i8"]["dtype"] == "int8" and cols["i16"]["dtype"] == "int16"
    assert cols["i32"]["dtype"] == "int32" and cols["i64"]["sum"] == sum(range(1000))
    assert cols["f32"]["dtype"] == "float32" and cols["f64"]["sum"] == sum(range(1000)) / 4
    assert cols["features"]["shape"] == [2] and cols["features"]["sum"] == sum(range(1000)) + 1000
    assert cols["name"]["bytes"] == sum(len(f"row{i}") for i in range(1000))
    assert cols["blob"]["bytes"] == sum(len(str(i)) for i in range(1000))

    mixed_seen = _merged(str(out), 1)
    assert mixed_seen["columns"]["tokens"]["kind"] == "ragged"
    assert sorted(mixed_seen["columns"]["tokens"]["lengths"]) == sorted(i % 5 for i in range(200))
    assert mixed_seen["columns"]["vec"]["shape"] == [3]
    expected_vec = sum(i + 1.0 for i in range(200) if i % 2) + sum(
        i for i in range(200) if not i % 2
    )
    assert mixed_seen["columns"]["vec"]["sum"] == expected_vec

    retried = _merged(str(out), 2)
    logs = _executor_logs(spark)
    # The executor logs hold every feed of the session: take this feed's lines for partition 0,
    # one from each node the retry asked what it took.
    marker = f"feed '{reports[2]['feed_id']}' epoch 0 partition 0: retry attempt 1 begins"
    assert marker in logs, "the injected failure did not make Spark retry the feed task"
    retry_lines = [l for l in logs.splitlines() if marker in l]
    print("\n".join(retry_lines))
    assert len(retry_lines) == 2, "the retry asks every fed node what it took"
    taken = sum(int(l.split("begins with ")[1].split()[0]) for l in retry_lines)
    assert 0 < taken < 4000, "the failed attempt should have delivered part of its partition"
    assert retried["rows"] == 8000
    assert retried["columns"]["id"]["sum"] == sum(range(8000)), "a row was taken twice or lost"

    big_seen = _merged(str(out), 3)
    assert big_seen["columns"]["payload"]["bytes"] == 4 * 8 * MiB

    heavy_nodes = _merged(str(out), 4)["nodes"]
    for node in heavy_nodes:
        # Each node takes ~84 MB here through a queue of 2 chunks; after warming up (malloc arenas
        # of the gRPC threads), its RSS must stay flat over the second half of the feed.
        growth = node["rss_end_mb"] - node["rss_after_40_batches_mb"]
        print(
            f"node RSS after 3 batches {node['rss_after_3_batches_mb']:.0f} MB, after 40 "
            f"{node['rss_after_40_batches_mb']:.0f} MB, at the end {node['rss_end_mb']:.0f} MB, "
            f"peak {node['peak_rss_mb']:.0f} MB"
        )
        assert growth < 24, f"node memory grew by {growth:.0f} MB over the second half of the feed"

    stopped = reports[5]
    assert stopped["terminated"] is True
    assert stopped["epochs"] == 1, "no further epoch after terminate()"
    assert stopped["rows_total"] < 20000


def chief_counts_rows(args: dict[str, Any], ctx: Any) -> None:
    """A ps returns at once (it takes no data); the chief counts what it is fed."""
    if ctx.job_name == "ps":
        return
    feed = ctx.get_data_feed()
    rows = 0
    while True:
        batch = feed.next_batch(1000)
        if not batch:
            break
        rows += len(batch["id"])
    with open(os.path.join(args["out"], "chief.json"), "w") as f:
        json.dump({"rows": rows}, f)


@pytest.mark.timeout(300)
def test_tasks_on_the_ps_executor_forward_their_rows_to_the_chief(spark, tmp_path):
    cluster = TFCluster.run(
        spark,
        chief_counts_rows,
        {"out": str(tmp_path)},
        num_executors=2,
        num_ps=1,
        feed_timeout=120,
    )
    try:
        roles = sorted(n["role"] for n in cluster.nodes)
        assert roles == ["chief:0", "ps:0"]
        # Four partitions over two executors: some tasks run where the ps is.
        report = cluster.train(spark.range(0, 4000, 1, 4).select("id"))
    except BaseException:
        try:  # stop the nodes, but report train()'s error, not the shutdown's
            cluster.shutdown(timeout=10)
        except Exception:
            pass
        raise
    cluster.shutdown(timeout=120)
    assert report["rows_per_node"] == {"chief:0": 4000}
    assert json.loads((tmp_path / "chief.json").read_text())["rows"] == 4000


def _every_scalar_type(spark: Any) -> Any:
    return spark.range(0, 1000, 1, 4).select(
        (F.col("id") % 2 == 0).alias("flag"),
        F.col("id").cast("int").alias("i32"),
        (F.col("id") / 4).alias("f64"),
        F.array(F.col("id").cast("float"), F.lit(1.0).cast("float")).alias("pair"),
        F.concat(F.lit("row"), F.col("id").cast("string")).alias("name"),
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("shared", [True, False], ids=["shared-memory", "socket"])
def test_shared_memory_and_socket_feeds_deliver_the_same_rows(spark, tmp_path, shared):
    """Tasks on a node's machine hand batches over in /dev/shm by default; with
    shared_memory_feed=False every batch goes over gRPC. Both deliver every row once, and the
    shared directories are empty after each feed and gone after shutdown."""
    cluster = TFCluster.run(
        spark,
        summarize_feeds,
        {"feeds": 2, "out": str(tmp_path)},
        num_executors=2,
        feed_timeout=120,
        shared_memory_feed=shared,
    )
    try:
        dirs = [n["shared_dir"] for n in cluster.nodes]
        if shared:
            assert all(d.startswith("/dev/shm/sparktf-") and os.path.isdir(d) for d in dirs)
        else:
            assert dirs == [None, None]
        reports = [
            cluster.train(_every_scalar_type(spark), num_epochs=2),
            cluster.train(
                spark.range(0, 4000, 1, 3).select(
                    F.array_repeat(F.col("id").cast("float"), 300).alias("x")
                )
            ),
        ]
        for d in dirs if shared else []:
            assert os.listdir(d) == [], "a batch file was left behind after the feed"
    finally:
        cluster.shutdown(timeout=120)
    assert [r["rows_total"] for r in reports] == [2000, 4000]
    assert [r["shared_memory_rows"] for r in reports] == ([2000, 4000] if shared else [0, 0])
    # The 4000 rows of 300 floats weigh 4.8 MB: over the socket when memory is not shared.
    assert (reports[1]["socket_bytes"] == 0) if shared else reports[1]["socket_bytes"] > 4.8e6
    deadline = time.monotonic() + 15  # each executor removes its node's dir as the node exits
    while any(os.path.exists(d) for d in dirs if d) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(os.path.exists(d) for d in dirs if d), "a shared directory outlived its node"
    cols = _merged(str(tmp_path), 0)["columns"]
    assert cols["flag"]["sum"] == 1000 and cols["i32"]["sum"] == 2 * sum(range(1000))
    assert cols["f64"]["sum"] == 2 * sum(range(1000)) / 4
    assert cols["pair"]["shape"] == [2] and cols["pair"]["sum"] == 2 * (sum(range(1000)) + 1000)
    assert cols["name"]["bytes"] == 2 * sum(len(f"row{i}") for i in range(1000))
    wide = _merged(str(tmp_path), 1)["columns"]["x"]
    assert wide["shape"] == [300] and wide["sum"] == 300 * sum(range(4000))
