"""Model export from a distributed program, on the chief alone.

Saving a model built under MultiWorkerMirroredStrategy runs collective ops, so every worker must
join the save, in the same order; in our runs that sometimes hung for good. ``export_model``
avoids collectives: the chief copies the trained weights (mirrored variables read locally) into
an undistributed clone and saves that. The other nodes return at once.

Example, at the end of ``main_fun(args, ctx)``::

    from sparktf.program.export import export_model
    export_model(model, ctx)              # SavedModel (tf_keras) or model.keras (Keras 3)
"""

from __future__ import annotations

import os
from typing import Any

from sparktf.wire.roles import acts_as_chief


def _keras_of(model: Any) -> Any:
    """The Keras the model was built with: legacy tf_keras or Keras 3."""
    if type(model).__module__.startswith("tf_keras"):
        import tf_keras

        return tf_keras
    import keras

    return keras


def _chief_copy(model: Any, ctx: Any, path: str | None, what: str) -> tuple[Any, Any, str] | None:
    """On the chief: ``(keras, undistributed clone with the trained weights, target path)``;
    None on the other nodes."""
    if not acts_as_chief(ctx.job_name, ctx.task_index, ctx.cluster_spec):
        return None
    target = path or ctx.export_dir
    if not target:
        raise ValueError("no export path: pass path= or start the cluster with export_dir=...")
    keras, clone = _undistributed_copy(model, what)
    return keras, clone, target


def _undistributed_copy(model: Any, what: str) -> tuple[Any, Any]:
    """``(keras, a clone of model outside any strategy, holding its trained weights)``."""
    keras = _keras_of(model)
    import tensorflow as tf

    if tf.distribute.has_strategy():
        raise RuntimeError(
            f"call {what} outside `with strategy.scope():`, so the copy it saves is not distributed"
        )
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return keras, clone


def export_model(model: Any, ctx: Any, path: str | None = None) -> str | None:
    """Saves ``model`` to ``path`` (default ``ctx.export_dir``) on the chief; returns the path
    written there, None on other nodes. tf_keras models become a SavedModel directory; Keras 3
    models a ``model.keras`` file inside the directory (or ``path`` itself if it ends in
    ``.keras``)."""
    copy = _chief_copy(model, ctx, path, "export_model")
    if copy is None:
        return None
    keras, clone, target = copy
    if keras.__name__ == "tf_keras":
        clone.save(target)
        return target
    if not target.endswith(".keras"):
        os.makedirs(target, exist_ok=True)
        target = os.path.join(target, "model.keras")
    clone.save(target)
    return target


def export_saved_model(model: Any, ctx: Any, path: str | None = None) -> str | None:
    """Saves ``model`` as a TensorFlow SavedModel for serving (what ``TFModel`` and
    ``TFEstimator`` load) to ``path`` (default ``ctx.export_dir``) on the chief; returns the
    path there, None on other nodes. Keras 3 models go through ``model.export``; tf_keras
    models through ``model.save``. Its signature ``serving_default`` takes the model's inputs
    by their ``keras.Input(name=...)`` names."""
    copy = _chief_copy(model, ctx, path, "export_saved_model")
    if copy is None:
        return None
    keras, clone, target = copy
    return _save_saved_model(keras, clone, target)


def save_saved_model(model: Any, path: str) -> str:
    """``export_saved_model`` on whichever node calls it, the caller having decided it is the
    one to save (``sparktf.tfos.compat.export_saved_model(model, dir, is_chief)``)."""
    keras, clone = _undistributed_copy(model, "save_saved_model")
    return _save_saved_model(keras, clone, path)


def _save_saved_model(keras: Any, clone: Any, target: str) -> str:
    if keras.__name__ == "tf_keras":
        clone.save(target, save_format="tf")
    else:
        clone.export(target, format="tf_saved_model", verbose=False)
    return target
