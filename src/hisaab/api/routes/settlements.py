"""Routes of recorded settlements: list, read one with its ledger lines, approve.

GET /api/settlements, GET /api/settlements/{id}, POST /api/settlements/{id}/approve.
Finance (`settlements:read`) reads every settlement; a merchant-admin
(`merchant:settlements`) reads its own merchant's only, whatever it filters on; approving
takes `settlements:approve` and a different user from the one who computed it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import Depends, Path, Query
from pydantic import BaseModel

from hisaab.api.deps import Router, SessionDep, merchant_scope, platform_or_own, require
from hisaab.auth.roles import MERCHANT_SETTLEMENTS, SETTLEMENTS_READ, TERMS_APPROVE
from hisaab.auth.tokens import Claims
from hisaab.settlement import settlements as service
from hisaab.settlement.settlements import SettlementView

router = Router(prefix="/api/settlements", tags=["settlements"])

SettlementId = Annotated[int, Path(gt=0, le=2**63 - 1)]
Approver = Annotated[Claims, Depends(require(TERMS_APPROVE))]
Status = Literal[
    "draft", "computed", "approved", "sent_to_bank", "credited", "failed", "returned", "cancelled"
]


PLATFORM_READ = frozenset({SETTLEMENTS_READ})
reader = platform_or_own(PLATFORM_READ, MERCHANT_SETTLEMENTS, named=SETTLEMENTS_READ)


Reader = Annotated[Claims, Depends(reader)]


class LineOut(BaseModel):
    kind: str
    amount_minor: int
    source_id: str | None
    note: str
    available_on: dt.date | None


class SettlementOut(BaseModel):
    id: int
    merchant_id: str
    settlement_date: dt.date
    currency: str
    status: str
    payments: int
    gross_minor: int
    net_minor: int
    payout_minor: int
    debit_minor: int
    carry_forward_minor: int
    terms_version: int | None
    computed_by: int | None
    created_at: dt.datetime
    utr: str | None
    lines: list[LineOut] | None = None


class SettlementPage(BaseModel):
    settlements: list[SettlementOut]
    next_after: int | None


@router.get("", response_model=SettlementPage)
def list_settlements(
    session: SessionDep,
    claims: Reader,
    merchant_id: Annotated[str | None, Query(max_length=32)] = None,
    date: Annotated[dt.date | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    after: Annotated[int | None, Query(gt=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SettlementPage:
    scope = merchant_scope(claims, PLATFORM_READ)
    if scope is not None and merchant_id not in (None, scope):
        return SettlementPage(settlements=[], next_after=None)  # another merchant's: none
    found = service.list_settlements(
        session,
        merchant_id=scope or merchant_id,
        on=date,
        status=status,
        after_id=after,
        limit=limit,
    )
    next_after = found[-1].id if len(found) == limit else None
    return SettlementPage(settlements=[settlement_out(s) for s in found], next_after=next_after)


@router.get("/{settlement_id}", response_model=SettlementOut)
def get_settlement(
    settlement_id: SettlementId, session: SessionDep, claims: Reader
) -> SettlementOut:
    return settlement_out(
        service.get_settlement(
            session, settlement_id, merchant_id=merchant_scope(claims, PLATFORM_READ)
        )
    )


@router.post("/{settlement_id}/approve", response_model=SettlementOut)
def approve_settlement(
    settlement_id: SettlementId, session: SessionDep, claims: Approver
) -> SettlementOut:
    return settlement_out(service.approve(session, settlement_id, actor_id=claims.user_id))


def settlement_out(s: SettlementView) -> SettlementOut:
    return SettlementOut.model_validate(s, from_attributes=True)
