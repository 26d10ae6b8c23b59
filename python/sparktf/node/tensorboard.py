"""TensorBoard inside the node process: it serves the cluster's log dir and dies with the node.

Each node writes its summaries under its own run, ``<log_dir>/<role>-<index>`` (its
``ctx.log_dir``), and TensorBoard serves ``<log_dir>``, so every node's runs appear side by side
when ``log_dir`` is on storage every node reaches.

Example::

    log_dir = default_log_dir(None, "/data/model", "/tmp/sparktf-abc-chief-0")
    ctx_log_dir = node_log_dir(log_dir, "worker", 1)   # "/data/model/tensorboard/worker-1"
    url = start_tensorboard(log_dir, "10.0.0.5")   # "http://10.0.0.5:39871/"
"""

from __future__ import annotations

import os

from sparktf.node.context import is_uri, under

LOG_SUBDIR = "tensorboard"


class TensorBoardError(RuntimeError):
    """TensorBoard was asked for but cannot run on this node."""


def default_log_dir(log_dir: str | None, model_dir: str | None, working_dir: str) -> str:
    """``log_dir`` (default ``tensorboard``) resolved as ``ctx.absolute_path`` resolves paths:
    URIs and absolute paths as they are, relative ones under ``model_dir`` when it is set, else
    under the node's working directory."""
    path = log_dir or LOG_SUBDIR
    if is_uri(path) or os.path.isabs(path):
        return path
    return under(model_dir, path) if model_dir else os.path.join(working_dir, path)


def node_log_dir(log_dir: str, job_name: str, task_index: int) -> str:
    """The node's own run under the cluster's log dir: ``ctx.log_dir``."""
    return under(log_dir, f"{job_name}-{task_index}")


def start_tensorboard(log_dir: str, host: str) -> str:
    """Starts TensorBoard on ``host`` at a free port in this process (daemon threads, so it
    ends when the node exits); returns its URL."""
    try:
        from tensorboard import program
    except ImportError as e:
        raise TensorBoardError(
            f"tensorboard=True, but the nodes' Python cannot import tensorboard ({e}): install "
            "it there (pip install tensorboard) or run without tensorboard"
        ) from e
    if not is_uri(log_dir):
        os.makedirs(log_dir, exist_ok=True)
    tb = program.TensorBoard()
    # --load_fast=false: no separate data-server process, which could outlive the node.
    tb.configure(
        argv=[None, "--logdir", log_dir, "--host", host, "--port", "0", "--load_fast", "false"]
    )
    try:
        return tb.launch()
    except program.TensorBoardServerException as e:
        raise TensorBoardError(f"TensorBoard could not serve on {host}: {e.msg}") from e
