"""``sparktf.run``: one function on N barrier slots, the chief's return value back on the driver
(the Python face of ``io.sparktf.TFCluster.runFunction``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import cloudpickle
from pyspark import SparkContext
from pyspark.sql import SparkSession

from sparktf.cluster import _BRIDGE, _call, _is_user_module, _jvm_class, _session
from sparktf.connect_client import is_connect
from sparktf.program.run_function import call_with_ctx
from sparktf.settings import settings_json

#: The default bound of the chief's pickled return value (``FunctionRunner.DefaultMaxResultBytes``).
DEFAULT_MAX_RESULT_BYTES = 64 << 20


def run(
    fn: Callable[[Any], Any],
    num_nodes: int,
    spark: SparkSession | SparkContext | None = None,
    *,
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    **settings: Any,
) -> Any:
    """Runs ``fn(ctx)`` on ``num_nodes`` executors at once (a barrier stage: all or none), each
    with its ``TF_CONFIG`` (chief and workers: MultiWorkerMirroredStrategy works as is) and no
    data feed, waits for all of them and returns what the chief's ``fn`` returned.

    The value is cloudpickled on the chief and comes back as its Spark task's result (never over
    sparktf's sockets); a pickle over ``max_result_bytes`` fails the run, saying how large it
    was. Failures are a cluster's: a node whose ``fn`` raises or dies fails the run with a
    ``SparkTFError`` naming the node, with its traceback; the other nodes are stopped.
    From a Spark Connect session the server runs it and returns plain values only (None, bool,
    int, float, str, and lists, tuples and str-keyed dicts of them; ``sparktf.connect_runner``).
    ``settings`` are ``TFCluster.run``'s (``master_node=None`` for workers only, ``env``,
    ``model_dir``, ``max_restarts``, ...); ``shutdown_timeout`` bounds how long ``fn`` may run
    (the JVM's default: 600 s). The port of ``MirroredStrategyRunner(num_slots=2).run(train)``::

        import sparktf

        def train(ctx):
            import tensorflow as tf
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
            ...
            return history.history["loss"][-1]

        final_loss = sparktf.run(train, 2, spark, shutdown_timeout=3600)
    """
    return run_pickled(
        spark, pickled_program(call_with_ctx, fn, fn), num_nodes, max_result_bytes, settings
    )


def run_pickled(
    spark: SparkSession | SparkContext | None,
    program: bytes,
    num_nodes: int,
    max_result_bytes: int,
    settings: dict[str, Any],
) -> Any:
    """``run`` for a ready ``(main_fun, args)`` pickle (``pickled_program``): what
    ``sparktf.tfos.TFParallel`` builds on."""
    unknown = sorted(set(settings) - _SETTINGS)
    if unknown:
        raise TypeError(f"sparktf.run() got unknown settings {unknown}; known: {sorted(_SETTINGS)}")
    if not 0 < max_result_bytes < 2**31:
        raise ValueError(f"max_result_bytes is {max_result_bytes}: use 1 to 2**31 - 1 bytes")
    config = settings_json({"num_executors": num_nodes, **settings})
    spark = spark if spark is not None else SparkSession.builder.getOrCreate()
    if is_connect(spark):
        # No JVM here: the server runs it, and answers plain values as JSON (no pickle).
        from sparktf.connect_runner import run_over_connect

        return run_over_connect(spark, program, config, int(max_result_bytes))
    session = _session(spark)
    jprogram = _jvm_class(session, "io.sparktf.TFProgram").pickled(bytearray(program))
    bridge = _jvm_class(session, _BRIDGE)
    pickled = _call(
        bridge.runFunction, session._jsparkSession, jprogram, config, int(max_result_bytes)
    )
    # Written by the chief's node from fn's own return value, and brought by Spark's task result.
    return cloudpickle.loads(bytes(pickled))


def pickled_program(main_fun: Callable[[Any, Any], Any], args: Any, user_fn: Callable) -> bytes:
    """``(main_fun, args)`` cloudpickled, ``user_fn``'s module by value when it is the user's own
    (a script beside the driver that the nodes cannot import)."""
    module = sys.modules.get(getattr(user_fn, "__module__", "") or "")
    by_value = module is not None and _is_user_module(module)
    if by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps((main_fun, args))
    finally:
        if by_value:
            cloudpickle.unregister_pickle_by_value(module)


def _setting_names() -> frozenset[str]:
    from sparktf.settings import SETTING_NAMES

    return frozenset(SETTING_NAMES) - {"num_executors", "input_mode"}


_SETTINGS = _setting_names()
