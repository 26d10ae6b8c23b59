"""TensorFlowOnSpark's node context, ``TFNodeContext``, over sparktf's ``ctx``.

A program started through ``sparktf.tfos`` gets this ``ctx``: every field of sparktf's
``NodeContext`` (``job_name``, ``task_index``, ``worker_num``, ``num_workers``,
``cluster_spec``, ``executor_id``, ``absolute_path``, ``get_data_feed``, ``model_dir``, ...),
plus TensorFlowOnSpark's ``mgr`` (what ``TFNode.DataFeed(ctx.mgr)`` reads), ``defaultFS``,
``working_dir`` (the driver's, as TensorFlowOnSpark gave it), ``release_port()``,
``start_cluster_server()`` and ``export_saved_model()``.

It runs in the node: it imports neither pyspark nor the driver API.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


class FeedManager:
    """What ``ctx.mgr`` is: the node's data feed, found when ``TFNode.DataFeed`` asks for it
    (TensorFlowOnSpark's ``TFManager`` held its queues)."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def data_feed(self) -> Any:
        """sparktf's ``DataFeed`` of this node; a clear error on nodes Spark does not feed."""
        return self._ctx.get_data_feed()


class TFNodeContext:
    """TensorFlowOnSpark's ``ctx``: sparktf's ``NodeContext`` with TensorFlowOnSpark's extras.

    Example::

        def main_fun(args, ctx):
            feed = TFNode.DataFeed(ctx.mgr, train_mode=True)
            path = ctx.absolute_path("model")    # under model_dir, else defaultFS + working_dir
    """

    def __init__(self, node_ctx: Any, default_fs: str, working_dir: str) -> None:
        self._node = node_ctx
        self.defaultFS = default_fs  # noqa: N815 (TFoS name)
        self.working_dir = working_dir
        self.mgr = FeedManager(node_ctx) if node_ctx.takes_data else None
        self.tmp_socket = None  # sparktf holds no port for the node: TensorFlow binds its own

    def __getattr__(self, name: str) -> Any:
        # Everything else is sparktf's ctx: job_name, task_index, cluster_spec, is_chief, ...
        return getattr(self.__dict__["_node"], name)

    def absolute_path(self, path: str) -> str:
        """``path`` made absolute as TensorFlowOnSpark did: URIs and absolute paths as they are
        (an absolute one prefixed with ``defaultFS``), a relative one under ``model_dir`` when
        the cluster has one, else under ``defaultFS`` and the driver's working directory."""
        from sparktf.tfos.TFNode import hdfs_path

        if not path.startswith("/") and "://" not in path and self._node.model_dir:
            return self._node.absolute_path(path)
        return hdfs_path(self, path)

    def get_data_feed(
        self,
        train_mode: bool = True,
        qname_in: str = "input",
        qname_out: str = "output",
        input_mapping: dict[str, str] | None = None,
    ) -> Any:
        """``TFNode.DataFeed(ctx.mgr, ...)``, as TensorFlowOnSpark's ``ctx.get_data_feed``."""
        from sparktf.tfos.TFNode import DataFeed

        return DataFeed(self.mgr, train_mode, qname_in, qname_out, input_mapping)

    def release_port(self) -> None:
        """Nothing to release: sparktf picks the node's TensorFlow port and TensorFlow binds it."""

    def start_cluster_server(self, num_gpus: int = 1, rdma: bool = False) -> Any:
        from sparktf.tfos.TFNode import start_cluster_server

        return start_cluster_server(self, num_gpus, rdma)

    def export_saved_model(self, sess: Any, export_dir: str, tag_set: Any, signatures: Any) -> Any:
        from sparktf.tfos.TFNode import export_saved_model

        return export_saved_model(sess, export_dir, tag_set, signatures)


def run_with_tfos_ctx(
    program: tuple[Callable[[Any, Any], Any], Any, str, str, bool], node_ctx: Any
) -> Any:
    """The ``main_fun`` sparktf runs for a ``sparktf.tfos`` cluster: the user's
    ``map_fun(tf_args, ctx)`` with TensorFlowOnSpark's ``ctx``. ``single_node`` (TFParallel)
    drops TF_CONFIG first, as TensorFlowOnSpark's independent instances had none."""
    map_fun, tf_args, default_fs, working_dir, single_node = program
    if single_node:
        os.environ.pop("TF_CONFIG", None)
    return map_fun(tf_args, TFNodeContext(node_ctx, default_fs, working_dir))
