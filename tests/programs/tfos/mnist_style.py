"""TensorFlowOnSpark-style programs on scikit-learn's digits (8x8 images, no download), written
as TFoS's examples/mnist/keras programs are, importing from sparktf.tfos where those import from
tensorflowonspark. Run by tests/test_tfos.py with spark-submit on local-cluster[2,1,1024] and
--py-files digits.zip,shipped_marker.py; prints one JSON line of what it saw.
"""


def count_fun(args, ctx):
    """RDD input, one loop for every train() and inference() of its cluster."""
    import json
    import os

    import shipped_marker  # from --py-files

    from sparktf.tfos import TFNode

    tf_feed = TFNode.DataFeed(ctx.mgr, False)
    seen = {"rows": 0, "label_sum": 0, "widths": [], "answered": 0}
    while not tf_feed.should_stop():
        batch = tf_feed.next_batch(7)
        if len(batch) == 0:
            continue
        if len(batch[0]) == 3:  # (image, label, "score"): an inference row
            tf_feed.batch_results([{"label": int(r[1]), "double": 2 * int(r[1])} for r in batch])
            seen["answered"] += len(batch)
            continue
        for image, label in batch:
            seen["rows"] += 1
            seen["label_sum"] += int(label)
            if len(image) not in seen["widths"]:
                seen["widths"].append(len(image))
    seen.update(
        worker_num=ctx.worker_num,
        job_name=ctx.job_name,
        marker=shipped_marker.VALUE,
        legacy_keras=os.environ.get("TF_USE_LEGACY_KERAS"),
        default_fs=ctx.defaultFS,
        absolute=ctx.absolute_path("mnist_model"),
        has_mgr=ctx.mgr is not None,
    )
    with open(os.path.join(args.out, f"count-{ctx.worker_num}.json"), "w") as f:
        json.dump(seen, f)


def main_fun(args, ctx):
    """The CNN of TFoS's mnist_spark.py / mnist_pipeline.py, on 8x8 digits."""
    import digits_data  # from --py-files (a .zip)
    import numpy as np
    import tensorflow as tf

    from sparktf.tfos import TFNode, compat

    strategy = tf.distribute.experimental.MultiWorkerMirroredStrategy()

    def build_and_compile_cnn_model():
        model = tf.keras.Sequential(
            [
                # The input's name as tf.keras gives it (TFoS's examples rely on it), stated.
                tf.keras.layers.InputLayer(
                    input_shape=digits_data.IMAGE_SHAPE, name="conv2d_input"
                ),
                tf.keras.layers.Conv2D(16, 3, activation="relu"),
                tf.keras.layers.Flatten(),
                tf.keras.layers.Dense(32, activation="relu"),
                tf.keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(
            loss=tf.keras.losses.sparse_categorical_crossentropy,
            optimizer=tf.keras.optimizers.Adam(learning_rate=0.005),
            metrics=["accuracy"],
        )
        return model

    tf_feed = TFNode.DataFeed(ctx.mgr, False)

    def rdd_generator():
        while not tf_feed.should_stop():
            batch = tf_feed.next_batch(1)
            if len(batch) > 0:
                example = batch[0]
                image = digits_data.as_image(example[0])
                label = np.reshape(np.array(example[1]).astype(np.float32), (1,))
                yield (image, label)
            else:
                return

    ds = tf.data.Dataset.from_generator(
        rdd_generator,
        (tf.float32, tf.float32),
        (tf.TensorShape(list(digits_data.IMAGE_SHAPE)), tf.TensorShape([1])),
    )
    options = tf.data.Options()
    compat.disable_auto_shard(options)
    ds = ds.with_options(options).batch(args.batch_size)

    with strategy.scope():
        multi_worker_model = build_and_compile_cnn_model()

    # As TFoS's example: stop short of the rows each worker is fed, so none runs dry.
    steps_per_epoch = int(args.train_rows / args.batch_size / ctx.num_workers * 0.9)
    multi_worker_model.fit(x=ds, epochs=args.epochs, steps_per_epoch=steps_per_epoch, verbose=0)
    compat.export_saved_model(multi_worker_model, args.export_dir, ctx.job_name == "chief")
    tf_feed.terminate()


def inference(args, ctx):
    """TFoS's mnist_inference.py: each instance scores its shard of the TFRecords."""
    import os

    import numpy as np
    import tensorflow as tf

    saved_model = tf.saved_model.load(args.export_dir, tags="serve")
    predict = saved_model.signatures["serving_default"]

    def parse_tfr(example_proto):
        feature_def = {
            "label": tf.io.FixedLenFeature(1, tf.int64),
            "image": tf.io.FixedLenFeature(64, tf.int64),
        }
        features = tf.io.parse_single_example(serialized=example_proto, features=feature_def)
        image = tf.reshape(tf.cast(features["image"], tf.float32), [8, 8, 1])
        return (image, tf.cast(features["label"], tf.float32))

    ds = tf.data.Dataset.list_files(f"{args.tfrecords}/part-*", shuffle=False)
    ds = ds.shard(ctx.num_workers, ctx.worker_num)
    ds = ds.interleave(tf.data.TFRecordDataset).map(parse_tfr).batch(50)
    tf.io.gfile.makedirs(args.output)
    with tf.io.gfile.GFile(f"{args.output}/part-{ctx.worker_num:05d}", mode="w") as f:
        for batch in ds:
            predictions = predict(conv2d_input=batch[0])
            labels = np.reshape(batch[1], -1).astype(int)
            preds = np.argmax(predictions["dense_1"], axis=1)
            for x in zip(labels, preds):
                f.write(f"{x[0]} {x[1]}\n")
    return {"worker_num": ctx.worker_num, "tf_config": os.environ.get("TF_CONFIG")}


if __name__ == "__main__":
    import argparse
    import glob
    import json
    import os

    from pyspark.conf import SparkConf
    from pyspark.context import SparkContext
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import udf
    from pyspark.sql.types import IntegerType
    from sklearn.datasets import load_digits

    from sparktf.tfos import TFCluster, TFParallel, dfutil
    from sparktf.tfos.pipeline import TFEstimator, TFModel

    sc = SparkContext(conf=SparkConf().setAppName("tfos_mnist_style"))
    spark = SparkSession(sc)
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--cluster_size", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    args.out = os.path.join(args.work, "out")
    args.export_dir = os.path.join(args.work, "mnist_export")
    args.model_dir = os.path.join(args.work, "mnist_model")
    args.tfrecords = os.path.join(args.work, "tfr")
    args.output = os.path.join(args.work, "predictions")
    os.makedirs(args.out)

    digits = load_digits()
    rows = [
        ([int(p) for p in image], int(label)) for image, label in zip(digits.data, digits.target)
    ]
    args.train_rows = len(rows)
    report = {"rows": len(rows)}

    # 1. RDD input, two train() calls and an inference() served by one loop.
    images_labels = sc.parallelize(rows, 4)
    cluster = TFCluster.run(
        sc,
        count_fun,
        args,
        args.cluster_size,
        num_ps=0,
        tensorboard=False,
        input_mode=TFCluster.InputMode.SPARK,
        master_node="chief",
    )
    first = cluster.train(images_labels, 1)
    second = cluster.train(images_labels.filter(lambda r: r[1] < 5), 2)
    scored = cluster.inference(images_labels.map(lambda r: (r[0], r[1], "score"))).collect()
    cluster.shutdown()
    report["train_reports"] = [first["rows_total"], second["rows_total"]]
    report["inference"] = scored
    report["count"] = [json.load(open(p)) for p in sorted(glob.glob(args.out + "/count-*"))]

    # 2. pipeline.TFEstimator with setters, then TFModel on the flat image column.
    df = spark.createDataFrame(images_labels, ["image", "label"])
    estimator = (
        TFEstimator(main_fun, args)
        .setInputMapping({"image": "image", "label": "label"})
        .setModelDir(args.model_dir)
        .setExportDir(args.export_dir)
        .setClusterSize(args.cluster_size)
        .setTensorboard(False)
        .setEpochs(args.epochs)
        .setBatchSize(args.batch_size)
        .setGraceSecs(1)
    )
    estimator.fit(df)
    model = (
        TFModel(args)
        .setInputMapping({"image": "conv2d_input"})
        .setOutputMapping({"dense_1": "prediction"})
        .setSignatureDefKey("serving_default")
        .setExportDir(args.export_dir)
        .setBatchSize(args.batch_size)
    )

    def argmax_fn(v):
        return max(range(len(v)), key=lambda i: v[i])

    argmax = udf(argmax_fn, IntegerType())
    preds = model.transform(df).withColumn("argmax", argmax("prediction"))
    report["transform_columns"] = preds.columns
    labelled = df.select("label").rdd.map(lambda r: r[0]).collect()
    predicted = preds.select("argmax").rdd.map(lambda r: r[0]).collect()
    report["transform_accuracy"] = sum(int(a == b) for a, b in zip(labelled, predicted)) / len(
        labelled
    )
    short = spark.createDataFrame([([1] * 60, 0)], ["image", "label"])
    try:
        model.transform(short).count()
        report["short_image_error"] = None
    except Exception as e:  # noqa: BLE001 - the message is what the test checks
        report["short_image_error"] = str(e)

    # 3. dfutil: TFRecords written in the JVM, read back, and TFoS's row functions.
    dfutil.saveAsTFRecords(df.repartition(2), args.tfrecords)
    loaded = dfutil.loadTFRecords(sc, args.tfrecords)
    report["loaded"] = {
        "is_loaded": dfutil.isLoadedDF(loaded),
        "plain": dfutil.isLoadedDF(df),
        "count": loaded.count(),
        "schema": loaded.schema.simpleString(),
    }
    firsts = df.take(3)
    examples = sc.parallelize(firsts, 1).mapPartitions(dfutil.toTFExample(df.dtypes))
    back = examples.mapPartitions(lambda it: dfutil.fromTFExample(it)).collect()
    report["round_trip"] = [
        (list(r["image"]), r["label"]) == (list(o["image"]), o["label"])
        for r, o in zip(back, firsts)
    ]
    report["round_trip_first"] = [back[0].asDict(), firsts[0].asDict()] if back else None
    from sparktf.v1 import example_pb2

    first_example = example_pb2.Example.FromString(bytes(examples.first()[0]))
    report["inferred"] = dfutil.infer_schema(first_example).simpleString()

    # 4. TFParallel: independent instances score their shards of the TFRecords.
    report["parallel"] = TFParallel.run(sc, inference, args, args.cluster_size)
    lines = [ln.split() for p in sorted(glob.glob(args.output + "/part-*")) for ln in open(p)]
    report["parallel_files"] = sorted(os.path.basename(p) for p in glob.glob(args.output + "/*"))
    report["parallel_rows"] = len(lines)
    report["parallel_accuracy"] = sum(int(a == b) for a, b in lines) / max(1, len(lines))
    print(json.dumps(report))
