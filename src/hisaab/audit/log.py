"""Writing and verifying the hash-chained audit log.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own canonical
JSON (time, actor, action, entity, details). Changing, deleting or reordering any entry breaks
every hash after it; `verify` names the first entry that does not check out.

Entries are written in the caller's transaction, so an action and its audit entry commit or
roll back together. The database forbids forks: `prev_hash` is unique, so when two
transactions append at once the second insert fails (on PostgreSQL it waits for the first to
commit, then fails); it is retried inside a savepoint on the new head. Locking the head row
instead is not enough: PostgreSQL hands a waiting `FOR UPDATE` the row it waited on, not the
one appended meanwhile.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hisaab.storage.models import AuditEntry, utcnow

GENESIS = "0" * 64
_MAX_TRIES = 50


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
) -> AuditEntry:
    """Append an entry in the caller's transaction (commits or rolls back with the action)."""
    text = json.dumps(dict(details or {}), sort_keys=True, separators=(",", ":"), default=str)
    key = None if entity_id is None else str(entity_id)
    if session.get_bind().dialect.name == "sqlite":
        # pysqlite begins a transaction only at the first write: take SQLite's write lock now,
        # so the head read below is the latest and the savepoint nests in the caller's
        # transaction (instead of starting one of its own that its release would commit).
        session.execute(sql_text("UPDATE audit_log SET id = id WHERE 0 = 1"))
    for _ in range(_MAX_TRIES):
        head = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
        prev_hash = head.hash if head is not None else GENESIS
        at = utcnow()
        entry = AuditEntry(
            at=at,
            actor_id=actor_id,
            action=action,
            entity=entity,
            entity_id=key,
            details=text,
            prev_hash=prev_hash,
            hash=_digest(prev_hash, at, actor_id, action, entity, key, text),
        )
        try:
            with session.begin_nested():
                session.add(entry)
        except IntegrityError:
            continue  # another transaction appended to this head first: link to the new one
        return entry
    raise RuntimeError(f"could not append to the audit trail after {_MAX_TRIES} tries")


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
