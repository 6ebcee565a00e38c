"""Plain ASGI for the API's hot paths: reading a body, answering, rendering an error.

The hot paths (hisaab.api.callback_path, hisaab.api.initiation_path) answer exactly as their
FastAPI routes would: the same body, the same error body rendered by the app's own exception
handlers, the X-Request-ID header; `finish` counts the request in the metrics and the access
log as hisaab.api.context.RequestContext does for every other request.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from hisaab.api.context import REQUEST_ID_HEADER
from hisaab.errors import PayloadTooLarge

if TYPE_CHECKING:
    from fastapi import FastAPI


class Disconnected(Exception):
    """The client went away before its body arrived: there is nothing to keep or answer."""


async def read_body(receive: Receive, *, limit: int, what: str) -> bytes:
    """The whole body; PayloadTooLarge past `limit` bytes (`what` says what was expected)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit // 1024} KiB; {what}")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def json_body(payload: Any) -> bytes:
    """`payload` as FastAPI's JSONResponse renders it."""
    return json.dumps(
        payload, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


async def render_error(
    app: FastAPI, scope: Scope, receive: Receive, send: Send, exc: Exception
) -> int:
    handler = _handler_for(app, exc)
    response = await handler(Request(scope, receive), exc)
    response.headers[REQUEST_ID_HEADER] = scope["state"]["request_id"]
    await response(scope, receive, send)
    return int(response.status_code)


def _handler_for(app: FastAPI, exc: Exception) -> Any:
    """The exception handler FastAPI would pick: the nearest class in the error's MRO."""
    for cls in type(exc).__mro__:
        if cls in app.exception_handlers:
            return app.exception_handlers[cls]
    return app.exception_handlers[Exception]  # hisaab.api.errors installs one


async def respond(send: Send, status: int, body: bytes, request_id: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def finish(
    app: FastAPI, scope: Scope, route: str, status: int, started: float, request_id: str
) -> None:
    """Count the request in the metrics and write its access line."""
    elapsed = time.perf_counter() - started
    state = app.state
    requests, latency = state.http_metrics
    requests.labels(scope["method"], route, str(status)).inc()
    latency.labels(route).observe(elapsed)
    if state.access_log is not None:
        state.access_log.record(scope, status, elapsed, request_id)
