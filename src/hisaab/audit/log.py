"""Writing and verifying the hash-chained audit log.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own canonical
JSON (time, actor, action, entity, details). Changing, deleting or reordering any entry breaks
every hash after it; `verify` names the first entry that does not check out.

Entries are written in the caller's transaction, so an action and its audit entry commit or
roll back together. Concurrent writers serialise on the chain's head (row lock on PostgreSQL,
the database lock on SQLite): the chain never forks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hisaab.storage.models import AuditEntry, utcnow

GENESIS = "0" * 64


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
    head_query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        head_query = head_query.with_for_update()
    head = session.scalars(head_query).first()
    prev_hash = head.hash if head is not None else GENESIS
    at = utcnow()
    text = json.dumps(dict(details or {}), sort_keys=True, separators=(",", ":"), default=str)
    key = None if entity_id is None else str(entity_id)
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
    session.add(entry)
    session.flush()
    return entry


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
