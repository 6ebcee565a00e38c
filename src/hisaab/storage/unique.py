"""Adding a row whose unique key a concurrent writer may have taken: a Conflict, never a 500.

On PostgreSQL the insert runs in a savepoint, so a key taken by another transaction fails
only the savepoint and the caller gets a Conflict with its transaction intact. On SQLite it
is flushed in the transaction itself: Python's sqlite3 begins a transaction only before
INSERT/UPDATE/DELETE, so a savepoint opened before a transaction's first write became a
transaction of its own, and releasing it committed that write alone, whatever became of the
rest (a refund file refused on its third row kept its first). SQLite has one writer at a time,
and a Conflict there ends the caller's transaction, which a conflict does anyway.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hisaab.errors import Conflict
from hisaab.storage.sql import on_postgres


def add_unique(session: Session, row: object, conflict: str) -> None:
    """Add `row`; Conflict(`conflict`) when its unique key is taken."""
    try:
        if on_postgres(session):
            with session.begin_nested():
                session.add(row)
        else:
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(conflict) from None
