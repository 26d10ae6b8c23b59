"""TensorFlowOnSpark's ``TFParallel.run``: independent single-node TensorFlow instances, one per
executor, on sparktf's runner (``sparktf.run``, Scala ``TFCluster.runFunction``).

Each instance runs ``map_fn(tf_args, ctx)`` with TensorFlowOnSpark's ``ctx`` (``worker_num``,
``num_workers``, ``executor_id``, ``defaultFS``, ...) and no ``TF_CONFIG``, as in
TensorFlowOnSpark. Different: the instances always start together (a barrier stage, so
``use_barrier=False`` is the same as True), a failing instance fails the call with a
``SparkTFError`` naming it and carrying its traceback, and the call returns what instance 0's
``map_fn`` returned (TensorFlowOnSpark returned None).

Example::

    from sparktf.tfos import TFParallel
    TFParallel.run(sc, inference, args, 2)   # inference(args, ctx) on 2 executors
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pyspark import SparkContext
from pyspark.sql import SparkSession

from sparktf.cluster import _session
from sparktf.runner import DEFAULT_MAX_RESULT_BYTES, pickled_program, run_pickled
from sparktf.tfos.TFCluster import _legacy_keras_env, default_fs
from sparktf.tfos.TFSparkNode import run_with_tfos_ctx

#: How long the instances may run (TensorFlowOnSpark had no bound): sparktf's shutdown_timeout.
TIMEOUT_SECONDS = 3 * 24 * 3600.0


def run(
    sc: SparkContext | SparkSession,
    map_fn: Callable[[Any, Any], Any],
    tf_args: Any,
    num_executors: int,
    use_barrier: bool = True,
) -> Any:
    """Runs ``map_fn(tf_args, ctx)`` on ``num_executors`` executors at once and waits for them;
    returns instance 0's return value."""
    spark = _session(sc)
    program = pickled_program(
        run_with_tfos_ctx,
        (map_fn, tf_args, default_fs(spark.sparkContext), os.getcwd(), True),
        map_fn,
    )
    # Workers only: worker 0 is the instance whose value comes back.
    settings = {
        "master_node": None,
        "env": _legacy_keras_env(),
        "shutdown_timeout": TIMEOUT_SECONDS,
    }
    return run_pickled(spark, program, num_executors, DEFAULT_MAX_RESULT_BYTES, settings)
