"""When a failed job runs again: exponential backoff with full jitter, up to a number of attempts.

The n-th failure waits a random time between 0 and min(cap, base * 2**(n-1)) ("full jitter"),
so that jobs failing together, say while a bank's API is down, do not all come back together.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from hisaab.queue.claim import DEFAULT_MAX_ATTEMPTS

# 2**64 seconds is far beyond any cap; the bound keeps the float arithmetic finite.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_seconds: float = 2.0
    cap_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < self.base_seconds <= self.cap_seconds:
            raise ValueError("backoff needs 0 < base_seconds <= cap_seconds")

    def ceiling(self, attempts: int) -> float:
        """The longest wait, in seconds, after the `attempts`-th attempt failed."""
        exponent = min(max(attempts - 1, 0), _MAX_EXPONENT)
        return min(self.cap_seconds, self.base_seconds * 2.0**exponent)

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> dt.timedelta:
        """The wait after the `attempts`-th attempt failed: uniform in [0, ceiling)."""
        return dt.timedelta(seconds=self.ceiling(attempts) * rand())

    def gives_up(self, attempts: int) -> bool:
        """True when a job that failed its `attempts`-th attempt is not tried again."""
        return attempts >= self.max_attempts
