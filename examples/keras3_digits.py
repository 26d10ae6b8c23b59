"""The digits classifier with Keras 3: ``sparktf.program.keras3.fit`` trains under
MultiWorkerMirroredStrategy (where Keras 3 ``model.fit`` fails on TF 2.21), the chief saves a
``.keras`` file. Same driver as keras_digits.py; run it the same way::

    python examples/keras3_digits.py --master 'local-cluster[2,1,1024]'
"""

from __future__ import annotations

import os
import sys
from typing import Any

import keras_digits


def main_fun(args: dict[str, Any], ctx: Any) -> None:
    import keras
    import tensorflow as tf

    from sparktf.program.export import export_model
    from sparktf.program.keras3 import fit

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(args["learning_rate"]),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    dataset = ctx.get_data_feed().dataset(args["batch_size"], features=["features"], label="label")
    fit(model, dataset, strategy)
    export_model(model, ctx)  # the chief writes export_dir/model.keras


def evaluate(export_dir: str, test_df: Any) -> float:
    import keras
    import numpy as np

    rows = test_df.collect()
    x = np.array([r.features for r in rows], dtype="float32")
    y = np.array([r.label for r in rows])
    model = keras.models.load_model(os.path.join(export_dir, "model.keras"))
    return float((np.argmax(model.predict(x, verbose=0), axis=1) == y).mean())


if __name__ == "__main__":
    keras_digits.main_fun = main_fun  # the shared driver runs this program instead
    keras_digits.evaluate = evaluate
    sys.exit(keras_digits.main())
