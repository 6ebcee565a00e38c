"""Engines for the application database from a plain URL; the driver is Hisaab's business.

`sqlite:///path` (the embedded default: WAL journal, foreign keys on, a busy timeout so the
API, worker and scheduler processes can share the file, and synchronous=NORMAL: a commit is
safe from any crash of Hisaab's processes, SIGKILL included, without a disk flush per commit;
only a power cut or OS crash can lose the last commits, as SQLite documents for WAL mode) or `postgresql://user:pass@host/db`
(driven by psycopg 3).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from hisaab.errors import InputError


def sqlalchemy_url(url: str) -> str:
    """The URL with the driver Hisaab uses (psycopg 3 for PostgreSQL)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith(("sqlite://", "postgresql+psycopg://")):
        return url
    raise InputError(
        f"unsupported database URL {url.split('://')[0]}://...",
        expected="sqlite:///path or postgresql://user:pass@host:port/db",
    )


def make_engine(
    url: str, *, pool_connections: int | None = None, pool_timeout: float = 30.0, **kwargs: Any
) -> Engine:
    """An engine for `url`; `pool_connections` fixes its pool to that many connections (no
    overflow), for a process that has worked out how many it needs (hisaab.api.capacity)."""
    full = sqlalchemy_url(url)
    memory = full.startswith("sqlite") and make_url(full).database in (None, "", ":memory:")
    if pool_connections is not None and not memory:
        # An in-memory SQLite database lives in one connection: its pool is not sized.
        kwargs.update(pool_size=pool_connections, max_overflow=0, pool_timeout=pool_timeout)
    if full.startswith("sqlite"):
        database = make_url(full).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(full, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        _queue_writers(engine)
        return engine
    engine = create_engine(full, **kwargs)
    event.listen(engine, "connect", _postgres_session_settings)
    _ping_when_idle(engine)
    return engine


# A pooled connection unused this long is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping, but only for connections that sat idle a while.

    pre_ping costs a round trip on every checkout, which on the callback path was one
    transaction in seven statements (the group commit and the worker check out a connection
    per batch). A connection used within the last second is as likely to be alive as one
    just pinged; one that sat longer (a database restart, a closed idle connection) is
    pinged, and a dead one is replaced before anyone sees it, as with pre_ping.
    """

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc
        if not alive:
            raise DisconnectionError("pooled connection is gone")

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checkout)


def _postgres_session_settings(dbapi_connection: Any, _record: Any) -> None:
    """Plan every execution of a prepared statement for its own parameters.

    psycopg prepares a statement it has run five times. PostgreSQL may then switch to one
    generic plan, chosen while a table was small, and keep it as the table grows: an
    `= ANY(:ids)` lookup of real-time events went from a 0.8 ms index scan to a 60 ms
    sequential scan over 20,000 rows that way. Custom plans cost a planning pass each
    (tens of microseconds for these statements) and follow the data.
    """
    dbapi_connection.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()  # SET is transactional: a rollback at check-in would undo it


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "WITH")
# No longer than SQLite's own busy timeout: past it, a writer proceeds and SQLite decides.
WRITER_WAIT_SECONDS = 5.0


def _queue_writers(engine: Engine) -> None:
    """Make the threads of one process take turns writing to SQLite, first come first served.

    SQLite has one writer at a time; a connection that finds the file locked sleeps in its
    busy handler (1 ms, growing to 100 ms between tries). Under a steady stream of writes
    (callbacks a thousand a second) a sleeper can be overtaken again and again, and a worker
    waited seconds. Here a thread about to write its transaction's first statement waits on a
    lock that is handed over as soon as the writing transaction commits or rolls back. Other
    processes still meet SQLite's busy handler, as before.
    """
    lock = threading.Lock()
    holders: set[int] = set()
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def before_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        key = id(conn.connection.dbapi_connection)
        if key in holders or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        if lock.acquire(timeout=WRITER_WAIT_SECONDS):
            holders.add(key)

    def release(connection: Any) -> None:
        # Called with the pool's proxy or the raw connection, depending on the caller.
        key = id(getattr(connection, "dbapi_connection", None) or connection)
        if key in holders:
            holders.discard(key)
            lock.release()

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            release(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            release(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]
    event.listen(engine, "before_cursor_execute", before_execute)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
