"""Real local HTTP servers for the M-Pesa tests: any ASGI app under uvicorn, in a thread.

`serve(app)` binds a free loopback port first (no race for the port), starts uvicorn in a
daemon thread, waits until it accepts requests, and always stops it, also when the test
fails. `Receiver` is the merchant's side: a tiny ASGI app that records every POST (callbacks,
Results, C2B confirmations) and lets a test wait for them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1:<free port>; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
    server = uvicorn.Server(config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if errors or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on port {port}: {errors!r}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port} within 10 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"uvicorn on port {port} did not stop within 10 s")


@dataclass(frozen=True)
class Received:
    path: str
    query: str
    body: Any


class Receiver:
    """An ASGI app that records POSTed JSON bodies and answers like a merchant's server."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: dict[str, Any] = {}
        self._changed = threading.Condition()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        body = json.loads(raw) if raw else None
        path = scope["path"]
        with self._changed:
            self.received.append(Received(path, scope["query_string"].decode(), body))
            self._changed.notify_all()
        answer = self.answers.get(path, {"ResultCode": 0, "ResultDesc": "Success"})
        payload = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def clear(self) -> None:
        with self._changed:
            self.received.clear()
            self.answers.clear()

    def at(self, path: str) -> list[Received]:
        with self._changed:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """Block until `count` posts reached `path`; fail loudly after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self.received if r.path == path]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} post(s) to {path} within {timeout} s, got {len(found)}"
                    )
                self._changed.wait(left)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class Recording:
    """Wraps an ASGI app and records every HTTP request it receives (what a client sent)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[Request] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        messages = []
        while True:
            message = await receive()
            messages.append(message)
            if not message.get("more_body"):
                break
        raw = b"".join(m.get("body", b"") for m in messages)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(
            Request(scope["method"], scope["path"], headers, json.loads(raw) if raw else None)
        )
        replay = iter(messages)

        async def again() -> Message:
            return next(replay, {"type": "http.disconnect"})

        await self.app(scope, again, send)

    def at(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]
