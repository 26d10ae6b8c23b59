"""Parameter-server training (TF2 ``ParameterServerStrategy``) on sparktf nodes.

Under ParameterServerStrategy only the chief runs training code: its ``ClusterCoordinator``
(inside tf_keras ``model.fit``, or your own ``coordinator.schedule`` loop) places variables on
the ps nodes and sends steps to the workers, which read their data through the coordinator's
``dataset_fn``. ps and worker nodes only run TensorFlow's server. ``serve(ctx)`` is that server:
it listens on the node's TF_CONFIG port and returns once the chief's program has ended, so the
nodes, their barrier tasks and ``cluster.shutdown()`` end with the chief instead of waiting
forever in ``server.join()``.

Run it with ``InputMode.TENSORFLOW``: workers get data from the coordinator, never from a
Spark feed (a worker that ``serve``s under InputMode.SPARK fails with an error saying so).

Example::

    def main_fun(args, ctx):
        if ctx.job_name in ("ps", "worker"):
            from sparktf.program.parameter_server import serve
            serve(ctx)                      # returns once the chief's program has ended
            return
        import tensorflow as tf
        import tf_keras as keras            # Keras 3 fit has no ParameterServerStrategy
        strategy = tf.distribute.ParameterServerStrategy(
            tf.distribute.cluster_resolver.TFConfigClusterResolver())
        with strategy.scope():
            model = keras.Sequential([keras.layers.Input((8,)), keras.layers.Dense(1)])
            model.compile("sgd", "mse")
        data = lambda _: tf.data.Dataset.from_tensors(([1.0] * 8, [1.0])).repeat().batch(4)
        model.fit(keras.utils.experimental.DatasetCreator(data), epochs=2, steps_per_epoch=10)

    cluster = TFCluster.run(spark, main_fun, {}, num_executors=4, num_ps=1,
                            input_mode=InputMode.TENSORFLOW, master_node="chief")
    cluster.shutdown()
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sparktf.program.chief_watch import ChiefWatch

log = logging.getLogger("sparktf.node")

SERVING_ROLES = ("ps", "worker")


class ServerStartError(RuntimeError):
    """TensorFlow's server of this node could not listen on its TF_CONFIG address."""


def serve(ctx: Any, chief_start_timeout: float = 600.0, poll_seconds: float = 0.5) -> None:
    """Runs this ps or worker node's TensorFlow server until the chief's program has ended.

    Returns when the chief's TensorFlow server, up once, stops answering (its program returned or
    failed), or when the driver stops this node. Raises ``ServerStartError`` if the server cannot
    listen on the node's TF_CONFIG port, and ``TimeoutError`` if the chief's server does not come
    up within ``chief_start_timeout`` seconds.
    """
    if ctx.job_name not in SERVING_ROLES:
        raise ValueError(
            f"serve() runs the server of ps and worker nodes; this node is "
            f"{ctx.job_name}:{ctx.task_index}: the chief runs the coordinator "
            "(ParameterServerStrategy), an evaluator evaluates checkpoints"
        )
    if ctx.takes_data:
        raise RuntimeError(
            f"node {ctx.job_name}:{ctx.task_index} is fed by Spark (InputMode.SPARK), but under "
            "ParameterServerStrategy workers only run steps the chief's coordinator sends: "
            "nothing would consume its feed and train() would wait for it. Start the cluster "
            "with input_mode=InputMode.TENSORFLOW and read data in the coordinator's dataset_fn"
        )
    if "chief" not in ctx.cluster_spec:
        raise ValueError(
            f"the cluster has no chief ({sorted(ctx.cluster_spec)}): "
            "ParameterServerStrategy runs its coordinator there; start the cluster "
            "with master_node='chief'"
        )
    watch = ChiefWatch(ctx.cluster_spec, start_timeout=chief_start_timeout)
    server = start_server(ctx)
    started = time.monotonic()
    while not watch.ended():
        if ctx.stop_requested.wait(poll_seconds):
            log.info(
                "%s:%d: stop requested; leaving the TensorFlow server", ctx.job_name, ctx.task_index
            )
            return
    # The server stops with this process, which sparktf ends once the program returns.
    log.info(
        "%s:%d: the chief's program has ended; leaving the TensorFlow server %s after %.1f s",
        ctx.job_name,
        ctx.task_index,
        server.target,
        time.monotonic() - started,
    )


def start_server(ctx: Any) -> Any:
    """Starts ``tf.distribute.Server`` for this node from its TF_CONFIG; returns it."""
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    address = ctx.cluster_spec[ctx.job_name][ctx.task_index]
    if resolver.task_type != ctx.job_name or resolver.task_id != ctx.task_index:
        raise ServerStartError(
            f"TF_CONFIG names task {resolver.task_type}:{resolver.task_id}, but this node is "
            f"{ctx.job_name}:{ctx.task_index}: leave TF_CONFIG as sparktf sets it"
        )
    try:
        server = tf.distribute.Server(
            resolver.cluster_spec(),
            job_name=ctx.job_name,
            task_index=ctx.task_index,
            protocol="grpc",
            start=True,
        )
    except (tf.errors.OpError, ValueError) as e:
        raise ServerStartError(
            f"node {ctx.job_name}:{ctx.task_index} could not start TensorFlow's server on "
            f"{address} (its TF_CONFIG address): {e}; sparktf picked that port free at "
            "reservation, so another process took it since: start the cluster again"
        ) from e
    # The target echoes the address TensorFlow bound: it must be the one peers dial.
    if not server.target.endswith(":" + address.rpartition(":")[2]):
        raise ServerStartError(
            f"node {ctx.job_name}:{ctx.task_index}: TensorFlow's server is at "
            f"{server.target}, not at its TF_CONFIG address {address}"
        )
    log.info(
        "%s:%d: TensorFlow server listening at %s (unauthenticated: keep the network private)",
        ctx.job_name,
        ctx.task_index,
        address,
    )
    return server
