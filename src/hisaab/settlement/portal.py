"""What a merchant sees of its money: balances, the next settlement, the last 30 days.

pending      matched payments (their money is in escrow) that no settlement holds yet
reserved     rolling reserves held and not yet released
carried      the balance the last settlement carried (negative: what the merchant owes)
next         the next payout date of its schedule, and what it would pay as things stand
last 30 days payments captured, fees and GST booked, refunds booked
disputes     open ones, with their deadlines
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hisaab.settlement.dispute_store import DisputeView
from hisaab.settlement.merchants import get_merchant
from hisaab.settlement.plan import CALENDARS, not_a_payout_day, plan_merchant, unsettled
from hisaab.settlement.terms import TermsSpec
from hisaab.storage.kpi_models import Dispute, LedgerLine, Transaction
from hisaab.storage.kpi_models import Settlement as SettlementRow

_SEARCH_DAYS = 62  # a monthly schedule pays at least once in two months


@dataclass(frozen=True)
class Dashboard:
    merchant_id: str
    currency: str
    pending_minor: int
    reserved_minor: int
    carried_minor: int
    next_settlement_date: dt.date | None
    next_settlement_estimate_minor: int | None
    volume_30d_minor: int
    payments_30d: int
    fees_30d_minor: int  # MDR and GST, as booked (positive)
    refunds_30d_minor: int  # as booked (positive)
    open_disputes: list[DisputeView]


def dashboard(session: Session, merchant_id: str, today: dt.date) -> Dashboard:
    merchant = get_merchant(session, merchant_id)
    pending = session.scalar(
        select(func.coalesce(func.sum(Transaction.amount_minor), 0)).where(
            Transaction.merchant_id == merchant_id, unsettled()
        )
    )
    released = select(LedgerLine.source_id).where(
        LedgerLine.merchant_id == merchant_id, LedgerLine.kind == "reserve_release"
    )
    holds = session.execute(
        select(LedgerLine.id, LedgerLine.amount_minor).where(
            LedgerLine.merchant_id == merchant_id, LedgerLine.kind == "reserve_hold"
        )
    ).all()
    taken = set(session.scalars(released))
    reserved = sum(-amount for hold_id, amount in holds if f"ledger:{hold_id}" not in taken)
    last = session.scalar(
        select(SettlementRow.carry_forward_minor)
        .where(SettlementRow.merchant_id == merchant_id)
        .order_by(SettlementRow.settlement_date.desc())
        .limit(1)
    )
    since = today - dt.timedelta(days=30)
    volume, count = session.execute(
        select(func.coalesce(func.sum(Transaction.amount_minor), 0), func.count()).where(
            Transaction.merchant_id == merchant_id, Transaction.business_date > since
        )
    ).one()
    booked = dict(
        session.execute(
            select(LedgerLine.kind, func.sum(LedgerLine.amount_minor))
            .join(SettlementRow, SettlementRow.id == LedgerLine.settlement_id)
            .where(
                LedgerLine.merchant_id == merchant_id,
                SettlementRow.settlement_date > since,
                LedgerLine.kind.in_(("mdr_fee", "gst_on_fee", "refund")),
            )
            .group_by(LedgerLine.kind)
        ).all()
    )
    disputes = session.scalars(
        select(Dispute)
        .where(
            Dispute.merchant_id == merchant_id,
            Dispute.status.in_(("open", "evidence_draft", "submitted")),
        )
        .order_by(Dispute.respond_by)
    ).all()
    next_date = estimate = None
    if merchant.terms is not None:
        next_date = _next_payout_day(merchant.terms.spec, today)
        if next_date is not None:
            planned = plan_merchant(session, merchant, next_date)
            estimate = planned.settlement.payout_minor if planned.settlement else None
    return Dashboard(
        merchant_id,
        merchant.currency,
        int(pending or 0),
        reserved,
        int(last or 0),
        next_date,
        estimate,
        int(volume),
        int(count),
        -int((booked.get("mdr_fee") or 0) + (booked.get("gst_on_fee") or 0)),
        -int(booked.get("refund") or 0),
        [DisputeView.of(d) for d in disputes],
    )


def _next_payout_day(spec: TermsSpec, today: dt.date) -> dt.date | None:
    calendar = CALENDARS[spec.calendar]
    day = today + dt.timedelta(days=1)
    for _ in range(_SEARCH_DAYS):
        if calendar.is_working_day(day) and not_a_payout_day(spec.schedule, day) is None:
            return day
        day += dt.timedelta(days=1)
    return None
