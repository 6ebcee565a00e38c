"""Redis clients for HISAAB_REDIS_URL, and what Hisaab does while Redis is unreachable.

Redis is optional. When it is configured, the API process builds one synchronous client (the
Overview cache, the login limiter and /health share its connection pool) and, for real-time
fan-out over pub/sub, asyncio clients. Every client has short socket timeouts: a Redis that
does not answer must cost a request half a second, not a hung worker.

Callers that can do without Redis (the cache, the limiter) guard each call with a
`RedisOutage`: after a failure they skip Redis for a few seconds and fall back to their
in-process behaviour, and the outage is logged once per interval rather than once per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

import redis
import redis.asyncio

from hisaab.errors import InputError

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_SECONDS: Final = 0.5
URL_EXPECTED: Final = "redis://[:password@]host:port/db, rediss://... or unix:///path.sock"


def _checked(url: str) -> str:
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise InputError(f"HISAAB_REDIS_URL: {url!r} is not a Redis URL", expected=URL_EXPECTED)
    return url


def make_client(url: str, *, timeout_seconds: float = SOCKET_TIMEOUT_SECONDS) -> redis.Redis:
    """A client (with its own connection pool) for `url`; connects on first use."""
    try:
        return redis.Redis.from_url(
            _checked(url),
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            health_check_interval=30,
        )
    except ValueError as exc:
        raise InputError(f"HISAAB_REDIS_URL: {exc}", expected=URL_EXPECTED) from None


def make_async_client(
    url: str, *, timeout_seconds: float = SOCKET_TIMEOUT_SECONDS
) -> redis.asyncio.Redis:
    """An asyncio client for `url` (pub/sub fan-out); make it inside the loop that uses it."""
    try:
        return redis.asyncio.Redis.from_url(
            _checked(url),
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            health_check_interval=30,
        )
    except ValueError as exc:
        raise InputError(f"HISAAB_REDIS_URL: {exc}", expected=URL_EXPECTED) from None


class RedisOutage:
    """Tracks one user's view of Redis: skip it for `retry_seconds` after a failure, and warn
    at most once per `warn_every_seconds` while it keeps failing."""

    def __init__(
        self,
        what: str,
        *,
        retry_seconds: float = 5.0,
        warn_every_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.retry_seconds = retry_seconds
        self.warn_every_seconds = warn_every_seconds
        self._clock = clock
        self._retry_at = float("-inf")
        self._warned_at: float | None = None
        self._lock = threading.Lock()

    def should_try(self) -> bool:
        """False while Redis failed less than `retry_seconds` ago."""
        return self._clock() >= self._retry_at

    def failed(self, exc: Exception) -> None:
        now = self._clock()
        with self._lock:
            self._retry_at = now + self.retry_seconds
            due = self._warned_at is None or now - self._warned_at >= self.warn_every_seconds
            if due:
                self._warned_at = now
        if due:
            log.warning(
                "Redis unreachable for %s (%s: %s); working without it and retrying every %g s",
                self.what,
                type(exc).__name__,
                exc,
                self.retry_seconds,
            )

    def succeeded(self) -> None:
        if self._warned_at is None:  # the common case: no outage to end, no lock taken
            return
        with self._lock:
            recovered, self._warned_at = self._warned_at is not None, None
        if recovered:
            log.info("Redis reachable again for %s", self.what)
