"""How many database connections an API process needs, and the rule that keeps waits finite.

A request's work runs in the thread pool (FastAPI's sync routes and dependencies); its
database session lives from its first query until the request's dependency commits it, which
is a *later* thread-pool call. A pool sized by guesswork deadlocks under load that way: with
enough clients, every pool thread waits for a connection while every connection belongs to a
request that needs a pool thread to commit and give it back (found with 64 clients: requests
hung 30 s, then 500).

So an API process follows two rules:

* at most `request_sessions` requests hold a session across thread-pool calls at once; the
  rest wait for a slot in the event loop (`DbGate`), which blocks no thread;
* at most `threads` thread-pool calls run at once, and one that opens a session of its own
  (authentication, STK Push) closes it before it returns;
* a request's commit (or rollback) runs on threads of its own, one per slot, never waiting
  for a thread-pool thread: otherwise a request holding SQLite's write lock (or PostgreSQL row
  locks) could wait for a thread to commit while every thread waits for that lock.

The pool then has a connection for every holder: `threads + request_sessions + reserved`
(the group commit's writer, an in-process worker, progress updates), and a checkout never
waits for a connection that only a waiting thread could free.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType

from anyio import CapacityLimiter

# Connections for the process's own threads: the group commit writer, an in-process worker
# (its session and its job's progress session), a CSV export's reader, and one spare.
RESERVED_CONNECTIONS = 6


@dataclass(frozen=True)
class Capacity:
    threads: int
    request_sessions: int

    @property
    def pool_connections(self) -> int:
        return self.threads + self.request_sessions + RESERVED_CONNECTIONS


class DbGate:
    """`request_sessions` slots (an asyncio semaphore) and as many threads to end sessions
    with (`enders`), created in the loop that uses them.

    A slot is held from a request's first use of its session to the end of its commit, and by
    a streaming response that reads the database for as long as it streams.
    """

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._semaphore: asyncio.Semaphore | None = None
        self._enders: CapacityLimiter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            # A new event loop (tests run several apps' loops one after another): new slots.
            self._semaphore, self._loop = asyncio.Semaphore(self.slots), loop
            self._enders = CapacityLimiter(self.slots)
        return self._semaphore

    @property
    def enders(self) -> CapacityLimiter:
        """Threads for commits and rollbacks of requests holding a slot (one per slot)."""
        self._current()
        assert self._enders is not None
        return self._enders

    async def __aenter__(self) -> None:
        await self._current().acquire()

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._current().release()
