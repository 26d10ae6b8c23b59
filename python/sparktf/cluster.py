"""``TFCluster``: the Python face of ``io.sparktf.TFCluster`` (all logic runs in the JVM)."""

from __future__ import annotations

import json
import os
import site
import sys
import sysconfig
from collections.abc import Callable
from typing import Any

import cloudpickle
from py4j.java_gateway import JavaObject
from py4j.protocol import Py4JJavaError
from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from sparktf.console import ClusterConsole
from sparktf.settings import JVM_DEFAULT, settings_json


class SparkTFError(RuntimeError):
    """A cluster could not start, feed or finish; the message names the node and the cause."""


def _session(spark_or_sc: SparkSession | SparkContext) -> SparkSession:
    if isinstance(spark_or_sc, SparkSession):
        return spark_or_sc
    if isinstance(spark_or_sc, SparkContext):
        return SparkSession(spark_or_sc)
    raise TypeError(f"expected a SparkSession or SparkContext, got {type(spark_or_sc).__name__}")


# The Scala object Python calls TFCluster through (py4j's view: JSON text in and out).
_BRIDGE = "io.sparktf.python.TFClusterBridge"


def _jvm_class(spark: SparkSession, name: str) -> Any:
    jvm = spark.sparkContext._jvm
    obj = jvm
    for part in name.split("."):
        obj = getattr(obj, part)
    if type(obj).__name__ == "JavaPackage":
        raise SparkTFError(
            f"{name} is not on the driver's classpath: start Spark with the sparktf jar "
            "(spark.jars=sparktf.jar_path(), or --packages io.sparktf:sparktf_2.13:0.1.0)"
        )
    return obj


def _is_sparktf_exception(java_exception: Any) -> bool:
    """A SparkTFException or one of its kinds (FeedRefused, ...)."""
    cls = java_exception.getClass()
    while cls is not None:
        if cls.getName() == "io.sparktf.SparkTFException":
            return True
        cls = cls.getSuperclass()
    return False


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Calls the JVM and turns a sparktf failure into a SparkTFError with the JVM's message."""
    try:
        return fn(*args)
    except Py4JJavaError as e:
        cause = e.java_exception
        message = None
        while cause is not None:
            if _is_sparktf_exception(cause):
                message = cause.getMessage()
                break
            cause = cause.getCause()
        if message is None:
            raise
        raise SparkTFError(message) from None


def _pickle_program(map_fun: Callable[..., Any], tf_args: Any) -> bytes:
    """cloudpickles ``(map_fun, tf_args)``. A function from the user's own module (a script next
    to the driver, not an installed package) is pickled by value: the nodes cannot import it."""
    module = sys.modules.get(getattr(map_fun, "__module__", "") or "")
    by_value = module is not None and _is_user_module(module)
    if by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps((map_fun, tf_args))
    finally:
        if by_value:
            cloudpickle.unregister_pickle_by_value(module)


def _is_user_module(module: Any) -> bool:
    name = module.__name__
    path = getattr(module, "__file__", None)
    if name == "__main__" or not path or name.split(".")[0] in ("sparktf", "pyspark"):
        return False
    installed = [
        sysconfig.get_paths()["stdlib"],
        *site.getsitepackages(),
        site.getusersitepackages(),
    ]
    path = os.path.realpath(path)
    return not any(path.startswith(os.path.realpath(p) + os.sep) for p in installed if p)


class TFCluster:
    """A running TensorFlow cluster, one node per Spark executor.

    Example::

        def main_fun(args, ctx):
            feed = ctx.get_data_feed()
            while not feed.should_stop():
                batch = feed.next_batch(64)   # dict: column -> numpy array

        cluster = TFCluster.run(spark, main_fun, {"lr": 0.01}, num_executors=2)
        report = cluster.train(df, num_epochs=2)   # {"rows_total": ..., "rows_per_node": ...}
        cluster.shutdown()
    """

    def __init__(self, java_obj: JavaObject, spark: SparkSession) -> None:
        self._java_obj = java_obj
        self._spark = spark
        # The py4j forms of the Scala cluster's calls (JSON in, JSON out).
        self._bridge = _jvm_class(spark, _BRIDGE)
        bridge = self._bridge
        self._console = ClusterConsole(
            lambda: bridge.console(java_obj), show_progress=bool(java_obj.config().progress())
        ).start()

    @staticmethod
    def run(
        sc: SparkSession | SparkContext,
        map_fun: Callable[[Any, Any], Any],
        tf_args: Any,
        num_executors: int,
        num_ps: int = JVM_DEFAULT,
        tensorboard: bool = JVM_DEFAULT,
        input_mode: int = JVM_DEFAULT,
        log_dir: str | None = JVM_DEFAULT,
        master_node: str | None = JVM_DEFAULT,
        eval_node: bool = JVM_DEFAULT,
        model_dir: str | None = JVM_DEFAULT,
        export_dir: str | None = JVM_DEFAULT,
        reservation_timeout: float = JVM_DEFAULT,
        feed_timeout: float = JVM_DEFAULT,
        shutdown_timeout: float = JVM_DEFAULT,
        queue_capacity: int = JVM_DEFAULT,
        env: dict[str, str] | None = JVM_DEFAULT,
        python: str | None = JVM_DEFAULT,
        ps_gpus: bool = JVM_DEFAULT,
        checkpoint_dir: str | None = JVM_DEFAULT,
        max_restarts: int = JVM_DEFAULT,
        shared_memory_feed: bool = JVM_DEFAULT,
        progress: bool = JVM_DEFAULT,
        node_output: str = JVM_DEFAULT,
        keras3_mwms_fix: bool = JVM_DEFAULT,
    ) -> TFCluster:
        """Starts the cluster: ``map_fun(tf_args, ctx)`` runs on every node.

        Every setting left out takes the JVM's default (listed once, in the Scaladoc of
        ``io.sparktf.ClusterConfig``); only the settings given are sent. ``master_node=None``
        gives a cluster of workers only, where worker:0 acts as chief; TensorFlow 1's
        ``"master"`` is refused (TensorFlow 2's TF_CONFIG has no such job).

        ``map_fun`` and ``tf_args`` are cloudpickled and travel inside Spark's own task closure.
        ``python`` is the interpreter the nodes run (it needs tensorflow); by default the one
        Spark uses for its Python workers (``spark.pyspark.python`` / ``PYSPARK_PYTHON``).

        ``tensorboard=True`` starts TensorBoard on the chief (worker:0 without a chief) over
        ``log_dir`` (``ctx.log_dir`` on every node; default ``<model_dir>/tensorboard``, or a
        directory in the node's working dir); ``cluster.tensorboard_url`` says where it answers.
        ``num_ps``, ``master_node`` and ``eval_node`` shape the cluster as in TensorFlowOnSpark:
        ps nodes first, then the chief, the evaluator (outside TF_CONFIG's cluster) and workers.
        For ParameterServerStrategy use InputMode.TENSORFLOW, ``sparktf.parameter_server.serve``
        on ps and workers and ``sparktf.evaluation.evaluate_checkpoints`` on the evaluator.
        With Spark scheduling a ``gpu`` resource, each node's ``CUDA_VISIBLE_DEVICES`` is set to
        its task's GPUs; parameter servers get none unless ``ps_gpus=True``.

        ``checkpoint_dir`` is ``ctx.checkpoint_dir`` on every node (default
        ``<model_dir>/checkpoints``; a relative one goes under ``model_dir``): one directory for
        the whole cluster and every restart. With ``max_restarts=k`` a cluster whose node fails
        is stopped and started afresh up to ``k`` times; in InputMode.SPARK the ``train()`` in
        progress feeds the epoch in progress again, then the rest. The program resumes from its
        own checkpoints there (Keras ``BackupAndRestore`` or ``tf.train.CheckpointManager``)::

            cluster = TFCluster.run(spark, main_fun, {}, num_executors=2,
                                    checkpoint_dir="/shared/ckpt/run1", max_restarts=2)
            report = cluster.train(df, num_epochs=5)   # report["restarts"], ["restarted_epochs"]

        ``shared_memory_feed`` (default True): a feed task on a node's own machine hands it each
        batch as a file in a private shared-memory directory (``/dev/shm``) rather than through
        the socket, which saves the copies of the network path; tasks on other machines, and
        every task with ``shared_memory_feed=False``, send batches over gRPC.

        ``progress`` (default True): ``train()`` shows a progress bar in a terminal or notebook
        (epoch, rows fed of the total, rows/s, ETA), a line every 10 s and per epoch otherwise;
        False shows nothing. ``node_output`` (default ``"chief"``): whose program output lines
        (stdout and stderr through Python: print, Keras, logging) the driver prints, prefixed
        ``[chief:0] ``: ``"chief"`` (worker:0 without a chief), ``"all"`` or ``"none"``. They
        are in the executor logs too. A node that floods its output loses lines on the console
        only (a line says how many), never waits for it.

        ``keras3_mwms_fix`` (default True): the nodes patch Keras 3's trainer so that plain
        ``model.fit``/``evaluate``/``predict`` work under MultiWorkerMirroredStrategy
        (keras-team/keras#20585), on the Keras versions it is tested on (see README, "Keras:
        which path to use"); False runs Keras unchanged.
        """
        # First, while locals() holds the arguments alone: the settings the caller gave.
        config = settings_json(locals())
        if type(sc).__module__.startswith("pyspark.sql.connect"):
            # A Spark Connect session: no JVM here, the server's sparktf plugin runs the cluster.
            from sparktf.connect_cluster import ConnectTFCluster

            return ConnectTFCluster.start(sc, map_fun, tf_args, config)
        spark = _session(sc)
        program = _jvm_class(spark, "io.sparktf.TFProgram").pickled(
            bytearray(_pickle_program(map_fun, tf_args))
        )
        bridge = _jvm_class(spark, _BRIDGE)
        java_obj = _call(bridge.run, spark._jsparkSession, program, config)
        return TFCluster(java_obj, spark)

    @property
    def cluster_id(self) -> str:
        """The running cluster's id; a restart gives the cluster a new one."""
        return self._java_obj.clusterId()

    @property
    def restarts(self) -> int:
        """Times the cluster was restarted after a node failed (at most ``max_restarts``)."""
        return int(self._java_obj.restarts())

    @property
    def tensorboard_url(self) -> str | None:
        """Where the cluster's TensorBoard answers (``tensorboard=True``), e.g.
        ``"http://10.0.0.5:39871/"``; None without one. It stops with the cluster."""
        url = self._java_obj.tensorboardUrl()
        return url.get() if url.isDefined() else None

    @property
    def nodes(self) -> list[dict[str, Any]]:
        """The started nodes: ``role``, ``host``, ``executor_id``, ``pid``, ``port``,
        ``tf_port``, ``gpus`` (the GPU addresses Spark gave the node's task),
        ``cuda_visible_devices`` (None: left as the executor had it) and ``tensorboard_url``.
        Empty in InputMode.TENSORFLOW."""
        return json.loads(self._bridge.nodes(self._java_obj))

    def train(
        self,
        df: DataFrame,
        num_epochs: int = 1,
        input_mapping: dict[str, str] | None = None,
        ragged_columns: list[str] | None = None,
        validation_df: DataFrame | None = None,
    ) -> dict[str, Any]:
        """Feeds ``df`` to the chief and workers ``num_epochs`` times, then ends the feed.

        ``validation_df`` is fed once, before ``df``: each node keeps its share in memory for
        ``feed.validation_dataset(batch_size, features, label)`` (``model.fit(validation_data=
        ...)``, read again every epoch; every node the same number of steps). The report's
        ``validation_rows_per_node`` counts it. A restarted cluster (``max_restarts``) gets it
        again before its training rows.

        ``input_mapping`` maps columns to tensor names (only those columns are fed);
        ``ragged_columns`` names array columns whose rows differ in length (the node gets
        ragged tensors; other arrays must all have one length). Returns the feed report:
        ``rows_per_node``, ``rows_total`` (checked against what the nodes acknowledged),
        ``seconds``, ``rows_per_second``, ``restarts`` and ``restarted_epochs`` (1-based epochs
        partly fed to a cluster that failed, then fed again whole to the restarted one; every
        epoch is counted once in the row figures), ``shared_memory_rows`` (rows that reached
        their node through shared memory, see ``shared_memory_feed``), ``socket_bytes`` (what
        the batches sent over sockets weighed). After a program's
        ``feed.terminate()`` (``terminated``) its node counts the rows the program took.

        Refused before anything is fed, the cluster living on: a bad column, a DataFrame with
        no row for some fed node, and nodes whose programs have returned (a TensorFlowOnSpark
        loop ``while not feed.should_stop()`` reads one ``train()``). A program that fails, or
        returns without ``terminate()`` before taking its rows, fails ``train()`` naming its
        node, and the cluster is stopped::

            report = cluster.train(df, num_epochs=2)
            assert report["rows_total"] == 2 * df.count()  # unless a program terminated
        """
        mapping = json.dumps(input_mapping) if input_mapping else ""
        ragged = json.dumps(list(ragged_columns)) if ragged_columns else ""
        try:
            return json.loads(
                _call(
                    self._bridge.train,
                    self._java_obj,
                    df._jdf,
                    num_epochs,
                    mapping,
                    ragged,
                    None if validation_df is None else validation_df._jdf,
                )
            )
        finally:
            self._console.refresh()  # the last epoch's figures, before the caller prints its own

    def train_stream(
        self,
        df: DataFrame,
        checkpoint_location: str,
        trigger: dict[str, Any] | None = None,
        input_mapping: dict[str, str] | None = None,
        ragged_columns: list[str] | None = None,
    ) -> StreamingQuery:
        """Starts a streaming query that feeds every micro-batch of the streaming DataFrame
        ``df`` to the chief and workers as one feed, like ``train(batch, 1)``: balanced over the
        nodes, every row acknowledged and checked. Returns the ``StreamingQuery``.

        ``trigger`` takes ``DataStreamWriter.trigger``'s arguments as a dict:
        ``{"processingTime": "10 seconds"}``, ``{"availableNow": True}`` or ``{"once": True}``
        (default: micro-batches as fast as the source gives them). The programs read each
        micro-batch as one feed and learn the end of the query from ``feed.next_feed()``::

            def main_fun(args, ctx):
                feed = ctx.get_data_feed()
                while feed.next_feed():  # False once the query has ended
                    model.fit(feed.dataset(32, features=["x"], label="y"), epochs=1)

            stream = spark.readStream.schema("x float, y float").parquet("/landing")
            query = cluster.train_stream(stream, "/ckpt/train1", {"processingTime": "5 seconds"})
            query.awaitTermination(600)  # or query.stop()
            cluster.shutdown()

        Each micro-batch is fed once across restarts of the query from ``checkpoint_location``
        (``<checkpoint_location>/sparktf/fed/<batch id>`` holds each fed micro-batch's feed
        report); a micro-batch that failed half-way is fed again whole. A micro-batch waits
        until the nodes have read all but the one before it, so a slow model slows the query.
        A feed failure fails the cluster (the query ends with the node's traceback); a query
        stopped or failing outside a feed leaves the cluster running, and ``shutdown()`` stops
        the cluster's active queries first.
        """
        mapping = json.dumps(input_mapping) if input_mapping else ""
        ragged = json.dumps(list(ragged_columns)) if ragged_columns else ""
        jquery = _call(
            self._bridge.trainStream,
            self._java_obj,
            df._jdf,
            checkpoint_location,
            json.dumps(trigger) if trigger else "",
            mapping,
            ragged,
        )
        return StreamingQuery(jquery)

    def inference(
        self,
        df: DataFrame,
        output_schema: str,
        input_mapping: dict[str, str] | None = None,
        batch_size: int = 1024,
    ) -> DataFrame:
        """``df`` with the programs' answers appended as columns: same rows, same order in
        each partition.

        The chief and workers take the rows with ``feed.next_batch`` and answer each batch with
        ``feed.batch_results`` (keys = the ``output_schema`` column names); the nodes serve
        inference until ``shutdown()``. Lazy like any DataFrame: every action streams the rows
        again, so cache the result to score once::

            def main_fun(args, ctx):
                feed = ctx.get_data_feed(train_mode=False)
                while not feed.should_stop():
                    batch = feed.next_batch(256)
                    if batch:
                        feed.batch_results({"doubled": batch["x"] * 2})

            cluster = TFCluster.run(spark, main_fun, None, num_executors=2)
            scored = cluster.inference(spark.range(10).selectExpr("cast(id as float) x"),
                                       "doubled float").cache()
            scored.show()
            cluster.shutdown()
        """
        mapping = json.dumps(input_mapping) if input_mapping else ""
        jdf = _call(
            self._bridge.inference, self._java_obj, df._jdf, output_schema, mapping, int(batch_size)
        )
        return DataFrame(jdf, self._spark)

    def shutdown(self, timeout: float | None = None) -> None:
        """Waits for the programs to return, then stops every node; raises SparkTFError naming
        any node that failed, with its traceback."""
        try:
            if timeout is None:
                _call(self._java_obj.shutdown, self._java_obj.config().shutdownTimeout())
            else:
                _call(self._java_obj.shutdown, float(timeout))
        finally:
            self._console.stop()
