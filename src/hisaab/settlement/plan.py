"""What each merchant is owed on a settlement date, from what Hisaab holds.

A cycle's inputs for a merchant:
- payments: the `transactions` of completed reconciliation jobs that matched (their money
  reached the escrow account) and belong to no settlement. A payment of business day T is due
  on T plus the merchant's T+n working days; on date D every payment due on or before D is
  in the cycle, so days skipped (holidays, a missed run) merge into the next one;
- reserves held by earlier settlements whose release date has come and that no release names;
- the balance the merchant's last settlement before D carried forward, unless a later one
  took it already, and payouts the bank returned that no settlement has paid again;
- its refunds not yet taken, dated on or before D;
- its disputes' openings and decisions not yet booked;
- its approved adjustments not yet taken.

Each merchant is computed with its active terms (`hisaab.settlement.compute`). Nothing here
writes; recording is `hisaab.settlement.record`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, and_, cast, exists, literal, or_, select
from sqlalchemy.orm import Session, aliased

from hisaab.errors import InputError
from hisaab.settlement.calendar import BankCalendar
from hisaab.settlement.compute import (
    Adjustment,
    Capture,
    CycleInput,
    DisputeEvent,
    Refund,
    ReserveRelease,
    Settlement,
    settle,
)
from hisaab.settlement.merchants import MerchantView, get_merchant
from hisaab.settlement.terms import ScheduleSpec
from hisaab.storage.kpi_models import Adjustment as AdjustmentRow
from hisaab.storage.kpi_models import Dispute as DisputeRow
from hisaab.storage.kpi_models import LedgerLine, Transaction
from hisaab.storage.kpi_models import Refund as RefundRow
from hisaab.storage.kpi_models import Settlement as SettlementRow
from hisaab.storage.models import Merchant

# The Overview's payment methods as the rate card's instruments; OTHER (a record that does not
# say its method) cannot be priced, so its merchant is not settled until it is classified.
INSTRUMENT_OF = {"UPI": "upi", "CARD": "card", "NETBANKING": "netbanking", "WALLET": "wallet"}
CALENDARS = {"IN": BankCalendar()}


@dataclass(frozen=True)
class MerchantPlan:
    merchant_id: str
    payments: int
    settlement: Settlement | None
    problem: str | None = None  # why the merchant cannot be settled as it stands
    payment_ids: tuple[str, ...] = field(default=(), repr=False)
    refund_ids: tuple[str, ...] = field(default=(), repr=False)
    adjustment_ids: tuple[str, ...] = field(default=(), repr=False)
    # Disputes whose opening, and whose decision, this cycle books.
    disputes_opened: tuple[str, ...] = field(default=(), repr=False)
    disputes_decided: tuple[str, ...] = field(default=(), repr=False)
    business_dates: frozenset[dt.date] = field(default=frozenset(), repr=False)


def last_due_business_day(calendar: BankCalendar, t_plus: int, cycle_date: dt.date) -> dt.date:
    """The latest business day whose payments are due on or before `cycle_date`."""
    day = cycle_date
    while calendar.add_working_days(day, t_plus) > cycle_date:
        day -= dt.timedelta(days=1)
    return day


def plan(
    session: Session, cycle_date: dt.date, *, merchant_id: str | None = None
) -> list[MerchantPlan]:
    """Every merchant with something due (or the one asked for), in id order."""
    if merchant_id is not None:
        return [plan_merchant(session, get_merchant(session, merchant_id), cycle_date)]
    return [
        plan_merchant(session, get_merchant(session, m), cycle_date)
        for m in due_merchants(session, cycle_date)
    ]


def due_merchants(session: Session, cycle_date: dt.date) -> list[str]:
    """Merchants with something due on `cycle_date`: unsettled matched payments, reserves to
    release, a balance to carry, a returned payout to pay again, refunds, approved
    adjustments, or dispute openings and decisions not booked yet."""
    taken = aliased(LedgerLine)

    def not_taken(kind: str, source: Any) -> ColumnElement[bool]:
        return ~exists().where(taken.kind == kind, taken.source_id == source)

    def source(prefix: str, column: Any) -> ColumnElement[str]:
        return literal(prefix) + cast(column, String)

    with_payments = select(Transaction.merchant_id).where(
        unsettled(), Transaction.business_date <= cycle_date
    )
    with_reserves = select(LedgerLine.merchant_id).where(
        LedgerLine.kind == "reserve_hold",
        LedgerLine.available_on <= cycle_date,
        not_taken("reserve_release", source("ledger:", LedgerLine.id)),
    )
    with_balance = select(SettlementRow.merchant_id).where(
        SettlementRow.carry_forward_minor != 0,
        SettlementRow.settlement_date < cycle_date,
        not_taken("carry_forward", source("settlement:", SettlementRow.id)),
    )
    with_returns = select(LedgerLine.merchant_id).where(
        LedgerLine.kind == "payout_return",
        not_taken("carry_forward", LedgerLine.source_id),
    )
    with_refunds = select(RefundRow.merchant_id).where(
        RefundRow.settlement_id.is_(None), RefundRow.business_date <= cycle_date
    )
    with_adjustments = select(AdjustmentRow.merchant_id).where(
        AdjustmentRow.status == "approved", AdjustmentRow.settlement_id.is_(None)
    )
    with_disputes = select(DisputeRow.merchant_id).where(
        or_(
            DisputeRow.opened_settlement_id.is_(None),
            and_(DisputeRow.decided_at.is_not(None), DisputeRow.decided_settlement_id.is_(None)),
        )
    )
    wanted = with_payments.union(
        with_reserves, with_balance, with_returns, with_refunds, with_disputes, with_adjustments
    ).subquery()
    return list(
        session.scalars(
            select(Merchant.id).where(Merchant.id.in_(select(wanted))).order_by(Merchant.id)
        )
    )


def unsettled() -> ColumnElement[bool]:
    return and_(Transaction.reconciliation_status == "matched", Transaction.settlement_id.is_(None))


def plan_merchant(session: Session, merchant: MerchantView, cycle_date: dt.date) -> MerchantPlan:
    if merchant.terms is None:
        return MerchantPlan(merchant.id, 0, None, "no approved terms")
    spec = merchant.terms.spec
    not_today = not_a_payout_day(spec.schedule, cycle_date)
    if not_today:
        return MerchantPlan(merchant.id, 0, None, not_today)
    calendar = CALENDARS[spec.calendar]
    last_day = last_due_business_day(calendar, spec.schedule.t_plus, cycle_date)
    rows = session.execute(
        select(
            Transaction.id,
            Transaction.amount_minor,
            Transaction.currency,
            Transaction.method,
            Transaction.business_date,
        )
        .where(
            Transaction.merchant_id == merchant.id,
            unsettled(),
            Transaction.business_date <= last_day,
        )
        .order_by(Transaction.business_date, Transaction.id)
    ).all()
    problem = _problem([(r[2], r[3]) for r in rows], merchant.currency)
    if problem:
        return MerchantPlan(merchant.id, len(rows), None, problem)
    carried, carried_from = _carried(session, merchant.id, cycle_date)
    refunds = _refunds(session, merchant.id, cycle_date)
    events = _dispute_events(session, merchant.id, cycle_date)
    adjustments = _adjustments(session, merchant.id)
    foreign = [r.refund_id for r in refunds if r.currency != merchant.currency]
    if foreign:
        return MerchantPlan(merchant.id, len(rows), None, f"refunds in another currency: {foreign}")
    cycle = CycleInput(
        cycle_date,
        captures=[
            Capture(pid, amount, INSTRUMENT_OF[method], currency=currency)
            for pid, amount, currency, method, _day in rows
        ],
        refunds=refunds,
        disputes=[*(e for e, _k in events)],
        adjustments=adjustments,
        releases=_releases(session, merchant.id, cycle_date),
        carried_minor=carried,
        carried_from=carried_from,
        returned=_returned(session, merchant.id),
    )
    terms = spec.to_terms(merchant.id, merchant.currency, merchant.terms.version)
    try:
        computed = settle(terms, cycle)
    except InputError as exc:
        return MerchantPlan(merchant.id, len(rows), None, exc.describe())
    return MerchantPlan(
        merchant.id,
        len(rows),
        computed,
        payment_ids=tuple(r[0] for r in rows),
        refund_ids=tuple(r.refund_id for r in refunds),
        adjustment_ids=tuple(a.adjustment_id for a in adjustments),
        disputes_opened=tuple(e.dispute_id for e, kind in events if kind == "opened"),
        disputes_decided=tuple(e.dispute_id for e, kind in events if kind == "decided"),
        business_dates=frozenset(r[4] for r in rows),
    )


def _releases(session: Session, merchant_id: str, cycle_date: dt.date) -> list[ReserveRelease]:
    released = select(LedgerLine.source_id).where(
        LedgerLine.merchant_id == merchant_id, LedgerLine.kind == "reserve_release"
    )
    holds = session.execute(
        select(LedgerLine.id, LedgerLine.amount_minor, LedgerLine.currency)
        .where(
            LedgerLine.merchant_id == merchant_id,
            LedgerLine.kind == "reserve_hold",
            LedgerLine.available_on <= cycle_date,
        )
        .order_by(LedgerLine.id)
    ).all()
    taken = set(session.scalars(released))
    return [
        ReserveRelease(f"ledger:{hold_id}", -amount, currency)
        for hold_id, amount, currency in holds
        if f"ledger:{hold_id}" not in taken
    ]


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def not_a_payout_day(schedule: ScheduleSpec, cycle_date: dt.date) -> str | None:
    """Why `cycle_date` is not one of the schedule's payout days (None when it is)."""
    if schedule.cycle == "weekly" and cycle_date.weekday() != schedule.weekday:
        return f"not a payout day: paid weekly on {_WEEKDAYS[schedule.weekday or 0]}"
    if schedule.cycle == "monthly" and cycle_date.day not in (schedule.month_days or []):
        return f"not a payout day: paid monthly on days {schedule.month_days}"
    return None


def _dispute_events(
    session: Session, merchant_id: str, cycle_date: dt.date
) -> list[tuple[DisputeEvent, str]]:
    """Openings and decisions of this merchant's disputes no settlement has booked yet.

    An opening books its fee (and, under debit at opening, the amount); a decision books a
    win (the amount back, under debit at opening) or a loss (the amount, under debit when
    lost). Accepted and expired disputes are losses; a cancelled one gives back what its
    opening took, like a win. Each counts from the day after it happened (UTC)."""
    end = dt.datetime.combine(cycle_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    rows = session.scalars(
        select(DisputeRow)
        .where(
            DisputeRow.merchant_id == merchant_id,
            or_(
                and_(DisputeRow.opened_settlement_id.is_(None), DisputeRow.received_at < end),
                and_(
                    DisputeRow.decided_settlement_id.is_(None),
                    DisputeRow.decided_at.is_not(None),
                    DisputeRow.decided_at < end,
                ),
            ),
        )
        .order_by(DisputeRow.id)
    ).all()
    events: list[tuple[DisputeEvent, str]] = []
    for d in rows:
        if d.opened_settlement_id is None and d.received_at < end:
            event = DisputeEvent(d.id, "opened", d.amount_minor, d.fee_minor, d.currency)
            events.append((event, "opened"))
        if d.decided_settlement_id is None and d.decided_at is not None and d.decided_at < end:
            outcome: Literal["won", "lost"] = "won" if d.status in ("won", "cancelled") else "lost"
            events.append((DisputeEvent(d.id, outcome, d.amount_minor, 0, d.currency), "decided"))
    return events


def _adjustments(session: Session, merchant_id: str) -> list[Adjustment]:
    rows = session.scalars(
        select(AdjustmentRow)
        .where(
            AdjustmentRow.merchant_id == merchant_id,
            AdjustmentRow.status == "approved",
            AdjustmentRow.settlement_id.is_(None),
        )
        .order_by(AdjustmentRow.id)
    )
    return [Adjustment(a.id, a.amount_minor, a.note, a.currency) for a in rows]


def _refunds(session: Session, merchant_id: str, cycle_date: dt.date) -> list[Refund]:
    rows = session.scalars(
        select(RefundRow)
        .where(
            RefundRow.merchant_id == merchant_id,
            RefundRow.settlement_id.is_(None),
            RefundRow.business_date <= cycle_date,
        )
        .order_by(RefundRow.business_date, RefundRow.id)
    )
    return [Refund(r.id, r.amount_minor, r.payment_ref, r.currency) for r in rows]


def _returned(session: Session, merchant_id: str) -> list[tuple[str, int]]:
    """Payouts the bank returned that no settlement has paid again yet."""
    paid_again = set(
        session.scalars(
            select(LedgerLine.source_id).where(
                LedgerLine.merchant_id == merchant_id,
                LedgerLine.kind == "carry_forward",
                LedgerLine.source_id.like("return:%"),
            )
        )
    )
    returns = session.execute(
        select(LedgerLine.source_id, LedgerLine.amount_minor)
        .where(LedgerLine.merchant_id == merchant_id, LedgerLine.kind == "payout_return")
        .order_by(LedgerLine.id)
    ).all()
    return [(str(src), int(amount)) for src, amount in returns if src not in paid_again]


def _carried(session: Session, merchant_id: str, cycle_date: dt.date) -> tuple[int, str | None]:
    last = session.execute(
        select(SettlementRow.id, SettlementRow.carry_forward_minor)
        .where(SettlementRow.merchant_id == merchant_id, SettlementRow.settlement_date < cycle_date)
        .order_by(SettlementRow.settlement_date.desc())
        .limit(1)
    ).first()
    if last is None or last[1] == 0:
        return 0, None
    source = f"settlement:{last[0]}"
    taken = session.scalar(
        select(LedgerLine.id).where(
            LedgerLine.kind == "carry_forward", LedgerLine.source_id == source
        )
    )
    return (0, None) if taken is not None else (int(last[1]), source)


def _problem(rows: Sequence[tuple[str, str]], currency: str) -> str | None:
    other = sum(1 for _c, method in rows if method not in INSTRUMENT_OF)
    if other:
        return f"{_payments(other)} without a known method (UPI, CARD, NETBANKING, WALLET)"
    foreign = sum(1 for c, _m in rows if c != currency)
    if foreign:
        return f"{_payments(foreign)} not in the merchant's currency {currency}"
    return None


def _payments(n: int) -> str:
    return f"{n:,} payment" + ("" if n == 1 else "s")
