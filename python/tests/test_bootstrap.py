"""Bootstrap parsing and NodeContext helpers."""

import json

import pytest

from sparktf.node.bootstrap import BootstrapError, NodeBootstrap, load_bootstrap
from sparktf.node.context import NodeContext

# What the JVM writes (every field: see proto/testdata/node_bootstrap.json), trimmed to a worker.
BASE = {
    "cluster_id": "c1",
    "job_name": "worker",
    "task_index": 1,
    "worker_num": 2,
    "num_workers": 3,
    "cluster_spec": {"chief": {"addresses": ["h:1"]}, "worker": {"addresses": ["h:2", "h:3"]}},
    "tf_config": "",
    "host": "127.0.0.1",
    "executor_id": "5",
    "secret": "very-secret",
    "ready_file": "/tmp/r",
    "working_dir": "/tmp",
    "program": {"pickled": {"path": "/tmp/p.pkl"}},
    "input_mode": "SPARK",
    "queue_capacity": 16,
    "feed_timeout_seconds": 600.0,
    "linger": False,
    "linger_timeout_seconds": 86400.0,
    "env": {},
    "tensorboard": False,
}


def test_fields_read_as_written_and_secret_kept_out_of_repr():
    boot = NodeBootstrap.from_dict(BASE)
    assert boot.queue_capacity == 16 and boot.feed_timeout_seconds == 600.0
    assert boot.linger_timeout_seconds == 86400.0 and boot.env == {}
    assert boot.executor_id == "5" and boot.input_mode == "SPARK"
    assert boot.cluster_spec == {"chief": ["h:1"], "worker": ["h:2", "h:3"]}
    assert boot.takes_data and boot.checkpoint_dir is None and boot.model_dir is None
    assert boot.program.pickled.path == "/tmp/p.pkl"
    assert "very-secret" not in repr(boot) and "<hidden>" in repr(boot)
    with pytest.raises(AttributeError, match="no field 'parent_death_signal'"):
        boot.parent_death_signal  # noqa: B018 - the JVM never wrote it: removed


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("task_index", -1, "field 'task_index' must be an integer >= 0, found int -1"),
        ("task_index", "one", "Failed to parse task_index field"),
        ("linger", 1, "Failed to parse linger field"),
        ("tf_config", "{nope", "field 'tf_config' must be JSON text of an object"),
        ("queue_capacity", 0, "field 'queue_capacity' must be an integer >= 1, found int 0"),
        ("feed_timeout_seconds", 0, "field 'feed_timeout_seconds' must be a positive number"),
        ("linger_timeout_seconds", -1, "field 'linger_timeout_seconds' must be a positive number"),
        ("job_name", "master", "field 'job_name' must be one of chief, worker, ps, evaluator"),
        ("program", {"jar": {"path": "x"}}, "Failed to parse program field"),
        (
            "program",
            {"script": {"path": "x"}},
            "program.script: field 'function' must be a non-empty",
        ),
        ("program", {}, "field 'program' must be an object"),
        ("env", {"A": 1}, "Failed to parse env field"),
        ("secret", "", "field 'secret' must be a non-empty string, found str '<hidden>'"),
        ("nmu_ps", 1, 'has no field named "nmu_ps"'),
    ],
)
def test_errors_name_the_field(field, value, needle):
    with pytest.raises(BootstrapError) as err:
        NodeBootstrap.from_dict({**BASE, field: value})
    assert needle in str(err.value)
    assert "very-secret" not in str(err.value)


def test_missing_field_and_file_errors(tmp_path):
    raw = dict(BASE)
    del raw["host"]
    with pytest.raises(
        BootstrapError,
        match="field 'host' must be a non-empty string, found "
        r"nothing \(field missing\)",
    ):
        NodeBootstrap.from_dict(raw)
    raw = dict(BASE)
    del raw["input_mode"]
    with pytest.raises(
        BootstrapError,
        match="field 'input_mode' must be one of SPARK, "
        r"TENSORFLOW, found nothing \(field missing\)",
    ):
        NodeBootstrap.from_dict(raw)
    with pytest.raises(BootstrapError, match="cannot read bootstrap file"):
        load_bootstrap(str(tmp_path / "absent.json"))
    path = tmp_path / "b.json"
    path.write_text(json.dumps({**BASE, "job_name": "ps", "env": {"A": "1"}}))
    boot = load_bootstrap(str(path))
    assert not boot.takes_data and boot.env == {"A": "1"}


def _ctx(model_dir, data_feed=None, job_name="ps", task_index=0, cluster_spec=None):
    return NodeContext(
        job_name=job_name,
        task_index=task_index,
        worker_num=3,
        num_workers=2,
        cluster_spec=cluster_spec or {},
        cluster_id="c",
        executor_id="7",
        model_dir=model_dir,
        export_dir=None,
        checkpoint_dir=None,
        working_dir="/w",
        data_feed=data_feed,
    )


def test_absolute_path_keeps_uris_and_resolves_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _ctx(None).absolute_path("hdfs://nn/x") == "hdfs://nn/x"
    assert _ctx(None).absolute_path("/abs/x") == "/abs/x"
    assert _ctx(None).absolute_path("rel") == str(tmp_path / "rel")
    assert _ctx("/models/m1").absolute_path("export") == "/models/m1/export"
    assert _ctx("gs://b/m1/").absolute_path("export") == "gs://b/m1/export"


def test_is_chief_is_the_chief_or_worker_0_without_one():
    with_chief = {"chief": ["h:0"], "worker": ["h:1"]}
    workers = {"worker": ["h:1", "h:2"]}
    assert _ctx(None, job_name="chief", cluster_spec=with_chief).is_chief
    assert not _ctx(None, job_name="worker", cluster_spec=with_chief).is_chief
    # Without a chief, worker:0 keeps the checkpoints of NodeContext's own example.
    assert _ctx(None, job_name="worker", cluster_spec=workers).is_chief
    assert not _ctx(None, job_name="worker", task_index=1, cluster_spec=workers).is_chief
    assert not _ctx(None, job_name="ps", cluster_spec=workers).is_chief


def test_ps_nodes_have_no_data_feed():
    with pytest.raises(RuntimeError, match="node ps:0 takes no data"):
        _ctx(None).get_data_feed()


def test_in_input_mode_tensorflow_no_node_takes_data():
    assert not NodeBootstrap.from_dict({**BASE, "input_mode": "TENSORFLOW"}).takes_data
    assert NodeBootstrap.from_dict({**BASE, "input_mode": "SPARK"}).takes_data
    with pytest.raises(BootstrapError, match="Failed to parse input_mode field"):
        NodeBootstrap.from_dict({**BASE, "input_mode": "spark"})
