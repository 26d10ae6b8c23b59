"""``sparktf.run`` over Spark Connect: the server's sparktf plugin runs the function on its
cluster and answers the chief's return value as JSON (``sparktf.v1.RunFunction``), so the client
unpickles nothing that comes from the server. Plain values only: None, bool, int, float, str,
and lists, tuples (they come back as lists) and str-keyed dicts of them. Example::

    spark = SparkSession.builder.remote("sc://127.0.0.1:15002").getOrCreate()
    final_loss = sparktf.run(train, 2, spark)   # train(ctx) returns a float
"""

from __future__ import annotations

from typing import Any

from sparktf.connect_client import execute
from sparktf.v1 import connect_pb2


def run_over_connect(spark: Any, program: bytes, settings_json: str, max_result_bytes: int) -> Any:
    """Runs the ``(main_fun, args)`` pickle ``program`` on the server's cluster; returns the
    chief's return value, decoded from the server's JSON."""
    command = connect_pb2.ConnectCommand(
        run_function=connect_pb2.RunFunction(
            program=program, settings_json=settings_json, max_result_bytes=max_result_bytes
        )
    )
    return execute(spark, command)["value"]
