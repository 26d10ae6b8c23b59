"""Server interceptor refusing calls that lack the cluster secret."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import grpc

SECRET_METADATA_KEY = "sparktf-secret"
_REFUSAL = "missing or wrong sparktf secret"


class SecretInterceptor(grpc.ServerInterceptor):
    """Require metadata ``sparktf-secret`` equal to the cluster secret on every call."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the cluster secret is empty; refusing to serve without one")
        self._secret = secret.encode("utf-8")

    def __repr__(self) -> str:
        return "SecretInterceptor(<hidden>)"  # the secret must never reach a log

    def intercept_service(
        self, continuation: Callable[[Any], Any], handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        handler = continuation(handler_call_details)
        if handler is None or self._authorized(handler_call_details.invocation_metadata):
            return handler
        return _refusing_handler(handler)

    def _authorized(self, metadata: Any) -> bool:
        for key, value in metadata or ():
            if key == SECRET_METADATA_KEY:
                given = value.encode("utf-8") if isinstance(value, str) else bytes(value)
                return hmac.compare_digest(given, self._secret)
        return False


def _refusing_handler(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same streaming kind as ``handler`` that aborts UNAUTHENTICATED."""

    def refuse(_request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, _REFUSAL)

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)
