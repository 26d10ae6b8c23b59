"""``TFCluster`` over Spark Connect: the same API, each call a command to the server's sparktf
plugin (``sparktf.connect_client``), the cluster living in the server's driver under a handle.

``TFCluster.run(connect_session, ...)`` returns one of these; nothing here needs a JVM::

    spark = SparkSession.builder.remote("sc://127.0.0.1:15002").getOrCreate()
    cluster = TFCluster.run(spark, main_fun, {}, num_executors=2)
    cluster.train(spark.read.parquet("/data/train"), num_epochs=2)
    cluster.shutdown()

The server stops a cluster whose session closes (the client's ``spark.stop()``, or the server's
``spark.connect.session.manager.defaultSessionTimeout`` for a client that went away), and one
whose command the server interrupts because its client went away mid-call.
"""

from __future__ import annotations

import json
from typing import Any

from sparktf.cluster import TFCluster, _pickle_program
from sparktf.connect_client import execute, relation_bytes, relation_frame
from sparktf.v1 import connect_pb2


class ConnectTFCluster(TFCluster):
    """A cluster started from a Spark Connect session (see ``TFCluster`` for every call)."""

    def __init__(self, spark: Any, handle: str, status: dict[str, Any]) -> None:
        # No py4j: the state of the cluster is in the server, asked for on every read.
        self._spark = spark
        self._handle = handle
        self._status = status

    @staticmethod
    def start(spark: Any, map_fun: Any, tf_args: Any, settings_json: str) -> ConnectTFCluster:
        command = connect_pb2.ConnectCommand(
            run=connect_pb2.RunCluster(
                program=_pickle_program(map_fun, tf_args), settings_json=settings_json
            )
        )
        status = execute(spark, command)
        return ConnectTFCluster(spark, status.pop("handle"), status)

    @property
    def handle(self) -> str:
        """The server's name for this cluster (valid in this Connect session only)."""
        return self._handle

    def _refresh(self) -> dict[str, Any]:
        self._status = execute(
            self._spark,
            connect_pb2.ConnectCommand(
                status=connect_pb2.ClusterStatusRequest(handle=self._handle)
            ),
        )
        return self._status

    @property
    def cluster_id(self) -> str:
        return self._refresh()["cluster_id"]

    @property
    def restarts(self) -> int:
        return int(self._refresh()["restarts"])

    @property
    def tensorboard_url(self) -> str | None:
        return self._refresh()["tensorboard_url"]

    @property
    def nodes(self) -> list[dict[str, Any]]:
        return self._refresh()["nodes"]

    @property
    def state(self) -> str:
        """``running``, ``shutting down``, ``done`` or ``failed`` (as the server last said after
        ``shutdown()``)."""
        return self._status["state"]

    def train(
        self,
        df: Any,
        num_epochs: int = 1,
        input_mapping: dict[str, str] | None = None,
        ragged_columns: list[str] | None = None,
        validation_df: Any = None,
    ) -> dict[str, Any]:
        """As ``TFCluster.train``; ``validation_df`` travels as its own plan."""
        return execute(
            self._spark,
            connect_pb2.ConnectCommand(
                train=connect_pb2.TrainCluster(
                    handle=self._handle,
                    input=relation_bytes(df),
                    num_epochs=num_epochs,
                    input_mapping_json=json.dumps(input_mapping) if input_mapping else "",
                    ragged_columns_json=json.dumps(list(ragged_columns)) if ragged_columns else "",
                    validation_input=relation_bytes(validation_df)
                    if validation_df is not None
                    else b"",
                )
            ),
        )

    def inference(
        self,
        df: Any,
        output_schema: str,
        input_mapping: dict[str, str] | None = None,
        batch_size: int = 1024,
    ) -> Any:
        return relation_frame(
            self._spark,
            connect_pb2.ConnectRelation(
                inference=connect_pb2.ClusterInferenceRelation(
                    handle=self._handle,
                    input=relation_bytes(df),
                    output_schema=output_schema,
                    input_mapping_json=json.dumps(input_mapping) if input_mapping else "",
                    batch_size=int(batch_size),
                )
            ),
        )

    def shutdown(self, timeout: float | None = None) -> None:
        shutdown = connect_pb2.ShutdownCluster(handle=self._handle)
        if timeout is not None:
            shutdown.timeout_seconds = float(timeout)
        self._status = execute(self._spark, connect_pb2.ConnectCommand(shutdown=shutdown))
