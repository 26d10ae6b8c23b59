"""Contract files read as proto messages: the JSON files the executor JVM writes for a node or a
model server (``proto/sparktf/v1/node.proto``), parsed with errors that name the field.

Example::

    raw = read_json("/tmp/sparktf-c1-chief-0-123/bootstrap.json")
    boot = parse_message(raw, node_pb2.NodeBootstrap(), "bootstrap.json")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

VERSION_HINT = (
    "it is written by the sparktf JVM: are the jar and the Python package the same version?"
)

M = TypeVar("M", bound=Message)


class BootstrapError(ValueError):
    """The bootstrap file is unreadable or a field is missing or malformed."""


def read_json(path: str) -> dict[str, Any]:
    """The JSON object in the file at ``path``; a BootstrapError says what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except OSError as e:
        raise BootstrapError(f"cannot read bootstrap file {path}: {e}") from e
    except json.JSONDecodeError as e:
        raise BootstrapError(f"bootstrap file {path} is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise BootstrapError(
            f"bootstrap file {path} must hold a JSON object, found {type(raw).__name__}"
        )
    return raw


def parse_message(raw: Mapping[str, Any], message: M, source: str) -> M:
    """``raw`` parsed into ``message`` as proto3 JSON: an unknown field or a value of the wrong
    type is an error naming the field (json_format's own words)."""
    try:
        json_format.ParseDict(raw, message)
    except json_format.ParseError as e:
        raise BootstrapError(f"{source}: {e}; {VERSION_HINT}") from None
    return message
