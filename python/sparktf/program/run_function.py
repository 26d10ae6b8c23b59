"""What ``sparktf.run(fn, num_nodes)`` runs on every node: ``fn(ctx)``, its return value being the
node's (the chief's reaches the driver)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def call_with_ctx(fn: Callable[[Any], Any], ctx: Any) -> Any:
    """``main_fun(args, ctx)`` of the runner, ``args`` being the user's ``fn``."""
    return fn(ctx)
