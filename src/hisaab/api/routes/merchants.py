"""Routes of merchants and their terms (money out).

GET /api/merchants, POST /api/merchants, GET /api/merchants/{id}, GET .../terms,
POST .../terms (propose a change), POST .../terms/{version}/approve and .../reject.
Platform staff read every merchant; a merchant-admin reads its own and gets the same 404 for
any other as for one that does not exist. The rules live in `hisaab.settlement.merchants`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from hisaab.api.deps import Router, SessionDep, platform_or_own, require
from hisaab.auth.roles import MERCHANT_DASHBOARD, MERCHANTS_WRITE, OVERVIEW_READ, TERMS_APPROVE
from hisaab.auth.tokens import Claims
from hisaab.errors import NotFound
from hisaab.settlement import merchants as service
from hisaab.settlement.merchants import MAX_NOTE, BankAccount, MerchantView, TermsVersion
from hisaab.settlement.terms import TermsSpec

router = Router(prefix="/api/merchants", tags=["merchants"])

PLATFORM_READ: Final = frozenset({OVERVIEW_READ, MERCHANTS_WRITE})
MerchantId = Annotated[str, Path(min_length=1, max_length=32)]
Version = Annotated[int, Path(gt=0, le=2**31 - 1)]
Writer = Annotated[Claims, Depends(require(MERCHANTS_WRITE))]
Approver = Annotated[Claims, Depends(require(TERMS_APPROVE))]
Note = Annotated[str, Field(min_length=1, max_length=MAX_NOTE)]


reader = platform_or_own(PLATFORM_READ, MERCHANT_DASHBOARD, named=OVERVIEW_READ)


Reader = Annotated[Claims, Depends(reader)]


class BankAccountBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    number: Annotated[str, Field(min_length=1, max_length=40)]
    ifsc: Annotated[str, Field(min_length=1, max_length=11)]


class CreateMerchantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=32)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    currency: Annotated[str, Field(min_length=3, max_length=3)] = "INR"
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "Asia/Kolkata"
    bank_account: BankAccountBody | None = None
    terms: TermsSpec | None = None


class ProposeTermsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms: TermsSpec
    note: Note


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Note | None = None


class TermsVersionView(BaseModel):
    version: int
    status: str
    terms: dict[str, Any]
    note: str
    proposed_by: int | None
    proposed_at: dt.datetime
    decided_by: int | None
    decided_at: dt.datetime | None
    decision_reason: str | None


class BankAccountView(BaseModel):
    name: str
    number: str
    ifsc: str


class MerchantOut(BaseModel):
    id: str
    name: str
    status: str
    currency: str
    timezone: str
    bank_account: BankAccountView | None
    created_at: dt.datetime
    terms: TermsVersionView | None
    proposal: TermsVersionView | None


class MerchantPage(BaseModel):
    merchants: list[MerchantOut]
    next_after: str | None


@router.get("", response_model=MerchantPage)
def list_merchants(
    session: SessionDep,
    claims: Reader,
    after: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MerchantPage:
    if not claims.permissions & PLATFORM_READ:
        own = [service.get_merchant(session, claims.merchant_id or "")]
        found = [m for m in own if after is None or m.id > after][:limit]
    else:
        found = service.list_merchants(session, after=after, limit=limit)
    next_after = found[-1].id if len(found) == limit else None
    return MerchantPage(merchants=[_merchant(m) for m in found], next_after=next_after)


@router.post("", response_model=MerchantOut, status_code=201)
def create_merchant(
    body: CreateMerchantRequest, session: SessionDep, claims: Writer
) -> MerchantOut:
    bank = None
    if body.bank_account is not None:
        account = body.bank_account
        bank = BankAccount.checked(account.name, account.number, account.ifsc)
    return _merchant(
        service.create_merchant(
            session,
            merchant_id=body.id,
            name=body.name,
            currency=body.currency,
            timezone=body.timezone,
            bank=bank,
            terms=body.terms,
            actor_id=claims.user_id,
        )
    )


@router.get("/{merchant_id}", response_model=MerchantOut)
def get_merchant(merchant_id: MerchantId, session: SessionDep, claims: Reader) -> MerchantOut:
    _scope(claims, merchant_id)
    return _merchant(service.get_merchant(session, merchant_id))


@router.get("/{merchant_id}/terms", response_model=list[TermsVersionView])
def terms_history(
    merchant_id: MerchantId, session: SessionDep, claims: Reader
) -> list[TermsVersionView]:
    _scope(claims, merchant_id)
    return [terms_out(t) for t in service.terms_history(session, merchant_id)]


@router.post("/{merchant_id}/terms", response_model=TermsVersionView, status_code=201)
def propose_terms(
    merchant_id: MerchantId, body: ProposeTermsRequest, session: SessionDep, claims: Writer
) -> TermsVersionView:
    return terms_out(
        service.propose_terms(
            session, merchant_id, body.terms, note=body.note, actor_id=claims.user_id
        )
    )


@router.post("/{merchant_id}/terms/{version}/approve", response_model=TermsVersionView)
def approve_terms(
    merchant_id: MerchantId,
    version: Version,
    session: SessionDep,
    claims: Approver,
    body: DecisionRequest | None = None,
) -> TermsVersionView:
    reason = body.reason if body else None
    return terms_out(
        service.decide_terms(
            session, merchant_id, version, approve=True, actor_id=claims.user_id, reason=reason
        )
    )


@router.post("/{merchant_id}/terms/{version}/reject", response_model=TermsVersionView)
def reject_terms(
    merchant_id: MerchantId,
    version: Version,
    body: DecisionRequest,
    session: SessionDep,
    claims: Approver,
) -> TermsVersionView:
    return terms_out(
        service.decide_terms(
            session,
            merchant_id,
            version,
            approve=False,
            actor_id=claims.user_id,
            reason=body.reason,
        )
    )


def _scope(claims: Claims, merchant_id: str) -> None:
    """A merchant-admin asking for any other merchant, existing or not, gets the same 404,
    which does not repeat the id (another merchant's id is that merchant's data)."""
    if not claims.permissions & PLATFORM_READ and claims.merchant_id != merchant_id:
        raise NotFound("no such merchant")


def terms_out(t: TermsVersion) -> TermsVersionView:
    return TermsVersionView(
        version=t.version,
        status=t.status,
        terms=t.spec.model_dump(mode="json"),
        note=t.note,
        proposed_by=t.proposed_by,
        proposed_at=t.proposed_at,
        decided_by=t.decided_by,
        decided_at=t.decided_at,
        decision_reason=t.decision_reason,
    )


def _merchant(m: MerchantView) -> MerchantOut:
    bank = m.bank_account
    return MerchantOut(
        id=m.id,
        name=m.name,
        status=m.status,
        currency=m.currency,
        timezone=m.timezone,
        bank_account=BankAccountView(name=bank.name, number=bank.number, ifsc=bank.ifsc)
        if bank
        else None,
        created_at=m.created_at,
        terms=terms_out(m.terms) if m.terms else None,
        proposal=terms_out(m.proposal) if m.proposal else None,
    )
