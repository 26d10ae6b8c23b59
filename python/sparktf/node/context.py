"""``NodeContext``: the ``ctx`` of ``main_fun(args, ctx)``, named as in TensorFlowOnSpark."""

from __future__ import annotations

import os
import re
import threading

from sparktf.node.data_feed import DataFeed
from sparktf.wire.roles import acts_as_chief

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(path: str) -> bool:
    """``hdfs://...``, ``gs://...``, ``file://...``: a path some filesystem other than the
    local one resolves."""
    return bool(_URI.match(path))


def under(base: str, path: str) -> str:
    """``path`` inside ``base``; a local ``base`` is made absolute, a URI base is joined with /."""
    if is_uri(base):
        return base.rstrip("/") + "/" + path
    return os.path.join(os.path.abspath(base), path)


class NodeContext:
    """Who this node is in the TF cluster, where to write, and its data feed.

    Directories, as ``TFCluster.run`` set them (None when not set):

    * ``model_dir``: the job's shared directory.
    * ``export_dir``: where the chief exports the trained model
      (``sparktf.export.export_model(model, ctx)`` writes there).
    * ``checkpoint_dir``: ``checkpoint_dir=`` of ``TFCluster.run``, else
      ``<model_dir>/checkpoints``. The same on every node and across restarts
      (``max_restarts``): a restarted program resumes from what it saved there, e.g.::

          keras.callbacks.BackupAndRestore(backup_dir=ctx.checkpoint_dir)   # in model.fit
          # or, with tf.train.CheckpointManager under MultiWorkerMirroredStrategy, where every
          # worker saves and only the chief's copy counts (ctx.is_chief: the chief, or worker:0
          # in a cluster without one):
          ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)
          ckpt.restore(tf.train.latest_checkpoint(ctx.checkpoint_dir))   # None at first: no-op
          where = (ctx.checkpoint_dir if ctx.is_chief
                   else os.path.join(ctx.working_dir, "checkpoint-scratch"))
          manager = tf.train.CheckpointManager(ckpt, where, max_to_keep=2)

    * ``working_dir``: this node's own scratch directory (new for every start).
    * ``log_dir``: TensorBoard's log directory.
    """

    def __init__(
        self,
        *,
        job_name: str,
        task_index: int,
        worker_num: int,
        num_workers: int,
        cluster_spec: dict[str, list[str]],
        cluster_id: str,
        executor_id: str | None,
        model_dir: str | None,
        export_dir: str | None,
        checkpoint_dir: str | None,
        working_dir: str,
        data_feed: DataFeed | None,
        log_dir: str | None = None,
        stop_requested: threading.Event | None = None,
    ) -> None:
        self.job_name = job_name
        self.task_index = task_index
        self.worker_num = worker_num  # global index over all nodes (TFoS name)
        self.num_workers = num_workers  # chief + workers
        self.cluster_spec = cluster_spec
        self.cluster_id = cluster_id
        self.executor_id = executor_id
        self.model_dir = model_dir
        self.export_dir = export_dir
        self.checkpoint_dir = checkpoint_dir
        self.working_dir = working_dir
        # TensorBoard's log dir: the chief's is what the cluster's TensorBoard serves.
        self.log_dir = log_dir
        self._data_feed = data_feed
        # Set when the driver asks this node to stop: long waits in the program end on it.
        self.stop_requested = stop_requested if stop_requested is not None else threading.Event()

    def __repr__(self) -> str:
        return (
            f"NodeContext({self.job_name}:{self.task_index}, worker_num={self.worker_num}, "
            f"num_workers={self.num_workers}, cluster_id={self.cluster_id!r})"
        )

    @property
    def is_chief(self) -> bool:
        """True on the node that saves models and checkpoints and writes summaries: the chief,
        or worker:0 in a cluster without one (as TensorFlow's ``multi_worker_util.is_chief``)."""
        return acts_as_chief(self.job_name, self.task_index, self.cluster_spec)

    @property
    def takes_data(self) -> bool:
        """True on nodes Spark feeds (chief and workers in InputMode.SPARK)."""
        return self._data_feed is not None

    def get_data_feed(self, train_mode: bool = True) -> DataFeed:
        """The feed of rows Spark sends this node (the same object on every call).

        ``train_mode`` is accepted for TensorFlowOnSpark compatibility; inference with results
        returned to Spark goes through ``TFModel`` instead of this feed.
        """
        if self._data_feed is None:
            raise RuntimeError(
                f"node {self.job_name}:{self.task_index} takes no data: Spark feeds only chief "
                "and worker nodes, and only in InputMode.SPARK; ps and evaluator nodes, and every "
                "node in InputMode.TENSORFLOW, read their data themselves"
            )
        return self._data_feed

    def absolute_path(self, path: str) -> str:
        """``path`` made absolute: URIs (hdfs://, file://, ...) and absolute paths as they are,
        relative paths under ``model_dir`` when it is set, else under the working directory."""
        if is_uri(path) or os.path.isabs(path):
            return path
        if self.model_dir:
            return under(self.model_dir, path)
        return os.path.abspath(path)
