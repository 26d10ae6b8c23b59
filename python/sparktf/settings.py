"""The settings of ``TFCluster.run`` as the driver hands them to the JVM: only those the caller
set. Their names are the fields of ``ClusterSettings`` (proto/sparktf/v1/cluster_settings.proto)
and their defaults live in the JVM alone (``io.sparktf.ClusterConfig``), which also refuses a
name it does not know. Example::

    settings_json({"num_executors": 2, "num_ps": JVM_DEFAULT, "master_node": None})
    # '{"num_executors": 2, "master_node": null}': num_ps takes the JVM's default
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sparktf.input_mode import InputMode
from sparktf.v1.cluster_settings_pb2 import ClusterSettings


class _JvmDefault:
    """A keyword's default that is the JVM's: the setting is not sent, so the JVM's applies."""

    _instance: _JvmDefault | None = None

    def __new__(cls) -> _JvmDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<JVM default>"

    def __reduce__(self) -> str:
        return "JVM_DEFAULT"


#: The default of every ``TFCluster.run`` setting: "what io.sparktf.ClusterConfig says".
JVM_DEFAULT: Any = _JvmDefault()

#: The settings the JVM knows, by name.
SETTING_NAMES: tuple[str, ...] = tuple(ClusterSettings.DESCRIPTOR.fields_by_name)


def given_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``values`` that name a setting and were given (not ``JVM_DEFAULT``);
    ``input_mode`` as its name. None stays: for ``master_node`` it means "no chief"."""
    given = {
        name: values[name]
        for name in SETTING_NAMES
        if name in values and values[name] is not JVM_DEFAULT
    }
    if given.get("input_mode") is not None:
        given["input_mode"] = InputMode.name(given["input_mode"])
    return given


def settings_json(values: Mapping[str, Any]) -> str:
    """``given_settings(values)`` as the JSON ``io.sparktf.ClusterConfig.fromJson`` reads."""
    return json.dumps(given_settings(values))
