"""Bootstrap parsing and NodeContext helpers."""

import json

import pytest

from sparktf.node.bootstrap import BootstrapError, NodeBootstrap, load_bootstrap
from sparktf.node.context import NodeContext

BASE = {
    "cluster_id": "c1", "job_name": "worker", "task_index": 1, "worker_num": 2,
    "num_workers": 3, "cluster_spec": {"chief": ["h:1"], "worker": ["h:2", "h:3"]},
    "tf_config": "", "host": "127.0.0.1", "secret": "very-secret", "ready_file": "/tmp/r",
    "working_dir": "/tmp", "program": {"kind": "pickled", "path": "/tmp/p.pkl"},
    "model_dir": None, "export_dir": None, "linger": False,
}


def test_defaults_and_secret_kept_out_of_repr():
    boot = NodeBootstrap.from_dict(BASE)
    assert boot.queue_capacity == 32 and boot.feed_timeout_seconds == 600.0
    assert boot.linger_timeout_seconds == 3600.0 and boot.env == {}
    assert boot.takes_data and boot.checkpoint_dir is None
    assert "very-secret" not in repr(boot)


@pytest.mark.parametrize("field,value,needle", [
    ("task_index", "1", "field 'task_index' must be an integer >= 0, found str '1'"),
    ("linger", 1, "field 'linger' must be true or false"),
    ("tf_config", "{nope", "field 'tf_config' must be JSON text of an object"),
    ("queue_capacity", 0, "field 'queue_capacity' must be an integer >= 1"),
    ("program", {"kind": "jar", "path": "x"}, "field 'kind' must be \"pickled\" or \"script\""),
    ("program", {"kind": "script", "path": "x"}, "field 'function' must be a non-empty"),
    ("env", {"A": 1}, "field 'env' must be an object of string to string"),
    ("secret", "", "field 'secret' must be a non-empty string, found str '<hidden>'"),
])
def test_errors_name_the_field(field, value, needle):
    with pytest.raises(BootstrapError) as err:
        NodeBootstrap.from_dict({**BASE, field: value})
    assert needle in str(err.value)


def test_missing_field_and_file_errors(tmp_path):
    raw = dict(BASE)
    del raw["host"]
    with pytest.raises(BootstrapError, match="field 'host' must be a non-empty string, found "
                                             r"nothing \(field missing\)"):
        NodeBootstrap.from_dict(raw)
    with pytest.raises(BootstrapError, match="cannot read bootstrap file"):
        load_bootstrap(str(tmp_path / "absent.json"))
    path = tmp_path / "b.json"
    path.write_text(json.dumps({**BASE, "job_name": "ps", "env": {"A": "1"}}))
    boot = load_bootstrap(str(path))
    assert not boot.takes_data and boot.env == {"A": "1"}


def _ctx(model_dir, data_feed=None):
    return NodeContext(job_name="ps", task_index=0, worker_num=3, num_workers=2,
                       cluster_spec={}, cluster_id="c", executor_id="7", model_dir=model_dir,
                       export_dir=None, checkpoint_dir=None, working_dir="/w",
                       data_feed=data_feed)


def test_absolute_path_keeps_uris_and_resolves_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _ctx(None).absolute_path("hdfs://nn/x") == "hdfs://nn/x"
    assert _ctx(None).absolute_path("/abs/x") == "/abs/x"
    assert _ctx(None).absolute_path("rel") == str(tmp_path / "rel")
    assert _ctx("/models/m1").absolute_path("export") == "/models/m1/export"
    assert _ctx("gs://b/m1/").absolute_path("export") == "gs://b/m1/export"


def test_ps_nodes_have_no_data_feed():
    with pytest.raises(RuntimeError, match="node ps:0 takes no data"):
        _ctx(None).get_data_feed()


def test_in_input_mode_tensorflow_no_node_takes_data():
    assert not NodeBootstrap.from_dict({**BASE, "input_mode": "TENSORFLOW"}).takes_data
    assert NodeBootstrap.from_dict({**BASE, "input_mode": "SPARK"}).takes_data
    with pytest.raises(BootstrapError, match="field 'input_mode' must be one of SPARK, TENSORFLOW"):
        NodeBootstrap.from_dict({**BASE, "input_mode": "spark"})
