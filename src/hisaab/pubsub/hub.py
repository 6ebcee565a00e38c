"""The client hub: every client gets every broadcast; a slow one never holds the others up.

WebSocket-agnostic: a client is registered with its `send(text)` coroutine (and, optionally, a
`on_close(reason)` callback), e.g. `hub.register(websocket.send_text, on_close=...)`. Each
client has a bounded queue of JSON texts and one sender task that awaits `send` for them in
order. `broadcast(message)` serialises the message once and appends the same text to every
queue without awaiting anything: O(clients), never blocked by a client.

A client that falls behind (its queue is full: it has not taken `queue_size` messages) is
never silently cut off from what it missed: its waiting messages are dropped and replaced by
one `resync` message saying how many it missed and the cursor to fetch them from (`after`:
below the smallest cursor it missed, so fetching everything after it, and skipping what it
already has, loses nothing). Messages carry a cursor when the hub's `cursor_of` finds one in
them (the real-time results' ids). A client that has taken nothing at all since its last
resync when its queue fills again is not reading: it is disconnected, its `on_close` called
with the reason (given `close_timeout` seconds, in a task of its own). A client whose `send`
raises is disconnected the same way. Memory per client is therefore bounded.

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
CursorOf = Callable[[Mapping[str, Any]], int | None]
# resync(after, missed, reason) -> the message telling a client what it missed
ResyncMessage = Callable[[int | None, int, str], Mapping[str, Any]]

DEFAULT_QUEUE_SIZE = 1_000


def plain_resync(after: int | None, missed: int, reason: str) -> dict[str, Any]:
    return {"type": "resync", "after": after, "missed": missed, "reason": reason}


class _Resync:
    """Where a client's resync message waits in its queue until it is sent."""

    def __init__(self, after: int | None, missed: int) -> None:
        self.after = after
        self.missed = missed


_Item = tuple[str, int | None] | _Resync


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
        self.resyncs = 0
        self.last_cursor: int | None = None  # of the last message handed to `send`
        self.closed_reason: str | None = None
        self._hub = hub
        self._send = send
        self._on_close = on_close
        self._queue_size = queue_size
        self._queue: deque[_Item] = deque()
        self._delivered_at_resync: int | None = None
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

    def _offer(self, text: str, cursor: int | None) -> bool:
        """Queue `text`; False when the queue is full."""
        if len(self._queue) >= self._queue_size:
            return False
        self._queue.append((text, cursor))
        self._wake()
        return True

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def _fell_behind(self, text: str, cursor: int | None) -> bool:
        """Replace what is waiting (and `text`) by a resync; False if the client is not
        reading at all (it took nothing since its last resync) and must go."""
        if self._delivered_at_resync is not None and self.delivered == self._delivered_at_resync:
            return False
        dropped: list[_Item] = [*self._queue, (text, cursor)]
        self._queue.clear()
        after: int | None = None
        missed = 0
        for item in dropped:
            if isinstance(item, _Resync):  # an earlier resync not sent yet: it still counts
                after, missed = _lower(after, item.after), missed + item.missed
            else:
                missed += 1
                if item[1] is not None:
                    after = _lower(after, item[1] - 1)
        if after is None:
            after = self.last_cursor
        self._queue.append(_Resync(after, missed))
        self._delivered_at_resync = self.delivered
        self.resyncs += 1
        self._wake()
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
                item = queue.popleft()
                if isinstance(item, _Resync):
                    await self._send(self._hub._resync_text(item))
                else:
                    await self._send(item[0])
                    if item[1] is not None:
                        self.last_cursor = item[1]
                self.delivered += 1
                self._hub.delivered += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._hub._disconnect(self, f"send failed: {type(exc).__name__}: {exc}", slow=False)


def _lower(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


class Hub:
    """The set of connected clients and the broadcast to all of them."""

    def __init__(
        self,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        close_timeout: float = 5.0,
        cursor_of: CursorOf | None = None,
        resync: ResyncMessage = plain_resync,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.queue_size = queue_size
        self.close_timeout = close_timeout
        self._cursor_of = cursor_of
        self._resync = resync
        self.broadcasts = 0
        self.delivered = 0  # messages handed to clients' send, all clients together
        self.resyncs = 0  # times a client fell behind and was sent a resync
        self.dropped_clients = 0  # disconnected because they read nothing, even after a resync
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
            "resyncs": self.resyncs,
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
        cursor = self._cursor_of(message) if self._cursor_of is not None else None
        return self.broadcast_text(text, cursor=cursor)

    def broadcast_text(self, text: str, *, cursor: int | None = None) -> int:
        """Send a JSON text to every client; a client with a full queue gets a resync."""
        self.broadcasts += 1
        slow: list[Client] = []
        for client in self._clients.values():
            if not client._offer(text, cursor):
                slow.append(client)
        for client in slow:
            if client._fell_behind(text, cursor):
                self.resyncs += 1
                logger.info("hub: client %d fell behind; resync queued", client.id)
                continue
            self._disconnect(
                client,
                f"not reading: {self.queue_size} messages were waiting for it again after a resync",
                slow=True,
            )
        return len(self._clients)

    def _resync_text(self, item: _Resync) -> str:
        reason = f"fell behind: {self.queue_size} messages were waiting for it"
        message = self._resync(item.after, item.missed, reason)
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False)

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
