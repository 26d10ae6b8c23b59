"""A Spark Connect client of sparktf, run by tests/test_connect.py as its own process (a client
with no JVM, as a user's would be): `connect_client.py <scenario> sc://host:port [dir]`. Each
scenario prints JSON lines; the last one is its result."""

from __future__ import annotations

import json
import sys
import time

from pyspark.sql import SparkSession

from sparktf import TFCluster
from sparktf.cluster import SparkTFError


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


def train_linear(args, ctx):
    import tensorflow as tf
    import tf_keras as keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.layers.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    feed = ctx.get_data_feed()
    validation = feed.validation_dataset(32, features=["x"], label="y")  # validation_df
    model.fit(feed.dataset(32, features=["x"], label="y"), validation_data=validation, verbose=0)


def double_every_row(args, ctx):
    feed = ctx.get_data_feed(train_mode=False)
    while not feed.should_stop():
        batch = feed.next_batch(64)
        if batch:
            feed.batch_results({"doubled": batch["v"] * 2})


def fail_after_a_batch(args, ctx):
    ctx.get_data_feed().next_batch(10)
    raise ValueError("connect-client-boom: the program failed on purpose")


def read_slowly(args, ctx):
    feed = ctx.get_data_feed()
    while not feed.should_stop():
        feed.next_batch(5)
        time.sleep(0.5)


def train_regressor(args, ctx):
    import tensorflow as tf
    import tf_keras as keras

    from sparktf.program.export import export_saved_model

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input(shape=(4,), name="x"), keras.layers.Dense(1, name="score")]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    model.fit(ctx.get_data_feed().dataset(32, features=["x"], label="y"), epochs=1, verbose=0)
    export_saved_model(model, ctx)


TIMEOUTS = {"reservation_timeout": 120, "feed_timeout": 120}


def place_and_plain_values(ctx):
    import json as js
    import os

    return {"task": js.loads(os.environ["TF_CONFIG"])["task"], "values": (1, 2.5, None, True, "s")}


def a_numpy_number(ctx):
    import numpy as np

    return np.float32(0.5)


def features(spark, n):
    """n rows computed in the server (deterministic): x = array<float>[2], y float."""
    return spark.range(n, numPartitions=3).selectExpr(
        "array(cast(id % 7 as float) / 7, cast(id % 5 as float) / 5) as x",
        "cast(id % 7 as float) / 7 + cast(id % 5 as float) / 5 as y",
    )


def scenario_train(spark, _dir):
    df = features(spark, 600)
    cluster = TFCluster.run(spark, train_linear, {}, num_executors=2, **TIMEOUTS)
    nodes = cluster.nodes
    report = cluster.train(df, num_epochs=2, validation_df=features(spark, 100))
    first_id, tensorboard = cluster.cluster_id, cluster.tensorboard_url
    cluster.shutdown()
    import psutil

    # What this client runs besides itself: no JVM (Connect's client is gRPC alone).
    children = [p.name() for p in psutil.Process().children(recursive=True)]
    say(
        count=df.count(),
        report=report,
        roles=sorted(n["role"] for n in nodes),
        cluster_id=first_id,
        tensorboard_url=tensorboard,
        state=cluster.state,
        children=children,
    )


def scenario_inference(spark, _dir):
    df = spark.range(500, numPartitions=2).selectExpr("id", "cast(id as float) as v")
    cluster = TFCluster.run(spark, double_every_row, None, num_executors=2, **TIMEOUTS)
    try:
        scored = cluster.inference(df, "doubled float", batch_size=50)
        rows = scored.orderBy("id").collect()
        try:
            cluster.inference(df, "doubled not_a_type")
            refused = None
        except SparkTFError as e:
            refused = str(e)
    finally:
        cluster.shutdown()
    say(
        columns=scored.columns,
        rows=len(rows),
        wrong=sum(1 for r in rows if r["doubled"] != 2 * r["v"]),
        refused=refused,
    )


def scenario_failure(spark, _dir):
    cluster = TFCluster.run(spark, fail_after_a_batch, None, num_executors=2, **TIMEOUTS)
    try:
        cluster.train(features(spark, 400))
        say(raised=None)
    except SparkTFError as e:
        say(raised="SparkTFError", message=str(e))
    finally:
        try:
            cluster.shutdown()
        except SparkTFError:
            pass  # the failed cluster says again that it failed; it is stopped either way


def scenario_disconnect(spark, _dir):
    # Rows of 1 KiB and a queue of one batch: the feed waits on the slow program for minutes.
    df = spark.range(20000, numPartitions=2).selectExpr("cast(sequence(0, 255) as array<float>) x")
    cluster = TFCluster.run(spark, read_slowly, None, num_executors=2, queue_capacity=1, **TIMEOUTS)
    say(pids=[n["pid"] for n in cluster.nodes])
    say(training=True)
    cluster.train(df)  # the test kills this process here
    say(finished=True)


def scenario_pipeline(spark, export_dir):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler

    from sparktf.ml import TFEstimator

    df = spark.range(400, numPartitions=2).selectExpr(
        "id",
        "cast(id % 3 as double) a",
        "cast(id % 5 as double) b",
        "cast(id % 7 as double) c",
        "cast(id % 11 as double) d",
        "cast(id % 3 + id % 7 as double) label",
    )
    est = TFEstimator(
        train_fn=train_regressor,
        cluster_size=2,
        epochs=2,
        export_dir=export_dir,
        input_mapping={"features": "x", "label": "y"},
        output_mapping={"score": "prediction"},
        batch_size=100,
        cluster_config=TIMEOUTS,
    )
    assembler = VectorAssembler(inputCols=["a", "b", "c", "d"], outputCol="features")
    model = Pipeline(stages=[assembler, est]).fit(df)
    scored = model.transform(df)
    rows = scored.select("id", "prediction").collect()
    say(
        columns=scored.columns,
        rows=len(rows),
        nulls=sum(1 for r in rows if r["prediction"] is None),
        export_dir=model.stages[-1].getOrDefault("exportDir"),
    )


def scenario_run(spark, _dir):
    import sparktf

    value = sparktf.run(place_and_plain_values, 2, spark, **TIMEOUTS)
    try:
        sparktf.run(a_numpy_number, 2, spark, **TIMEOUTS)
        refused = None
    except SparkTFError as e:
        refused = str(e)
    say(value=value, refused=refused)


if __name__ == "__main__":
    scenario, url = sys.argv[1], sys.argv[2]
    session = SparkSession.builder.remote(url).getOrCreate()
    try:
        globals()[f"scenario_{scenario}"](session, sys.argv[3] if len(sys.argv) > 3 else None)
    finally:
        session.stop()
