"""The bootstrap file the executor JVM writes for its node: who the node is and what it runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

ROLES = ("chief", "worker", "ps", "evaluator")
FEEDING_ROLES = ("chief", "worker")
INPUT_MODES = ("SPARK", "TENSORFLOW")


class BootstrapError(ValueError):
    """The bootstrap file is unreadable or a field is missing or malformed."""


@dataclass(frozen=True)
class ProgramSpec:
    """What the node runs: a cloudpickled ``(main_fun, args)`` file or a function of a script."""

    kind: str  # "pickled" | "script"
    path: str
    function: str | None = None  # script only
    args: dict[str, Any] = field(default_factory=dict)  # script only


@dataclass(frozen=True)
class NodeBootstrap:
    """Parsed bootstrap JSON; see ``NodeBootstrap.from_dict`` for the schema."""

    cluster_id: str
    job_name: str
    task_index: int
    worker_num: int
    num_workers: int
    cluster_spec: dict[str, list[str]]
    tf_config: str
    host: str
    secret: str = field(repr=False)  # never printed: reprs end up in logs
    ready_file: str
    working_dir: str
    program: ProgramSpec
    linger: bool
    model_dir: str | None = None
    export_dir: str | None = None
    checkpoint_dir: str | None = None
    executor_id: str | None = None  # Spark's executor id, for logs and ctx
    queue_capacity: int = 32
    feed_timeout_seconds: float = 600.0
    linger_timeout_seconds: float = 3600.0
    env: dict[str, str] = field(default_factory=dict)
    tensorboard: bool = False  # this node serves TensorBoard over log_dir
    log_dir: str | None = None  # None: model_dir/tensorboard, else working_dir/tensorboard
    # Opt-in: Linux sends the signal when the *thread* that spawned the node exits, and Spark's
    # task threads are pooled and die when idle, so by default only the ppid poll is used.
    parent_death_signal: bool = False
    input_mode: str = "SPARK"  # TENSORFLOW: the nodes read their own data, Spark feeds none
    shared_dir: str | None = None  # where feed tasks on this machine leave batch files

    @property
    def takes_data(self) -> bool:
        """Whether this node serves DataFeed: chief and workers in InputMode.SPARK."""
        return self.job_name in FEEDING_ROLES and self.input_mode == "SPARK"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "bootstrap") -> NodeBootstrap:
        """Validate ``raw`` (the decoded JSON); errors name the field and what was expected."""
        f = _Fields(raw, source)
        job_name = f.string("job_name")
        if job_name not in ROLES:
            raise f.error("job_name", f"one of {', '.join(ROLES)}", job_name)
        input_mode = raw.get("input_mode", "SPARK")
        if input_mode not in INPUT_MODES:
            raise f.error("input_mode", f"one of {', '.join(INPUT_MODES)}", input_mode)
        boot = cls(
            cluster_id=f.string("cluster_id", non_empty=True),
            job_name=job_name,
            task_index=f.integer("task_index", minimum=0),
            worker_num=f.integer("worker_num", minimum=0),
            num_workers=f.integer("num_workers", minimum=0),
            cluster_spec=f.cluster_spec("cluster_spec"),
            tf_config=f.tf_config("tf_config"),
            host=f.string("host", non_empty=True),
            secret=f.string("secret", non_empty=True),
            ready_file=f.string("ready_file", non_empty=True),
            working_dir=f.string("working_dir", non_empty=True),
            program=f.program("program"),
            model_dir=f.optional_string("model_dir"),
            export_dir=f.optional_string("export_dir"),
            linger=f.boolean("linger"),
            checkpoint_dir=f.optional_string("checkpoint_dir"),
            executor_id=f.optional_string("executor_id"),
            queue_capacity=f.integer("queue_capacity", minimum=1, default=32),
            feed_timeout_seconds=f.number("feed_timeout_seconds", default=600.0),
            linger_timeout_seconds=f.number("linger_timeout_seconds", default=3600.0),
            env=f.string_map("env"),
            tensorboard=f.boolean("tensorboard", default=False),
            log_dir=f.optional_string("log_dir"),
            parent_death_signal=f.boolean("parent_death_signal", default=False),
            input_mode=input_mode,
            shared_dir=f.optional_string("shared_dir"),
        )
        return boot


def load_bootstrap(path: str) -> NodeBootstrap:
    """Read and validate the bootstrap JSON file at ``path``."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except OSError as e:
        raise BootstrapError(f"cannot read bootstrap file {path}: {e}") from e
    except json.JSONDecodeError as e:
        raise BootstrapError(f"bootstrap file {path} is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise BootstrapError(
            f"bootstrap file {path} must hold a JSON object, found {type(raw).__name__}")
    return NodeBootstrap.from_dict(raw, source=path)


_MISSING = object()


class _Fields:
    """Typed field access over the raw JSON object with errors that name the field."""

    def __init__(self, raw: Mapping[str, Any], source: str) -> None:
        self._raw = raw
        self._source = source

    def error(self, name: str, expected: str, found: Any) -> BootstrapError:
        shown = "nothing (field missing)" if found is _MISSING else (
            f"{type(found).__name__} {found!r}")
        return BootstrapError(
            f"{self._source}: field '{name}' must be {expected}, found {shown}; "
            "the bootstrap is written by the sparktf JVM: are the jar and the Python package "
            "the same version?")

    def _get(self, name: str, default: Any) -> Any:
        value = self._raw.get(name, _MISSING)
        if value is _MISSING and default is not _MISSING:
            return default
        return value

    def string(self, name: str, non_empty: bool = False) -> str:
        value = self._get(name, _MISSING)
        if not isinstance(value, str) or (non_empty and not value):
            # The secret's value must never appear in an error.
            shown = "<hidden>" if name == "secret" and isinstance(value, str) else value
            raise self.error(name, "a non-empty string" if non_empty else "a string", shown)
        return value

    def optional_string(self, name: str) -> str | None:
        value = self._get(name, None)
        if value is not None and not isinstance(value, str):
            raise self.error(name, "a string or null", value)
        return value

    def integer(self, name: str, minimum: int | None = None, default: Any = _MISSING) -> int:
        value = self._get(name, default)
        # bool is an int in Python; a JSON true is not a count.
        if not isinstance(value, int) or isinstance(value, bool) or (
                minimum is not None and value < minimum):
            expected = "an integer" if minimum is None else f"an integer >= {minimum}"
            raise self.error(name, expected, value)
        return value

    def number(self, name: str, default: Any = _MISSING) -> float:
        value = self._get(name, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise self.error(name, "a positive number of seconds", value)
        return float(value)

    def boolean(self, name: str, default: Any = _MISSING) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, "true or false", value)
        return value

    def string_map(self, name: str) -> dict[str, str]:
        value = self._get(name, {})
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise self.error(name, "an object of string to string", value)
        return dict(value)

    def cluster_spec(self, name: str) -> dict[str, list[str]]:
        value = self._get(name, _MISSING)
        ok = isinstance(value, dict) and all(
            isinstance(role, str) and isinstance(addrs, list)
            and all(isinstance(a, str) for a in addrs)
            for role, addrs in value.items())
        if not ok:
            raise self.error(name, 'an object of role to ["host:port", ...]', value)
        return {role: list(addrs) for role, addrs in value.items()}

    def tf_config(self, name: str) -> str:
        value = self.string(name)
        if value:
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, dict):
                raise self.error(name, "JSON text of an object (TF_CONFIG) or \"\"", value)
        return value

    def program(self, name: str) -> ProgramSpec:
        value = self._get(name, _MISSING)
        if not isinstance(value, dict):
            raise self.error(name, 'an object {"kind": "pickled"|"script", "path": ...}', value)
        sub = _Fields(value, f"{self._source}: {name}")
        kind = sub.string("kind")
        path = sub.string("path", non_empty=True)
        if kind == "pickled":
            return ProgramSpec(kind=kind, path=path)
        if kind == "script":
            args = value.get("args", {})
            if not isinstance(args, dict):
                raise sub.error("args", "a JSON object", args)
            return ProgramSpec(kind=kind, path=path,
                               function=sub.string("function", non_empty=True), args=args)
        raise sub.error("kind", '"pickled" or "script"', kind)
