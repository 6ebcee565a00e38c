"""Writing and verifying the hash-chained audit log.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own canonical
JSON (time, actor, action, entity, details). Changing, deleting or reordering any entry breaks
every hash after it; `verify` names the first entry that does not check out.

Entries are written in the caller's transaction, so an action and its audit entry commit or
roll back together. Appenders take turns: on SQLite the database's write lock, on PostgreSQL
a transaction-level advisory lock, taken just before the head is read and held until the
transaction ends, so that appenders in several processes wait for each other instead of
failing (they used to: two API processes recording payments at once failed each other's
batches). The database also forbids forks: `prev_hash` is unique, so an insert on a head
that moved anyway fails, and is retried inside a savepoint on the new head. Locking the head
row instead would not do: PostgreSQL hands a waiting `FOR UPDATE` the row it waited on, not
the one appended meanwhile.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hisaab.storage.group_commit import retried_alone
from hisaab.storage.models import AuditEntry, utcnow

GENESIS = "0" * 64
_MAX_TRIES = 50
AUDIT = cast(Table, AuditEntry.__table__)
_HEAD = select(AUDIT.c.hash).order_by(AUDIT.c.id.desc()).limit(1)
_TAKE_SQLITE_WRITE_LOCK = sql_text("UPDATE audit_log SET id = id WHERE 0 = 1")
# pg_advisory_xact_lock's key for the audit trail's head: one number, the same everywhere.
AUDIT_LOCK_KEY = 0x61756469745F6C6F  # "audit_lo"
_TAKE_POSTGRES_TURN = sql_text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=AUDIT_LOCK_KEY)


def _take_turn(session: Session) -> None:
    """Wait for the appenders' turn, held until the caller's transaction ends."""
    if session.get_bind().dialect.name == "sqlite":
        # pysqlite begins a transaction only at the first write: take SQLite's write lock now,
        # so the head read below is the latest and the savepoint nests in the caller's
        # transaction (instead of starting one of its own that its release would commit).
        session.execute(_TAKE_SQLITE_WRITE_LOCK)
    else:
        session.execute(_TAKE_POSTGRES_TURN)


def _digest(
    prev_hash: str,
    at: dt.datetime,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: str | None,
    details: str,
) -> str:
    canonical = json.dumps(
        [
            prev_hash,
            at.astimezone(dt.UTC).isoformat(),
            actor_id,
            action,
            entity,
            entity_id,
            details,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record(
    session: Session,
    *,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: str | int | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append an entry in the caller's transaction (commits or rolls back with the action).

    Core statements, not the ORM: every write the API makes is audited, and reading the
    head and inserting the entry through the ORM cost about half a millisecond each time.
    """
    text = json.dumps(dict(details or {}), sort_keys=True, separators=(",", ":"), default=str)
    key = None if entity_id is None else str(entity_id)
    _take_turn(session)
    for _ in range(_MAX_TRIES):
        prev_hash = session.execute(_HEAD).scalar() or GENESIS
        at = utcnow()
        statement = insert(AUDIT).values(
            at=at,
            actor_id=actor_id,
            action=action,
            entity=entity,
            entity_id=key,
            details=text,
            prev_hash=prev_hash,
            hash=_digest(prev_hash, at, actor_id, action, entity, key, text),
        )
        if retried_alone(session):
            # A group commit's shared attempt: another process appending to the same head
            # fails the attempt, and each piece then runs alone, with the savepoint below.
            session.execute(statement)
            return
        try:
            with session.begin_nested():
                session.execute(statement)
        except IntegrityError:
            continue  # another transaction appended to this head first: link to the new one
        return
    raise RuntimeError(f"could not append to the audit trail after {_MAX_TRIES} tries")


@dataclass(frozen=True)
class Entry:
    """One audit entry to append with `record_many`."""

    actor_id: int | None
    action: str
    entity: str
    entity_id: str | int | None = None
    details: Mapping[str, Any] | None = None


def record_many(session: Session, entries: list[Entry]) -> None:
    """Append `entries` in order, in the caller's transaction, as `record` does one by one.

    In a group commit's shared attempt, with the appenders' turn taken (the head cannot
    move), the chain is computed here and the entries inserted by one executemany, which
    runs the inserts in order, so their ids follow the chain, as `verify` walks it. Alone,
    each entry goes through `record`.
    """
    if not retried_alone(session):
        for entry in entries:
            record(
                session,
                actor_id=entry.actor_id,
                action=entry.action,
                entity=entry.entity,
                entity_id=entry.entity_id,
                details=entry.details,
            )
        return
    _take_turn(session)
    prev_hash = session.execute(_HEAD).scalar() or GENESIS
    rows = []
    for entry in entries:
        text = json.dumps(
            dict(entry.details or {}), sort_keys=True, separators=(",", ":"), default=str
        )
        key = None if entry.entity_id is None else str(entry.entity_id)
        at = utcnow()
        digest = _digest(prev_hash, at, entry.actor_id, entry.action, entry.entity, key, text)
        rows.append(
            {
                "at": at,
                "actor_id": entry.actor_id,
                "action": entry.action,
                "entity": entry.entity,
                "entity_id": key,
                "details": text,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    if rows:
        session.connection().execute(insert(AUDIT), rows)


@dataclass(frozen=True)
class Verification:
    entries: int
    first_bad_id: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def verify(session: Session) -> Verification:
    """Walk the chain from the start; report the first entry whose hash or link is wrong."""
    prev_hash = GENESIS
    count = 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        count += 1
        if entry.prev_hash != prev_hash:
            return Verification(count, entry.id, "its link to the previous entry is broken")
        expected = _digest(
            entry.prev_hash,
            entry.at,
            entry.actor_id,
            entry.action,
            entry.entity,
            entry.entity_id,
            entry.details,
        )
        if entry.hash != expected:
            return Verification(count, entry.id, "its content does not match its hash")
        prev_hash = entry.hash
    return Verification(count, None, None)
