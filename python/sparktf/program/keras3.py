"""Keras 3 training under MultiWorkerMirroredStrategy, through public APIs only.

On TF 2.21, Keras 3 ``model.fit`` fails under MultiWorkerMirroredStrategy before its first step
(keras-team/keras#20585). ``fit`` here runs the same training as a custom loop: the compiled
model's own loss and optimizer, ``strategy.run`` per step, the loss averaged over the global
batch (the optimizer sums gradients across replicas). Compiled metrics are not computed in
the loop (building them inside a replica step would create variables there): evaluate after.

Example, inside ``main_fun(args, ctx)``::

    import keras, tensorflow as tf
    from sparktf.program.keras3 import fit

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
        model.compile(optimizer="adam",
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = fit(model, ctx.get_data_feed().dataset(32, ["features"], "label"), strategy)
    if ctx.job_name == "chief":
        model.save(os.path.join(ctx.export_dir, "model.keras"))
"""

from __future__ import annotations

import time
from typing import Any


def _per_example_loss(model: Any) -> Any:
    """The compiled loss as a function returning one loss per example."""
    import keras

    loss = getattr(model, "loss", None)
    if loss is None:
        raise ValueError(
            "the model is not compiled with a loss: call model.compile(loss=...) first"
        )
    loss = keras.losses.get(loss) if isinstance(loss, str) else loss
    if isinstance(loss, keras.losses.Loss):
        # The same loss, reduced by us: per example, then averaged over the global batch.
        config = loss.get_config()
        config["reduction"] = None
        loss = loss.__class__.from_config(config)
    return loss


def fit(
    model: Any, dataset: Any, strategy: Any = None, epochs: int = 1, verbose: bool = True
) -> dict[str, list[float]]:
    """Trains a compiled Keras 3 model on ``dataset`` of ``(x, y)`` batches under ``strategy``
    (default: the current one). Returns a history like ``model.fit``'s: the mean loss per epoch.

    Every worker must see the same number of batches per epoch, as with ``model.fit``.
    """
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    loss_fn = _per_example_loss(model)
    optimizer = model.optimizer

    def replica_step(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            predicted = model(x, training=True)
            per_example = tf.reshape(loss_fn(y, predicted), [-1])
            loss = tf.nn.compute_average_loss(per_example)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function
    def train_step(x: Any, y: Any) -> Any:
        losses = strategy.run(replica_step, args=(x, y))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    history: dict[str, list[float]] = {"loss": []}
    distributed = strategy.experimental_distribute_dataset(dataset)
    for epoch in range(epochs):
        started = time.time()
        total, steps = 0.0, 0
        for x, y in distributed:
            total += float(train_step(x, y))
            steps += 1
        history["loss"].append(total / max(steps, 1))
        if verbose:
            shown = ", ".join(f"{k}={v[-1]:.4f}" for k, v in history.items())
            print(
                f"epoch {epoch + 1}/{epochs}: {steps} steps, {shown}, "
                f"{time.time() - started:.1f} s",
                flush=True,
            )
    return history
