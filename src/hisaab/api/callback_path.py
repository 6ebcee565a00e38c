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
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from hisaab.api.context import enter_request
from hisaab.api.plain import Disconnected, finish, read_body, render_error, respond
from hisaab.realtime import intake
from hisaab.storage.models import utcnow

if TYPE_CHECKING:
    from fastapi import FastAPI

PATH = "/api/mpesa/callback"
# A Daraja STK callback is about a kilobyte; anything near this is not one.
MAX_BODY_BYTES = 256 * 1024
logger = logging.getLogger("hisaab.api")


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
    except Disconnected:
        status = 499  # nginx's "client closed request", for the metrics only
    finally:
        finish(app, scope, PATH, status, started, request_id)
    return True


async def _serve(app: FastAPI, scope: Scope, receive: Receive, send: Send, request_id: str) -> int:
    try:
        raw = await read_body(
            receive, limit=MAX_BODY_BYTES, what="a Daraja STK callback is about 1 KiB"
        )
        result: intake.Intake = await app.state.intake.submit_many(
            (raw, utcnow()), intake.stk_callbacks
        )
        if result.error is not None:
            raise result.error
    except Disconnected:
        raise
    except Exception as exc:  # rendered by the app's own handlers, exactly as the route would
        return await render_error(app, scope, receive, send, exc)
    await respond(send, 200, json.dumps(result.answer).encode(), request_id)
    return 200


def _only_secret(scope: Scope) -> str | None:
    """The query's `secret`, if it is given exactly once (anything odder goes to FastAPI)."""
    query = scope.get("query_string", b"")
    if not query:
        return None
    secrets = [v for k, v in parse_qsl(query.decode("latin-1")) if k == "secret"]
    return secrets[0] if len(secrets) == 1 else None
