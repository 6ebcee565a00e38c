"""The STK callback hot path: plain ASGI, ahead of FastAPI's middleware and routing.

Safaricom posts callbacks up to a thousand a second, and each one is tiny. Under load, FastAPI's
stack (error and body-limit middleware, exception middleware, router, dependency solving) was
about a third of the API process's CPU per callback (py-spy, docs/benchmarks.md). Authenticated
POSTs to /api/mpesa/callback are therefore handled here with the same effect as the route in
hisaab.api.routes.mpesa: the same group commit and batch intake, the same answer, the same error
body, the X-Request-ID header and the request metrics. Everything else (a wrong or missing
secret, which is recorded as a rejected event, other methods, other paths) goes on to FastAPI,
whose route stays the documented one.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from hisaab.api.context import REQUEST_ID_HEADER, enter_request
from hisaab.errors import PayloadTooLarge
from hisaab.realtime import intake
from hisaab.storage.models import utcnow

if TYPE_CHECKING:
    from fastapi import FastAPI

PATH = "/api/mpesa/callback"
# A Daraja STK callback is about a kilobyte; anything near this is not one.
MAX_BODY_BYTES = 256 * 1024
logger = logging.getLogger("hisaab.api")


class _Disconnected(Exception):
    """The client went away before its body arrived: there is nothing to keep or answer."""


def wants(scope: Scope) -> bool:
    return bool(scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH)


async def handle(app: FastAPI, scope: Scope, receive: Receive, send: Send) -> bool:
    """Serve an authenticated callback; False (nothing read or sent) leaves it to FastAPI."""
    state = app.state
    expected = state.settings.mpesa_callback_secret
    if not intake.secret_matches(
        _only_secret(scope), expected.get_secret_value() if expected else None
    ):
        return False
    started = time.perf_counter()
    request_id = enter_request(scope)
    status = 500
    try:
        status = await _serve(app, scope, receive, send, request_id)
    except _Disconnected:
        status = 499  # nginx's "client closed request", for the metrics only
    finally:
        elapsed = time.perf_counter() - started
        requests, latency = state.http_metrics
        requests.labels("POST", PATH, str(status)).inc()
        latency.labels(PATH).observe(elapsed)
        if state.access_log is not None:
            state.access_log.record(scope, status, elapsed, request_id)
    return True


async def _serve(app: FastAPI, scope: Scope, receive: Receive, send: Send, request_id: str) -> int:
    try:
        raw = await _body(receive)
        result: intake.Intake = await app.state.intake.submit_many(
            (raw, utcnow()), intake.stk_callbacks
        )
        if result.error is not None:
            raise result.error
    except _Disconnected:
        raise
    except Exception as exc:  # rendered by the app's own handlers, exactly as the route would
        return await _render_error(app, scope, receive, send, exc)
    await _respond(send, 200, json.dumps(result.answer).encode(), request_id)
    return 200


def _only_secret(scope: Scope) -> str | None:
    """The query's `secret`, if it is given exactly once (anything odder goes to FastAPI)."""
    query = scope.get("query_string", b"")
    if not query:
        return None
    secrets = [v for k, v in parse_qsl(query.decode("latin-1")) if k == "secret"]
    return secrets[0] if len(secrets) == 1 else None


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"the callback body is larger than {MAX_BODY_BYTES // 1024} KiB;"
                " a Daraja STK callback is about 1 KiB"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _render_error(
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


async def _respond(send: Send, status: int, body: bytes, request_id: str) -> None:
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
