"""A TensorFlow program for the Scala tests: logistic regression with legacy Keras under
MultiWorkerMirroredStrategy, fed by sparktf; the chief writes what it learned to a file."""

import json
import os


def main_fun(args, ctx):
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.layers.Input((2,)), keras.layers.Dense(1)])
        model.compile(
            optimizer=keras.optimizers.Adam(0.05),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
        )
    dataset = ctx.get_data_feed().dataset(32, features=["x"], label="y")
    history = model.fit(dataset, epochs=1, verbose=0, steps_per_epoch=None)
    probe = np.array([[0.5, 0.5], [-0.5, -0.5], [0.9, -0.1], [-0.9, 0.1]], dtype="float32")
    logits = model.predict(probe, verbose=0).ravel()
    if ctx.job_name == "chief":
        result = {
            "loss": float(history.history["loss"][-1]),
            "accuracy": float(history.history["binary_accuracy"][-1]),
            "probe_logits": [float(v) for v in logits],
            "job_name": ctx.job_name,
            "num_workers": ctx.num_workers,
        }
        with open(os.path.join(args["result_dir"], "result.json"), "w") as f:
            json.dump(result, f)
