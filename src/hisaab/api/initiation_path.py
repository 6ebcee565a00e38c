"""The payment initiation hot path: POST /api/sessions and POST /api/mpesa/stkpush as plain
ASGI, ahead of FastAPI's middleware and routing.

A merchant's checkout creates a session and sends its STK Push for every payment, as often as
callbacks arrive. FastAPI's stack (middleware, routing, dependency solving, response
validation) was about a third of the API's CPU per initiation once the database work was
batched (py-spy, docs/benchmarks.md). A POST with a bearer token to either path is served
here, by the same functions as the routes (hisaab.api.routes.mpesa.new_session and
push_session), with the same authentication (hisaab.api.deps.authenticate), the same answers
and error bodies, the X-Request-ID header, the metrics and the access log. Anything else
(no token, another method) goes on to FastAPI, whose routes stay the documented ones.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from hisaab.api.context import enter_request
from hisaab.api.deps import authenticate
from hisaab.api.plain import Disconnected, finish, json_body, read_body, render_error, respond
from hisaab.api.routes.mpesa import new_session, push_session
from hisaab.auth.tokens import Claims

if TYPE_CHECKING:
    from fastapi import FastAPI

Handler = Callable[[Any, bytes, Claims], Awaitable[dict[str, Any]]]
# path -> (status on success, handler)
ROUTES: dict[str, tuple[int, Handler]] = {
    "/api/sessions": (201, new_session),
    "/api/mpesa/stkpush": (200, push_session),
}
# A session or a push is a few hundred bytes; a body over 1 MiB is refused (413) unread.
MAX_BODY_BYTES = 1024 * 1024


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def wants(scope: Scope) -> str | None:
    """The caller's token when this is a POST with a bearer token to one of ROUTES."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in ROUTES:
        return None
    return _bearer(scope)


async def handle(app: FastAPI, scope: Scope, receive: Receive, send: Send, token: str) -> None:
    path = scope["path"]
    success, handler = ROUTES[path]
    started = time.perf_counter()
    request_id = enter_request(scope)
    status = 500
    try:
        try:
            claims = await authenticate(app.state, token)
            raw = await read_body(
                receive, limit=MAX_BODY_BYTES, what="a payment session or push is well under 1 KiB"
            )
            payload = await handler(app.state, raw, claims)
        except Disconnected:
            raise
        except Exception as exc:  # rendered by the app's own handlers, as the route's would be
            status = await render_error(app, scope, receive, send, exc)
            return
        await respond(send, success, json_body(payload), request_id)
        status = success
    except Disconnected:
        status = 499  # nginx's "client closed request", for the metrics only
    finally:
        finish(app, scope, path, status, started, request_id)
