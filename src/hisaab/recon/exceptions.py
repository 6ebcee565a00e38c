"""The exception workflow: assigning, resolving with maker-checker, approving and reopening.

The states of an exception and the steps between them (any other step is a Conflict, 409):

    step      from                          to                  who
    assign    open, in_review               in_review           exceptions:resolve
    resolve   open, in_review               resolved            exceptions:resolve
                                            pending_approval    ... above the threshold
    approve   pending_approval              resolved            exceptions:approve, not the maker
    reject    pending_approval              in_review           exceptions:approve, not the maker
    reopen    pending_approval, resolved    open                exceptions:resolve

    happy path: open --assign--> in_review --resolve--> pending_approval --approve--> resolved

The caller (route, CLI) checks the permissions; "not the maker" is checked here, since it
depends on the row.
Maker-checker: a resolution of an amount above its currency's approval threshold, or in a
currency without one (see `hisaab.recon.approval`), is stored as pending (status, resolution,
reason, resolved_by = the maker) until a different user approves it.
Every step appends one ExceptionAction row and one audit entry in the caller's transaction;
only the caller commits.

Racing steps: the row is read with SELECT ... FOR UPDATE on PostgreSQL, and every change is a
guarded UPDATE that applies only while the workflow columns still hold what the checks saw
(`WHERE id = :id AND status = :seen AND ...`; on SQLite the database lock serialises the
writers). Of two racing steps exactly one changes the row; the other gets Conflict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.orm import Session

from hisaab.audit.log import record
from hisaab.auth.roles import EXCEPTIONS_RESOLVE, permissions_of
from hisaab.errors import Conflict, Forbidden, InputError, NotFound
from hisaab.ingest.findings import FINDING_CATEGORIES
from hisaab.recon import feed
from hisaab.recon.approval import ApprovalThresholds
from hisaab.storage.models import (
    RESOLUTIONS,
    ExceptionAction,
    ReconciliationException,
    ReconciliationJob,
    User,
    utcnow,
)
from hisaab.storage.sql import on_postgres

# The states each step may start from; the docstring's table, as data.
STARTS_FROM: Final[Mapping[str, tuple[str, ...]]] = {
    "assign": ("open", "in_review"),
    "resolve": ("open", "in_review"),
    "approve": ("pending_approval",),
    "reject": ("pending_approval",),
    "reopen": ("pending_approval", "resolved"),
}
MAX_REASON_LENGTH: Final = 2000
MAX_RECORD_IDS: Final = 1000

_Exc = ReconciliationException
# What the checks of a step read; a guarded UPDATE applies only while these are unchanged.
_GUARDED: Final = ("status", "owner_id", "resolution", "resolved_by")


@dataclass(frozen=True)
class ExceptionWithHistory:
    """An exception and every step taken on it, oldest first."""

    exception: ReconciliationException
    history: list[ExceptionAction]


def get_with_history(
    session: Session, exception_id: int, *, merchant_id: str | None = None
) -> ExceptionWithHistory:
    """The exception with its history; with `merchant_id`, only if its job is that merchant's.

    An exception of another merchant is NotFound, exactly like one that does not exist.
    """
    query = select(_Exc).where(_Exc.id == exception_id)
    if merchant_id is not None:
        query = query.join(ReconciliationJob, ReconciliationJob.id == _Exc.job_id).where(
            ReconciliationJob.merchant_id == merchant_id
        )
    found = session.scalars(query).first()
    if found is None:
        raise NotFound(f"no exception {exception_id}")
    return ExceptionWithHistory(found, _history(session, found.id))


def assign(
    session: Session, exception_id: int, *, actor_id: int, owner_id: int
) -> ExceptionWithHistory:
    """Give the exception an owner who can resolve it; an open exception goes into review."""
    exc = _locked(session, exception_id, "assign")
    owner = session.get(User, owner_id)
    if owner is None or not owner.is_active:
        raise InputError(f"no active user {owner_id}", column="owner_id")
    if EXCEPTIONS_RESOLVE not in permissions_of(owner.role):
        raise InputError(
            f"user {owner_id} ({owner.role}) cannot resolve exceptions",
            column="owner_id",
            expected=f"a user whose role holds {EXCEPTIONS_RESOLVE}",
        )
    before = exc.status
    _change(session, exc, status="in_review", owner_id=owner_id)
    return _logged(
        session,
        exc,
        before,
        action="assign",
        actor_id=actor_id,
        details={"owner_id": owner_id},
    )


def resolve(
    session: Session,
    exception_id: int,
    *,
    actor_id: int,
    resolution: str,
    reason: str,
    record_ids: Sequence[str] | None = None,
    approval_thresholds: ApprovalThresholds,
) -> ExceptionWithHistory:
    """Resolve at once, or, above its currency's approval threshold, record it as pending.

    An exception in a currency without a threshold always waits for approval; the audit
    entry says why.

    `manual_match` names the counterpart records: records of the same job's exceptions on the
    other side. Other resolutions take no record ids.
    """
    if resolution not in RESOLUTIONS:
        raise InputError(
            f"unknown resolution {resolution!r}",
            column="resolution",
            expected=", ".join(RESOLUTIONS),
        )
    reason = _reason(reason)
    exc = _locked(session, exception_id, "resolve")
    matched = _counterparts(session, exc, resolution, record_ids)
    before = exc.status
    pending = approval_thresholds.needs_approval(exc.amount_minor, exc.currency)
    _change(
        session,
        exc,
        status="pending_approval" if pending else "resolved",
        resolution=resolution,
        resolution_reason=reason,
        resolved_by=actor_id,
        approved_by=None,
        resolved_at=None if pending else utcnow(),
    )
    details: dict[str, Any] = {"resolution": resolution, "reason": reason}
    if matched is not None:
        details["record_ids"] = matched
    if pending:
        details.update(approval_thresholds.why(exc.currency))
    return _logged(
        session,
        exc,
        before,
        action="resolve",
        actor_id=actor_id,
        resolution=resolution,
        reason=reason,
        record_ids=matched,
        details=details,
    )


def approve(session: Session, exception_id: int, *, actor_id: int) -> ExceptionWithHistory:
    """Complete a pending resolution: the checker must not be its maker."""
    exc = _locked(session, exception_id, "approve")
    _not_the_maker(exc, actor_id, "approve")
    before = exc.status
    _change(session, exc, status="resolved", approved_by=actor_id, resolved_at=utcnow())
    return _logged(
        session,
        exc,
        before,
        action="approve",
        actor_id=actor_id,
        resolution=exc.resolution,
        details={"resolution": exc.resolution, "maker_id": exc.resolved_by},
    )


def reject(
    session: Session, exception_id: int, *, actor_id: int, reason: str
) -> ExceptionWithHistory:
    """Refuse a pending resolution: it is cleared and the exception goes back into review."""
    reason = _reason(reason)
    exc = _locked(session, exception_id, "reject")
    _not_the_maker(exc, actor_id, "reject")
    refused, maker = exc.resolution, exc.resolved_by
    before = exc.status
    _change(
        session,
        exc,
        status="in_review",
        resolution=None,
        resolution_reason=None,
        resolved_by=None,
    )
    return _logged(
        session,
        exc,
        before,
        action="reject",
        actor_id=actor_id,
        resolution=refused,
        reason=reason,
        details={"resolution": refused, "maker_id": maker, "reason": reason},
    )


def reopen(
    session: Session, exception_id: int, *, actor_id: int, reason: str
) -> ExceptionWithHistory:
    """Take a resolved or pending exception back to open, clearing its resolution."""
    reason = _reason(reason)
    exc = _locked(session, exception_id, "reopen")
    cleared = exc.resolution
    before = exc.status
    _change(
        session,
        exc,
        status="open",
        resolution=None,
        resolution_reason=None,
        resolved_by=None,
        approved_by=None,
        resolved_at=None,
    )
    return _logged(
        session,
        exc,
        before,
        action="reopen",
        actor_id=actor_id,
        reason=reason,
        details={"cleared_resolution": cleared, "reason": reason},
    )


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InputError("a reason is required", column="reason", expected="a sentence saying why")
    if len(text) > MAX_REASON_LENGTH:
        raise InputError(
            "the reason is too long", column="reason", expected=f"{MAX_REASON_LENGTH} characters"
        )
    return text


def _locked(session: Session, exception_id: int, step: str) -> ReconciliationException:
    """The exception, row-locked on PostgreSQL, if `step` may start from its state."""
    query: Select[ReconciliationException] = (
        select(_Exc).where(_Exc.id == exception_id).execution_options(populate_existing=True)
    )
    if on_postgres(session):
        query = query.with_for_update()
    exc = session.scalars(query).first()
    if exc is None:
        raise NotFound(f"no exception {exception_id}")
    if exc.status not in STARTS_FROM[step]:
        raise Conflict(_refusal(exc, step))
    return exc


def _refusal(exc: ReconciliationException, step: str) -> str:
    name = f"exception {exc.id} is {exc.status}"
    if exc.status == "resolved":
        return f"{name} ({exc.resolution}); reopen it first"
    if exc.status == "pending_approval":
        return f"{name} ({exc.resolution}); approve, reject or reopen it first"
    if step in ("approve", "reject"):
        return f"{name}: there is no pending resolution to {step}"
    return f"{name}: only a resolved or pending exception can be reopened"


def _not_the_maker(exc: ReconciliationException, actor_id: int, step: str) -> None:
    if exc.resolved_by == actor_id:
        raise Forbidden(
            f"maker-checker: you proposed this {exc.resolution}, so you cannot {step} it; "
            "another user holding exceptions:approve must"
        )


def _counterparts(
    session: Session,
    exc: ReconciliationException,
    resolution: str,
    record_ids: Sequence[str] | None,
) -> list[str] | None:
    """The de-duplicated record ids of a manual match, all known on the job's other side."""
    if resolution != "manual_match":
        if record_ids:
            raise InputError(
                f"record_ids apply only to manual_match, not {resolution}", column="record_ids"
            )
        return None
    if exc.category in FINDING_CATEGORIES:
        raise InputError(
            f"a {exc.category} is about a whole statement, not a record, so it cannot be matched",
            column="resolution",
            expected="write_off or accept, with the reason",
        )
    wanted = list(dict.fromkeys(r.strip() for r in record_ids or ()))
    if not wanted or "" in wanted:
        raise InputError(
            "manual_match needs the records it matches",
            column="record_ids",
            expected="one or more non-blank record ids from the other side of the same job",
        )
    if len(wanted) > MAX_RECORD_IDS:
        raise InputError("too many record ids", column="record_ids", expected=f"{MAX_RECORD_IDS}")
    other = "bank" if exc.side == "pg" else "pg"
    known = set(
        session.scalars(
            select(_Exc.record_id).where(
                _Exc.job_id == exc.job_id,
                _Exc.side == other,
                _Exc.record_id.in_(wanted),
                _Exc.category.not_in(FINDING_CATEGORIES),
            )
        )
    )
    unknown = [r for r in wanted if r not in known]
    if unknown:
        raise InputError(
            f"unknown {other} records of job {exc.job_id}: {', '.join(unknown)}",
            column="record_ids",
            expected=f"record ids of the job's {other}-side exceptions",
        )
    return wanted


def _change(session: Session, exc: ReconciliationException, **values: Any) -> None:
    """The guarded UPDATE: it applies only while the guarded columns hold what was read."""
    guard = [getattr(_Exc, c).is_not_distinct_from(getattr(exc, c)) for c in _GUARDED]
    statement = (
        update(_Exc)
        .where(_Exc.id == exc.id, *guard)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], session.execute(statement))
    if result.rowcount != 1:
        raise Conflict(f"exception {exc.id} was changed by someone else meanwhile; reload it")
    session.refresh(exc)
    feed.exception_changed(session, exc)  # its payment and the Overview's figures follow


def _logged(
    session: Session,
    exc: ReconciliationException,
    status_before: str,
    *,
    action: str,
    actor_id: int,
    details: Mapping[str, Any],
    resolution: str | None = None,
    reason: str | None = None,
    record_ids: list[str] | None = None,
) -> ExceptionWithHistory:
    """Append the step to the history and the audit trail (same transaction as the change)."""
    session.add(
        ExceptionAction(
            exception_id=exc.id,
            action=action,
            resolution=resolution,
            reason=reason,
            record_ids=None if record_ids is None else json.dumps(record_ids),
            actor_id=actor_id,
            status_after=exc.status,
        )
    )
    session.flush()
    record(
        session,
        actor_id=actor_id,
        action=f"exception_{action}",
        entity="exception",
        entity_id=exc.id,
        details={
            **details,
            "job_id": exc.job_id,
            "amount_minor": exc.amount_minor,
            "currency": exc.currency,
            "status_before": status_before,
            "status_after": exc.status,
        },
    )
    return ExceptionWithHistory(exc, _history(session, exc.id))


def _history(session: Session, exception_id: int) -> list[ExceptionAction]:
    query = (
        select(ExceptionAction)
        .where(ExceptionAction.exception_id == exception_id)
        .order_by(ExceptionAction.id)
    )
    return list(session.scalars(query))
