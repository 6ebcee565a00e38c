"""The merchant portal (the seed's merchant-api): a merchant-admin's own money and disputes.

GET /merchant/dashboard, GET /merchant/settlements, POST /merchant/settlement/schedule,
GET /merchant/disputes, POST /merchant/disputes/{id}/respond. Every route works on the
caller's own merchant (from its token): there is no merchant id to pass, so there is none
to get wrong. A schedule change is a proposal of new terms that finance approves.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from hisaab.api.deps import CurrentUser, Router, SessionDep
from hisaab.api.routes.disputes import DisputeId, DisputeOut, RespondRequest, dispute_out
from hisaab.api.routes.merchants import Note, TermsVersionView, terms_out
from hisaab.api.routes.settlements import SettlementOut, SettlementPage, settlement_out
from hisaab.auth.roles import (
    MERCHANT_DASHBOARD,
    MERCHANT_DISPUTES,
    MERCHANT_SETTLEMENTS,
)
from hisaab.auth.tokens import Claims
from hisaab.errors import Conflict, Forbidden, NotYetImplemented
from hisaab.settlement import dispute_store, merchants, portal, settlements
from hisaab.settlement.terms import ScheduleSpec

router = Router(prefix="/merchant", tags=["merchant portal"])


def _own(permission: str) -> object:
    def check(claims: CurrentUser) -> Claims:
        if claims.merchant_id is None or permission not in claims.permissions:
            raise Forbidden(f"the merchant portal is for merchant-admins ({permission})")
        return claims

    check.__name__ = f"merchant_{permission.replace(':', '_')}"
    return check


Dashboarder = Annotated[Claims, Depends(_own(MERCHANT_DASHBOARD))]
Settler = Annotated[Claims, Depends(_own(MERCHANT_SETTLEMENTS))]
Disputer = Annotated[Claims, Depends(_own(MERCHANT_DISPUTES))]


class DashboardOut(BaseModel):
    merchant_id: str
    currency: str
    pending_minor: int
    reserved_minor: int
    carried_minor: int
    next_settlement_date: dt.date | None
    next_settlement_estimate_minor: int | None
    volume_30d_minor: int
    payments_30d: int
    fees_30d_minor: int
    refunds_30d_minor: int
    open_disputes: list[DisputeOut]


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: ScheduleSpec | None = None
    on_demand: bool = False
    note: Note


@router.get("/dashboard", response_model=DashboardOut)
def dashboard(session: SessionDep, claims: Dashboarder) -> DashboardOut:
    d = portal.dashboard(session, str(claims.merchant_id), dt.datetime.now(dt.UTC).date())
    return DashboardOut.model_validate(d, from_attributes=True)


@router.get("/settlements", response_model=SettlementPage)
def my_settlements(
    session: SessionDep,
    claims: Settler,
    after: Annotated[int | None, Query(gt=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> SettlementPage | Response:
    found = settlements.list_settlements(
        session, merchant_id=claims.merchant_id, after_id=after, limit=limit
    )
    if fmt == "csv":
        return Response(_csv([settlement_out(s) for s in found]), media_type="text/csv")
    return SettlementPage(
        settlements=[settlement_out(s) for s in found],
        next_after=found[-1].id if len(found) == limit else None,
    )


@router.post("/settlement/schedule", response_model=TermsVersionView, status_code=201)
def change_schedule(
    body: ScheduleRequest, session: SessionDep, claims: Settler
) -> TermsVersionView:
    """A new schedule, proposed for finance to approve; on-demand payouts are not built yet."""
    if body.on_demand:
        raise NotYetImplemented("on-demand settlement of the available balance is not built yet")
    if body.schedule is None:
        raise Conflict("nothing to change: send a schedule, or on_demand")
    merchant_id = str(claims.merchant_id)
    current = merchants.get_merchant(session, merchant_id)
    if current.terms is None:
        raise Conflict(f"merchant {merchant_id} has no approved terms to change yet")
    spec = current.terms.spec.model_copy(update={"schedule": body.schedule})
    return terms_out(
        merchants.propose_terms(session, merchant_id, spec, note=body.note, actor_id=claims.user_id)
    )


@router.get("/disputes", response_model=list[DisputeOut])
def my_disputes(
    session: SessionDep,
    claims: Disputer,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> list[DisputeOut]:
    found = dispute_store.list_disputes(
        session, merchant_id=claims.merchant_id, status=status, limit=500
    )
    return [dispute_out(d) for d in found]


@router.post("/disputes/{dispute_id}/respond", response_model=DisputeOut)
def respond(
    dispute_id: DisputeId, body: RespondRequest, session: SessionDep, claims: Disputer
) -> DisputeOut:
    return dispute_out(
        dispute_store.respond(
            session,
            dispute_id,
            body.action,
            evidence=body.evidence,
            merchant_id=claims.merchant_id,
            actor_id=claims.user_id,
        )
    )


def _csv(rows: list[SettlementOut]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    fields = [f for f in SettlementOut.model_fields if f != "lines"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.model_dump(mode="json", exclude={"lines"}))
    return out.getvalue().encode()
