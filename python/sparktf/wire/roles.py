"""Which node does what, decided once on the node's side. The JVM's half of the same rules is
``io.sparktf.cluster.NodeRole`` / ``ClusterLayout``; TensorFlow's own is
``multi_worker_util.is_chief``.

Example::

    acts_as_chief("worker", 0, {"worker": ["h:1", "h:2"]})   # True: there is no chief
    acts_as_chief("worker", 0, {"chief": ["h:0"], "worker": ["h:1"]})   # False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

CHIEF = "chief"
WORKER = "worker"
PS = "ps"
EVALUATOR = "evaluator"
JOBS = (CHIEF, WORKER, PS, EVALUATOR)
#: The jobs Spark feeds in InputMode.SPARK: they run the training program on data.
FED_JOBS = (CHIEF, WORKER)


def is_fed_job(job_name: str) -> bool:
    """Whether Spark feeds this job's nodes (in InputMode.SPARK)."""
    return job_name in FED_JOBS


def acts_as_chief(
    job_name: str, task_index: int, cluster_spec: Mapping[str, Sequence[str]]
) -> bool:
    """Whether this node saves the model, writes summaries and keeps the checkpoints: the
    chief, or worker:0 in a cluster without one."""
    return job_name == CHIEF or (
        job_name == WORKER and task_index == 0 and CHIEF not in cluster_spec
    )


def chief_job(cluster_spec: Mapping[str, Sequence[str]]) -> str | None:
    """The job whose task 0 acts as chief: ``chief``, else ``worker``; None with neither."""
    for job in (CHIEF, WORKER):
        if cluster_spec.get(job):
            return job
    return None
