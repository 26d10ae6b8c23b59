"""``ChiefWatch``: has the chief's program ended? Asked by nodes that serve others until then.

TensorFlow never tells a parameter server, a ParameterServerStrategy worker or a sidecar
evaluator that the coordinator is done: a bare ``tf.distribute.Server(...).join()`` waits
forever (TensorFlowOnSpark's ps that never exit). The chief's own TensorFlow server is the sign:
it listens on the chief's TF_CONFIG port from when the chief's program creates its strategy until
the chief's process exits. In InputMode.TENSORFLOW that is right after the program returns or
raises; in InputMode.SPARK the chief lingers for the driver's Stop, which also reaches the
waiting nodes (``ctx.stop_requested``).
"""

from __future__ import annotations

import logging
import socket
import time

from sparktf.wire.roles import chief_job

log = logging.getLogger("sparktf.node")


def chief_address(cluster_spec: dict[str, list[str]]) -> tuple[str, int]:
    """``(host, port)`` of the chief's TensorFlow server (worker:0's in a cluster without one)."""
    job = chief_job(cluster_spec)
    if job is None:
        raise ValueError(
            f"the cluster spec {cluster_spec} has no chief and no worker: there is "
            "no program to wait for"
        )
    first = cluster_spec[job][0]
    host, _, port = first.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"cluster_spec['{job}'][0] is {first!r}: expected host:port")
    return host.strip("[]"), int(port)


class ChiefWatch:
    """Polls the chief's TensorFlow port: ``ended()`` turns True once it was up and then
    refused ``gone_after`` connections in a row.

    Example (what ``sparktf.parameter_server.serve`` does after starting its server)::

        watch = ChiefWatch(ctx.cluster_spec)
        while not watch.ended():
            ctx.stop_requested.wait(0.5)
    """

    def __init__(
        self,
        cluster_spec: dict[str, list[str]],
        start_timeout: float = 600.0,
        gone_after: int = 3,
        connect_timeout: float = 2.0,
    ) -> None:
        if start_timeout <= 0:
            raise ValueError(f"start_timeout is {start_timeout}: use a positive number of seconds")
        self.host, self.port = chief_address(cluster_spec)
        self.start_timeout = start_timeout
        self.gone_after = gone_after
        self.connect_timeout = connect_timeout
        self._started = time.monotonic()
        self._seen = False
        self._failures = 0

    @property
    def seen(self) -> bool:
        """True once the chief's server was reached (or ``mark_seen`` was called)."""
        return self._seen

    def mark_seen(self) -> None:
        """Record other proof that the chief ran, e.g. a checkpoint it wrote during this run."""
        self._seen = True

    def ended(self) -> bool:
        """One poll. Raises TimeoutError if the chief's server never came up in time."""
        try:
            socket.create_connection((self.host, self.port), self.connect_timeout).close()
        except OSError:
            self._failures += 1
        else:
            if not self._seen:
                log.info("the chief's TensorFlow server at %s:%d is up", self.host, self.port)
            self._seen, self._failures = True, 0
            return False
        if self._seen:
            # Several refusals in a row: one may be a full accept backlog, not an exit.
            return self._failures >= self.gone_after
        waited = time.monotonic() - self._started
        if waited > self.start_timeout:
            raise TimeoutError(
                f"the chief's TensorFlow server at {self.host}:{self.port} did not come up within "
                f"{self.start_timeout:.0f} s; the chief starts it when its program creates its "
                "strategy (ParameterServerStrategy, MultiWorkerMirroredStrategy): did the chief's "
                "program fail or train without one? Its executor log says"
            )
        return False
