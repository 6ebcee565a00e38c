"""Transactions the database gave up on for reasons of timing, and running them again.

PostgreSQL aborts one of two transactions that wait for each other's locks (deadlock_detected,
40P01) and, at stricter isolation levels, one that cannot be serialised (40001). Neither says
anything about the request: two concurrent actions happened to lock the same rows (a session
and the audit trail's head) in opposite orders. The right answer is to run the transaction
again from the start, which then waits for the other one instead of crossing it. Everything
else (a constraint, bad data, a lost connection) is raised at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger("hisaab.storage")

T = TypeVar("T")

TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 5
# Before attempt n+1, a pause of up to n x this: two transactions that crossed each other do
# not start again at the same instant.
BACKOFF_SECONDS = 0.02


def is_transient(exc: BaseException) -> bool:
    """A deadlock or serialisation failure: the transaction may simply be run again."""
    if not isinstance(exc, DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    return state in TRANSIENT_SQLSTATES


def retrying(attempt: Callable[[], T], *, on_retry: Callable[[], Any] | None = None) -> T:
    """Run `attempt` (one whole transaction) until it is not aborted for timing, at most
    ATTEMPTS times; `on_retry` cleans up (rolls back) before the next attempt."""
    for number in range(1, ATTEMPTS + 1):
        try:
            return attempt()
        except DBAPIError as exc:
            if not is_transient(exc) or number == ATTEMPTS:
                raise
            log.info("transaction aborted (%s); running it again", exc.orig)
            if on_retry is not None:
                on_retry()
            time.sleep(random.uniform(0, number * BACKOFF_SECONDS))
    raise AssertionError("unreachable")
