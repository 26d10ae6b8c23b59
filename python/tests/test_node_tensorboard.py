"""The node's TensorBoard: where its log dir is, and that it serves in this process."""

import json
import urllib.request

import pytest
from test_bootstrap import BASE

from sparktf.node.bootstrap import NodeBootstrap
from sparktf.node.tensorboard import default_log_dir, start_tensorboard
from sparktf.wire.ready_file import write_ready_file


@pytest.mark.parametrize(
    "log_dir,model_dir,expected",
    [
        (None, None, "/w/tensorboard"),
        (None, "/m", "/m/tensorboard"),
        (None, "hdfs://nn/m/", "hdfs://nn/m/tensorboard"),
        ("runs", "/m", "/m/runs"),
        ("runs", None, "/w/runs"),
        ("/logs", "/m", "/logs"),
        ("gs://b/logs", "/m", "gs://b/logs"),
    ],
)
def test_log_dir_resolves_like_absolute_path(log_dir, model_dir, expected):
    assert default_log_dir(log_dir, model_dir, "/w") == expected


def test_bootstrap_fields_default_off():
    boot = NodeBootstrap.from_dict(BASE)
    assert not boot.tensorboard and boot.log_dir is None
    boot = NodeBootstrap.from_dict({**BASE, "tensorboard": True, "log_dir": "/l"})
    assert boot.tensorboard and boot.log_dir == "/l"


def test_ready_file_carries_the_url_only_when_there_is_one(tmp_path):
    write_ready_file(str(tmp_path / "a.json"), 5, None)
    assert set(json.loads((tmp_path / "a.json").read_text())) == {"port", "pid"}
    write_ready_file(str(tmp_path / "b.json"), 5, "http://h:1/")
    assert json.loads((tmp_path / "b.json").read_text())["tensorboard_url"] == "http://h:1/"


def test_serves_the_log_dir_on_a_free_port(tmp_path):
    log_dir = tmp_path / "tb"
    url = start_tensorboard(str(log_dir), "127.0.0.1")
    assert url.startswith("http://127.0.0.1:") and log_dir.is_dir()
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
