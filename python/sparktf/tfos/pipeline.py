"""TensorFlowOnSpark's ``pipeline``: ``TFEstimator(train_fn, tf_args)`` and ``TFModel(tf_args)``
with its params (snake_case names) and every ``set*``/``get*``, ``Namespace`` and ``TFParams``.

``TFEstimator.fit`` runs ``train_fn(args, ctx)`` on a ``sparktf.tfos.TFCluster`` fed the
DataFrame's ``input_mapping`` columns (sorted by name, as TensorFlowOnSpark fed them: a program
reads rows with ``TFNode.DataFeed(ctx.mgr)``), ``args`` being ``tf_args`` merged with the
params (``args.batch_size``, ``args.epochs``, ``args.export_dir``, ...). It returns a ``TFModel``
with the same args and params.

``TFModel.transform`` is sparktf's ``TFModel`` (``sparktf.ml``): one model server per executor
loads the SavedModel at ``export_dir`` once and serves every task; the signature
(``signature_def_key``, default ``serving_default``) is checked against the DataFrame before any
task runs, and flat array columns take the input's shape (784 values -> [28, 28, 1]). Like
TensorFlowOnSpark's it returns the output columns alone, named by ``output_mapping`` and ordered
by tensor name. Different: it scores SavedModels only (TF2 has no session checkpoints to load
from ``model_dir``), ``tag_set`` is ``serve``, and an output is ``array<float>`` or a number
rather than Python lists.

Params with no meaning on sparktf, accepted and kept for the program's ``args``: ``protocol``
(TensorFlow 1's rdma), ``readers``, ``steps``, ``grace_secs`` (shutdown waits for the programs
anyway), ``tfrecord_dir``, ``driver_ps_nodes`` (True is refused).

Example::

    from sparktf.tfos.pipeline import TFEstimator, TFModel
    model = TFEstimator(main_fun, args).setInputMapping({"image": "image", "label": "label"}) \\
        .setClusterSize(2).setEpochs(1).setBatchSize(32).setExportDir("/tmp/export").fit(df)
    preds = TFModel(args).setInputMapping({"image": "conv2d_input"}) \\
        .setOutputMapping({"dense_1": "prediction"}).setExportDir("/tmp/export").transform(df)
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable
from typing import Any

from pyspark import SparkContext
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame

from sparktf.tfos import TFCluster
from sparktf.tfos.TFCluster import InputMode


class TFTypeConverters:
    """TensorFlowOnSpark's converter of dict params."""

    @staticmethod
    def toDict(value: Any) -> dict[str, str]:  # noqa: N802 (TFoS name)
        if isinstance(value, dict):
            return value
        raise TypeError(f"Could not convert {value} to dict")


def _mixin(cls_name: str, name: str, doc: str, converter: Any, suffix: str) -> type:
    """A ``Has<Name>`` class: one Param with its ``set<suffix>``/``get<suffix>``."""

    def setter(self: Params, value: Any) -> Any:
        return self._set(**{name: value})

    def getter(self: Params) -> Any:
        return self.getOrDefault(name)

    return type(
        cls_name,
        (Params,),
        {
            name: Param(Params._dummy(), name, doc, typeConverter=converter),
            f"set{suffix}": setter,
            f"get{suffix}": getter,
        },
    )


T = TypeConverters
HasBatchSize = _mixin("HasBatchSize", "batch_size", "records per batch", T.toInt, "BatchSize")
HasClusterSize = _mixin(
    "HasClusterSize", "cluster_size", "nodes in the cluster", T.toInt, "ClusterSize"
)
HasEpochs = _mixin("HasEpochs", "epochs", "epochs to train", T.toInt, "Epochs")
HasGraceSecs = _mixin(
    "HasGraceSecs", "grace_secs", "accepted; shutdown waits for the programs", T.toInt, "GraceSecs"
)
HasInputMapping = _mixin(
    "HasInputMapping",
    "input_mapping",
    "input column -> input tensor",
    TFTypeConverters.toDict,
    "InputMapping",
)
HasInputMode = _mixin(
    "HasInputMode", "input_mode", "0=TENSORFLOW, 1=SPARK (SPARK only)", T.toInt, "InputMode"
)
HasMasterNode = _mixin(
    "HasMasterNode", "master_node", "job name of the chief", T.toString, "MasterNode"
)
HasModelDir = _mixin("HasModelDir", "model_dir", "path of checkpoints", T.toString, "ModelDir")
HasOutputMapping = _mixin(
    "HasOutputMapping",
    "output_mapping",
    "output tensor -> output column",
    TFTypeConverters.toDict,
    "OutputMapping",
)
HasProtocol = _mixin(
    "HasProtocol", "protocol", "accepted: TensorFlow's grpc", T.toString, "Protocol"
)
HasReaders = _mixin("HasReaders", "readers", "accepted, for the program's args", T.toInt, "Readers")
HasSteps = _mixin("HasSteps", "steps", "maximum steps, for the program's args", T.toInt, "Steps")
HasTensorboard = _mixin(
    "HasTensorboard", "tensorboard", "start TensorBoard on the chief", T.toBoolean, "Tensorboard"
)
HasTFRecordDir = _mixin(
    "HasTFRecordDir", "tfrecord_dir", "accepted, for the program's args", T.toString, "TFRecordDir"
)
HasExportDir = _mixin(
    "HasExportDir", "export_dir", "directory of the SavedModel", T.toString, "ExportDir"
)
HasSignatureDefKey = _mixin(
    "HasSignatureDefKey", "signature_def_key", "SavedModel signature", T.toString, "SignatureDefKey"
)
HasTagSet = _mixin("HasTagSet", "tag_set", "SavedModel tags (serve)", T.toString, "TagSet")


class HasNumPS(Params):
    num_ps = Param(Params._dummy(), "num_ps", "parameter servers", typeConverter=T.toInt)
    driver_ps_nodes = Param(
        Params._dummy(), "driver_ps_nodes", "refused when True", typeConverter=T.toBoolean
    )

    def setNumPS(self, value: int) -> Any:  # noqa: N802 (TFoS name)
        return self._set(num_ps=value)

    def getNumPS(self) -> int:  # noqa: N802 (TFoS name)
        return self.getOrDefault(self.num_ps)

    def setDriverPSNodes(self, value: bool) -> Any:  # noqa: N802 (TFoS name)
        return self._set(driver_ps_nodes=value)

    def getDriverPSNodes(self) -> bool:  # noqa: N802 (TFoS name)
        return self.getOrDefault(self.driver_ps_nodes)


class Namespace:
    """TensorFlowOnSpark's ``Namespace``: a dict, ``argparse.Namespace`` or ``Namespace`` as
    attributes, or a list kept as ``argv``."""

    argv: list[str] | None = None

    def __init__(self, d: Any) -> None:
        if isinstance(d, list):
            self.argv = d
        elif isinstance(d, dict):
            self.__dict__.update(d)
        elif isinstance(d, (argparse.Namespace, Namespace)):
            self.__dict__.update(vars(d))
        else:
            raise TypeError(f"Unsupported Namespace args: {d}")

    def __iter__(self) -> Any:
        return iter(self.argv) if self.argv else iter(list(self.__dict__))

    def __repr__(self) -> str:
        if self.argv:
            return f"{self.argv}"
        items = ", ".join(f"{k}={self.__dict__[k]!r}" for k in sorted(self.__dict__))
        return f"{type(self).__name__}({items})"

    def __eq__(self, other: object) -> bool:
        if self.argv:
            return self.argv == other
        return isinstance(other, Namespace) and self.__dict__ == other.__dict__


class TFParams(Params):
    """Namespace-style ``args`` merged with the Spark ML params (``merge_args_params``)."""

    args: Namespace | None = None

    def merge_args_params(self) -> Namespace:
        local = copy.copy(self.args)
        merged = vars(local)
        for p in self.params:
            merged[p.name] = self.getOrDefault(p.name)
        return local


class TFEstimator(
    Estimator,
    TFParams,
    HasInputMapping,
    HasClusterSize,
    HasNumPS,
    HasInputMode,
    HasMasterNode,
    HasProtocol,
    HasGraceSecs,
    HasTensorboard,
    HasModelDir,
    HasExportDir,
    HasTFRecordDir,
    HasBatchSize,
    HasEpochs,
    HasReaders,
    HasSteps,
):
    """TensorFlowOnSpark's estimator: ``fit`` trains ``train_fn(args, ctx)`` on a cluster of
    ``cluster_size`` executors (see the module docstring)."""

    def __init__(
        self,
        train_fn: Callable[[Any, Any], Any],
        tf_args: Any,
        export_fn: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        self.train_fn = train_fn
        self.export_fn = export_fn
        self.args = Namespace(tf_args)
        # TensorFlowOnSpark's defaults, for TF2 (a chief).
        self._setDefault(
            input_mapping={},
            cluster_size=1,
            num_ps=0,
            driver_ps_nodes=False,
            input_mode=InputMode.SPARK,
            master_node="chief",
            protocol="grpc",
            tensorboard=False,
            model_dir=None,
            export_dir=None,
            tfrecord_dir=None,
            batch_size=100,
            epochs=1,
            readers=1,
            steps=1000,
            grace_secs=30,
        )

    def _fit(self, dataset: DataFrame) -> TFModel:
        if self.export_fn is not None:
            raise ValueError(
                "export_fn is TensorFlow 1's (TensorFlowOnSpark refused it on TF2 "
                "too): export in train_fn, e.g. compat.export_saved_model"
            )
        if self.getInputMode() != InputMode.SPARK:
            raise ValueError("TFEstimator feeds the DataFrame: input_mode must be InputMode.SPARK")
        merged = self.merge_args_params()
        tf_args = self.args.argv if self.args.argv else merged
        cluster = TFCluster.run(
            SparkContext.getOrCreate(),
            self.train_fn,
            tf_args,
            merged.cluster_size,
            merged.num_ps,
            merged.tensorboard,
            InputMode.SPARK,
            master_node=merged.master_node,
            driver_ps_nodes=merged.driver_ps_nodes,
        )
        try:
            cluster.train(dataset.select(sorted(self.getInputMapping())), merged.epochs)
        except BaseException:
            try:
                cluster.shutdown()
            except Exception:  # noqa: BLE001 - the feed's error is the one to raise
                pass
            raise
        cluster.shutdown(grace_secs=self.getGraceSecs())
        return self._copyValues(TFModel(self.args))


class TFModel(
    Model,
    TFParams,
    HasInputMapping,
    HasOutputMapping,
    HasBatchSize,
    HasModelDir,
    HasExportDir,
    HasSignatureDefKey,
    HasTagSet,
):
    """TensorFlowOnSpark's model: ``transform`` scores the SavedModel at ``export_dir`` with
    sparktf's ``TFModel`` and returns the output columns (see the module docstring)."""

    def __init__(self, tf_args: Any) -> None:
        super().__init__()
        self.args = Namespace(tf_args)
        self._setDefault(
            input_mapping={},
            output_mapping={},
            batch_size=100,
            model_dir=None,
            export_dir=None,
            signature_def_key=None,
            tag_set=None,
        )

    def _transform(self, dataset: DataFrame) -> DataFrame:
        from sparktf.ml import TFModel as SparkTFModel

        if not self.getExportDir():
            raise ValueError(
                "TFModel scores a SavedModel: set export_dir (TF2 has no session "
                "checkpoints to score from model_dir)"
            )
        if self.getTagSet() not in (None, "serve"):
            raise ValueError(f"tag_set '{self.getTagSet()}': sparktf loads the 'serve' graph")
        outputs = self.getOutputMapping()
        scored = SparkTFModel(
            export_dir=self.getExportDir(),
            input_mapping=self.getInputMapping() or None,
            output_mapping=outputs or None,
            batch_size=self.getBatchSize(),
            signature=self.getSignatureDefKey() or "serving_default",
        ).transform(dataset)
        columns = [column for _, column in sorted(outputs.items())]
        return scored.select(columns) if columns else scored
