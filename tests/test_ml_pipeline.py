"""Spark ML: a Pipeline (VectorAssembler -> TFEstimator) fits on local-cluster, transforms,
saves and loads, and predicts what Keras predicts in one process on the same rows. TFModel
keeps one model server per executor across jobs and refuses bad columns before any task."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import VectorAssembler

from sparktf.ml import TFEstimator, TFModel


def train_regressor(args, ctx):
    import tensorflow as tf
    import tf_keras as keras

    from sparktf.program.export import export_saved_model

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential(
            [
                keras.Input(shape=(4,), name="x"),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(1, name="score"),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    ds = ctx.get_data_feed().dataset(32, features=["x"], label="y")
    model.fit(ds, epochs=1, verbose=2)
    export_saved_model(model, ctx)


def train_with_validation(args, ctx):
    """Fits on the training rows with the validation rows as ``validation_data``, and writes
    the number of validation rows it read to a file per node."""
    import os

    import tensorflow as tf
    import tf_keras as keras

    from sparktf.program.export import export_saved_model

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any other TensorFlow op
    feed = ctx.get_data_feed()
    validation = feed.validation_dataset(20, features=["x"], label="y")
    seen = sum(int(y.shape[0]) for _, y in validation)
    with open(os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}"), "w") as f:
        f.write(str(seen))
    with strategy.scope():
        model = keras.Sequential([keras.Input(shape=(4,), name="x"), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
    model.fit(feed.dataset(40, features=["x"], label="y"), validation_data=validation, verbose=0)
    export_saved_model(model, ctx)


def frame(spark, n=600):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 4))
    y = x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1
    rows = [(*map(float, x[i]), float(y[i])) for i in range(n)]
    df = (
        spark.createDataFrame(rows, "a double, b double, c double, d double, label double")
        .repartition(3)
        .cache()
    )  # cached: a round-robin shuffle's order differs each run
    df.count()
    return df


def server_pids() -> set[int]:
    """Model server processes this test session started (descendants of this process)."""
    import psutil

    pids = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "sparktf.serving" in p.cmdline():
                pids.add(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return pids


def test_pipeline_fits_transforms_saves_and_loads_like_keras(spark, tmp_path):
    df = frame(spark)
    est = TFEstimator(
        train_fn=train_regressor,
        cluster_size=2,
        epochs=4,
        export_dir=str(tmp_path / "export"),
        input_mapping={"features": "x", "label": "y"},
        output_mapping={"score": "prediction"},
        batch_size=100,
        cluster_config={"feed_timeout": 120, "reservation_timeout": 120},
    )
    pipeline = Pipeline(
        stages=[VectorAssembler(inputCols=["a", "b", "c", "d"], outputCol="features"), est]
    )
    started = time.monotonic()
    fitted = pipeline.fit(df)
    print(f"fit took {time.monotonic() - started:.1f} s")
    scored = fitted.transform(df)
    assert scored.columns == ["a", "b", "c", "d", "label", "features", "prediction"]
    rows = scored.collect()
    assert len(rows) == 600
    assert [r.label for r in rows] == [r.label for r in df.collect()], "rows reordered"

    # The same SavedModel called by TensorFlow in this process, on the same rows.
    import tensorflow as tf

    fn = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    x = np.array([list(r.features) for r in rows], dtype=np.float32)
    expected = fn(x=tf.constant(x))["score"].numpy()[:, 0]
    got = np.array([r.prediction for r in rows], dtype=np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # It learned something: better than predicting the mean.
    labels = np.array([r.label for r in rows])
    assert np.mean((got - labels) ** 2) < 0.5 * np.var(labels)

    # One model server per executor, reused by the next job.
    pids = server_pids()
    assert len(pids) == 2, f"expected one model server per executor, found {pids}"
    assert fitted.transform(df).count() == 600
    assert server_pids() == pids, "a second job started new model servers"

    # Saved and loaded, the pipeline predicts the same.
    fitted.write().overwrite().save(str(tmp_path / "pipeline_model"))
    loaded = PipelineModel.load(str(tmp_path / "pipeline_model"))
    assert isinstance(loaded.stages[-1], TFModel)
    again = np.array([r.prediction for r in loaded.transform(df).collect()], dtype=np.float32)
    np.testing.assert_allclose(again, got, rtol=1e-6)
    # The unfitted pipeline too, with the program inside.
    pipeline.write().overwrite().save(str(tmp_path / "pipeline"))
    est_loaded = Pipeline.load(str(tmp_path / "pipeline")).getStages()[-1]
    assert isinstance(est_loaded, TFEstimator)
    assert est_loaded.getOrDefault("epochs") == 4
    assert est_loaded.getInputMapping() == {"features": "x", "label": "y"}


def test_pipeline_feeds_the_validation_indicator_rows_as_the_validation_set(spark, tmp_path):
    from pyspark.sql import functions as F

    df = frame(spark).withColumn("is_val", F.col("a") > 0.8)  # about a fifth of the rows
    df = df.cache()
    val_rows = df.filter("is_val").count()
    assert 0 < val_rows < 600
    out = tmp_path / "seen"
    out.mkdir()
    est = TFEstimator(
        train_fn=train_with_validation,
        tf_args={"out": str(out)},
        cluster_size=2,
        epochs=2,
        export_dir=str(tmp_path / "export"),
        input_mapping={"features": "x", "label": "y"},
        validation_indicator_col="is_val",
        cluster_config={"feed_timeout": 120, "reservation_timeout": 120},
    )
    assembler = VectorAssembler(inputCols=["a", "b", "c", "d"], outputCol="features")
    model = Pipeline(stages=[assembler, est]).fit(df).stages[-1]

    report = model.feed_report()
    # The true rows went to the validation set, split evenly; the others were fed each epoch.
    assert sum(report["validation_rows_per_node"].values()) == val_rows
    shares = sorted(report["validation_rows_per_node"].values())
    assert shares == [val_rows // 2, val_rows - val_rows // 2]
    assert report["rows_total"] == 2 * (600 - val_rows)
    # And each node's program read its share.
    seen = {p.name: int(p.read_text()) for p in out.iterdir()}
    assert seen == {k.replace(":", "-"): v for k, v in report["validation_rows_per_node"].items()}

    # A bad indicator column is refused before any cluster starts.
    with pytest.raises(Exception, match="validationIndicatorCol 'a' is double: it must be boolean"):
        est.copy().setValidationIndicatorCol("a").fit(assembler.transform(df))
    with pytest.raises(Exception, match="validationIndicatorCol names column 'nope'"):
        est.copy().setValidationIndicatorCol("nope").fit(assembler.transform(df))


def test_tfmodel_refuses_bad_columns_before_any_task(spark, tmp_path):
    import tf_keras as keras

    model = keras.Sequential([keras.Input(shape=(3,), name="x"), keras.layers.Dense(2, name="out")])
    model.save(str(tmp_path / "m"), save_format="tf")
    df = spark.createDataFrame([([1.0, 2.0, 3.0], "s")], "v array<float>, s string")
    jobs_before = spark.sparkContext.statusTracker().getJobIdsForGroup(None)

    with pytest.raises(Exception, match="takes input 'x', which no column is named after"):
        TFModel(export_dir=str(tmp_path / "m")).transform(df)
    with pytest.raises(
        Exception, match="input_mapping names column 'nope', which the DataFrame lacks"
    ):
        TFModel(export_dir=str(tmp_path / "m"), input_mapping={"nope": "x"}).transform(df)
    with pytest.raises(Exception, match=r"column 's' \(string\) cannot feed input 'x'"):
        TFModel(export_dir=str(tmp_path / "m"), input_mapping={"s": "x"}).transform(df)
    with pytest.raises(Exception, match="no SavedModel at"):
        TFModel(export_dir=str(tmp_path / "missing"), input_mapping={"v": "x"}).transform(df)
    assert spark.sparkContext.statusTracker().getJobIdsForGroup(None) == jobs_before

    out = TFModel(
        export_dir=str(tmp_path / "m"), input_mapping={"v": "x"}, output_mapping={"out": "scores"}
    ).transform(df)
    assert out.schema["scores"].dataType.simpleString() == "array<float>"
    scores = out.collect()[0].scores
    expected = model(np.array([[1.0, 2.0, 3.0]], dtype=np.float32)).numpy()[0]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)


def test_tfmodel_built_without_export_dir_has_its_java_stage(spark, tmp_path):
    import tf_keras as keras

    model = keras.Sequential([keras.Input(shape=(3,), name="x"), keras.layers.Dense(2, name="out")])
    model.save(str(tmp_path / "m"), save_format="tf")
    df = spark.createDataFrame([([1.0, 2.0, 3.0],)], "v array<float>")

    empty = TFModel()
    assert empty._java_obj is not None
    # Its defaults are the Scala stage's, read from it.
    assert empty.getOrDefault("batchSize") == 1024
    assert empty.getOrDefault("signature") == "serving_default"
    with pytest.raises(Exception, match="TFModel needs exportDir"):
        empty.transform(df)
    out = (
        TFModel()
        .setExportDir(str(tmp_path / "m"))
        .setInputMapping({"v": "x"})
        .setOutputMapping({"out": "scores"})
        .transform(df)
    )
    expected = model(np.array([[1.0, 2.0, 3.0]], dtype=np.float32)).numpy()[0]
    np.testing.assert_allclose(out.collect()[0].scores, expected, rtol=1e-5)
