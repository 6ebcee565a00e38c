"""Engines for the application database from a plain URL; the driver is Hisaab's business.

`sqlite:///path` (the embedded default: WAL journal, foreign keys on, a busy timeout so the
API, worker and scheduler processes can share the file, and synchronous=NORMAL: a commit is
safe from any crash of Hisaab's processes, SIGKILL included, without a disk flush per commit;
only a power cut or OS crash can lose the last commits, as SQLite documents for WAL mode) or `postgresql://user:pass@host/db`
(driven by psycopg 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

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


def make_engine(url: str, **kwargs: Any) -> Engine:
    full = sqlalchemy_url(url)
    if full.startswith("sqlite"):
        database = make_url(full).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(full, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(full, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
