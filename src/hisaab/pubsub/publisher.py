"""Publishing fan-out messages: from a worker's transaction, delivered only if it commits.

`publish(session, message)` is called by code running in a database transaction (a job
handler). What happens depends on the transport (hisaab.pubsub.config):

- PostgreSQL: `SELECT pg_notify('hisaab_events', payload)` runs in the transaction at once.
  NOTIFY is transactional: PostgreSQL delivers at commit, in commit order, and never for a
  transaction (or a savepoint) that rolls back.
- Redis and in-process: the payload waits in the session until the transaction commits, then
  goes out (Redis: one pipelined PUBLISH round trip; in-process: the local bus). Messages
  published inside a savepoint that rolls back are dropped with it.

On every transport, identical messages published in one transaction are delivered once: that
is what PostgreSQL does, and the other transports do the same so behaviour does not depend on
the deployment. A message is encoded (and its size checked, hisaab.pubsub.messages) when it is
published, so a bad message fails the transaction that sent it, never the commit after it.

After the commit, delivery is best effort: a Redis outage is logged and its messages are
dropped (the commit stands; for a second after a failure, messages are dropped without trying,
so a dead Redis does not slow every commit down by its connect timeout). A process that dies
between its commit and the Redis PUBLISH loses those messages: live delivery is at-most-once
and clients that reconnect refetch state.

`publish_now(message)` (async) sends at once, outside any transaction, on the same transport:
for messages that describe no database change, such as statistics snapshots. Its connections
belong to the event loop it runs in, and are closed by `aclose()` on that loop (the API's
shutdown does it for the default publisher), by `close()`, when the publisher is replaced
(`configure`), and when it is next awaited in another loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction

from hisaab.config import get_settings
from hisaab.pubsub.config import FanoutConfig, Transport, libpq_url
from hisaab.pubsub.local import LocalBus, local_bus
from hisaab.pubsub.messages import FanoutError, encode

logger = logging.getLogger("hisaab.pubsub")

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
# Many notifications in one round trip, in order (a function scan yields its rows in order);
# the text is fixed, so PostgreSQL prepares it once. The payloads travel as one JSON array:
# dumping a text[] of JSON documents escapes every quote in Python (a tenth of a worker's
# time in py-spy), json.dumps does it in C.
_NOTIFY_MANY = text(
    "SELECT pg_notify(:channel, p) FROM json_array_elements_text(CAST(:payloads AS json)) AS p"
)
_PENDING = "hisaab.pubsub.pending"  # key in Session.info
REDIS_TIMEOUT_SECONDS = 1.0
REDIS_PAUSE_SECONDS = 1.0  # after a failed PUBLISH, drop messages this long without trying
PUBLISHER_APPLICATION_NAME = "hisaab-fanout-publisher"  # of publish_now's connection

Pending = dict[SessionTransaction, list[tuple["Publisher", str]]]


class Publisher:
    """Sends messages on one transport; thread-safe (workers may run in several threads)."""

    def __init__(self, config: FanoutConfig, *, bus: LocalBus | None = None) -> None:
        self.config = config
        self.bus = bus or local_bus()
        self.sent = 0  # messages handed to the transport (after commit, or by publish_now)
        self.dropped = 0  # committed messages the transport could not take
        self._lock = threading.Lock()
        self._redis: redis.Redis | None = None
        self._redis_paused_until = 0.0
        self._links: _LoopLinks | None = None  # what publish_now opened, on one event loop

    def __repr__(self) -> str:
        return f"Publisher({self.config.describe()})"

    def publish(self, session: Session, message: Mapping[str, Any]) -> None:
        """Send `message` if and when the transaction of `session` commits."""
        self.publish_many(session, [message])

    def publish_many(self, session: Session, messages: Sequence[Mapping[str, Any]]) -> None:
        """`publish` for each message, in order; one statement on PostgreSQL."""
        payloads = [encode(message) for message in messages]
        if not payloads:
            return
        if self.config.transport is Transport.POSTGRES:
            dialect = session.get_bind().dialect.name
            if dialect != "postgresql":
                raise FanoutError(
                    f"postgres fan-out needs a PostgreSQL session; this one is on {dialect}"
                )
            channel = self.config.pg_channel
            if len(payloads) == 1:
                session.execute(_NOTIFY, {"channel": channel, "payload": payloads[0]})
            else:
                session.execute(
                    _NOTIFY_MANY, {"channel": channel, "payloads": json.dumps(payloads)}
                )
            return
        _install_session_hooks()
        transaction = (
            session.get_nested_transaction() or session.get_transaction() or session.begin()
        )
        pending: Pending = session.info.setdefault(_PENDING, {})
        pending.setdefault(transaction, []).extend((self, payload) for payload in payloads)

    def _send_committed(self, payloads: list[str]) -> None:
        """Deliver what a committed transaction published (Redis and in-process only)."""
        if self.config.transport is Transport.IN_PROCESS:
            for payload in payloads:
                self.bus.deliver(payload)
            with self._lock:
                self.sent += len(payloads)
            return
        if time.monotonic() < self._redis_paused_until:
            with self._lock:
                self.dropped += len(payloads)
            return
        try:
            with self._sync_redis().pipeline(transaction=False) as pipe:
                for payload in payloads:
                    pipe.publish(self.config.redis_channel, payload)
                pipe.execute()
        except redis.RedisError as exc:
            self._redis_paused_until = time.monotonic() + REDIS_PAUSE_SECONDS
            with self._lock:
                self.dropped += len(payloads)
            logger.warning(
                "fan-out: %d committed message(s) not published, Redis failed: %s; dropping"
                " messages for %g s",
                len(payloads),
                exc,
                REDIS_PAUSE_SECONDS,
            )
            return
        with self._lock:
            self.sent += len(payloads)

    def _sync_redis(self) -> redis.Redis:
        with self._lock:
            if self._redis is None:
                assert self.config.redis_url is not None  # FanoutConfig checks it
                self._redis = redis.Redis.from_url(
                    self.config.redis_url,
                    socket_timeout=REDIS_TIMEOUT_SECONDS,
                    socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                    retry=Retry(NoBackoff(), 0),
                )
            return self._redis

    async def publish_now(self, message: Mapping[str, Any]) -> None:
        """Send `message` at once, outside any transaction; FanoutError if the transport fails.

        The connections it opens belong to the event loop it is awaited in; awaited in another
        loop, the publisher closes them and opens new ones there (one loop at a time).
        """
        payload = encode(message)
        if self.config.transport is Transport.IN_PROCESS:
            self.bus.deliver(payload)
        else:
            while True:
                links = self._bind_loop()
                async with links.lock:
                    if links.released:  # closed by close() while this waited its turn
                        continue
                    if self.config.transport is Transport.POSTGRES:
                        await self._notify_now(links, payload)
                    else:
                        await self._redis_now(links, payload)
                    break
        with self._lock:
            self.sent += 1

    async def _notify_now(self, links: _LoopLinks, payload: str) -> None:
        for attempt in (1, 2):  # a connection dropped since the last call is reopened once
            try:
                if links.pg is None or links.pg.closed:
                    assert self.config.database_url is not None  # FanoutConfig checks it
                    links.pg = await psycopg.AsyncConnection.connect(
                        libpq_url(self.config.database_url),
                        autocommit=True,
                        connect_timeout=5,
                        application_name=PUBLISHER_APPLICATION_NAME,
                    )
                await links.pg.execute(
                    "SELECT pg_notify(%s, %s)", (self.config.pg_channel, payload)
                )
                return
            except psycopg.OperationalError as exc:
                if links.pg is not None:
                    await links.pg.close()
                    links.pg = None
                if attempt == 2:
                    raise FanoutError(f"fan-out through PostgreSQL failed: {exc}") from exc

    async def _redis_now(self, links: _LoopLinks, payload: str) -> None:
        if links.redis is None:
            assert self.config.redis_url is not None  # FanoutConfig checks it
            links.redis = redis.asyncio.Redis.from_url(
                self.config.redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        try:
            await links.redis.publish(self.config.redis_channel, payload)
        except redis.RedisError as exc:
            raise FanoutError(f"fan-out through Redis failed: {exc}") from exc

    def _bind_loop(self) -> _LoopLinks:
        """The connections of the running event loop; those of a previous loop are closed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            previous = self._links
            if previous is not None and previous.loop is loop:
                return previous
            self._links = links = _LoopLinks(loop)
            if previous is not None:
                previous.released = True
        if previous is not None:
            previous.close_soon()
        return links

    def _unbind(self) -> _LoopLinks | None:
        with self._lock:
            links, self._links = self._links, None
            if links is not None:
                links.released = True
        return links

    async def aclose(self) -> None:
        """Close the connections `publish_now` opened (it opens new ones if called again).

        On their own event loop this waits until they are closed (after a publish in flight);
        from elsewhere they are closed as `close()` does. Call it before their loop ends: a
        PostgreSQL connection is closed even after that, an async Redis client cannot be.
        """
        links = self._unbind()
        if links is None:
            return
        if links.loop is asyncio.get_running_loop():
            await links.aclose()
        else:
            links.close_soon()

    def close(self) -> None:
        """Close every connection: the after-commit Redis client, and those of `publish_now`.

        Callable from any thread: connections of an event loop that is still running are
        closed on that loop, once a publish in flight on them is done.
        """
        with self._lock:
            client, self._redis = self._redis, None
        if client is not None:
            client.close()
        links = self._unbind()
        if links is not None:
            links.close_soon()


class _LoopLinks:
    """The connections `publish_now` opened on one event loop, and the lock every use holds."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = asyncio.Lock()
        self.pg: psycopg.AsyncConnection[Any] | None = None
        self.redis: redis.asyncio.Redis | None = None
        self.released = False  # no publish will use them again: close them

    async def aclose(self) -> None:
        """Close them on their own loop, once no publish is using them."""
        async with self.lock:
            pg, self.pg = self.pg, None
            client, self.redis = self.redis, None
            if pg is not None:
                with contextlib.suppress(psycopg.Error, OSError):
                    await pg.close()
            if client is not None:
                with contextlib.suppress(redis.RedisError, OSError):
                    await client.aclose()

    def close_soon(self) -> None:
        """Close them from any thread: at once when nothing can be using them, else on their loop.

        A PostgreSQL connection needs no event loop to close (psycopg's `close()` only
        finishes the libpq connection), so one whose loop has ended, or is idle, or is the
        caller's own (which cannot run a publish while this runs), is closed here and now.
        """
        loop = self.loop
        in_use = self.lock.locked()  # a publish holds them (it may be connecting still)
        if self.pg is not None and not in_use and (not loop.is_running() or _running_here(loop)):
            self.pg.pgconn.finish()
            self.pg = None
        if not in_use and self.pg is None and self.redis is None:
            return
        with contextlib.suppress(RuntimeError):  # raised when the loop has closed
            loop.call_soon_threadsafe(_close_on_loop, self)
            return
        # Their loop has closed: nothing will use them again.
        if self.pg is not None:
            self.pg.pgconn.finish()
            self.pg = None
        if self.redis is not None:
            logger.warning("fan-out: an async Redis client outlived its event loop unclosed")


_closing: set[asyncio.Task[None]] = set()  # close tasks, held until done (loops hold them weakly)


def _close_on_loop(links: _LoopLinks) -> None:
    task = links.loop.create_task(links.aclose(), name="fan-out publisher close")
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def _running_here(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


# Session hooks: one pair of listeners on the Session class serves every publisher.

_hooks_lock = threading.Lock()
_hooks_installed = False


def _install_session_hooks() -> None:
    global _hooks_installed
    with _hooks_lock:
        if not _hooks_installed:
            event.listen(Session, "after_commit", _after_commit)
            event.listen(Session, "after_transaction_end", _after_transaction_end)
            _hooks_installed = True


def _after_commit(session: Session) -> None:
    pending: Pending | None = session.info.get(_PENDING)
    if not pending:
        return
    nested = session.get_nested_transaction()
    if nested is not None:
        # A savepoint was released: its messages now belong to the enclosing transaction.
        released = pending.pop(nested, None)
        if released and nested.parent is not None:
            pending.setdefault(nested.parent, []).extend(released)
        return
    root = session.get_transaction()
    committed = pending.pop(root, None) if root is not None else None
    if not committed:
        return
    by_publisher: dict[Publisher, dict[str, None]] = {}
    for publisher, payload in committed:
        by_publisher.setdefault(publisher, {})[payload] = None  # identical ones go out once
    for publisher, payloads in by_publisher.items():
        publisher._send_committed(list(payloads))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ends still holding messages rolled back: they are never sent."""
    pending: Pending | None = session.info.get(_PENDING)
    if pending:
        pending.pop(transaction, None)


# The process's default publisher, built from the settings when first used.

_default: Publisher | None = None
_default_lock = threading.Lock()


def configure(config: FanoutConfig | None) -> Publisher | None:
    """Set (or, with None, forget) the publisher `publish` and `publish_now` use.

    The publisher it replaces is closed (`Publisher.close`); calling it again reopens.
    """
    global _default
    with _default_lock:
        previous, _default = _default, (Publisher(config) if config is not None else None)
    if previous is not None:
        previous.close()
    return _default


async def aclose_default() -> None:
    """Close the connections the default publisher's `publish_now` opened (at shutdown)."""
    with _default_lock:
        publisher = _default
    if publisher is not None:
        await publisher.aclose()


def get_publisher() -> Publisher:
    """The configured publisher, else one built from the settings (HISAAB_DATABASE_URL, ...)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Publisher(FanoutConfig.from_settings(get_settings()))
            logger.info("fan-out publisher: %s", _default.config.describe())
        return _default


def publish(session: Session, message: Mapping[str, Any]) -> None:
    """Send `message` to every subscriber if and when the transaction of `session` commits."""
    get_publisher().publish(session, message)


def publish_many(session: Session, messages: Sequence[Mapping[str, Any]]) -> None:
    """`publish` for each message, in order (one round trip on PostgreSQL)."""
    get_publisher().publish_many(session, messages)


async def publish_now(message: Mapping[str, Any]) -> None:
    """Send `message` to every subscriber at once (not tied to a transaction)."""
    await get_publisher().publish_now(message)
