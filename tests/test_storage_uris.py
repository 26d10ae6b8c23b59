"""Data and shared directories given as URIs, as on a real cluster (``s3a://``, ``gs://``,
``hdfs://``), here with the local filesystem as the stand-in behind a ``file://`` URI: the feed
reads the Parquet through Spark's reader (Hadoop's FileSystem, as it would S3 or GCS), the count
that plans it reads only the files' footers, and every node's ``ctx.log_dir`` and
``ctx.checkpoint_dir`` are URIs under ``model_dir``."""

from __future__ import annotations

import json

from sparktf import InputMode, TFCluster

ROWS = 3000


def record_dirs(args, ctx):
    import json
    import os

    feed = ctx.get_data_feed()
    rows = 0
    while not feed.should_stop():
        batch = feed.next_batch(500)
        if batch:
            rows += len(batch["x"])
    where = {"log_dir": ctx.log_dir, "checkpoint_dir": ctx.checkpoint_dir, "rows": rows}
    with open(os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.json"), "w") as fh:
        json.dump(where, fh)


def test_parquet_and_model_dir_behind_uris(spark, tmp_path):
    data = f"file://{tmp_path}/train"
    spark.range(ROWS).selectExpr("cast(id as float) x").repartition(3).write.parquet(data)
    model_dir = f"file://{tmp_path}/model"
    cluster = TFCluster.run(
        spark,
        record_dirs,
        {"out": str(tmp_path)},
        num_executors=2,
        input_mode=InputMode.SPARK,
        model_dir=model_dir,
        reservation_timeout=60,
        shutdown_timeout=60,
        node_output="none",
        progress=False,
    )
    try:
        report = cluster.train(spark.read.parquet(data), num_epochs=1)
    finally:
        cluster.shutdown()
    assert report["rows_total"] == ROWS
    for role in ("chief-0", "worker-0"):
        seen = json.loads((tmp_path / f"{role}.json").read_text())
        assert seen["log_dir"] == f"{model_dir}/tensorboard/{role}", seen
        assert seen["checkpoint_dir"] == f"{model_dir}/checkpoints", seen
    assert (
        sum(
            json.loads((tmp_path / f"{r}.json").read_text())["rows"]
            for r in ("chief-0", "worker-0")
        )
        == ROWS
    )
