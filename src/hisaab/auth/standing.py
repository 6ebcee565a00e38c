"""Does a token's user still stand as the token says? Checked on every authenticated request.

A token speaks for the user as they were when it was issued: a user since deactivated, given
another role or moved to another merchant must log in again, or an old token would keep the
old role's or the old merchant's access until it expires.

The lookup runs in a short session of its own, never in the request's: a request that held a
pooled connection for its authentication while it waited for another (its own work, in the
thread pool) could exhaust the pool with enough concurrent clients, each holding one and
waiting for a second. Answers are remembered for `ttl_seconds` (HISAAB_AUTH_CACHE_SECONDS,
1 s by default; 0 looks up every time), so a change to a user takes effect within that long
in every process, and a busy API does not read the users table on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from hisaab.auth.tokens import Claims
from hisaab.errors import Unauthenticated
from hisaab.storage.models import User


class _Standing(NamedTuple):
    is_active: bool
    role: str
    merchant_id: str | None


_GONE = _Standing(False, "", None)
_MAX_ENTRIES = 10_000


class UserStanding:
    """Checks claims against the users table, remembering each answer for `ttl_seconds`."""

    def __init__(self, sessions: Callable[[], Session], *, ttl_seconds: float = 1.0) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._seen: dict[int, tuple[float, _Standing]] = {}
        self._lock = threading.Lock()

    def check_remembered(self, claims: Claims) -> bool:
        """`check` from memory alone: False when the user must be looked up (`check` then),
        so that a caller on an event loop can look up in a thread and otherwise not."""
        seen = self._seen.get(claims.user_id)
        if seen is None or seen[0] <= time.monotonic():
            return False
        self._judge(claims, seen[1])
        return True

    def check(self, claims: Claims) -> None:
        """Raise Unauthenticated unless the user exists, is active and is as the token says."""
        self._judge(claims, self._standing(claims.user_id))

    @staticmethod
    def _judge(claims: Claims, standing: _Standing) -> None:
        if (
            not standing.is_active
            or standing.role != claims.role
            or standing.merchant_id != claims.merchant_id
        ):
            raise Unauthenticated("the token's user no longer exists or has changed; log in again")

    def forget(self, user_id: int) -> None:
        """Drop what this process remembers of a user (after changing them here)."""
        with self._lock:
            self._seen.pop(user_id, None)

    def _standing(self, user_id: int) -> _Standing:
        now = time.monotonic()
        seen = self._seen.get(user_id)
        if seen is not None and seen[0] > now:
            return seen[1]
        with self._sessions() as session:
            row = session.execute(
                select(User.is_active, User.role, User.merchant_id).where(User.id == user_id)
            ).first()
        standing = _Standing(bool(row[0]), row[1], row[2]) if row is not None else _GONE
        if self._ttl > 0:
            with self._lock:
                if len(self._seen) >= _MAX_ENTRIES:
                    self._seen.clear()
                self._seen[user_id] = (now + self._ttl, standing)
        return standing
