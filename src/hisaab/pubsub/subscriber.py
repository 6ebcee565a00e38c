"""Receiving fan-out messages in an API process: one Subscriber per process, on its event loop.

- PostgreSQL: a dedicated psycopg AsyncConnection in autocommit runs `LISTEN hisaab_events` and
  reads `conn.notifies()`; when no message came for `health_check_seconds`, a `SELECT 1` checks
  that the server is still there (TCP keepalives cover a silent network too).
- Redis: a `redis.asyncio` pub/sub connection subscribed to `hisaab:events`, pinged after
  `health_check_seconds` of silence.
- In-process: attached to the local bus (hisaab.pubsub.local).

`start()` returns once the subscription is in place (messages committed after it are
received) and raises FanoutError when the first connection fails. A connection lost later is
logged and reopened with exponential backoff (0.1 s doubling to 5 s, with jitter so API
processes do not reconnect in step). Messages sent during the outage are lost to this process:
live delivery is at-most-once. `on_reconnect` is called once the subscription is back, so the
application can tell its clients to refetch state.

Messages are delivered decoded (dicts), in the order the transport delivered them, either to
`on_message` (a plain function, called on the event loop: it must not block, e.g.
`Hub.broadcast`) or, without one, to `async for message in subscriber` through a bounded
buffer (a full buffer drops messages, counted in `dropped`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

import psycopg
import redis
import redis.asyncio
import redis.asyncio.client
from psycopg import sql
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from hisaab.backoff import Backoff
from hisaab.pubsub.config import (
    LISTEN_CONNECT_TIMEOUT_SECONDS,
    FanoutConfig,
    Transport,
    listen_conninfo,
)
from hisaab.pubsub.local import LocalBus, local_bus
from hisaab.pubsub.messages import FanoutError, decode
from hisaab.pubsub.tasks import cancel_and_wait

logger = logging.getLogger("hisaab.pubsub")

MessageHandler = Callable[[dict[str, Any]], None]
ReconnectHandler = Callable[[], None]
CONNECT_TIMEOUT_SECONDS = LISTEN_CONNECT_TIMEOUT_SECONDS


_END: Any = object()  # tells iterators the subscriber stopped
LISTENER_APPLICATION_NAME = "hisaab-fanout-listener"  # of the LISTEN connection


def _close_unwanted(connecting: asyncio.Future[psycopg.AsyncConnection[Any]]) -> None:
    """Close the connection of a connect whose caller has gone (cancelled meanwhile)."""
    if connecting.cancelled() or connecting.exception() is not None:
        return
    # psycopg's close() only finishes the libpq connection, which needs no await.
    connecting.result().pgconn.finish()


class Subscriber:
    """Receives every message published on the configured transport while it runs."""

    def __init__(
        self,
        config: FanoutConfig,
        on_message: MessageHandler | None = None,
        *,
        on_reconnect: ReconnectHandler | None = None,
        bus: LocalBus | None = None,
        buffer_size: int = 10_000,
        backoff: Backoff | None = None,
        health_check_seconds: float = 10.0,
    ) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        if health_check_seconds <= 0:
            raise ValueError("health_check_seconds must be positive")
        self.config = config
        self.on_message = on_message
        self.on_reconnect = on_reconnect
        self.bus = bus or local_bus()
        self.backoff = backoff or Backoff()
        self.health_check_seconds = health_check_seconds
        self.received = 0  # messages decoded and handed on
        self.undecodable = 0  # payloads that were not a JSON object
        self.dropped = 0  # messages the iterator buffer had no room for
        self.reconnects = 0
        self._buffer: asyncio.Queue[dict[str, Any]] = asyncio.Queue(buffer_size)
        self._task: asyncio.Task[None] | None = None
        self._bus_token: int | None = None
        self._pg: psycopg.AsyncConnection[Any] | None = None
        self._redis: tuple[redis.asyncio.Redis, redis.asyncio.client.PubSub] | None = None
        self._state: Literal["new", "running", "stopped"] = "new"

    def __repr__(self) -> str:
        return f"Subscriber({self.config.describe()}, {self._state})"

    async def start(self) -> None:
        """Subscribe; when it returns, every message published later is received."""
        if self._state != "new":
            raise RuntimeError(f"a subscriber starts once (this one is {self._state})")
        transport = self.config.transport
        if transport is Transport.IN_PROCESS:
            self._bus_token = self.bus.attach(asyncio.get_running_loop(), self._on_payload)
        else:
            try:
                if transport is Transport.POSTGRES:
                    self._pg = await self._pg_connect()
                else:
                    self._redis = await self._redis_connect()
            except (psycopg.Error, redis.RedisError, OSError) as exc:
                raise FanoutError(f"cannot subscribe to {self.config.describe()}: {exc}") from exc
        self._state = "running"
        if transport is not Transport.IN_PROCESS:
            self._task = asyncio.create_task(self._run(), name=f"fan-out {transport.value}")
        logger.info("fan-out subscriber started: %s", self.config.describe())

    async def stop(self) -> None:
        """Unsubscribe and close the connection; iterators end after the buffered messages."""
        if self._state != "running":
            self._state = "stopped"
            return
        self._state = "stopped"
        if self._bus_token is not None:
            self.bus.detach(self._bus_token)
            self._bus_token = None
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        await self._close_connections()
        if self._buffer.full():  # make room for the end marker: iterators must not hang
            self._buffer.get_nowait()
            self.dropped += 1
        self._buffer.put_nowait(_END)

    async def __aenter__(self) -> Subscriber:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        if self.on_message is not None:
            raise RuntimeError("this subscriber hands its messages to on_message")
        while True:
            message = await self._buffer.get()
            if message is _END:
                return
            yield message

    @property
    def connected(self) -> bool:
        if self.config.transport is Transport.IN_PROCESS:
            return self._bus_token is not None
        return self._pg is not None or self._redis is not None

    def _on_payload(self, payload: str | bytes) -> None:
        try:
            message = decode(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            self.undecodable += 1
            logger.warning("fan-out: ignored a payload that is not a JSON object: %s", exc)
            return
        self.received += 1
        if self.on_message is None:
            try:
                self._buffer.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped += 1
            return
        try:
            self.on_message(message)
        except Exception:
            logger.exception("fan-out: the message handler failed; the subscriber goes on")

    async def _run(self) -> None:
        receive: Callable[[], Awaitable[None]]
        connect: Callable[[], Awaitable[object]]
        if self.config.transport is Transport.POSTGRES:
            receive, connect = self._pg_receive, self._pg_reconnect
        else:
            receive, connect = self._redis_receive, self._redis_reconnect
        while True:
            try:
                await receive()
            except (psycopg.Error, redis.RedisError, OSError) as exc:
                logger.warning(
                    "fan-out: lost %s (%s); live messages are lost until it is back",
                    self.config.describe(),
                    exc,
                )
            except Exception:
                # Not a connection failure, but the listener must not die quietly: start over.
                logger.exception("fan-out: the listener failed; reconnecting")
            if self._state != "running":
                return
            lost_at = time.monotonic()
            await self._close_connections()
            for delay in self.backoff.delays():
                await asyncio.sleep(delay)
                if self._state != "running":
                    return
                try:
                    await connect()
                    break
                except (psycopg.Error, redis.RedisError, OSError) as exc:
                    logger.info("fan-out: reconnecting failed (%s); retrying", exc)
            self.reconnects += 1
            logger.warning(
                "fan-out: %s is back after %.1f s",
                self.config.describe(),
                time.monotonic() - lost_at,
            )
            if self.on_reconnect is not None:
                try:
                    self.on_reconnect()
                except Exception:
                    logger.exception("fan-out: the reconnect handler failed")

    async def _close_connections(self) -> None:
        pg, self._pg = self._pg, None
        if pg is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await pg.close()
        subscribed, self._redis = self._redis, None
        if subscribed is not None:
            client, pubsub = subscribed
            with contextlib.suppress(redis.RedisError, OSError):
                await pubsub.aclose()
            with contextlib.suppress(redis.RedisError, OSError):
                await client.aclose()

    # PostgreSQL LISTEN

    async def _pg_connect(self) -> psycopg.AsyncConnection[Any]:
        assert self.config.database_url is not None  # FanoutConfig checks it
        connecting = asyncio.ensure_future(
            psycopg.AsyncConnection.connect(
                listen_conninfo(self.config.database_url, LISTENER_APPLICATION_NAME),
                autocommit=True,
            )
        )
        try:
            conn = await asyncio.shield(connecting)
        except asyncio.CancelledError:
            # Stopped while connecting: the connection is closed as soon as it is made (a
            # callback, not an await, so a second cancellation cannot leave it open).
            connecting.add_done_callback(_close_unwanted)
            raise
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.config.pg_channel)))
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _pg_reconnect(self) -> None:
        self._pg = await self._pg_connect()

    async def _pg_receive(self) -> None:
        conn = self._pg
        assert conn is not None
        while self._state == "running":
            async for notify in conn.notifies(timeout=self.health_check_seconds):
                self._on_payload(notify.payload)
            await conn.execute("SELECT 1")  # quiet for a while: is the server still there?

    # Redis SUBSCRIBE

    async def _redis_connect(self) -> tuple[redis.asyncio.Redis, redis.asyncio.client.PubSub]:
        assert self.config.redis_url is not None  # FanoutConfig checks it
        client = redis.asyncio.Redis.from_url(
            self.config.redis_url,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            health_check_interval=max(1, round(self.health_check_seconds)),
            # Failures surface here, where they are logged and retried with backoff.
            retry=Retry(NoBackoff(), 0),
        )
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self.config.redis_channel)
            # Wait for Redis to confirm: from then on, every PUBLISH reaches this connection.
            deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise redis.TimeoutError("Redis did not confirm the subscription")
                reply = await pubsub.get_message(timeout=remaining)
                if reply is not None and reply["type"] == "subscribe":
                    break
        except BaseException:
            await pubsub.aclose()
            await client.aclose()
            raise
        return client, pubsub

    async def _redis_reconnect(self) -> None:
        self._redis = await self._redis_connect()

    async def _redis_receive(self) -> None:
        assert self._redis is not None
        _client, pubsub = self._redis
        while self._state == "running":
            reply = await pubsub.get_message(timeout=self.health_check_seconds)
            if reply is not None and reply["type"] == "message":
                self._on_payload(reply["data"])
