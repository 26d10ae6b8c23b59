"""What a Keras 3 ``fit`` in this node finished, written where a restart can read it.

A restarted feed (``max_restarts``) must start at the first epoch the programs had not finished:
BackupAndRestore resumes there, and epochs the JVM fed whole may still have been in the dead
node's queue. Only the program knows what it finished, and it dies with the node, so after each
epoch's callbacks (BackupAndRestore's backup among them) the node writes a small record into the
checkpoint directory, which outlives restarts and which the driver reads
(``io.sparktf.feed.FinishedEpochs``)::

    <checkpoint_dir>/.sparktf/epochs/<cluster_id>/<job>-<task>.json
    {"feed_id": "...", "epochs_finished": 3, "rows_taken": 2100}

``epochs_finished`` is Keras' epoch count (it goes on from the backup after a restart);
``rows_taken`` the rows of that training feed the program's data feed had taken. The driver
uses a record only when it fits one Keras epoch per fed epoch (the rows say so), else it keeps
its own rule. Written once per epoch, replaced whole (a temporary file, then a rename).

Example (what the node runtime and the Keras fix do)::

    configure(record_path(ctx.checkpoint_dir, ctx.cluster_id, "worker", 0), taken)
    callbacks.append(recorder())   # in model.fit, after the program's callbacks
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("sparktf.node")

# (path, () -> (feed_id, rows of it taken)); None: nothing to record (no checkpoint dir or feed).
_target: tuple[str, Callable[[], tuple[str | None, int]]] | None = None


def record_path(checkpoint_dir: str, cluster_id: str, job_name: str, task_index: int) -> str:
    return f"{checkpoint_dir.rstrip('/')}/.sparktf/epochs/{cluster_id}/{job_name}-{task_index}.json"


def configure(path: str | None, taken: Callable[[], tuple[str | None, int]]) -> None:
    global _target
    _target = None if path is None else (path, taken)


def write(epochs_finished: int) -> None:
    if _target is None:
        return
    import tensorflow as tf

    path, taken = _target
    feed_id, rows = taken()
    if feed_id is None:
        return
    record = {"feed_id": feed_id, "epochs_finished": epochs_finished, "rows_taken": rows}
    try:
        tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
        with tf.io.gfile.GFile(path + ".tmp", "w") as f:
            f.write(json.dumps(record))
        tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
    except Exception as e:  # noqa: BLE001 - a record is a restart's help, never worth a failure
        log.warning("could not record the finished epochs in %s: %s", path, e)


def recorder() -> Any:
    """A Keras callback writing the record at each epoch end; None with nothing to record."""
    if _target is None:
        return None
    import keras

    class FinishedEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            write(epoch + 1)

    return FinishedEpochs()
