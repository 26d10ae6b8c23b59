"""Spark ML stages for TensorFlow: ``TFEstimator`` (fit = train on a cluster and export) and
``TFModel`` (transform = score with the exported SavedModel), thin wrappers of the Scala
``io.sparktf.ml`` classes, as ``pyspark.ml`` wraps its Java stages. Pipelines holding them save
and load like any other (import ``sparktf.ml`` before ``Pipeline.load`` / ``PipelineModel.load``).

Example::

    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from sparktf.ml import TFEstimator

    def train(args, ctx):
        import tf_keras as keras
        from sparktf.program.export import export_saved_model
        ds = ctx.get_data_feed().dataset(32, features=["x"], label="y")
        model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(ds, epochs=1)
        export_saved_model(model, ctx)

    est = TFEstimator(train_fn=train, cluster_size=2, export_dir="/tmp/export",
                      input_mapping={"features": "x", "label": "y"})
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["a", "b", "c", "d"],
                                                outputCol="features"), est])
    model = pipeline.fit(df)
    model.transform(df).show()
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from typing import Any

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import JavaMLReadable, JavaMLReader, JavaMLWritable
from pyspark.ml.wrapper import JavaEstimator, JavaModel
from pyspark.sql import DataFrame, SparkSession, is_remote

from sparktf.cluster import SparkTFError, _call, _pickle_program


def _connect(dataset: DataFrame) -> bool:
    """A Spark Connect DataFrame (``pyspark.sql.connect``): the stage runs in the server."""
    return type(dataset).__module__.startswith("pyspark.sql.connect")


class _JavaClassReader(JavaMLReader):
    """Reads a stage whose Java class is not under org.apache.spark."""

    @classmethod
    def _java_loader_class(cls, clazz: Any) -> str:
        return clazz._java_class_name


class _TFParams(Params):
    """Params shared by TFEstimator and TFModel (the Scala ``TFParams``)."""

    inputMapping = Param(
        Params._dummy(),
        "inputMapping",
        "JSON object: DataFrame column -> input tensor name",
        typeConverter=TypeConverters.toString,
    )
    outputMapping = Param(
        Params._dummy(),
        "outputMapping",
        "JSON object: signature output -> output column",
        typeConverter=TypeConverters.toString,
    )
    batchSize = Param(
        Params._dummy(),
        "batchSize",
        "rows per batch sent to TensorFlow",
        typeConverter=TypeConverters.toInt,
    )
    exportDir = Param(
        Params._dummy(),
        "exportDir",
        "directory of the SavedModel",
        typeConverter=TypeConverters.toString,
    )
    signature = Param(
        Params._dummy(),
        "signature",
        "the SavedModel signature to call",
        typeConverter=TypeConverters.toString,
    )
    python = Param(
        Params._dummy(),
        "python",
        "Python executable of the TensorFlow processes",
        typeConverter=TypeConverters.toString,
    )
    startTimeout = Param(
        Params._dummy(),
        "startTimeout",
        "seconds a model server may take to load the model",
        typeConverter=TypeConverters.toFloat,
    )
    idleTimeout = Param(
        Params._dummy(),
        "idleTimeout",
        "seconds a task waits for answers before it fails",
        typeConverter=TypeConverters.toFloat,
    )

    def setInputMapping(self, mapping: dict[str, str]) -> Any:
        """``{column: tensor}``: the feed's tensors when training, the signature's inputs when
        transforming (a fitted model keeps the pairs its signature takes)."""
        return self._set(inputMapping=json.dumps(mapping))

    def setOutputMapping(self, mapping: dict[str, str]) -> Any:
        """``{signature output: column}``; by default every output under its own name."""
        return self._set(outputMapping=json.dumps(mapping))

    def getInputMapping(self) -> dict[str, str]:
        return json.loads(self.getOrDefault(self.inputMapping))

    def getOutputMapping(self) -> dict[str, str]:
        return json.loads(self.getOrDefault(self.outputMapping))

    def setBatchSize(self, value: int) -> Any:
        return self._set(batchSize=value)

    def setExportDir(self, value: str) -> Any:
        return self._set(exportDir=value)

    def setSignature(self, value: str) -> Any:
        return self._set(signature=value)


class TFModel(JavaModel, _TFParams, JavaMLReadable, JavaMLWritable):
    """Scores a DataFrame with a SavedModel: one model server per executor loads it once and
    serves every task; the signature's outputs are appended as columns.

    Example::

        model = TFModel(export_dir="/tmp/export", input_mapping={"features": "x"},
                        output_mapping={"dense": "prediction"})
        model.transform(df).select("prediction").show()
    """

    _java_class_name = "io.sparktf.ml.TFModel"

    def __init__(
        self,
        java_model: Any = None,
        *,
        export_dir: str | None = None,
        input_mapping: dict[str, str] | None = None,
        output_mapping: dict[str, str] | None = None,
        batch_size: int | None = None,
        signature: str | None = None,
    ) -> None:
        # Under Spark Connect (is_remote) the stage is params alone: the server builds the
        # Scala one for each transform.
        if java_model is None and not is_remote() and SparkSession.getActiveSession() is not None:
            java_model = JavaModel._new_java_obj(self._java_class_name)
        super().__init__(java_model)
        if java_model is not None:
            # The Scala stage's values and defaults: they are stated there alone.
            self._transfer_params_from_java()
        if export_dir is not None:
            self.setExportDir(export_dir)
        if input_mapping is not None:
            self.setInputMapping(input_mapping)
        if output_mapping is not None:
            self.setOutputMapping(output_mapping)
        if batch_size is not None:
            self.setBatchSize(batch_size)
        if signature is not None:
            self.setSignature(signature)
        if java_model is not None:
            self._transfer_params_to_java()

    def feed_report(self) -> dict[str, Any]:
        """What the ``TFEstimator`` fit that made this model fed, with the keys of
        ``cluster.train``'s report (``rows_per_node``, ``validation_rows_per_node``, ...).
        Kept in memory like Spark ML's training summaries, not saved; a SparkTFError on a
        model without one (a loaded model, or one fitted over Spark Connect)."""
        if self._java_obj is None:
            raise SparkTFError("this TFModel has no feed report: it has no Java stage")
        return json.loads(_call(self._java_obj.feedReportJson))

    def _transform(self, dataset: DataFrame) -> DataFrame:
        if _connect(dataset):
            from sparktf import connect_ml

            return connect_ml.transform(self, dataset)
        # As JavaTransformer does, with sparktf's errors raised as SparkTFError.
        self._transfer_params_to_java()
        return DataFrame(_call(self._java_obj.transform, dataset._jdf), dataset.sparkSession)

    @classmethod
    def read(cls) -> JavaMLReader:
        return _JavaClassReader(cls)


class TFEstimator(JavaEstimator, _TFParams, JavaMLReadable, JavaMLWritable):
    """Trains ``train_fn(tf_args, ctx)`` on a TensorFlow cluster of ``cluster_size`` executors,
    fed the DataFrame for ``epochs``; the chief must export a SavedModel to ``ctx.export_dir``
    (``sparktf.export.export_saved_model``). ``fit`` returns a ``TFModel`` over it.
    ``cluster_config`` takes further ``TFCluster.run`` settings (``feed_timeout``, ...).
    ``validation_indicator_col`` names a boolean column: its true rows are fed as the
    validation DataFrame (``feed.validation_dataset``), the others for training (Spark ML's
    ``validationIndicatorCol``, as in ``GBTClassifier``); ``model.feed_report()`` counts them.

    Example::

        est = TFEstimator(train_fn=train, cluster_size=2, epochs=3, export_dir="/tmp/export",
                          input_mapping={"features": "x", "label": "y"},
                          validation_indicator_col="is_val")
        model = Pipeline(stages=[assembler, est]).fit(df).stages[-1]
        model.feed_report()["validation_rows_per_node"]  # {'chief:0': 50, 'worker:0': 50}
    """

    _java_class_name = "io.sparktf.ml.TFEstimator"

    program = Param(
        Params._dummy(),
        "program",
        "the program every node runs (TFProgram JSON)",
        typeConverter=TypeConverters.toString,
    )
    clusterSize = Param(
        Params._dummy(),
        "clusterSize",
        "executors to run TensorFlow on",
        typeConverter=TypeConverters.toInt,
    )
    numPs = Param(
        Params._dummy(), "numPs", "parameter servers among them", typeConverter=TypeConverters.toInt
    )
    epochs = Param(
        Params._dummy(), "epochs", "times the DataFrame is fed", typeConverter=TypeConverters.toInt
    )
    clusterConfig = Param(
        Params._dummy(),
        "clusterConfig",
        "JSON object of further TFCluster.run settings",
        typeConverter=TypeConverters.toString,
    )
    validationIndicatorCol = Param(
        Params._dummy(),
        "validationIndicatorCol",
        "boolean column: its true rows are the validation set, the others the training rows",
        typeConverter=TypeConverters.toString,
    )

    @keyword_only
    def __init__(
        self,
        *,
        train_fn: Callable[[Any, Any], Any] | None = None,
        tf_args: Any = None,
        cluster_size: int | None = None,
        num_ps: int | None = None,
        epochs: int | None = None,
        export_dir: str | None = None,
        input_mapping: dict[str, str] | None = None,
        output_mapping: dict[str, str] | None = None,
        batch_size: int | None = None,
        signature: str | None = None,
        cluster_config: dict[str, Any] | None = None,
        validation_indicator_col: str | None = None,
    ) -> None:
        """A parameter left None takes the Scala stage's default (``io.sparktf.ml.TFEstimator``
        and ``TFParams``: no ps, one epoch, 1,024 rows per batch, ``serving_default``)."""
        super().__init__()
        self._connect_program: bytes | None = None
        if not is_remote():
            self._java_obj = self._new_java_obj(self._java_class_name, self.uid)
            # The Scala stage's defaults: they are stated there alone.
            self._transfer_params_from_java()
        if train_fn is not None:
            self.setTrainFn(train_fn, tf_args)
        given = {
            "clusterSize": cluster_size,
            "numPs": num_ps,
            "epochs": epochs,
            "batchSize": batch_size,
            "signature": signature,
            "validationIndicatorCol": validation_indicator_col,
        }
        self._set(**{name: value for name, value in given.items() if value is not None})
        if export_dir is not None:
            self.setExportDir(export_dir)
        if input_mapping is not None:
            self.setInputMapping(input_mapping)
        if output_mapping is not None:
            self.setOutputMapping(output_mapping)
        if cluster_config is not None:
            self._set(clusterConfig=json.dumps(cluster_config))

    def setValidationIndicatorCol(self, column: str) -> TFEstimator:
        """The boolean column whose true rows are fed as the validation set."""
        return self._set(validationIndicatorCol=column)

    def setTrainFn(self, train_fn: Callable[[Any, Any], Any], tf_args: Any = None) -> TFEstimator:
        """The program: ``train_fn(tf_args, ctx)`` on every node (cloudpickled, like
        ``TFCluster.run``)."""
        if is_remote():
            # Spark Connect: no JVM here; the bytes travel with fit's command.
            self._connect_program = _pickle_program(train_fn, tf_args)
            return self
        jvm = SparkSession.getActiveSession()._jvm  # type: ignore[union-attr]
        jprogram = jvm.io.sparktf.TFProgram.pickled(bytearray(_pickle_program(train_fn, tf_args)))
        return self._set(program=jvm.io.sparktf.TFProgram.toJson(jprogram))

    def _fit(self, dataset: DataFrame) -> TFModel:
        if _connect(dataset):
            from sparktf import connect_ml

            model = connect_ml.fit(self, dataset, self._connect_program, TFModel())
            return self._copyValues(model)
        return super()._fit(dataset)

    def _fit_java(self, dataset: DataFrame) -> Any:
        # As JavaEstimator does, with sparktf's errors raised as SparkTFError.
        self._transfer_params_to_java()
        return _call(self._java_obj.fit, dataset._jdf)

    def _create_model(self, java_model: Any) -> TFModel:
        return TFModel(java_model)

    @classmethod
    def read(cls) -> JavaMLReader:
        return _JavaClassReader(cls)


# pyspark finds the Python class of a loaded Java stage by its class name with
# org.apache.spark replaced by pyspark: for io.sparktf.ml.TFModel that is module io.sparktf.ml.
# Naming this module so too lets Pipeline.load and PipelineModel.load find our wrappers.
sys.modules.setdefault("io.sparktf", types.ModuleType("io.sparktf"))
sys.modules["io.sparktf.ml"] = sys.modules[__name__]
