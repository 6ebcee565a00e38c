"""Manual adjustments to a merchant's balance, under maker-checker.

An adjustment is a signed amount in the merchant's currency with a note saying why (a
courier fee recovered, a goodwill credit). It is proposed by one user holding
`merchants:write` and takes effect only when a different user holding `settlements:approve`
approves it; the merchant's next settlement then takes it, once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hisaab.audit.log import record
from hisaab.errors import Conflict, Forbidden, InputError, NotFound
from hisaab.settlement.merchants import RECORD_ID, merchant_settling_in
from hisaab.storage.kpi_models import Adjustment
from hisaab.storage.models import utcnow
from hisaab.storage.unique import add_unique

MAX_ADJUSTMENT_MINOR = 10**12


@dataclass(frozen=True)
class AdjustmentView:
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

    @classmethod
    def of(cls, a: Adjustment) -> AdjustmentView:
        return cls(
            a.id,
            a.merchant_id,
            a.amount_minor,
            a.currency,
            a.note,
            a.status,
            a.proposed_by,
            a.proposed_at,
            a.decided_by,
            a.decided_at,
            a.decision_reason,
            a.settlement_id,
        )


def propose(
    session: Session,
    *,
    adjustment_id: str,
    merchant_id: str,
    amount_minor: int,
    currency: str,
    note: str,
    actor_id: int,
) -> AdjustmentView:
    if not RECORD_ID.match(adjustment_id):
        raise InputError(f"{adjustment_id!r} is not an adjustment id", column="id")
    if amount_minor == 0 or abs(amount_minor) > MAX_ADJUSTMENT_MINOR:
        raise InputError(
            f"amount {amount_minor}",
            column="amount_minor",
            expected=f"a credit (> 0) or a debit (< 0) of at most {MAX_ADJUSTMENT_MINOR:,}",
        )
    note = note.strip()
    if not note:
        raise InputError("an adjustment needs a note saying why", column="note")
    merchant_settling_in(session, merchant_id, currency, what="an adjustment")
    adjustment = Adjustment(
        id=adjustment_id,
        merchant_id=merchant_id,
        amount_minor=amount_minor,
        currency=currency,
        note=note,
        status="proposed",
        proposed_by=actor_id,
    )
    add_unique(session, adjustment, f"adjustment {adjustment_id} exists already")
    _audit(session, adjustment, "adjustment.propose", actor_id)
    return AdjustmentView.of(adjustment)


def decide(
    session: Session,
    adjustment_id: str,
    *,
    approve: bool,
    actor_id: int,
    reason: str | None = None,
) -> AdjustmentView:
    adjustment = session.get(Adjustment, adjustment_id, with_for_update=True)
    if adjustment is None:
        raise NotFound(f"no adjustment {adjustment_id}")
    if adjustment.status != "proposed":
        raise Conflict(f"adjustment {adjustment_id} is {adjustment.status}")
    if adjustment.proposed_by == actor_id:
        raise Forbidden("the user who proposed this adjustment cannot also decide it")
    if not approve and not (reason or "").strip():
        raise InputError("a rejection needs a reason", column="reason")
    adjustment.status = "approved" if approve else "rejected"
    adjustment.decided_by, adjustment.decided_at = actor_id, utcnow()
    adjustment.decision_reason = (reason or "").strip() or None
    _audit(session, adjustment, f"adjustment.{'approve' if approve else 'reject'}", actor_id)
    return AdjustmentView.of(adjustment)


def list_adjustments(
    session: Session,
    *,
    merchant_id: str | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[AdjustmentView]:
    query = select(Adjustment).order_by(Adjustment.id).limit(limit)
    if merchant_id is not None:
        query = query.where(Adjustment.merchant_id == merchant_id)
    if status is not None:
        query = query.where(Adjustment.status == status)
    if after is not None:
        query = query.where(Adjustment.id > after)
    return [AdjustmentView.of(a) for a in session.scalars(query)]


def _audit(session: Session, a: Adjustment, action: str, actor_id: int) -> None:
    session.flush()
    record(
        session,
        actor_id=actor_id,
        action=action,
        entity="adjustment",
        entity_id=a.id,
        details={
            "merchant_id": a.merchant_id,
            "amount_minor": a.amount_minor,
            "currency": a.currency,
            "note": a.note,
            "status": a.status,
            "reason": a.decision_reason,
        },
    )
