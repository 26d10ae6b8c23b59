"""Training from a Structured Streaming source (cluster.train_stream) and scoring a stream: a
file source with files added while the query runs, exact rows per node per micro-batch, a
restart from the checkpoint that feeds nothing twice, the rate source with a node that fails,
and streaming inference to a file sink."""

from __future__ import annotations

import glob
import json
import os
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.errors import StreamingQueryException

from sparktf import InputMode, TFCluster
from sparktf.cluster import SparkTFError

WAIT = 90  # seconds any wait of these tests may take at most


def read_streams(args: dict[str, Any], ctx: Any) -> None:
    """The node program: reads micro-batch feeds until `streams` queries have ended, writing
    the ids of every feed; raises on its `fail_feed`-th feed (0-based) when asked."""
    import json
    import os
    import time

    feed = ctx.get_data_feed()
    ends, feeds = 0, 0
    path = os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.jsonl")
    while ends < args["streams"]:
        # Micro-batch feeds in the node's queue, the next one included (a test-only peek).
        lanes = list(feed._cursor._queue._lanes.values())
        ends_at = [i for i, lane in enumerate(lanes) if lane.stream_end]
        waiting = ends_at[0] if ends_at else len(lanes)
        if not feed.next_feed(timeout=120):
            ends += 1
            with open(path, "a") as f:
                f.write(json.dumps({"stream_end": ends}) + "\n")
            continue
        if feeds == args.get("fail_feed") and ctx.task_index == 0 and ctx.job_name == "worker":
            raise RuntimeError(f"model diverged on micro-batch feed {feeds}")
        ids = []
        for batch in feed.balanced_batches(8):
            ids.extend(int(i) for i in batch["id"])
            time.sleep(args.get("step_seconds", 0.0))
        feeds += 1
        with open(path, "a") as f:
            f.write(json.dumps({"feed": feed.feed_id, "ids": ids, "waiting": waiting}) + "\n")
    for _ in range(args.get("trains_after", 0)):  # train() calls after the streams ended
        assert feed.next_feed(timeout=120)
        ids = [int(i) for batch in feed.balanced_batches(8) for i in batch["id"]]
        with open(path, "a") as f:
            f.write(json.dumps({"train": ids}) + "\n")


def start(spark: Any, main_fun: Any, args: Any) -> TFCluster:
    return TFCluster.run(
        spark,
        main_fun,
        args,
        num_executors=2,
        input_mode=InputMode.SPARK,
        reservation_timeout=60,
        feed_timeout=60,
        shutdown_timeout=60,
    )


def node_lines(out: str) -> dict[str, list[dict[str, Any]]]:
    lines = {}
    for path in sorted(glob.glob(os.path.join(out, "*.jsonl"))):
        with open(path) as f:
            lines[os.path.basename(path)[: -len(".jsonl")]] = [json.loads(l) for l in f]
    return lines


def add_file(landing: str, name: str, ids: range) -> None:
    """A Parquet file appears whole (written aside, then renamed), as a file source expects."""
    tmp = os.path.join(landing, f".{name}.tmp")
    pq.write_table(pa.table({"id": list(ids), "x": [float(i) for i in ids]}), tmp)
    os.rename(tmp, os.path.join(landing, f"{name}.parquet"))


def fed_reports(checkpoint: str) -> dict[int, dict[str, Any]]:
    reports = {}
    for path in glob.glob(os.path.join(checkpoint, "sparktf", "fed", "*")):
        if os.path.basename(path).isdigit():
            with open(path) as f:
                reports[int(os.path.basename(path))] = json.load(f)
    return reports


def wait_fed(checkpoint: str, batches: int) -> dict[int, dict[str, Any]]:
    deadline = time.time() + WAIT
    while len(fed_reports(checkpoint)) < batches:
        assert time.time() < deadline, f"{batches} micro-batches not fed in {WAIT} s"
        time.sleep(0.2)
    return fed_reports(checkpoint)


def wait_committed(checkpoint: str, batch: int) -> None:
    """Until Spark has committed micro-batch ``batch`` (after sparktf recorded its feed): its
    commit file and that file's checksum, which the local file system renames after it."""
    deadline = time.time() + WAIT
    names = (str(batch), f".{batch}.crc")
    while not all(os.path.exists(os.path.join(checkpoint, "commits", n)) for n in names):
        assert time.time() < deadline, f"micro-batch {batch} was not committed in {WAIT} s"
        time.sleep(0.2)


def test_file_stream_fed_exactly_once_across_a_restart(spark, tmp_path):
    landing, out, ckpt = (str(tmp_path / d) for d in ("landing", "out", "ckpt"))
    os.makedirs(landing)
    os.makedirs(out)
    cluster = start(spark, read_streams, {"out": out, "streams": 2})
    try:
        stream = (
            spark.readStream.schema("id long, x double")
            .option("maxFilesPerTrigger", 1)
            .parquet(landing)
        )
        query = cluster.train_stream(stream, ckpt, {"processingTime": "200 milliseconds"})
        add_file(landing, "a", range(0, 41))
        wait_fed(ckpt, 1)
        add_file(landing, "b", range(100, 130))
        reports = wait_fed(ckpt, 2)
        assert reports[0]["rows_per_node"] == {"chief:0": 21, "worker:0": 20}
        assert reports[1]["rows_per_node"] == {"chief:0": 15, "worker:0": 15}
        # Spark commits a micro-batch after foreachBatch returns: a stop before that leaves
        # it uncommitted by itself, and then there would be no commit to remove below.
        wait_committed(ckpt, 1)
        query.stop()
        assert not query.isActive

        # The driver died after feeding micro-batch 1, before Spark committed it: the restarted
        # query runs batch 1 again, and sparktf's record of it skips the feed.
        for name in ("1", ".1.crc"):
            os.remove(os.path.join(ckpt, "commits", name))
        query = cluster.train_stream(stream, ckpt, {"processingTime": "200 milliseconds"})
        add_file(landing, "c", range(200, 210))
        reports = wait_fed(ckpt, 3)
        assert reports[2]["rows_per_node"] == {"chief:0": 5, "worker:0": 5}
        wait_committed(ckpt, 2)
        assert query.isActive
    finally:
        cluster.shutdown()  # stops the active query first: its programs see the stream end
    assert not query.isActive
    lines = node_lines(out)
    assert set(lines) == {"chief-0", "worker-0"}
    every_id = []
    for node, seen in lines.items():
        feeds = [line for line in seen if "feed" in line]
        assert [line["stream_end"] for line in seen if "stream_end" in line] == [1, 2]
        assert len(feeds) == 3, f"{node} read {len(feeds)} feeds, one per micro-batch fed"
        share = {"chief-0": [21, 15, 5], "worker-0": [20, 15, 5]}[node]
        assert [len(f["ids"]) for f in feeds] == share
        every_id += [i for f in feeds for i in f["ids"]]
    assert sorted(every_id) == [*range(0, 41), *range(100, 130), *range(200, 210)]


def test_rate_stream_node_failure_ends_the_query_with_its_traceback(spark, tmp_path):
    out, ckpt = str(tmp_path / "out"), str(tmp_path / "ckpt")
    os.makedirs(out)
    cluster = start(spark, read_streams, {"out": out, "streams": 1, "fail_feed": 2})
    stream = spark.readStream.format("rate").option("rowsPerSecond", 40).load()
    query = cluster.train_stream(
        stream.selectExpr("value as id"), ckpt, {"processingTime": "500 milliseconds"}
    )
    with pytest.raises(StreamingQueryException) as failure:
        query.awaitTermination(WAIT)
    assert "model diverged on micro-batch feed 2" in str(failure.value)
    assert "worker:0" in str(failure.value)
    assert not query.isActive
    # The rate source's first micro-batch may be empty: recorded, nothing fed.
    fed = [r for r in fed_reports(ckpt).values() if r["rows_total"]]
    assert len(fed) >= 2
    for report in fed:  # every micro-batch fed whole, split evenly
        shares = sorted(report["rows_per_node"].values())
        assert shares[1] - shares[0] <= 1 and report["rows_total"] == sum(shares)
    cluster.shutdown()  # the failed cluster's nodes are stopped already: nothing to wait for


def test_a_slow_model_slows_the_stream_and_a_stop_leaves_the_cluster_usable(spark, tmp_path):
    out, ckpt = str(tmp_path / "out"), str(tmp_path / "ckpt")
    os.makedirs(out)
    args = {"out": out, "streams": 1, "step_seconds": 0.1, "trains_after": 1}
    cluster = start(spark, read_streams, args)
    try:
        # 400 rows/s in micro-batches every 200 ms, while each node trains 80 rows/s.
        stream = spark.readStream.format("rate").option("rowsPerSecond", 400).load()
        query = cluster.train_stream(
            stream.selectExpr("value as id"), ckpt, {"processingTime": "200 milliseconds"}
        )
        time.sleep(6)
        query.stop()
        assert not query.isActive and query.exception() is None
        report = cluster.train(spark.range(1000, 1010).repartition(2))
        assert report["rows_per_node"] == {"chief:0": 5, "worker:0": 5}
    finally:
        cluster.shutdown()
    fed = fed_reports(ckpt)
    lines = node_lines(out)
    for node, seen in lines.items():
        feeds = [line for line in seen if "feed" in line]
        # Every micro-batch recorded was read whole, none twice, none unrecorded.
        assert len(feeds) == sum(1 for r in fed.values() if r["rows_total"])
        assert sum(len(f["ids"]) for f in feeds) == sum(
            r["rows_per_node"].get(node.replace("-", ":"), 0) for r in fed.values()
        )
        # Backpressure: a micro-batch starts once the node's queue holds at most the one before
        # it; the program takes a feed's chunks as it starts reading it, so besides that feed
        # at most two wait. Without the wait this grew by a micro-batch every 200 ms.
        assert max(f["waiting"] for f in feeds) <= 3, [f["waiting"] for f in feeds]
        assert [line for line in seen if "stream_end" in line] == [{"stream_end": 1}]
        assert len(seen[-1]["train"]) == 5
    every_id = [i for seen in lines.values() for x in seen if "feed" in x for i in x["ids"]]
    assert len(every_id) == len(set(every_id))
    trained = sorted(i for seen in lines.values() for i in seen[-1]["train"])
    assert trained == list(range(1000, 1010))


def answer_doubled(args: Any, ctx: Any) -> None:
    feed = ctx.get_data_feed(train_mode=False)
    while not feed.should_stop():
        batch = feed.next_batch(16)
        if batch:
            feed.batch_results({"doubled": batch["x"] * 2})


def test_scoring_a_stream_per_micro_batch_into_a_file_sink(spark, tmp_path):
    landing, sink, ckpt = (str(tmp_path / d) for d in ("landing", "sink", "ckpt"))
    os.makedirs(landing)
    add_file(landing, "a", range(0, 50))
    add_file(landing, "b", range(50, 80))
    stream = spark.readStream.schema("id long, x double").option("maxFilesPerTrigger", 1)
    stream = stream.parquet(landing)
    cluster = start(spark, answer_doubled, None)
    try:
        with pytest.raises(SparkTFError, match="inference\\(\\) takes a batch DataFrame"):
            cluster.inference(stream, "doubled double")

        def score(batch: Any, batch_id: int) -> None:
            scored = cluster.inference(batch, "doubled double")
            scored.selectExpr("id", "x", "doubled", f"{batch_id} as batch").write.mode(
                "append"
            ).parquet(sink)

        query = (
            stream.writeStream.foreachBatch(score)
            .option("checkpointLocation", ckpt)
            .trigger(availableNow=True)
            .start()
        )
        assert query.awaitTermination(WAIT)
        assert query.exception() is None
    finally:
        cluster.shutdown()
    rows = spark.read.parquet(sink).collect()
    assert sorted(r.id for r in rows) == list(range(80))
    assert all(r.doubled == 2 * r.x for r in rows)
    # One micro-batch per file: the per-batch row counts are the files'.
    per_batch = sorted(sum(1 for r in rows if r.batch == b) for b in {r.batch for r in rows})
    assert per_batch == [30, 50]


def test_transform_of_a_stream_is_refused_naming_the_way_that_works(spark):
    from sparktf.ml import TFModel

    stream = spark.readStream.format("rate").load()
    with pytest.raises(Exception, match="TFModel.transform takes a batch DataFrame.*foreachBatch"):
        TFModel(export_dir="/nonexistent/export").transform(stream)
