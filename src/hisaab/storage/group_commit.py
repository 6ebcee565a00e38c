"""Group commit: many requests' small writes in one transaction, answered after its commit.

A durable commit costs a disk flush (several milliseconds on SQLite with synchronous=FULL, one
or two on PostgreSQL), however little it writes. Callbacks arrive a thousand a second, so one
transaction per callback would spend the machine on flushes. Instead, work submitted while a
commit is in progress waits for the next one, and every caller gets its answer only after the
commit that holds its write: nothing is acknowledged that is not on disk, and one flush serves
a whole batch.

One writer thread does the database work, so the event loop never blocks on the database. If
one piece of work in a batch raises, the batch is rolled back and each piece runs again in a
transaction of its own, so one bad request never fails the others (a batch of one runs again
too: work may rely on that retry, see `retried_alone`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from hisaab.storage.transient import retrying

logger = logging.getLogger("hisaab.storage.group_commit")

T = TypeVar("T")
Work = Callable[[Session], Any]
_FIRST_ATTEMPT = "hisaab.group_commit.first_attempt"  # Session.info key; see retried_alone


class _Item(Generic[T]):
    """One submission: `work(session)`, or `item` for a batch function `many` (keyed by it)."""

    __slots__ = ("future", "item", "loop", "many", "work")

    def __init__(
        self,
        work: Callable[[Session], T] | None,
        loop: asyncio.AbstractEventLoop,
        future: Any,
        *,
        item: Any = None,
        many: Callable[[Session, list[Any]], list[T]] | None = None,
    ) -> None:
        self.work = work
        self.loop = loop
        self.future = future
        self.item = item
        self.many = many


class GroupCommit:
    """Runs submitted work in shared transactions on one writer thread.

    `after_commit(session)`, if given, is called with the session of each committed
    transaction (its `info` tells what the work did), before the callers get their answers;
    it must be quick (waking a worker is).
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        *,
        max_batch: int = 500,
        after_commit: Callable[[Session], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.sessions = sessions
        self.max_batch = max_batch
        self.after_commit = after_commit
        self.commits = 0
        self.written = 0
        self._items: deque[_Item[Any]] = deque()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    async def submit(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` in the next group transaction; return its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        return await self._enqueue(_Item(work, loop, future), future)

    async def submit_many(self, item: Any, many: Callable[[Session, list[Any]], list[T]]) -> T:
        """Pass `item` to `many(session, items)` together with the other items for `many` in
        the same group transaction (one call, fewer statements); returns this item's result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        return await self._enqueue(_Item(None, loop, future, item=item, many=many), future)

    async def _enqueue(self, entry: _Item[Any], future: asyncio.Future[T]) -> T:
        with self._wake:
            if self._stopping:
                raise RuntimeError("the group committer has stopped")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hisaab-group-commit", daemon=True
                )
                self._thread.start()
            self._items.append(entry)
            self._wake.notify()
        return await future

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what was submitted, then stop the writer thread (a later submit restarts it)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._wake:
            if thread is None or not thread.is_alive():
                self._thread = None
                self._stopping = False

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._items and not self._stopping:
                    self._wake.wait()
                if not self._items:
                    return
                batch = [
                    self._items.popleft() for _ in range(min(self.max_batch, len(self._items)))
                ]
            for item, outcome in zip(batch, self._write(batch), strict=True):
                item.loop.call_soon_threadsafe(_settle, item.future, outcome)

    def _write(self, batch: list[_Item[Any]], *, alone: bool = False) -> list[tuple[bool, Any]]:
        try:
            # Alone, a piece aborted for a deadlock with another process runs again.
            results, session = (
                retrying(lambda: self._attempt(batch, alone)) if alone else self._attempt(batch)
            )
            self.commits += 1
            self.written += len(batch)
            if self.after_commit is not None:
                try:
                    self.after_commit(session)
                except Exception:  # a hint such as a wake-up must never fail the writes
                    logger.exception("after_commit hook failed")
            return results
        except Exception as exc:
            if alone:
                return [(False, exc)]
        # Something in the batch failed: nothing of it was kept. Run each piece on its own.
        return [outcome for item in batch for outcome in self._write([item], alone=True)]

    def _attempt(
        self, batch: list[_Item[Any]], alone: bool = False
    ) -> tuple[list[tuple[bool, Any]], Session]:
        with self.sessions() as session, session.begin():
            session.info[_FIRST_ATTEMPT] = not alone
            return _run(session, batch), session


def retried_alone(session: Session) -> bool:
    """Whether, if `session`'s transaction fails, each piece of work in it runs again alone:
    true in the group commit's first, shared attempt. Work that would otherwise guard a risky
    step with a savepoint (a round trip to set, one to release) may then let it fail the
    attempt, and guard it in the retry."""
    return bool(session.info.get(_FIRST_ATTEMPT))


def _run(session: Session, batch: list[_Item[Any]]) -> list[tuple[bool, Any]]:
    """Each single piece of work in order; the items of each batch function in one call."""
    results: list[tuple[bool, Any] | None] = [None] * len(batch)
    groups: dict[Any, list[int]] = {}
    for n, entry in enumerate(batch):
        if entry.work is not None:
            results[n] = (True, entry.work(session))
        else:
            groups.setdefault(entry.many, []).append(n)
    for many, positions in groups.items():
        answers = many(session, [batch[n].item for n in positions])
        for n, answer in zip(positions, answers, strict=True):
            results[n] = (True, answer)
    return [r for r in results if r is not None]


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():  # the request was cancelled (client went away); its write stands
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
