"""TensorFlowOnSpark's ``compat``: what its TF2 programs call to export and to set up datasets.

``export_saved_model(model, export_dir, is_chief)`` differs in how, not what: TensorFlowOnSpark
had every worker call ``model.save`` (non-chiefs into a scratch dir), which joins collective ops
under MultiWorkerMirroredStrategy and hung in our runs; here the chief saves an undistributed
copy of the trained model and the others return at once (``sparktf.program.export``).

Example (in ``main_fun``)::

    compat.export_saved_model(model, args.export_dir, ctx.job_name == "chief")
"""

from __future__ import annotations

from typing import Any


def export_saved_model(model: Any, export_dir: str, is_chief: bool = False) -> str | None:
    """The chief (``is_chief``) saves ``model`` as a SavedModel (``serving_default``) to
    ``export_dir``; returns that path there, None elsewhere. Call it outside
    ``strategy.scope()``."""
    if not is_chief:
        return None
    from sparktf.program.export import save_saved_model

    return save_saved_model(model, export_dir)


def disable_auto_shard(options: Any) -> None:
    """Turns tf.data's auto-sharding off in ``options`` (a ``tf.data.Options``): each node reads
    its own data."""
    import tensorflow as tf

    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF


def is_gpu_available() -> bool:
    """True when TensorFlow sees a GPU (the node's ``CUDA_VISIBLE_DEVICES``)."""
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU")) > 0
