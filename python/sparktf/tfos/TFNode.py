"""TensorFlowOnSpark's ``TFNode``, run in the node: ``DataFeed`` over sparktf's data feed, plus
``hdfs_path`` and the TF1 helpers (which fail as they did on TF2).

``DataFeed`` keeps TensorFlowOnSpark's semantics where its programs rely on them:

* ``next_batch(n)`` returns a list of rows (tuples, in the RDD's element order, or the elements
  themselves when the RDD held scalars), or with ``input_mapping`` a dict ``{tensor: column}``.
  Columns and row values are numpy arrays and scalars rather than Python lists (what a program
  does next, ``np.array(...)``, takes both).
* ``should_stop()`` turns True only when the cluster shuts down (or after ``terminate()``): the
  end of one ``train()`` is not a stop, so a loop on it serves every ``train()`` call, as in
  TensorFlowOnSpark. (sparktf's own feed says True at the end of each ``train()``.)
* ``batch_results(results)`` answers the last batch of a ``TFCluster.inference``, one result a
  row: any JSON-able value (numbers, strings, lists, dicts; numpy values are converted). Results
  travel as JSON text, not pickles: nothing received on a socket is unpickled.
* ``terminate()``: no more rows are taken; the remaining partitions are not streamed at all.

Example::

    def main_fun(args, ctx):
        feed = TFNode.DataFeed(ctx.mgr, train_mode=True)
        while not feed.should_stop():
            rows = feed.next_batch(64)        # [(image, label), ...]
            if rows:
                train_on(rows)
"""

from __future__ import annotations

import getpass
import json
import logging
from typing import Any

#: The result column of ``TFCluster.inference``'s DataFrame: one JSON text a row.
RESULT_COLUMN = "tfos_result"
#: The one column a feed of RDD scalars has: rows are the scalars themselves.
SCALAR_COLUMN = "tfos_value"

_SCHEMES = (
    "adl://",
    "file://",
    "hdfs://",
    "oss://",
    "s3://",
    "s3a://",
    "s3n://",
    "swift://",
    "viewfs://",
    "wasb://",
    "gs://",
    "abfs://",
    "abfss://",
)

log = logging.getLogger(__name__)


def hdfs_path(ctx: Any, path: str) -> str:
    """``path`` as a filesystem URI: one with a scheme as it is, an absolute one under
    ``ctx.defaultFS``, a relative one under the user's HDFS home (``hdfs://``/``viewfs://``) or
    the driver's working directory (``file://``), as TensorFlowOnSpark resolved it."""
    if path.startswith(_SCHEMES):
        return path
    fs = ctx.defaultFS
    if path.startswith("/"):
        return fs + path
    if fs.startswith(("hdfs://", "viewfs://")):
        return f"{fs}/user/{getpass.getuser()}/{path}"
    if fs.startswith("file://"):
        return f"{fs}/{ctx.working_dir[1:]}/{path}"
    return f"{fs}/{path}"


def start_cluster_server(ctx: Any, num_gpus: int = 1, rdma: bool = False) -> Any:
    """TensorFlow 1's ``tf.train.Server`` per node. TensorFlowOnSpark refused it on TF2, and so
    does sparktf: TF2's strategies start the server from ``TF_CONFIG``, which every node has."""
    raise RuntimeError(
        "TFNode.start_cluster_server is TensorFlow 1 only (TensorFlowOnSpark refused it on TF2 "
        "too): on TensorFlow 2 create tf.distribute.MultiWorkerMirroredStrategy() or "
        "ParameterServerStrategy; TF_CONFIG is already set on every node"
    )


def export_saved_model(sess: Any, export_dir: str, tag_set: Any, signatures: Any) -> Any:
    """TensorFlow 1's session export: refused on TF2, as in TensorFlowOnSpark."""
    raise RuntimeError(
        "TFNode.export_saved_model exports a TensorFlow 1 session: on TensorFlow 2 use "
        "compat.export_saved_model(model, export_dir, is_chief) or "
        "sparktf.program.export.export_saved_model(model, ctx)"
    )


def release_port(ctx: Any) -> None:
    """Nothing to release: sparktf holds no port for the node."""


def next_batch(mgr: Any, batch_size: int, qname: str = "input") -> Any:
    raise RuntimeError(
        "TFNode.next_batch is deprecated (as in TensorFlowOnSpark): use "
        "TFNode.DataFeed(ctx.mgr).next_batch"
    )


def batch_results(mgr: Any, results: Any, qname: str = "output") -> Any:
    raise RuntimeError(
        "TFNode.batch_results is deprecated (as in TensorFlowOnSpark): use "
        "TFNode.DataFeed(ctx.mgr, False).batch_results"
    )


def terminate(mgr: Any, qname: str = "input") -> Any:
    raise RuntimeError(
        "TFNode.terminate is deprecated (as in TensorFlowOnSpark): use "
        "TFNode.DataFeed(ctx.mgr).terminate"
    )


def _plain(value: Any) -> Any:
    """A JSON-able form of a result: numpy arrays and scalars as lists and numbers."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class DataFeed:
    """TensorFlowOnSpark's ``DataFeed(mgr, train_mode, qname_in, qname_out, input_mapping)``
    over the node's sparktf data feed (see the module docstring for what it returns).

    ``train_mode`` and the queue names are accepted and change nothing: sparktf serves training
    and inference rows through one feed, and each feed is its own stream rather than a queue.
    """

    def __init__(
        self,
        mgr: Any,
        train_mode: bool = True,
        qname_in: str = "input",
        qname_out: str = "output",
        input_mapping: dict[str, str] | None = None,
    ) -> None:
        if mgr is None:
            raise RuntimeError(
                "DataFeed(ctx.mgr): this node takes no data (ctx.mgr is None): Spark feeds only "
                "chief and worker nodes, and only in InputMode.SPARK"
            )
        self.mgr = mgr
        self.train_mode = train_mode
        self.qname_in = qname_in
        self.qname_out = qname_out
        # As TensorFlowOnSpark: tensors in the order of their columns' names.
        self.input_mapping = dict(input_mapping) if input_mapping is not None else None
        self.input_tensors = (
            [tensor for _, tensor in sorted(input_mapping.items())] if input_mapping else None
        )
        self._feed = mgr.data_feed()
        self._done = False

    def next_batch(self, batch_size: int) -> list[Any] | dict[str, Any]:
        """Up to ``batch_size`` rows: a list of rows, or ``{tensor: column}`` with an
        ``input_mapping``; empty once the cluster shuts down (then ``should_stop()`` is True).
        Between two ``train()`` calls it waits for the next one."""
        columns = self._columns(batch_size)
        if self.input_mapping is None:
            return self._rows(columns)
        return self._by_tensor(columns)

    def _columns(self, batch_size: int) -> dict[str, Any]:
        while not self._done:
            try:
                batch = self._feed.next_batch(batch_size)
            except TimeoutError:
                if self._between_feeds():
                    continue  # the driver has not started the next train() yet
                raise
            if batch:
                return batch
            if self._feed.exhausted:
                self._done = True
            # Else one train() ended: TensorFlowOnSpark's loops go on to the next.
        return {}

    def _between_feeds(self) -> bool:
        # Before the first train(), or after one ended (should_stop() True until the next one's
        # rows come): TensorFlowOnSpark's nodes waited there until the next train() or the
        # shutdown, which ends the wait here too.
        if self._feed.exhausted:
            return False
        return self._feed.feed_id is None or self._feed.should_stop()

    @staticmethod
    def _rows(columns: dict[str, Any]) -> list[Any]:
        if not columns:
            return []
        if list(columns) == [SCALAR_COLUMN]:
            return list(columns[SCALAR_COLUMN])
        return list(zip(*columns.values()))

    def _by_tensor(self, columns: dict[str, Any]) -> dict[str, Any]:
        assert self.input_mapping is not None
        out = {}
        for column, tensor in sorted(self.input_mapping.items()):
            # Fed under the tensor's name (sparktf's input_mapping) or the column's own.
            if tensor in columns:
                out[tensor] = columns[tensor]
            elif column in columns:
                out[tensor] = columns[column]
            elif columns:
                raise KeyError(
                    f"input_mapping maps column '{column}' to tensor '{tensor}', but the feed "
                    f"has neither; it has {', '.join(columns)}"
                )
            else:
                out[tensor] = []
        return out

    def should_stop(self) -> bool:
        """True once the cluster shuts down or after ``terminate()``: not at the end of each
        ``train()``."""
        return self._done or self._feed.exhausted

    def batch_results(self, results: Any) -> None:
        """Answers the last ``next_batch`` of a ``TFCluster.inference``: one result a row."""
        self._feed.batch_results({RESULT_COLUMN: [json.dumps(_plain(r)) for r in results]})

    def terminate(self) -> None:
        """Takes no more data: sparktf streams no further partition to this node."""
        log.info("terminate() invoked")
        self._feed.terminate()
        self._done = True
