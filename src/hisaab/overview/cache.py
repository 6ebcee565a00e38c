"""A small in-process TTL cache of Overview answers, keyed by endpoint and parameters.

Each API process keeps its own: answers may differ between processes for up to the TTL, and a
restart empties it. A shared cache (Redis, HISAAB_REDIS_URL) is a later step; the interface
(`get_or_compute`, `clear`) is what it will keep. A TTL of 0 disables caching.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")

MAX_ENTRIES = 1024


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
