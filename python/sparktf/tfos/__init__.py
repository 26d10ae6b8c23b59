"""TensorFlowOnSpark's module tree on sparktf: a port changes its imports alone::

    from tensorflowonspark import TFCluster, TFNode   # before
    from sparktf.tfos import TFCluster, TFNode        # after

Modules, as in ``tensorflowonspark``: ``TFCluster`` (``run``, ``InputMode``), ``TFNode``
(``DataFeed``, ``hdfs_path``, ...), ``TFParallel`` (``run``), ``TFSparkNode`` (the ``ctx``),
``dfutil`` (TFRecords), ``pipeline`` (``TFEstimator``, ``TFModel``, ``Namespace``) and
``compat``. Each is a thin layer over sparktf's own API (``sparktf.TFCluster``, ``sparktf.run``,
``sparktf.ml``, ``sparktf.tfrecord``); where TensorFlowOnSpark and sparktf differ, the module's
docstring says how and why. Nothing is imported here: a node process imports ``TFNode`` without
pyspark.

Keras: TensorFlowOnSpark programs were written for Keras 2 (``tf.keras`` up to TF 2.15), so the
nodes of a cluster started here run with ``TF_USE_LEGACY_KERAS=1`` (``tf.keras`` is tf_keras).
Set ``SPARKTF_TFOS_LEGACY_KERAS=0`` in the driver's environment to run them on Keras 3.

Example::

    from sparktf.tfos import TFCluster

    cluster = TFCluster.run(sc, main_fun, args, 2, num_ps=0, input_mode=TFCluster.InputMode.SPARK,
                            master_node="chief")
    cluster.train(rdd, num_epochs=1)
    cluster.shutdown()
"""

__version__ = "2.2.5"  # the TensorFlowOnSpark release whose API this mirrors
