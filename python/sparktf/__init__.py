"""sparktf: distributed TensorFlow 2 training and inference on Apache Spark.

The driver API (``TFCluster``, ``InputMode``) wraps the Scala package through py4j; the node
runtime (``sparktf.node``) runs inside the TensorFlow processes, and what a program running
there imports is ``sparktf.program`` (export, keras3, parameter_server, evaluation, ...). Names
follow TensorFlowOnSpark, so its programs port by changing imports::

    from sparktf import TFCluster, InputMode
    cluster = TFCluster.run(spark, main_fun, args, num_executors=2, input_mode=InputMode.SPARK)
    cluster.train(df, num_epochs=1)
    cluster.shutdown()
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["TFCluster", "InputMode", "jar_path", "run", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: node processes import sparktf.node and must not pay for pyspark/py4j imports.
    if name == "TFCluster":
        from sparktf.cluster import TFCluster

        return TFCluster
    if name == "InputMode":
        from sparktf.input_mode import InputMode

        return InputMode
    if name == "run":
        from sparktf.runner import run

        return run
    if name == "jar_path":
        from sparktf.jar import jar_path

        return jar_path
    raise AttributeError(f"module 'sparktf' has no attribute {name!r}")
