"""Recording a settlement date: each merchant's settlement, its ledger lines, its payments.

Each merchant is recorded in its own transaction, so one that fails leaves the others
recorded and nothing of its own half-written. Running a date twice never pays twice:

- one settlement per merchant and date (a unique index): a second run reports `already`;
- a payment, a reserve release and a carried balance are each booked once ever (a partial
  unique index on the ledger), so two runs racing for the same money cannot both commit;
- the payments move to `in_settlement` only if no other settlement took them meanwhile.

Every recorded settlement is on the audit chain. The Overview's pipeline figures of the
payments' business dates are rebuilt once at the end of the run (a run stopped before that
leaves them to the next run, or to `hisaab.overview.refresh`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, cast

import pyarrow as pa
from sqlalchemy import CursorResult, Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hisaab.audit.log import record as audit
from hisaab.errors import Conflict
from hisaab.overview.refresh import refresh_dates
from hisaab.settlement.compute import Settlement
from hisaab.settlement.dispute_store import expire_overdue
from hisaab.settlement.merchants import get_merchant
from hisaab.settlement.plan import MerchantPlan, due_merchants, plan_merchant
from hisaab.storage.bulk import bulk_load
from hisaab.storage.kpi_models import Adjustment, Dispute, LedgerLine, Refund, Transaction
from hisaab.storage.kpi_models import Settlement as SettlementRow
from hisaab.storage.models import utcnow

Outcome = Literal["recorded", "already", "not_settled", "nothing_due"]


@dataclass(frozen=True)
class Recorded:
    plan: MerchantPlan
    outcome: Outcome
    settlement_id: int | None = None
    message: str = ""


def record(
    sessions: sessionmaker[Session],
    cycle_date: dt.date,
    *,
    merchant_id: str | None = None,
    actor_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[Recorded]:
    """Record the settlements of `cycle_date` (one merchant's, or every merchant with
    something due), each in its own transaction."""
    with sessions.begin() as session:
        # Answers not given in time are losses, booked by this run.
        expire_overdue(session, now)
    with sessions() as session:
        due = {merchant_id} if merchant_id is not None else set(due_merchants(session, cycle_date))
        if merchant_id is None:  # and those settled already, so that a re-run says so
            due.update(
                session.scalars(
                    select(SettlementRow.merchant_id).where(
                        SettlementRow.settlement_date == cycle_date
                    )
                )
            )
    done = [_record_one(sessions, m, cycle_date, actor_id) for m in sorted(due)]
    # The Overview's pipeline figures of the payments' dates, rebuilt once for the whole run
    # (per merchant, each rebuild of a busy date cost more than settling the merchant).
    dates = {d for r in done if r.outcome == "recorded" for d in r.plan.business_dates}
    if dates:
        with sessions.begin() as session:
            refresh_dates(session, dates, exceptions=False)
    return done


def _record_one(
    sessions: sessionmaker[Session], merchant_id: str, cycle_date: dt.date, actor_id: int | None
) -> Recorded:
    try:
        with sessions.begin() as session:
            existing = session.scalar(
                select(SettlementRow.id).where(
                    SettlementRow.merchant_id == merchant_id,
                    SettlementRow.settlement_date == cycle_date,
                )
            )
            if existing is not None:
                return Recorded(
                    MerchantPlan(merchant_id, 0, None),
                    "already",
                    existing,
                    f"settlement {existing} is this merchant's for {cycle_date}",
                )
            planned = plan_merchant(session, get_merchant(session, merchant_id), cycle_date)
            s = planned.settlement
            if s is None:
                return Recorded(planned, "not_settled", message=planned.problem or "")
            if not s.lines:
                return Recorded(planned, "nothing_due")
            row = SettlementRow(
                merchant_id=merchant_id,
                settlement_date=cycle_date,
                amount_minor=s.payout_minor,
                currency=s.currency,
                status="computed",
                terms_version=s.terms_version,
                payments=planned.payments,
                gross_minor=s.total("payment"),
                net_minor=s.net_minor,
                debit_minor=s.debit_minor,
                carry_forward_minor=s.carry_forward_minor,
                computed_by=actor_id,
            )
            session.add(row)
            session.flush()
            _load_lines(session, s, row.id)
            _take_payments(session, planned, row.id)
            _take(session, Refund, planned.refund_ids, row.id, planned.merchant_id)
            _take_disputes(session, planned, row.id)
            _take(session, Adjustment, planned.adjustment_ids, row.id, planned.merchant_id)
            audit(
                session,
                actor_id=actor_id,
                action="settlement.compute",
                entity="settlement",
                entity_id=row.id,
                details={
                    "merchant_id": merchant_id,
                    "date": cycle_date.isoformat(),
                    "payments": planned.payments,
                    "net_minor": s.net_minor,
                    "payout_minor": s.payout_minor,
                    "carry_forward_minor": s.carry_forward_minor,
                    "debit_minor": s.debit_minor,
                    "currency": s.currency,
                    "terms_version": s.terms_version,
                },
            )
            return Recorded(planned, "recorded", row.id)
    except IntegrityError:
        # The unique keys: this merchant and date, or a payment, release or carried balance
        # that another run booked first. Nothing of this merchant was written.
        return Recorded(
            MerchantPlan(merchant_id, 0, None),
            "already",
            message="settled already (this date, or its money by another run)",
        )
    except Conflict as exc:
        return Recorded(MerchantPlan(merchant_id, 0, None), "already", message=exc.message)


def _take_payments(session: Session, planned: MerchantPlan, settlement_id: int) -> None:
    taken = 0
    ids = list(planned.payment_ids)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        result = session.execute(
            update(Transaction)
            .where(Transaction.id.in_(chunk), Transaction.settlement_id.is_(None))
            .values(settlement_id=settlement_id, status="in_settlement")
            .execution_options(synchronize_session=False)
        )
        taken += cast(CursorResult[Any], result).rowcount
    if taken != len(ids):
        raise Conflict(
            f"{len(ids) - taken:,} of merchant {planned.merchant_id}'s payments were settled"
            " by another run meanwhile"
        )


def _take(
    session: Session,
    table: type[Refund] | type[Adjustment],
    ids: tuple[str, ...],
    settlement_id: int,
    merchant_id: str,
) -> None:
    """Mark these refunds or adjustments as taken by the settlement, or fail the merchant's
    run when another run took any of them first."""
    if not ids:
        return
    result = session.execute(
        update(table)
        .where(table.id.in_(ids), table.settlement_id.is_(None))
        .values(settlement_id=settlement_id)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != len(ids):
        raise Conflict(
            f"merchant {merchant_id}'s {table.__tablename__} were taken by another run meanwhile"
        )


def _take_disputes(session: Session, planned: MerchantPlan, settlement_id: int) -> None:
    for ids, column in (
        (planned.disputes_opened, Dispute.opened_settlement_id),
        (planned.disputes_decided, Dispute.decided_settlement_id),
    ):
        if not ids:
            continue
        result = session.execute(
            update(Dispute)
            .where(Dispute.id.in_(ids), column.is_(None))
            .values({column.key: settlement_id})
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], result).rowcount != len(ids):
            raise Conflict(
                f"merchant {planned.merchant_id}'s disputes were booked by another run meanwhile"
            )


def _load_lines(session: Session, s: Settlement, settlement_id: int) -> None:
    """The settlement's ledger lines, loaded in bulk (COPY on PostgreSQL)."""
    lines = s.lines
    table = pa.table(
        {
            "kind": pa.array([x.kind for x in lines], pa.string()),
            "amount_minor": pa.array([x.amount_minor for x in lines], pa.int64()),
            "source_id": pa.array([x.source_id for x in lines], pa.string()),
            "note": pa.array([x.note for x in lines], pa.string()),
            "available_on": pa.array(
                [s.reserve_available_on if x.kind == "reserve_hold" else None for x in lines],
                pa.date32(),
            ),
        }
    )
    constants = {
        "merchant_id": s.merchant_id,
        "settlement_id": settlement_id,
        "currency": s.currency,
        "created_at": utcnow(),
    }
    bulk_load(session, cast(Table, LedgerLine.__table__), table, constants)
