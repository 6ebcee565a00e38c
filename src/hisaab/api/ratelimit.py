"""Login rate limiting: a sliding window of failed attempts per email and client address.

`LoginLimiter` counts in-process: each API process counts its own attempts, so N processes
allow N times the limit. `RedisLoginLimiter` (when HISAAB_REDIS_URL is set; `make_limiter`
chooses) keeps the window in Redis, so every process shares one budget per email and client:
a sorted set per pair (`hisaab:login-failures:<sha256 of email and client>`, so no address is
stored in the clear) of failure times, read and written by Lua scripts on Redis's own clock,
each one atomic. While Redis is unreachable it counts in-process, as if Redis were not set.

An attempt is counted before the password is checked (`attempt`), and forgiven when it
succeeds (`succeeded`). Checking the count first and recording a failure after the password
check (which takes argon2's time) let parallel requests all pass the check: an attacker
sending fifty at once had fifty guesses, not five. Counting and refusing are one atomic step.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import uuid
from collections import defaultdict, deque
from typing import Final

import redis

from hisaab.errors import RateLimited
from hisaab.redis_client import RedisOutage

KEY_PREFIX: Final = "hisaab:login-failures:"

# KEYS[1] the pair's sorted set; ARGV[1] the window in ms, ARGV[2] the most failures allowed,
# ARGV[3] a unique member. Drops failures older than the window; if the limit is reached,
# answers {count, ms until the oldest leaves the window}; else counts this attempt, {count, 0}.
_ATTEMPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {count, window - (now - tonumber(oldest[2]))}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {count + 1, 0}
"""


def _normalized(email: str) -> str:
    return email.strip().lower()


def _too_many(wait_seconds: float) -> RateLimited:
    return RateLimited(f"too many failed logins; try again in {max(1, math.ceil(wait_seconds))} s")


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

    def attempt(self, email: str, client: str) -> None:
        """Refuse a login attempt over the limit; else count it as a failure until it succeeds."""
        key, now = (_normalized(email), client), time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                raise _too_many(self.window - (now - times[0]))
            times.append(now)

    def succeeded(self, email: str, client: str) -> None:
        with self._lock:
            self._failures.pop((_normalized(email), client), None)


class RedisLoginLimiter(LoginLimiter):
    """The same window, shared by every process through Redis; in-process (the base class)
    while Redis is unreachable."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        max_failures: int = 5,
        window_seconds: float = 300.0,
        prefix: str = KEY_PREFIX,
        outage: RedisOutage | None = None,
    ) -> None:
        super().__init__(max_failures=max_failures, window_seconds=window_seconds)
        self.prefix = prefix
        self._client = client
        self._window_ms = max(1, round(window_seconds * 1000))
        self._attempt = client.register_script(_ATTEMPT)
        self._outage = outage or RedisOutage("the login rate limit")

    def redis_key(self, email: str, client: str) -> str:
        pair = f"{_normalized(email)}\n{client}".encode()
        return self.prefix + hashlib.sha256(pair).hexdigest()

    def attempt(self, email: str, client: str) -> None:
        if self._outage.should_try():
            member = uuid.uuid4().hex  # two attempts in the same millisecond both count
            try:
                count, wait_ms = self._attempt(
                    keys=[self.redis_key(email, client)],
                    args=[self._window_ms, self.max_failures, member],
                )
            except redis.RedisError as exc:
                self._outage.failed(exc)
            else:
                self._outage.succeeded()
                if int(wait_ms) > 0 or int(count) > self.max_failures:
                    raise _too_many(int(wait_ms) / 1000)
                return
        super().attempt(email, client)

    def succeeded(self, email: str, client: str) -> None:
        super().succeeded(email, client)
        if self._outage.should_try():
            try:
                self._client.delete(self.redis_key(email, client))
            except redis.RedisError as exc:
                self._outage.failed(exc)
            else:
                self._outage.succeeded()


def make_limiter(client: redis.Redis | None) -> LoginLimiter:
    """The Redis limiter when a client is given (HISAAB_REDIS_URL set), else the in-process one."""
    return LoginLimiter() if client is None else RedisLoginLimiter(client)
