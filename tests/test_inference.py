"""cluster.inference: the programs answer every batch; the answers come back appended to the
same rows, in the same order and count per partition. A wrong answer is a clear error."""

from __future__ import annotations

import time

import pytest

from sparktf import InputMode, TFCluster
from sparktf.cluster import SparkTFError


def answer_every_batch(args, ctx):
    import numpy as np

    feed = ctx.get_data_feed(train_mode=False)
    while not feed.should_stop():
        batch = feed.next_batch(7)  # small batches: answers cut across the sent batches
        if not batch:
            continue
        x = batch["x"]
        feed.batch_results(
            {
                "doubled": x * 2,
                "parity": (batch["id"] % 2).astype(np.int32),
                "label": [f"row{int(i)}" for i in batch["id"]],
                "pair": np.stack([x, -x], axis=1).astype(np.float32),
                "ragged": [np.arange(int(i) % 3, dtype=np.int64) for i in batch["id"]],
                "big": x > 500,
            }
        )


def answer_one_row_short(args, ctx):
    feed = ctx.get_data_feed(train_mode=False)
    while not feed.should_stop():
        batch = feed.next_batch(10)
        if batch:
            feed.batch_results({"doubled": batch["x"][:-1] * 2})


def start(spark, main_fun):
    return TFCluster.run(
        spark,
        main_fun,
        None,
        num_executors=2,
        input_mode=InputMode.SPARK,
        reservation_timeout=60,
        feed_timeout=60,
        shutdown_timeout=60,
    )


def test_inference_appends_answers_in_order_and_count(spark):
    # Three partitions of different sizes and an empty one.
    df = (
        spark.range(0, 1000, 1, 3)
        .selectExpr("id", "cast(id as double) as x", "'keep' as tag")
        .union(spark.range(0, 0, 1, 1).selectExpr("id", "cast(id as double) as x", "'keep' as tag"))
    )
    cluster = start(spark, answer_every_batch)
    try:
        scored = cluster.inference(
            df,
            "doubled double, parity int, label string, pair array<float>, "
            "ragged array<long>, big boolean",
            batch_size=64,
        )
        assert scored.columns == [
            "id",
            "x",
            "tag",
            "doubled",
            "parity",
            "label",
            "pair",
            "ragged",
            "big",
        ]
        started = time.monotonic()
        rows = scored.collect()
        print(f"inference of 1000 rows took {time.monotonic() - started:.1f} s")
        # A second action streams again and answers the same.
        assert scored.count() == 1000
    finally:
        cluster.shutdown(timeout=60)
    assert [r.id for r in rows] == [r.id for r in df.collect()], "rows reordered or lost"
    for r in rows:
        assert r.tag == "keep" and r.doubled == 2 * r.x
        assert r.parity == r.id % 2 and r.label == f"row{r.id}"
        assert r.pair == [float(r.x), -float(r.x)]
        assert r.ragged == list(range(r.id % 3)) and r.big == (r.x > 500)


def test_an_answer_of_the_wrong_row_count_fails_with_a_clear_error(spark):
    df = spark.range(0, 100, 1, 2).selectExpr("cast(id as float) as x")
    cluster = start(spark, answer_one_row_short)
    try:
        started = time.monotonic()
        with pytest.raises(Exception) as err:
            cluster.inference(df, "doubled float").collect()
        print(f"wrong answer became an error in {time.monotonic() - started:.1f} s")
        assert "9 values answer a batch of 10 rows" in str(err.value)
        assert "result 'doubled'" in str(err.value)
    finally:
        with pytest.raises(SparkTFError, match="answer a batch of 10 rows"):
            cluster.shutdown(timeout=60)


def test_bad_output_schema_is_refused_before_any_task(spark):
    df = spark.range(0, 10).selectExpr("cast(id as float) as x")
    cluster = start(spark, answer_every_batch)
    try:
        with pytest.raises(SparkTFError, match="output column 'x' is already a column"):
            cluster.inference(df, "x float")
        with pytest.raises(SparkTFError, match="output column 'm' is map<string,int>"):
            cluster.inference(df, "m map<string, int>")
    finally:
        cluster.shutdown(timeout=60)
