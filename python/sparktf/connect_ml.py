"""``TFEstimator.fit`` and ``TFModel.transform`` over Spark Connect: the stage's params travel as
JSON to the server's sparktf plugin, which builds the Scala stage (``io.sparktf.ml``) and runs
it there; the fitted model comes back as its params. Used by ``sparktf.ml`` when the DataFrame
is a Connect one::

    model = TFEstimator(train_fn=train, cluster_size=2, export_dir="/tmp/export").fit(connect_df)
    model.transform(connect_df).show()
"""

from __future__ import annotations

import json
from typing import Any

from sparktf.connect_client import execute, relation_bytes, relation_frame
from sparktf.v1 import connect_pb2


def set_params_json(stage: Any, skip: tuple[str, ...] = ()) -> str:
    """The params set on the Python stage (a Connect stage has no JVM defaults to fill in: the
    server's Scala stage supplies them)."""
    return json.dumps({p.name: v for p, v in stage._paramMap.items() if p.name not in skip})


def fit(estimator: Any, dataset: Any, program: bytes | None, model: Any) -> Any:
    """Trains in the server and returns ``model`` (a fresh TFModel) with the fitted params."""
    command = connect_pb2.ConnectCommand(
        fit=connect_pb2.FitEstimator(
            params_json=set_params_json(estimator, skip=("program",)),
            input=relation_bytes(dataset),
            program=program or b"",
        )
    )
    fitted = execute(dataset.sparkSession, command)
    return model._set(**{k: v for k, v in fitted.items() if model.hasParam(k)})


def transform(model: Any, dataset: Any) -> Any:
    relation = connect_pb2.ConnectRelation(
        transform=connect_pb2.ModelTransformRelation(
            params_json=set_params_json(model), input=relation_bytes(dataset)
        )
    )
    return relation_frame(dataset.sparkSession, relation)
