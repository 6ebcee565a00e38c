"""Routes of disputes: open (platform ops), list and read, answer, decide.

POST /api/disputes, GET /api/disputes, GET /api/disputes/{id}, POST .../respond,
POST .../decide. Ops (`reconciliation:write`) opens and decides; finance and compliance
(`disputes:read`) read every dispute; a merchant-admin (`merchant:disputes`) reads and answers
its own merchant's and gets the same 404 for any other as for none.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hisaab.api.deps import Router, SessionDep, merchant_scope, platform_or_own, require
from hisaab.auth.roles import DISPUTES_READ, MERCHANT_DISPUTES, RECONCILIATION_WRITE
from hisaab.auth.tokens import Claims
from hisaab.settlement import dispute_store as service
from hisaab.settlement.dispute_store import MAX_EVIDENCE, DisputeView

router = Router(prefix="/api/disputes", tags=["disputes"])

PLATFORM_READ = frozenset({DISPUTES_READ, RECONCILIATION_WRITE})
DisputeId = Annotated[str, Path(min_length=1, max_length=64)]
Ops = Annotated[Claims, Depends(require(RECONCILIATION_WRITE))]


reader = platform_or_own(PLATFORM_READ, MERCHANT_DISPUTES, named=DISPUTES_READ)


# The merchant's own admin, or platform ops answering for it.
answerer = platform_or_own(
    frozenset({RECONCILIATION_WRITE}), MERCHANT_DISPUTES, named=MERCHANT_DISPUTES
)


Reader = Annotated[Claims, Depends(reader)]
Answerer = Annotated[Claims, Depends(answerer)]


class OpenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=64)]
    merchant_id: Annotated[str, Field(min_length=1, max_length=32)]
    network: Literal["visa", "mastercard", "rupay", "upi"]
    reason_code: Annotated[str, Field(min_length=1, max_length=16)]
    stage: Literal["retrieval", "chargeback", "pre_arbitration", "arbitration"]
    amount_minor: Annotated[int, Field(gt=0, le=10**15)]
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    received_at: AwareDatetime
    payment_ref: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    fee_minor: Annotated[int, Field(ge=0, le=10**12)] = 0


class RespondRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["draft", "submit", "accept"]
    evidence: Annotated[str | None, Field(max_length=MAX_EVIDENCE)] = None


class DecideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["won", "lost", "cancelled"]


class DisputeOut(BaseModel):
    id: str
    merchant_id: str
    payment_ref: str | None
    network: str
    reason_code: str
    category: str
    stage: str
    status: str
    amount_minor: int
    fee_minor: int
    currency: str
    received_at: dt.datetime
    respond_by: dt.datetime
    evidence: str | None
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None
    double_loss: bool


class DisputePage(BaseModel):
    disputes: list[DisputeOut]
    next_after: str | None


@router.post("", response_model=DisputeOut, status_code=201)
def open_dispute(body: OpenRequest, session: SessionDep, claims: Ops) -> DisputeOut:
    return dispute_out(
        service.open_dispute(
            session,
            dispute_id=body.id,
            merchant_id=body.merchant_id,
            network=body.network,
            reason_code=body.reason_code,
            stage=body.stage,
            amount_minor=body.amount_minor,
            currency=body.currency,
            received_at=body.received_at,
            payment_ref=body.payment_ref,
            fee_minor=body.fee_minor,
            actor_id=claims.user_id,
        )
    )


@router.get("", response_model=DisputePage)
def list_disputes(
    session: SessionDep,
    claims: Reader,
    merchant_id: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DisputePage:
    scope = merchant_scope(claims, PLATFORM_READ)
    if scope is not None and merchant_id not in (None, scope):
        return DisputePage(disputes=[], next_after=None)
    found = service.list_disputes(
        session, merchant_id=scope or merchant_id, status=status, after=after, limit=limit
    )
    return DisputePage(
        disputes=[dispute_out(d) for d in found],
        next_after=found[-1].id if len(found) == limit else None,
    )


@router.get("/{dispute_id}", response_model=DisputeOut)
def get_dispute(dispute_id: DisputeId, session: SessionDep, claims: Reader) -> DisputeOut:
    return dispute_out(
        service.get_dispute(session, dispute_id, merchant_id=merchant_scope(claims, PLATFORM_READ))
    )


@router.post("/{dispute_id}/respond", response_model=DisputeOut)
def respond(
    dispute_id: DisputeId, body: RespondRequest, session: SessionDep, claims: Answerer
) -> DisputeOut:
    scope = merchant_scope(claims, frozenset({RECONCILIATION_WRITE}))
    return dispute_out(
        service.respond(
            session,
            dispute_id,
            body.action,
            evidence=body.evidence,
            merchant_id=scope,
            actor_id=claims.user_id,
        )
    )


@router.post("/{dispute_id}/decide", response_model=DisputeOut)
def decide(
    dispute_id: DisputeId, body: DecideRequest, session: SessionDep, claims: Ops
) -> DisputeOut:
    return dispute_out(service.decide(session, dispute_id, body.outcome, actor_id=claims.user_id))


def dispute_out(d: DisputeView) -> DisputeOut:
    return DisputeOut.model_validate(d, from_attributes=True)
