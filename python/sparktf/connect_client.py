"""The Spark Connect transport: what ``sparktf``'s API sends a Connect server instead of py4j calls.

A Connect session has no JVM on the client. Each operation is a ``sparktf.v1.ConnectCommand`` (run,
train, status, shutdown, fit) packed into Spark Connect's ``Command.extension`` and answered by the
server's ``io.sparktf.connect.SparkTFCommandPlugin`` with one ``ConnectReply``; an operation that
gives a DataFrame is a ``ConnectRelation`` in ``Relation.extension``, planned by
``SparkTFRelationPlugin``. The messages carry the JSON the py4j bridge takes, so both transports
reach the same Scala code. Example::

    from sparktf.connect_client import execute, relation_frame
    from sparktf.v1 import connect_pb2

    status = execute(spark, connect_pb2.ConnectCommand(
        status=connect_pb2.ClusterStatusRequest(handle=handle)))
"""

from __future__ import annotations

import json
from typing import Any

from sparktf.cluster import SparkTFError
from sparktf.v1 import connect_pb2

# How a SparkTFException thrown while the server plans a relation reaches a Connect client.
_SERVER_ERROR = "io.sparktf.SparkTFException"


def is_connect(obj: Any) -> bool:
    """A Spark Connect session or DataFrame (``pyspark.sql.connect``), told apart without
    importing pyspark's Connect client (which needs grpc and pyarrow)."""
    return type(obj).__module__.startswith("pyspark.sql.connect")


def relation_bytes(df: Any) -> bytes:
    """The DataFrame's Connect plan, a serialized ``spark.connect.Relation``."""
    return df._plan.plan(df.sparkSession.client).SerializeToString()


def execute(spark: Any, command: connect_pb2.ConnectCommand) -> dict[str, Any]:
    """Runs one command in the server's driver and returns its JSON answer; a sparktf failure
    (a node's error and traceback included) raises SparkTFError, as in classic mode."""
    import pyspark.sql.connect.proto as pb2

    wrapped = pb2.Command()
    wrapped.extension.Pack(command)
    client = spark.client
    # pyspark's Connect client gives no public call for a command answered by an extension
    # message: these two are what its own execute_command uses.
    request = client._execute_plan_request_with_metadata()
    client._set_command_in_plan(request.plan, wrapped)
    replies = []
    try:
        for response in client._execute_and_fetch_as_iterator(request, {}):
            if hasattr(response, "Is") and response.Is(connect_pb2.ConnectReply.DESCRIPTOR):
                reply = connect_pb2.ConnectReply()
                response.Unpack(reply)
                replies.append(reply)
    except Exception as e:
        raise _as_sparktf_error(e) from None
    if len(replies) != 1:
        raise SparkTFError(
            f"the Connect server answered {len(replies)} sparktf replies to one "
            f"'{command.WhichOneof('operation')}' command: start it with "
            "spark.connect.extensions.command.classes=io.sparktf.connect.SparkTFCommandPlugin "
            "and the sparktf jar (README: Spark Connect)"
        )
    if replies[0].HasField("error"):
        raise SparkTFError(replies[0].error)
    return json.loads(replies[0].json)


def relation_frame(spark: Any, relation: connect_pb2.ConnectRelation) -> Any:
    """A Connect DataFrame planned by the server's sparktf relation plugin. It is analysed at
    once, so a bad column or schema raises SparkTFError here, as in classic mode."""
    from pyspark.sql.connect.dataframe import DataFrame
    from pyspark.sql.connect.plan import LogicalPlan

    class _SparkTFRelation(LogicalPlan):
        def __init__(self) -> None:
            super().__init__(None)

        def plan(self, session: Any) -> Any:
            rel = self._create_proto_relation()
            rel.extension.Pack(relation)
            return rel

    df = DataFrame(_SparkTFRelation(), spark)
    try:
        df.schema  # noqa: B018 (plans it in the server now)
    except Exception as e:
        raise _as_sparktf_error(e) from None
    return df


def _as_sparktf_error(e: Exception) -> Exception:
    """A server error that is a sparktf refusal becomes SparkTFError; any other stays itself."""
    text = str(e)
    at = text.find(_SERVER_ERROR)
    if at < 0:
        return e
    message = text[at + len(_SERVER_ERROR) :].lstrip(":) ")
    return SparkTFError(message.split("\n\nJVM stacktrace:")[0].rstrip())
