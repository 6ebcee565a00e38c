"""The in-process bus: fan-out between threads and event loops of one process (embedded mode).

A worker running in a thread of the API process hands each committed message's JSON text to
`deliver()`, which schedules it on the event loop of every attached subscriber with
`loop.call_soon_threadsafe`: safe from any thread, in the order `deliver()` was called. Only
subscribers of this process see the messages: a worker in another process needs PostgreSQL or
Redis to reach the API (see hisaab.pubsub.config).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("hisaab.pubsub")

PayloadHandler = Callable[[str], None]


class LocalBus:
    """Subscribers are (event loop, handler) pairs; a handler runs on its own loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._subscribers: dict[int, tuple[asyncio.AbstractEventLoop, PayloadHandler]] = {}
        self.delivered = 0  # payloads scheduled, counted once per subscriber
        self.unheard = 0  # payloads no subscriber of this process was attached to hear
        self._warned = False

    def attach(self, loop: asyncio.AbstractEventLoop, handler: PayloadHandler) -> int:
        """Deliver every later payload to `handler` on `loop`; returns the id to detach with."""
        with self._lock:
            token = next(self._ids)
            self._subscribers[token] = (loop, handler)
            return token

    def detach(self, token: int) -> None:
        with self._lock:
            self._subscribers.pop(token, None)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def deliver(self, payload: str) -> int:
        """Schedule `payload` on every subscriber's loop (from any thread); how many it reached."""
        with self._lock:
            subscribers = list(self._subscribers.items())
        reached = 0
        for token, (loop, handler) in subscribers:
            try:
                loop.call_soon_threadsafe(handler, payload)
            except RuntimeError:  # the loop is closed: its subscriber is gone without detaching
                self.detach(token)
                continue
            reached += 1
        with self._lock:
            self.delivered += reached
            if reached == 0:
                self.unheard += 1
                warn, self._warned = not self._warned, True
            else:
                warn = False
        if warn:
            logger.warning(
                "a fan-out message found no subscriber in this process: with the in-process"
                " transport, run the worker inside the API process or configure Redis or"
                " PostgreSQL fan-out (logged once)"
            )
        return reached


_default_bus = LocalBus()


def local_bus() -> LocalBus:
    """The bus of this process."""
    return _default_bus
