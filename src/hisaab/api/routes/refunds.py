"""Routes of refunds: record one (platform ops) and list them.

POST /api/refunds, GET /api/refunds. Platform ops (`reconciliation:write`) records refunds;
finance and ops read every merchant's; a merchant-admin reads its own merchant's only.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from hisaab.api.deps import Router, SessionDep, merchant_scope, platform_or_own, require
from hisaab.auth.roles import MERCHANT_SETTLEMENTS, RECONCILIATION_WRITE, SETTLEMENTS_READ
from hisaab.auth.tokens import Claims
from hisaab.settlement import refunds as service
from hisaab.settlement.refunds import RefundView

router = Router(prefix="/api/refunds", tags=["refunds"])

PLATFORM_READ = frozenset({SETTLEMENTS_READ, RECONCILIATION_WRITE})
Writer = Annotated[Claims, Depends(require(RECONCILIATION_WRITE))]


reader = platform_or_own(PLATFORM_READ, MERCHANT_SETTLEMENTS, named=SETTLEMENTS_READ)


Reader = Annotated[Claims, Depends(reader)]


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=64)]
    merchant_id: Annotated[str, Field(min_length=1, max_length=32)]
    amount_minor: Annotated[int, Field(gt=0, le=10**15)]
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    business_date: dt.date
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    payment_ref: Annotated[str | None, Field(min_length=1, max_length=200)] = None


class RefundOut(BaseModel):
    id: str
    merchant_id: str
    payment_ref: str | None
    amount_minor: int
    currency: str
    business_date: dt.date
    reason: str
    settlement_id: int | None
    created_at: dt.datetime


class RefundPage(BaseModel):
    refunds: list[RefundOut]
    next_after: str | None


@router.post("", response_model=RefundOut, status_code=201)
def create_refund(body: RefundRequest, session: SessionDep, claims: Writer) -> RefundOut:
    return _out(
        service.create_refund(
            session,
            refund_id=body.id,
            merchant_id=body.merchant_id,
            amount_minor=body.amount_minor,
            currency=body.currency,
            business_date=body.business_date,
            reason=body.reason,
            payment_ref=body.payment_ref,
            actor_id=claims.user_id,
        )
    )


@router.get("", response_model=RefundPage)
def list_refunds(
    session: SessionDep,
    claims: Reader,
    merchant_id: Annotated[str | None, Query(max_length=32)] = None,
    unsettled: Annotated[bool | None, Query()] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RefundPage:
    scope = merchant_scope(claims, PLATFORM_READ)
    if scope is not None and merchant_id not in (None, scope):
        return RefundPage(refunds=[], next_after=None)
    found = service.list_refunds(
        session, merchant_id=scope or merchant_id, unsettled=unsettled, after=after, limit=limit
    )
    return RefundPage(
        refunds=[_out(r) for r in found],
        next_after=found[-1].id if len(found) == limit else None,
    )


def _out(r: RefundView) -> RefundOut:
    return RefundOut.model_validate(r, from_attributes=True)
