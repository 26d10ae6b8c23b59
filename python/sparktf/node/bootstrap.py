"""The bootstrap file the executor JVM writes for its node: who the node is and what it runs.

It is the ``NodeBootstrap`` message of ``proto/sparktf/v1/node.proto`` in proto3 JSON, written by
``io.sparktf.node.NodeBootstrap`` with every field set: nothing defaults here. Example::

    boot = load_bootstrap("/tmp/sparktf-c1-chief-0-123/bootstrap.json")
    boot.job_name, boot.task_index, boot.model_dir   # "chief", 0, None (unset)
    boot.program.WhichOneof("kind")                  # "pickled" or "script"
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

from sparktf.v1 import cluster_settings_pb2, node_pb2
from sparktf.wire.contract_files import VERSION_HINT, BootstrapError, parse_message, read_json
from sparktf.wire.roles import JOBS, is_fed_job

INPUT_MODES = tuple(
    n for n in cluster_settings_pb2.InputMode.keys() if n != "INPUT_MODE_UNSPECIFIED"
)


class NodeBootstrap:
    """A validated ``NodeBootstrap`` message. Fields read as on the message, except that an
    unset optional field (``model_dir``, ``export_dir``, ``checkpoint_dir``, ``log_dir``,
    ``shared_dir``) is None, ``cluster_spec`` is ``{job: [address, ...]}``, ``env`` a dict and
    ``input_mode`` its name. The secret never appears in its repr."""

    def __init__(
        self,
        message: node_pb2.NodeBootstrap,
        source: str = "bootstrap",
        present: frozenset[str] | None = None,
    ) -> None:
        _validate(message, source, present)
        self._message = message

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "bootstrap") -> NodeBootstrap:
        """Parse and validate ``raw`` (the decoded JSON); errors name the field."""
        return cls(parse_message(raw, node_pb2.NodeBootstrap(), source), source, frozenset(raw))

    @property
    def message(self) -> node_pb2.NodeBootstrap:
        return self._message

    def __getattr__(self, name: str) -> Any:
        message = self.__dict__.get("_message")
        field = message.DESCRIPTOR.fields_by_name.get(name) if message is not None else None
        if field is None:
            raise AttributeError(f"NodeBootstrap has no field '{name}'")
        if field.has_presence and field.message_type is None and not message.HasField(name):
            return None
        return getattr(message, name)

    @property
    def cluster_spec(self) -> dict[str, list[str]]:
        return {job: list(a.addresses) for job, a in self._message.cluster_spec.items()}

    @property
    def env(self) -> dict[str, str]:
        return dict(self._message.env)

    @property
    def input_mode(self) -> str:
        return cluster_settings_pb2.InputMode.Name(self._message.input_mode)

    @property
    def takes_data(self) -> bool:
        """Whether this node serves DataFeed: chief and workers in InputMode.SPARK."""
        return is_fed_job(self._message.job_name) and self.input_mode == "SPARK"

    def __repr__(self) -> str:
        shown = node_pb2.NodeBootstrap()
        shown.CopyFrom(self._message)
        shown.secret = "<hidden>"  # reprs end up in logs
        fields = json_format.MessageToDict(shown, preserving_proto_field_name=True)
        return f"NodeBootstrap({fields})"


def load_bootstrap(path: str) -> NodeBootstrap:
    """Read and validate the bootstrap JSON file at ``path``."""
    return NodeBootstrap.from_dict(read_json(path), source=path)


def _validate(m: node_pb2.NodeBootstrap, source: str, present: frozenset[str] | None) -> None:
    """Checks what the proto's types cannot: required text, known names, positive figures."""

    def error(name: str, expected: str, found: Any, where: str = source) -> BootstrapError:
        missing = present is not None and name not in present and where == source
        shown = "nothing (field missing)" if missing else f"{type(found).__name__} {found!r}"
        return BootstrapError(
            f"{where}: field '{name}' must be {expected}, found {shown}; {VERSION_HINT}"
        )

    if not m.cluster_id:
        raise error("cluster_id", "a non-empty string", "")
    if m.job_name not in JOBS:
        raise error("job_name", f"one of {', '.join(JOBS)}", m.job_name)
    for name in ("host", "secret", "ready_file", "working_dir"):
        if not getattr(m, name):
            # The secret's value must never appear in an error: here it is empty anyway.
            raise error(name, "a non-empty string", "<hidden>" if name == "secret" else "")
    for name in ("task_index", "worker_num", "num_workers"):
        if getattr(m, name) < 0:
            raise error(name, "an integer >= 0", getattr(m, name))
    if m.input_mode not in (cluster_settings_pb2.SPARK, cluster_settings_pb2.TENSORFLOW):
        raise error(
            "input_mode",
            f"one of {', '.join(INPUT_MODES)}",
            cluster_settings_pb2.InputMode.Name(m.input_mode),
        )
    if m.queue_capacity < 1:
        raise error("queue_capacity", "an integer >= 1", m.queue_capacity)
    for name in ("feed_timeout_seconds", "linger_timeout_seconds"):
        if not getattr(m, name) > 0:
            raise error(name, "a positive number of seconds", getattr(m, name))
    if m.tf_config:
        try:
            parsed = json.loads(m.tf_config)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise error("tf_config", 'JSON text of an object (TF_CONFIG) or ""', m.tf_config)
    kind = m.program.WhichOneof("kind")
    where = f"{source}: program"
    if kind is None:
        raise error(
            "program",
            'an object {"pickled": {...}} or {"script": {...}}',
            json_format.MessageToDict(m.program),
        )
    spec = getattr(m.program, kind)
    if not spec.path:
        raise error("path", "a non-empty string", spec.path, where=f"{where}.{kind}")
    if kind == "script" and not spec.function:
        raise error("function", "a non-empty string", spec.function, where=f"{where}.{kind}")
