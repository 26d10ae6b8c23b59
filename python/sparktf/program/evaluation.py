"""Sidecar evaluation: an evaluator node scores each checkpoint the chief writes, while it trains.

``TFCluster.run(..., eval_node=True)`` reserves one evaluator node (outside TF_CONFIG's cluster,
as TensorFlow expects). Its ``main_fun`` builds and compiles the same model, then calls
``evaluate_checkpoints``: every time a newer checkpoint appears in the checkpoint directory it is
restored into the model and evaluated; the metrics go to the node's log, a JSON-lines file and
TensorBoard summaries. It returns once the chief's program has ended (after scoring the chief's
last checkpoint) or the driver stops the node, so it never holds up ``cluster.shutdown()``.

The chief saves with ``tf.train.Checkpoint(model=model)`` (a ``tf.train.CheckpointManager``, as
in ``examples/parameter_server.py``) into a directory both nodes reach (under ``model_dir``).

Example::

    def main_fun(args, ctx):
        if ctx.job_name == "evaluator":
            from sparktf.program.evaluation import evaluate_checkpoints
            model = build_and_compile_model()       # same architecture, metrics of your choice
            results = evaluate_checkpoints(ctx, model, test_dataset(),
                                           checkpoint_dir=ctx.absolute_path("checkpoints"))
            return                                  # results: one dict per checkpoint scored
        ...                                         # the chief trains and saves checkpoints
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from typing import Any

from sparktf.program.chief_watch import ChiefWatch

log = logging.getLogger("sparktf.node")

RESULTS_FILE = "metrics.jsonl"


def evaluate_checkpoints(
    ctx: Any,
    model: Any,
    dataset: Any,
    *,
    checkpoint_dir: str | None = None,
    steps: int | None = None,
    output_dir: str | None = None,
    poll_seconds: float = 1.0,
    chief_start_timeout: float = 600.0,
) -> list[dict[str, Any]]:
    """Evaluates ``model`` on ``dataset`` for each new checkpoint until training ends.

    ``model`` is a compiled tf_keras (or Keras 3) model whose variables the chief's checkpoints
    hold under ``model`` (``tf.train.Checkpoint(model=model)``). ``checkpoint_dir`` defaults to
    ``ctx.checkpoint_dir``, else ``ctx.model_dir``. When several checkpoints appear during one
    evaluation, only the newest is scored next (as TensorFlow's own sidecar evaluator does).

    Each result ``{"checkpoint", "step", "metrics", "seconds"}`` is appended as a JSON line to
    ``<output_dir>/metrics.jsonl`` (default ``ctx.absolute_path("eval")``, under ``model_dir``)
    and written as TensorBoard scalars to ``<ctx.log_dir>/eval``. Returns the results in order.
    """
    import tensorflow as tf

    directory = checkpoint_dir or ctx.checkpoint_dir or ctx.model_dir
    if not directory:
        raise ValueError(
            "no checkpoint directory to watch: pass checkpoint_dir= or start the "
            "cluster with model_dir=... (the chief must save checkpoints there)"
        )
    out = output_dir or ctx.absolute_path("eval")
    tf.io.gfile.makedirs(out)
    results_path = os.path.join(out, RESULTS_FILE)
    writer = tf.summary.create_file_writer(os.path.join(ctx.log_dir or out, "eval"))
    watch = ChiefWatch(ctx.cluster_spec, start_timeout=chief_start_timeout)
    # A checkpoint left by an earlier run is scored, but proves nothing about this run's chief.
    earlier = tf.train.latest_checkpoint(directory)
    log.info("evaluator: watching %s for checkpoints (latest now: %s)", directory, earlier)
    results: list[dict[str, Any]] = []
    last = None
    while not ctx.stop_requested.is_set():
        # Asked before looking: a checkpoint written before the chief ended is then still seen.
        ended = watch.ended()
        path = tf.train.latest_checkpoint(directory)
        if path and path != last:
            if path != earlier:
                watch.mark_seen()
            results.append(
                _evaluate(model, dataset, path, steps, len(results), results_path, writer)
            )
            last = path
            continue
        if ended:
            break
        ctx.stop_requested.wait(poll_seconds)
    writer.close()
    log.info(
        "evaluator: done after %d evaluations (%s)",
        len(results),
        "stop requested" if ctx.stop_requested.is_set() else "the chief's program ended",
    )
    return results


def _evaluate(
    model: Any,
    dataset: Any,
    path: str,
    steps: int | None,
    index: int,
    results_path: str,
    writer: Any,
) -> dict[str, Any]:
    import tensorflow as tf

    started = time.monotonic()
    saved = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    if not any(name.startswith("model/") for name in saved):
        raise ValueError(
            f"checkpoint {path} holds no variables under 'model' (it has "
            f"{sorted(saved)[:5]}...): save checkpoints with "
            "tf.train.Checkpoint(model=model) on the chief"
        )
    # expect_partial: the chief's optimizer slots are of no use to an evaluation.
    tf.train.Checkpoint(model=model).restore(path).expect_partial()
    metrics = model.evaluate(dataset, steps=steps, return_dict=True, verbose=0)
    step = checkpoint_number(path, default=index)
    record = {
        "checkpoint": path,
        "step": step,
        "metrics": {name: float(value) for name, value in metrics.items()},
        "seconds": round(time.monotonic() - started, 3),
    }
    with tf.io.gfile.GFile(results_path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
    with writer.as_default():
        for name, value in record["metrics"].items():
            tf.summary.scalar(name, value, step=step)
    writer.flush()
    log.info(
        "evaluator: %s (step %d): %s",
        path,
        step,
        ", ".join(f"{k}={v:.4f}" for k, v in record["metrics"].items()),
    )
    return record


def checkpoint_number(path: str, default: int) -> int:
    """The number TensorFlow appends to a checkpoint's name (``ckpt-12`` -> 12)."""
    found = re.search(r"-(\d+)$", path)
    return int(found.group(1)) if found else default
