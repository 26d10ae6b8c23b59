"""Parameter-server training on Spark with sparktf, with a sidecar evaluator.

Five nodes on a local-cluster: one ps, a chief, two workers and an evaluator. The chief runs
TF2 ParameterServerStrategy's coordinator inside tf_keras ``model.fit``: variables live on the
ps, the workers run the steps on data from the coordinator's ``dataset_fn`` (InputMode.TENSORFLOW:
nothing is fed by Spark). The chief saves a checkpoint every epoch; the evaluator scores each
new one on held-out rows while training goes on. ps and workers call
``sparktf.program.parameter_server.serve``, which returns once the chief's program has ended, so
``cluster.shutdown()`` returns as soon as training is done. The driver prints one JSON line:
loss per epoch, the evaluations, and timings.

Keras path: legacy Keras 2 (``tf_keras``); Keras 3 ``fit`` has no ParameterServerStrategy.
Data: scikit-learn's bundled handwritten digits (no download).

    python examples/parameter_server.py --master 'local-cluster[5,1,1024]' --epochs 8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

TEST_ROWS = 397


def main_fun(args: dict[str, Any], ctx: Any) -> None:
    """Runs on every node; what it does depends on the node's role."""
    if ctx.job_name in ("ps", "worker"):
        from sparktf.program.parameter_server import serve

        serve(ctx)
    elif ctx.job_name == "evaluator":
        evaluate(args, ctx)
    else:
        train(args, ctx)


def digits(test: bool) -> tuple[Any, Any]:
    """The digits (features scaled to 0..1), split in a fixed order into train and test rows."""
    import numpy as np
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(7).permutation(len(data.target))
    rows = order[:TEST_ROWS] if test else order[TEST_ROWS:]
    return (data.data[rows] / 16.0).astype("float32"), data.target[rows].astype("int32")


def build_model(learning_rate: float) -> Any:
    import tf_keras as keras

    model = keras.Sequential(
        [
            keras.layers.Input(shape=(64,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=5,
    )
    return model


def train(args: dict[str, Any], ctx: Any) -> None:
    """The chief: coordinator of ParameterServerStrategy, checkpoints every epoch, exports."""
    import tensorflow as tf
    import tf_keras as keras

    from sparktf.program.export import export_model

    strategy = tf.distribute.ParameterServerStrategy(
        tf.distribute.cluster_resolver.TFConfigClusterResolver()
    )
    x, y = digits(test=False)

    def dataset_fn(input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        # Runs on each worker: its own shuffle order over the training rows.
        return (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(y), seed=input_context.input_pipeline_id)
            .repeat()
            .batch(args["batch_size"])
            .prefetch(2)
        )

    with strategy.scope():
        model = build_model(args["learning_rate"])
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model), args["checkpoint_dir"], max_to_keep=None
    )
    saved: list[str] = []

    class SaveEachEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            saved.append(manager.save(checkpoint_number=epoch + 1))

    history = model.fit(
        keras.utils.experimental.DatasetCreator(dataset_fn),
        epochs=args["epochs"],
        steps_per_epoch=args["steps_per_epoch"],
        callbacks=[SaveEachEpoch()],
        verbose=2,
    )
    export_model(model, ctx)
    with open(os.path.join(ctx.model_dir, "history.json"), "w", encoding="utf-8") as fh:
        json.dump({"loss": history.history["loss"], "checkpoints": saved}, fh)


def evaluate(args: dict[str, Any], ctx: Any) -> None:
    """The evaluator: scores each checkpoint the chief writes on the held-out rows."""
    import tensorflow as tf

    from sparktf.program.evaluation import evaluate_checkpoints

    x, y = digits(test=True)
    evaluate_checkpoints(
        ctx,
        build_model(args["learning_rate"]),
        tf.data.Dataset.from_tensor_slices((x, y)).batch(128),
        checkpoint_dir=args["checkpoint_dir"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local-cluster[5,1,1024]")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-eval", action="store_true", help="no evaluator node")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--steps-per-epoch", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--timeout", type=float, default=600, help="shutdown timeout, seconds")
    parser.add_argument("--jar", default=None, help="sparktf jar (default: sparktf.jar_path())")
    opts = parser.parse_args(argv)

    from pyspark.sql import SparkSession

    import sparktf
    from sparktf import InputMode, TFCluster

    builder = (
        SparkSession.builder.appName("sparktf parameter server")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if opts.master:
        builder = builder.master(opts.master)
    jar = opts.jar or (None if _jar_on_classpath() else sparktf.jar_path())
    if jar:
        builder = builder.config("spark.jars", jar)
    spark = builder.getOrCreate()
    model_dir = opts.model_dir or tempfile.mkdtemp(prefix="sparktf-ps-")
    with_eval = not opts.no_eval
    try:
        started = time.time()
        cluster = TFCluster.run(
            spark,
            main_fun,
            {
                "epochs": opts.epochs,
                "steps_per_epoch": opts.steps_per_epoch,
                "batch_size": opts.batch_size,
                "learning_rate": opts.learning_rate,
                "checkpoint_dir": os.path.join(model_dir, "checkpoints"),
            },
            num_executors=1 + 1 + opts.workers + (1 if with_eval else 0),
            num_ps=1,
            input_mode=InputMode.TENSORFLOW,
            master_node="chief",
            eval_node=with_eval,
            model_dir=model_dir,
            export_dir=os.path.join(model_dir, "export"),
        )
        cluster.shutdown(timeout=opts.timeout)
        ended = time.time()
        history_file = os.path.join(model_dir, "history.json")
        with open(history_file, encoding="utf-8") as fh:
            history = json.load(fh)
        evaluations = []
        results = os.path.join(model_dir, "eval", "metrics.jsonl")
        if with_eval and os.path.exists(results):
            with open(results, encoding="utf-8") as fh:
                evaluations = [json.loads(line) for line in fh if line.strip()]
        print(
            json.dumps(
                {
                    "loss_per_epoch": [round(v, 4) for v in history["loss"]],
                    "checkpoints": history["checkpoints"],
                    "evaluations": [
                        {
                            "checkpoint": e["checkpoint"],
                            "step": e["step"],
                            **{k: round(v, 4) for k, v in e["metrics"].items()},
                        }
                        for e in evaluations
                    ],
                    "wall_seconds": round(ended - started, 1),
                    # The chief wrote its history last: how long ps, workers, evaluator outlived it.
                    "shutdown_after_chief_seconds": round(
                        ended - os.path.getmtime(history_file), 1
                    ),
                    "model_dir": model_dir,
                }
            )
        )
        return 0
    finally:
        spark.stop()


def _jar_on_classpath() -> bool:
    """True when sparktf's Python came from its jar (spark-submit --packages): Spark has it."""
    import sparktf

    return ".jar" in os.path.dirname(os.path.dirname(os.path.abspath(sparktf.__file__)))


if __name__ == "__main__":
    sys.exit(main())
