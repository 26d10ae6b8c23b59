"""The driver sends the settings its caller gave and nothing else: names from ClusterSettings
(proto/sparktf/v1/cluster_settings.proto), defaults from the JVM."""

import inspect
import json

from sparktf.cluster import TFCluster
from sparktf.input_mode import InputMode
from sparktf.settings import JVM_DEFAULT, SETTING_NAMES, given_settings, settings_json


def test_run_takes_exactly_the_settings_the_proto_names():
    params = list(inspect.signature(TFCluster.run).parameters)
    assert params[:3] == ["sc", "map_fun", "tf_args"]
    assert sorted(params[3:]) == sorted(SETTING_NAMES)


def test_run_restates_no_default():
    for name, p in list(inspect.signature(TFCluster.run).parameters.items())[4:]:
        assert p.default is JVM_DEFAULT, f"TFCluster.run's {name} has its own default"
    assert repr(JVM_DEFAULT) == "<JVM default>"


def test_only_given_settings_are_sent():
    values = {name: JVM_DEFAULT for name in SETTING_NAMES}
    values.update(
        num_executors=2, master_node=None, input_mode=InputMode.TENSORFLOW, sc="not a setting"
    )
    assert json.loads(settings_json(values)) == {
        "num_executors": 2,
        "master_node": None,
        "input_mode": "TENSORFLOW",
    }
    assert given_settings({"num_executors": 1}) == {"num_executors": 1}
