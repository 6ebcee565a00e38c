"""Per-request context for HTTP: a request id on every response and log line, metrics, and
the access log line (hisaab.api.access)."""

from __future__ import annotations

import os
import time

from prometheus_client import Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hisaab.api.access import AccessLog
from hisaab.logs import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-ID when it is sensible (1 to 128 characters), else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given: str = value.decode("latin-1")
            if 0 < len(given) <= 128:
                return given
            break
    return f"req_{os.urandom(16).hex()}"


def enter_request(scope: Scope) -> str:
    """Give the request its id: in the scope (request.state) and in the logging context."""
    request_id = request_id_of(scope)
    scope.setdefault("state", {})["request_id"] = request_id
    request_id_var.set(request_id)  # each request runs in its own context
    return request_id


class RequestContext:
    """Gives every HTTP request an id (echoed as X-Request-ID, set on its log lines) and
    counts it in the metrics. Plain ASGI rather than BaseHTTPMiddleware, which costs an extra
    task and body stream per request on the callback path."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        requests: Counter,
        latency: Histogram,
        access_log: AccessLog | None = None,
    ) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = enter_request(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(route).observe(elapsed)
            if self.access_log is not None:
                self.access_log.record(scope, status, elapsed, request_id)
