"""Routes of manual adjustments: propose, list, approve, reject (maker-checker).

POST /api/adjustments (`merchants:write`), GET /api/adjustments (finance and ops; a
merchant-admin its own merchant's), POST /api/adjustments/{id}/approve and .../reject
(`settlements:approve`, a different user from the proposer).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from hisaab.api.deps import Router, SessionDep, merchant_scope, platform_or_own, require
from hisaab.auth.roles import MERCHANT_SETTLEMENTS, MERCHANTS_WRITE, SETTLEMENTS_READ, TERMS_APPROVE
from hisaab.auth.tokens import Claims
from hisaab.settlement import adjustments as service
from hisaab.settlement.adjustments import MAX_ADJUSTMENT_MINOR, AdjustmentView

router = Router(prefix="/api/adjustments", tags=["adjustments"])

PLATFORM_READ = frozenset({SETTLEMENTS_READ, MERCHANTS_WRITE})
AdjustmentId = Annotated[str, Path(min_length=1, max_length=64)]
Maker = Annotated[Claims, Depends(require(MERCHANTS_WRITE))]
Checker = Annotated[Claims, Depends(require(TERMS_APPROVE))]


reader = platform_or_own(PLATFORM_READ, MERCHANT_SETTLEMENTS, named=SETTLEMENTS_READ)


Reader = Annotated[Claims, Depends(reader)]


class ProposeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=64)]
    merchant_id: Annotated[str, Field(min_length=1, max_length=32)]
    amount_minor: Annotated[int, Field(ge=-MAX_ADJUSTMENT_MINOR, le=MAX_ADJUSTMENT_MINOR)]
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    note: Annotated[str, Field(min_length=1, max_length=2000)]


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str | None, Field(max_length=2000)] = None


class AdjustmentOut(BaseModel):
    id: str
    merchant_id: str
    amount_minor: int
    currency: str
    note: str
    status: str
    proposed_by: int
    proposed_at: dt.datetime
    decided_by: int | None
    decided_at: dt.datetime | None
    decision_reason: str | None
    settlement_id: int | None


class AdjustmentPage(BaseModel):
    adjustments: list[AdjustmentOut]
    next_after: str | None


@router.post("", response_model=AdjustmentOut, status_code=201)
def propose(body: ProposeRequest, session: SessionDep, claims: Maker) -> AdjustmentOut:
    return _out(
        service.propose(
            session,
            adjustment_id=body.id,
            merchant_id=body.merchant_id,
            amount_minor=body.amount_minor,
            currency=body.currency,
            note=body.note,
            actor_id=claims.user_id,
        )
    )


@router.get("", response_model=AdjustmentPage)
def list_adjustments(
    session: SessionDep,
    claims: Reader,
    merchant_id: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[Literal["proposed", "approved", "rejected"] | None, Query()] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AdjustmentPage:
    scope = merchant_scope(claims, PLATFORM_READ)
    if scope is not None and merchant_id not in (None, scope):
        return AdjustmentPage(adjustments=[], next_after=None)
    found = service.list_adjustments(
        session, merchant_id=scope or merchant_id, status=status, after=after, limit=limit
    )
    return AdjustmentPage(
        adjustments=[_out(a) for a in found],
        next_after=found[-1].id if len(found) == limit else None,
    )


@router.post("/{adjustment_id}/approve", response_model=AdjustmentOut)
def approve(
    adjustment_id: AdjustmentId,
    session: SessionDep,
    claims: Checker,
    body: DecisionRequest | None = None,
) -> AdjustmentOut:
    reason = body.reason if body else None
    return _out(
        service.decide(session, adjustment_id, approve=True, actor_id=claims.user_id, reason=reason)
    )


@router.post("/{adjustment_id}/reject", response_model=AdjustmentOut)
def reject(
    adjustment_id: AdjustmentId, body: DecisionRequest, session: SessionDep, claims: Checker
) -> AdjustmentOut:
    return _out(
        service.decide(
            session, adjustment_id, approve=False, actor_id=claims.user_id, reason=body.reason
        )
    )


def _out(a: AdjustmentView) -> AdjustmentOut:
    return AdjustmentOut.model_validate(a, from_attributes=True)
