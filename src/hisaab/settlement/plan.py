"""What each merchant would be paid on a settlement date, from the payments Hisaab holds.

The payments are the `transactions` of completed reconciliation jobs that matched (their money
reached the escrow account) and belong to no settlement yet. A payment of business day T is
due on T plus the merchant's T+n working days; on date D every payment due on or before D is
in the cycle, so days skipped (holidays, a missed run) merge into the next one. Each merchant
is computed with its active terms (`hisaab.settlement.compute`).

Only planning is built: recording settlements, ledger lines and payout files comes next, so
nothing here writes. Refunds, disputes, reserves released from earlier cycles and balances
carried from earlier settlements have no store yet either and count as none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from hisaab.errors import InputError
from hisaab.settlement.calendar import BankCalendar
from hisaab.settlement.compute import Capture, CycleInput, Settlement, settle
from hisaab.settlement.merchants import MerchantView, get_merchant
from hisaab.storage.kpi_models import Transaction
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


def last_due_business_day(calendar: BankCalendar, t_plus: int, cycle_date: dt.date) -> dt.date:
    """The latest business day whose payments are due on or before `cycle_date`."""
    day = cycle_date
    while calendar.add_working_days(day, t_plus) > cycle_date:
        day -= dt.timedelta(days=1)
    return day


def plan(
    session: Session, cycle_date: dt.date, *, merchant_id: str | None = None
) -> list[MerchantPlan]:
    """Every merchant with payments due (or the one asked for), in id order."""
    if merchant_id is not None:
        return [_plan_one(session, get_merchant(session, merchant_id), cycle_date)]
    with_payments = (
        select(Transaction.merchant_id)
        .where(_unsettled(), Transaction.business_date <= cycle_date)
        .distinct()
    )
    ids = session.scalars(
        select(Merchant.id).where(Merchant.id.in_(with_payments)).order_by(Merchant.id)
    )
    return [_plan_one(session, get_merchant(session, m), cycle_date) for m in ids]


def _unsettled() -> ColumnElement[bool]:
    return and_(Transaction.reconciliation_status == "matched", Transaction.settlement_id.is_(None))


def _plan_one(session: Session, merchant: MerchantView, cycle_date: dt.date) -> MerchantPlan:
    if merchant.terms is None:
        return MerchantPlan(merchant.id, 0, None, "no approved terms")
    spec = merchant.terms.spec
    calendar = CALENDARS.get(spec.calendar)
    if calendar is None:
        return MerchantPlan(merchant.id, 0, None, f"unknown calendar {spec.calendar!r}")
    last_day = last_due_business_day(calendar, spec.schedule.t_plus, cycle_date)
    rows = session.execute(
        select(
            Transaction.id,
            Transaction.amount_minor,
            Transaction.currency,
            Transaction.method,
        )
        .where(
            Transaction.merchant_id == merchant.id,
            _unsettled(),
            Transaction.business_date <= last_day,
        )
        .order_by(Transaction.business_date, Transaction.id)
    ).all()
    problem = _problem(rows, merchant.currency)
    if problem:
        return MerchantPlan(merchant.id, len(rows), None, problem)
    captures = [
        Capture(pid, amount, INSTRUMENT_OF[method], currency=currency)
        for pid, amount, currency, method in rows
    ]
    terms = spec.to_terms(merchant.id, merchant.currency, merchant.terms.version)
    try:
        computed = settle(terms, CycleInput(cycle_date, captures=captures))
    except InputError as exc:
        return MerchantPlan(merchant.id, len(rows), None, exc.describe())
    return MerchantPlan(merchant.id, len(rows), computed)


def _problem(rows: Sequence[tuple[str, int, str, str]], currency: str) -> str | None:
    other = sum(1 for _id, _a, _c, method in rows if method not in INSTRUMENT_OF)
    if other:
        return f"{_payments(other)} without a known method (UPI, CARD, NETBANKING, WALLET)"
    foreign = sum(1 for _id, _a, c, _m in rows if c != currency)
    if foreign:
        return f"{_payments(foreign)} not in the merchant's currency {currency}"
    return None


def _payments(n: int) -> str:
    return f"{n:,} payment" + ("" if n == 1 else "s")
