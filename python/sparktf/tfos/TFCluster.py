"""TensorFlowOnSpark's ``TFCluster`` on sparktf: ``run`` with its parameters, order and defaults,
and a cluster whose ``train``/``inference`` take RDDs as well as DataFrames.

What differs from TensorFlowOnSpark, and why:

* RDDs are fed as DataFrames: ``train(rdd)`` turns the RDD's elements (tuples of numbers, lists
  and strings, as TensorFlowOnSpark's examples make them; numpy values become lists) into a
  DataFrame with ``spark.createDataFrame`` and sparktf streams its columns to the nodes from the
  JVM, where ``TFNode.DataFeed`` hands the rows back as tuples. Array elements must have one
  length per column. DataFrames are fed as they are (faster: no Python worker touches a row).
* ``train(num_epochs=0)`` feeds 10 epochs, as TensorFlowOnSpark did. Every row fed is counted and
  checked; a program that returns without ``terminate()`` before taking its rows fails
  ``train()`` naming its node instead of leaving Spark waiting.
* ``inference(rdd)`` returns an RDD of the programs' ``batch_results``, in row order; results
  travel as JSON text (numbers, strings, lists, dicts), not pickles.
* ``feed_timeout`` and ``qname`` are accepted; the feed's timeout is the cluster's (sparktf's
  ``feed_timeout`` setting, 600 s), and there is one feed rather than named queues.
* ``shutdown(ssc, grace_secs, timeout)``: waits for the programs and stops every node, raising
  ``SparkTFError`` naming a failed node (TensorFlowOnSpark called ``sys.exit(1)``); ``grace_secs``
  is not needed (shutdown waits for the programs themselves) and Spark Streaming (``ssc``) is
  not supported.
* ``driver_ps_nodes=True`` is refused: every node runs on an executor.
* The nodes run tf_keras as ``tf.keras`` (``TF_USE_LEGACY_KERAS=1``) unless the driver's
  environment has ``SPARKTF_TFOS_LEGACY_KERAS=0``.

Example::

    from sparktf.tfos import TFCluster
    cluster = TFCluster.run(sc, main_fun, args, 2, 0, False, TFCluster.InputMode.SPARK,
                            master_node="chief")
    cluster.train(sc.parallelize(rows, 4), num_epochs=1)
    cluster.shutdown()
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from pyspark import RDD, SparkContext
from pyspark.sql import DataFrame, SparkSession

from sparktf import cluster as _sparktf
from sparktf.input_mode import InputMode
from sparktf.runner import pickled_program
from sparktf.settings import settings_json
from sparktf.tfos.TFNode import RESULT_COLUMN, SCALAR_COLUMN
from sparktf.tfos.TFSparkNode import run_with_tfos_ctx

__all__ = ["InputMode", "TFCluster", "run"]

#: What TensorFlowOnSpark did with ``train(num_epochs=0)``.
EPOCHS_WHEN_ZERO = 10


def _legacy_keras_env() -> dict[str, str]:
    if os.environ.get("SPARKTF_TFOS_LEGACY_KERAS", "1") == "0":
        return {}
    return {"TF_USE_LEGACY_KERAS": "1"}


def default_fs(sc: SparkContext) -> str:
    """Hadoop's ``fs.defaultFS`` without the root slash of ``file:///``, as TensorFlowOnSpark
    gave it to ``ctx.defaultFS``."""
    fs = sc._jsc.hadoopConfiguration().get("fs.defaultFS")
    return fs[:-1] if fs.startswith("file://") and len(fs) > 7 and fs.endswith("/") else fs


def _plain_rows() -> Callable[[Any], tuple[Any, ...]]:
    """An element as a row Spark SQL can infer types for: numpy arrays and scalars as lists and
    numbers, a scalar as a one-value row. A closure, so Spark's Python workers need no sparktf."""

    def plain(value: Any) -> Any:
        return value.tolist() if hasattr(value, "tolist") else value

    def row(element: Any) -> tuple[Any, ...]:
        if isinstance(element, (tuple, list)):
            return tuple(plain(v) for v in element)
        return (plain(element),)

    return row


def as_frame(spark: SparkSession, data: RDD | DataFrame) -> DataFrame:
    """``data`` as a DataFrame: an RDD's elements become rows (a scalar element one column,
    ``tfos_value``, whose rows ``DataFeed`` returns as the scalars)."""
    if isinstance(data, DataFrame):
        return data
    if not isinstance(data, RDD):
        raise TypeError(
            f"train()/inference() take an RDD or a DataFrame, got {type(data).__name__}"
            + (": Spark Streaming is not supported" if "DStream" in type(data).__name__ else "")
        )
    try:
        first = data.first()
    except ValueError:
        raise ValueError("the RDD is empty: there is nothing to feed") from None
    rows = data.map(_plain_rows())
    if isinstance(first, (tuple, list)):
        return spark.createDataFrame(rows)
    return spark.createDataFrame(rows, [SCALAR_COLUMN])


class TFCluster:
    """A running cluster, as TensorFlowOnSpark's ``TFCluster.run`` returned it.

    Attributes as TensorFlowOnSpark's: ``sc``, ``defaultFS``, ``working_dir``, ``num_executors``,
    ``input_mode``, ``queues``, ``cluster_id``, ``cluster_info`` (the nodes: role, host, ports),
    and ``cluster`` (the ``sparktf.TFCluster`` beneath)."""

    def __init__(
        self,
        cluster: _sparktf.TFCluster,
        sc: SparkContext,
        num_executors: int,
        input_mode: int,
        queues: list[str],
        default_fs: str,
        working_dir: str,
    ) -> None:
        self.cluster = cluster
        self.sc = sc
        self.num_executors = num_executors
        self.input_mode = input_mode
        self.queues = list(queues)
        self.defaultFS = default_fs  # noqa: N815 (TFoS name)
        self.working_dir = working_dir

    @property
    def cluster_id(self) -> str:
        return self.cluster.cluster_id

    @property
    def cluster_info(self) -> list[dict[str, Any]]:
        return self.cluster.nodes

    def _spark(self) -> SparkSession:
        return (
            SparkSession(self.sc)
            if SparkSession.getActiveSession() is None
            else (SparkSession.getActiveSession())
        )

    def _check_feed(self, what: str, qname: str) -> None:
        if self.input_mode != InputMode.SPARK:
            raise ValueError(f"TFCluster.{what}() requires InputMode.SPARK")
        if qname not in self.queues:
            raise ValueError(f"Unknown queue: {qname}; this cluster has {self.queues}")

    def train(
        self,
        dataRDD: RDD | DataFrame,
        num_epochs: int = 0,  # noqa: N803 (TFoS name)
        feed_timeout: int = 600,
        qname: str = "input",
    ) -> dict[str, Any]:
        """Feeds ``dataRDD`` (an RDD or a DataFrame) ``num_epochs`` times (0: 10, as
        TensorFlowOnSpark) to the chief and workers; returns sparktf's feed report (rows per
        node, checked)."""
        self._check_feed("train", qname)
        if num_epochs < 0:
            raise ValueError("num_epochs cannot be negative")
        df = as_frame(self._spark(), dataRDD)
        return self.cluster.train(df, num_epochs or EPOCHS_WHEN_ZERO)

    def inference(
        self,
        dataRDD: RDD | DataFrame,  # noqa: N803 (TFoS name)
        feed_timeout: int = 600,
        qname: str = "input",
    ) -> RDD:
        """An RDD of the programs' ``DataFeed.batch_results``, one result a row, in row order.
        Lazy, like TensorFlowOnSpark's: each action streams the rows again."""
        self._check_feed("inference", qname)
        df = as_frame(self._spark(), dataRDD)
        scored = self.cluster.inference(df, f"{RESULT_COLUMN} string")
        return scored.select(RESULT_COLUMN).rdd.map(lambda row: json.loads(row[0]))

    def shutdown(self, ssc: Any = None, grace_secs: int = 0, timeout: int = 259200) -> None:
        """Waits for the programs (up to ``timeout`` seconds; -1: the cluster's
        ``shutdown_timeout``) and stops every node; raises ``SparkTFError`` naming a node that
        failed."""
        if ssc is not None:
            raise ValueError(
                "TFCluster.shutdown(ssc): Spark Streaming is not supported by "
                "sparktf; feed each batch's DataFrame with train() instead"
            )
        self.cluster.shutdown(None if timeout is None or timeout <= 0 else float(timeout))

    def tensorboard_url(self) -> str | None:
        """The chief's TensorBoard (``tensorboard=True``), None without one."""
        return self.cluster.tensorboard_url


def run(
    sc: SparkContext | SparkSession,
    map_fun: Callable[[Any, Any], Any],
    tf_args: Any,
    num_executors: int,
    num_ps: int,
    tensorboard: bool = False,
    input_mode: int = InputMode.TENSORFLOW,
    log_dir: str | None = None,
    driver_ps_nodes: bool = False,
    master_node: str | None = None,
    reservation_timeout: int = 600,
    queues: list[str] | None = None,
    eval_node: bool = False,
    release_port: bool = True,
) -> TFCluster:
    """TensorFlowOnSpark's ``TFCluster.run``: the same parameters, order and defaults
    (InputMode.TENSORFLOW, no chief unless ``master_node="chief"``). ``map_fun(tf_args, ctx)``
    runs on every node with TensorFlowOnSpark's ``ctx`` (``TFSparkNode.TFNodeContext``).
    ``queues`` and ``release_port`` are accepted (sparktf has one feed and binds no port for
    TensorFlow); ``driver_ps_nodes=True`` is refused."""
    if driver_ps_nodes:
        raise ValueError(
            "driver_ps_nodes=True is not supported by sparktf: every node, ps "
            "included, runs on an executor; give the job num_ps more executors"
        )
    spark = _sparktf._session(sc)
    context = spark.sparkContext
    fs, cwd = default_fs(context), os.getcwd()
    config = settings_json(
        {
            "num_executors": num_executors,
            "num_ps": num_ps,
            "tensorboard": tensorboard,
            "input_mode": input_mode,
            "master_node": master_node,
            "eval_node": eval_node,
            "reservation_timeout": float(reservation_timeout),
            "env": _legacy_keras_env(),
            **({"log_dir": log_dir} if log_dir else {}),
        }
    )
    program = pickled_program(run_with_tfos_ctx, (map_fun, tf_args, fs, cwd, False), map_fun)
    jprogram = _sparktf._jvm_class(spark, "io.sparktf.TFProgram").pickled(bytearray(program))
    bridge = _sparktf._jvm_class(spark, _sparktf._BRIDGE)
    java = _sparktf._call(bridge.run, spark._jsparkSession, jprogram, config)
    return TFCluster(
        _sparktf.TFCluster(java, spark),
        context,
        num_executors,
        input_mode,
        queues if queues is not None else ["input", "output", "error"],
        fs,
        cwd,
    )
