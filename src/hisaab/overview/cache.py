"""The cache of Overview answers, keyed by endpoint and parameters: in-process or in Redis.

`TTLCache` is the default: each API process keeps its own, so answers may differ between
processes for up to the TTL, and a restart empties it. `RedisTTLCache` (when HISAAB_REDIS_URL
is set; `make_cache` chooses) shares the answers between processes: each is one Redis string
under `hisaab:overview:<key as JSON>`, holding the answer as JSON, set with a TTL (SET PX).
Both have the same interface (`get_or_compute`, `clear`, `len`); a TTL of 0 disables caching.

What comes back from Redis is the type `compute` is annotated to return, rebuilt from its JSON
(dataclasses, dates and datetimes included); a `compute` without a return annotation gets plain
JSON values back. While Redis is unreachable, answers are computed and kept in-process as if
Redis were not configured, and the outage is logged once a minute (see hisaab.redis_client);
an answer is never lost to a Redis error.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Final, TypeVar, cast, get_type_hints

import redis
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from hisaab.redis_client import RedisOutage

T = TypeVar("T")

MAX_ENTRIES = 1024
KEY_PREFIX: Final = "hisaab:overview:"

log = logging.getLogger(__name__)


class TTLCache:
    """Answers kept for `ttl_seconds` after they were computed; the oldest go first when full."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        if self.ttl_seconds <= 0:
            return compute()
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                return cast(T, entry[1])
        # Computed outside the lock: a slow query must not hold up answers already cached.
        value = compute()
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl_seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class RedisTTLCache(TTLCache):
    """Answers shared through Redis for `ttl_seconds`; in-process (the base class) while Redis
    is unreachable. Redis evicts by TTL (and by its own maxmemory policy), not by count."""

    def __init__(
        self,
        client: redis.Redis,
        ttl_seconds: float,
        *,
        prefix: str = KEY_PREFIX,
        outage: RedisOutage | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        super().__init__(ttl_seconds, clock=clock, max_entries=max_entries)
        self._client = client
        self.prefix = prefix
        self._outage = outage or RedisOutage("the Overview cache")

    def redis_key(self, key: Hashable) -> str:
        """`hisaab:overview:["overview",{"from_date":"2026-04-01","to_date":"2026-04-30"}]`"""
        return self.prefix + json.dumps(
            to_jsonable_python(key, fallback=repr), separators=(",", ":"), sort_keys=True
        )

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        if self.ttl_seconds <= 0:
            return compute()
        if not self._outage.should_try():
            return super().get_or_compute(key, compute)
        name, adapter = self.redis_key(key), _adapter(_return_type(compute))
        try:
            stored = self._client.get(name)
        except redis.RedisError as exc:
            self._outage.failed(exc)
            return super().get_or_compute(key, compute)
        self._outage.succeeded()
        if stored is not None:
            try:
                return cast(T, adapter.validate_json(cast(bytes, stored)))
            except ValidationError as exc:
                # Written by a version of Hisaab whose answer had another shape: a miss.
                log.info("cached %s no longer reads as %s: %s", name, adapter, exc)
        value = compute()
        try:
            self._client.set(
                name, adapter.dump_json(value), px=max(1, round(self.ttl_seconds * 1000))
            )
        except redis.RedisError as exc:
            self._outage.failed(exc)
        return value

    def clear(self) -> None:
        """Forget every answer, in Redis (for every process) and in this process."""
        super().clear()
        try:
            names = list(self._client.scan_iter(match=self.prefix + "*", count=500))
            if names:
                self._client.delete(*names)
        except redis.RedisError as exc:
            self._outage.failed(exc)

    def __len__(self) -> int:
        """Answers in Redis now (0 while it is unreachable)."""
        try:
            return sum(1 for _ in self._client.scan_iter(match=self.prefix + "*", count=500))
        except redis.RedisError as exc:
            self._outage.failed(exc)
            return 0


def make_cache(ttl_seconds: float, client: redis.Redis | None) -> TTLCache:
    """The Redis cache when a client is given (HISAAB_REDIS_URL set), else the in-process one."""
    return TTLCache(ttl_seconds) if client is None else RedisTTLCache(client, ttl_seconds)


def _return_type(compute: Callable[[], Any]) -> Any:
    """What `compute` is annotated to return (`Any` when it does not say)."""
    target = compute if inspect.isroutine(compute) else type(compute).__call__
    try:
        return get_type_hints(target).get("return", Any)
    except Exception:  # an annotation that cannot be resolved here: keep the plain JSON
        return Any


@functools.lru_cache(maxsize=128)
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)
