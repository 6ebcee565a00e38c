"""Routes of the exceptions area: reading one with its history, and the maker-checker workflow.

GET /api/exceptions/{id}, POST .../assign, .../resolve, .../approve, .../reject. The steps and
their rules live in `hisaab.recon.exceptions`; these routes parse, call it and shape the answer.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from hisaab.api.deps import CurrentUser, Router, SessionDep, SettingsDep, require
from hisaab.auth.roles import (
    EXCEPTIONS_APPROVE,
    EXCEPTIONS_RESOLVE,
    MERCHANT_DASHBOARD,
    OVERVIEW_READ,
)
from hisaab.auth.tokens import Claims
from hisaab.errors import Forbidden, InputError
from hisaab.recon import exceptions as workflow
from hisaab.recon.approval import ApprovalThresholds
from hisaab.recon.exceptions import ExceptionWithHistory

router = Router(prefix="/api/exceptions", tags=["exceptions"])

# Platform staff holding one of these read every exception; a merchant-admin reads its own.
PLATFORM_READ: Final = frozenset({EXCEPTIONS_RESOLVE, OVERVIEW_READ})

ExceptionId = Annotated[int, Path(gt=0, le=2**63 - 1)]
Resolver = Annotated[Claims, Depends(require(EXCEPTIONS_RESOLVE))]
Approver = Annotated[Claims, Depends(require(EXCEPTIONS_APPROVE))]
Reason = Annotated[str, Field(max_length=workflow.MAX_REASON_LENGTH)]


def reader(claims: CurrentUser) -> Claims:
    """Platform readers, and merchant-admins (scoped to their merchant's jobs), else 403."""
    if claims.permissions & PLATFORM_READ:
        return claims
    if claims.merchant_id is not None and MERCHANT_DASHBOARD in claims.permissions:
        return claims
    raise Forbidden(
        f"the {claims.role} role lacks the permission {EXCEPTIONS_RESOLVE} or {OVERVIEW_READ}"
    )


Reader = Annotated[Claims, Depends(reader)]


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: int = Field(gt=0, le=2**31 - 1)


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: Literal["manual_match", "write_off", "mark_duplicate", "accept", "reopen"]
    reason: Reason
    record_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=workflow.MAX_RECORD_IDS
    )


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class ActionView(BaseModel):
    action: str
    resolution: str | None
    reason: str | None
    record_ids: list[str] | None
    actor_id: int
    status_after: str
    at: dt.datetime


class ExceptionView(BaseModel):
    id: int
    job_id: int
    category: str
    side: str
    record_id: str
    source_line: int
    amount_minor: int
    currency: str
    value_date: dt.date
    utr: str | None
    details: Any
    status: str
    owner_id: int | None
    sla_due_at: dt.datetime | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str | None
    resolution_reason: str | None
    resolved_by: int | None
    approved_by: int | None
    history: list[ActionView]


@router.get("/{exception_id}", response_model=ExceptionView)
def get_exception(exception_id: ExceptionId, session: SessionDep, claims: Reader) -> ExceptionView:
    scope = None if claims.permissions & PLATFORM_READ else claims.merchant_id
    return _view(workflow.get_with_history(session, exception_id, merchant_id=scope))


@router.post("/{exception_id}/assign", response_model=ExceptionView)
def assign_exception(
    exception_id: ExceptionId, body: AssignRequest, session: SessionDep, claims: Resolver
) -> ExceptionView:
    return _view(
        workflow.assign(session, exception_id, actor_id=claims.user_id, owner_id=body.owner_id)
    )


@router.post("/{exception_id}/resolve", response_model=ExceptionView)
def resolve_exception(
    exception_id: ExceptionId,
    body: ResolveRequest,
    session: SessionDep,
    settings: SettingsDep,
    claims: Resolver,
) -> ExceptionView:
    if body.resolution == "reopen":
        if body.record_ids:
            raise InputError(
                "record_ids apply only to manual_match, not reopen", column="record_ids"
            )
        return _view(
            workflow.reopen(session, exception_id, actor_id=claims.user_id, reason=body.reason)
        )
    return _view(
        workflow.resolve(
            session,
            exception_id,
            actor_id=claims.user_id,
            resolution=body.resolution,
            reason=body.reason,
            record_ids=body.record_ids,
            approval_thresholds=ApprovalThresholds.from_settings(settings),
        )
    )


@router.post("/{exception_id}/approve", response_model=ExceptionView)
def approve_exception(
    exception_id: ExceptionId, session: SessionDep, claims: Approver
) -> ExceptionView:
    return _view(workflow.approve(session, exception_id, actor_id=claims.user_id))


@router.post("/{exception_id}/reject", response_model=ExceptionView)
def reject_exception(
    exception_id: ExceptionId, body: RejectRequest, session: SessionDep, claims: Approver
) -> ExceptionView:
    return _view(
        workflow.reject(session, exception_id, actor_id=claims.user_id, reason=body.reason)
    )


def _view(found: ExceptionWithHistory) -> ExceptionView:
    exc = found.exception
    return ExceptionView(
        id=exc.id,
        job_id=exc.job_id,
        category=exc.category,
        side=exc.side,
        record_id=exc.record_id,
        source_line=exc.source_line,
        amount_minor=exc.amount_minor,
        currency=exc.currency,
        value_date=exc.value_date,
        utr=exc.utr,
        details=json.loads(exc.details),
        status=exc.status,
        owner_id=exc.owner_id,
        sla_due_at=exc.sla_due_at,
        created_at=exc.created_at,
        resolved_at=exc.resolved_at,
        resolution=exc.resolution,
        resolution_reason=exc.resolution_reason,
        resolved_by=exc.resolved_by,
        approved_by=exc.approved_by,
        history=[
            ActionView(
                action=a.action,
                resolution=a.resolution,
                reason=a.reason,
                record_ids=None if a.record_ids is None else json.loads(a.record_ids),
                actor_id=a.actor_id,
                status_after=a.status_after,
                at=a.at,
            )
            for a in found.history
        ],
    )
