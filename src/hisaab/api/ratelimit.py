"""Login rate limiting: a sliding window of failed attempts per email and client address.

In-process: each API process counts its own attempts, so N processes allow N times the
limit. A shared limiter (the database or Redis) is the step after this one.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from hisaab.errors import RateLimited


class LoginLimiter:
    def __init__(self, *, max_failures: int = 5, window_seconds: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def check(self, email: str, client: str) -> None:
        key, now = (email.strip().lower(), client), time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                wait = int(self.window - (now - times[0])) + 1
                raise RateLimited(f"too many failed logins; try again in {wait} s")

    def failed(self, email: str, client: str) -> None:
        with self._lock:
            self._failures[(email.strip().lower(), client)].append(time.monotonic())

    def succeeded(self, email: str, client: str) -> None:
        with self._lock:
            self._failures.pop((email.strip().lower(), client), None)
