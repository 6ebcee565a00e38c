"""The client hub: every client gets every broadcast; a slow one never holds the others up.

WebSocket-agnostic: a client is registered with its `send(text)` coroutine (and, optionally, a
`on_close(reason)` callback), e.g. `hub.register(websocket.send_text, on_close=...)`. Each
client has a bounded queue of JSON texts and one sender task that awaits `send` for them in
order. `broadcast(message)` serialises the message once and appends the same text to every
queue without awaiting anything: O(clients), never blocked by a client.

A client whose queue is full (it has not taken `queue_size` messages) is disconnected: removed
from the hub, its sender task cancelled, its waiting messages discarded, and its `on_close`
called with the reason (given `close_timeout` seconds, in a task of its own). A client whose
`send` raises is disconnected the same way. Memory per client is therefore bounded, and a
disconnected client reconnects and refetches state.

All methods run on the hub's event loop (the one the clients registered on).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from hisaab.pubsub.tasks import cancel_and_wait

logger = logging.getLogger("hisaab.pubsub.hub")

SendFunction = Callable[[str], Awaitable[None]]
CloseHandler = Callable[[str], Awaitable[None] | None]

DEFAULT_QUEUE_SIZE = 1_000


class Client:
    """One registered client: its queue, its sender task and what it has been sent."""

    def __init__(
        self,
        hub: Hub,
        client_id: int,
        send: SendFunction,
        on_close: CloseHandler | None,
        queue_size: int,
    ) -> None:
        self.id = client_id
        self.delivered = 0
        self.closed_reason: str | None = None
        self._hub = hub
        self._send = send
        self._on_close = on_close
        self._queue_size = queue_size
        self._queue: deque[str] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._task = asyncio.get_running_loop().create_task(
            self._pump(), name=f"hub client {client_id}"
        )

    def __repr__(self) -> str:
        state = f"closed: {self.closed_reason}" if self.closed_reason else "open"
        return f"Client({self.id}, {len(self._queue)} waiting, {state})"

    @property
    def is_open(self) -> bool:
        return self.closed_reason is None

    @property
    def waiting(self) -> int:
        """Messages queued for this client and not yet handed to `send`."""
        return len(self._queue)

    def _offer(self, text: str) -> bool:
        """Queue `text`; False when the queue is full."""
        if len(self._queue) >= self._queue_size:
            return False
        self._queue.append(text)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
        return True

    async def _pump(self) -> None:
        queue = self._queue
        loop = asyncio.get_running_loop()
        try:
            while self.closed_reason is None:
                if not queue:
                    self._wakeup = loop.create_future()
                    await self._wakeup
                    self._wakeup = None
                    continue
                await self._send(queue.popleft())
                self.delivered += 1
                self._hub.delivered += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._hub._disconnect(self, f"send failed: {type(exc).__name__}: {exc}", slow=False)


class Hub:
    """The set of connected clients and the broadcast to all of them."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE, close_timeout: float = 5.0) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.queue_size = queue_size
        self.close_timeout = close_timeout
        self.broadcasts = 0
        self.delivered = 0  # messages handed to clients' send, all clients together
        self.dropped_clients = 0  # disconnected because their queue was full
        self.failed_clients = 0  # disconnected because their send raised
        self._clients: dict[int, Client] = {}
        self._ids = itertools.count(1)
        self._closing: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"Hub({len(self._clients)} clients, queue_size={self.queue_size})"

    @property
    def count(self) -> int:
        return len(self._clients)

    def stats(self) -> dict[str, int]:
        return {
            "clients": len(self._clients),
            "broadcasts": self.broadcasts,
            "delivered": self.delivered,
            "dropped_clients": self.dropped_clients,
            "failed_clients": self.failed_clients,
        }

    def register(self, send: SendFunction, *, on_close: CloseHandler | None = None) -> Client:
        """Add a client; it receives every message broadcast from now on."""
        client = Client(self, next(self._ids), send, on_close, self.queue_size)
        self._clients[client.id] = client
        return client

    def unregister(self, client: Client) -> None:
        """Remove a client that went away by itself (its on_close is not called)."""
        if self._clients.pop(client.id, None) is None:
            return
        client.closed_reason = "unregistered"
        client._task.cancel()
        client._queue.clear()

    def broadcast(self, message: Mapping[str, Any]) -> int:
        """Send `message` (serialised once) to every client; returns how many took it."""
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return self.broadcast_text(text)

    def broadcast_text(self, text: str) -> int:
        """Send a JSON text to every client; a client with a full queue is disconnected."""
        self.broadcasts += 1
        slow: list[Client] = []
        for client in self._clients.values():
            if not client._offer(text):
                slow.append(client)
        for client in slow:
            self._disconnect(
                client,
                f"too slow: {self.queue_size} messages were waiting for it",
                slow=True,
            )
        return len(self._clients)

    def _disconnect(self, client: Client, reason: str, *, slow: bool | None) -> None:
        """Remove a client and call its on_close; `slow`: True too slow, False send failed."""
        if self._clients.pop(client.id, None) is None:
            return
        client.closed_reason = reason
        client._queue.clear()
        if slow is True:
            self.dropped_clients += 1
        elif slow is False:
            self.failed_clients += 1
        if client._task is not asyncio.current_task():
            client._task.cancel()
        logger.info("hub: client %d disconnected (%s)", client.id, reason)
        if client._on_close is not None:
            task = asyncio.get_running_loop().create_task(
                self._close(client._on_close, client.id, reason)
            )
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close(self, on_close: CloseHandler, client_id: int, reason: str) -> None:
        try:
            result = on_close(reason)
            if inspect.isawaitable(result):
                await asyncio.wait_for(result, self.close_timeout)
        except TimeoutError:
            logger.warning("hub: closing client %d took over %g s", client_id, self.close_timeout)
        except Exception:
            logger.exception("hub: closing client %d failed", client_id)

    async def aclose(self, reason: str = "server shutting down") -> None:
        """Disconnect every client (their on_close is called) and wait for that to finish."""
        clients = list(self._clients.values())
        for client in clients:
            self._disconnect(client, reason, slow=None)
        for client in clients:
            await cancel_and_wait(client._task)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
