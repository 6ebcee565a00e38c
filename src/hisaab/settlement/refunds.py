"""Refunds a merchant owes back: recorded once, taken from its next settlement.

A refund names its merchant, amount (in the merchant's currency), business date and why;
when it names the refunded payment (`payment_ref`, the gateway's id) and Hisaab holds that
payment, the refunds of it may not add up to more than it. Each refund is taken by exactly one
settlement: the first of its merchant on or after its business date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hisaab.audit.log import record
from hisaab.errors import Conflict, InputError
from hisaab.settlement.merchants import RECORD_ID, merchant_settling_in
from hisaab.storage.kpi_models import Refund, Transaction
from hisaab.storage.unique import add_unique


@dataclass(frozen=True)
class RefundView:
    id: str
    merchant_id: str
    payment_ref: str | None
    amount_minor: int
    currency: str
    business_date: dt.date
    reason: str
    settlement_id: int | None
    created_at: dt.datetime

    @classmethod
    def of(cls, r: Refund) -> RefundView:
        return cls(
            r.id,
            r.merchant_id,
            r.payment_ref,
            r.amount_minor,
            r.currency,
            r.business_date,
            r.reason,
            r.settlement_id,
            r.created_at,
        )


def create_refund(
    session: Session,
    *,
    refund_id: str,
    merchant_id: str,
    amount_minor: int,
    currency: str,
    business_date: dt.date,
    reason: str,
    payment_ref: str | None = None,
    actor_id: int | None,
) -> RefundView:
    if not RECORD_ID.match(refund_id):
        raise InputError(
            f"{refund_id!r} is not a refund id",
            column="id",
            expected="1 to 64 letters, digits, '_', ':', '.' or '-'",
        )
    if isinstance(amount_minor, bool) or amount_minor <= 0:
        raise InputError(
            f"amount {amount_minor}", column="amount_minor", expected="minor units > 0"
        )
    reason = reason.strip()
    if not reason:
        raise InputError("a refund needs a reason", column="reason")
    merchant_settling_in(session, merchant_id, currency, what="a refund")
    if payment_ref is not None:
        _check_not_more_than_the_payment(session, merchant_id, payment_ref, amount_minor)
    refund = Refund(
        id=refund_id,
        merchant_id=merchant_id,
        payment_ref=payment_ref,
        amount_minor=amount_minor,
        currency=currency,
        business_date=business_date,
        reason=reason,
        created_by=actor_id,
    )
    add_unique(session, refund, f"refund {refund_id} exists already")
    record(
        session,
        actor_id=actor_id,
        action="refund.create",
        entity="refund",
        entity_id=refund_id,
        details={
            "merchant_id": merchant_id,
            "payment_ref": payment_ref,
            "amount_minor": amount_minor,
            "currency": currency,
            "business_date": business_date.isoformat(),
            "reason": reason,
        },
    )
    return RefundView.of(refund)


def _check_not_more_than_the_payment(
    session: Session, merchant_id: str, payment_ref: str, amount_minor: int
) -> None:
    paid = session.scalar(
        select(func.sum(Transaction.amount_minor)).where(
            Transaction.merchant_id == merchant_id, Transaction.record_id == payment_ref
        )
    )
    if paid is None:
        return  # a payment Hisaab does not hold (older, or from elsewhere): taken as stated
    refunded = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.merchant_id == merchant_id, Refund.payment_ref == payment_ref
        )
    )
    if int(refunded or 0) + amount_minor > int(paid):
        raise Conflict(
            f"refunds of payment {payment_ref} would come to {int(refunded or 0) + amount_minor}"
            f" minor units, more than its {int(paid)}"
        )


def list_refunds(
    session: Session,
    *,
    merchant_id: str | None = None,
    unsettled: bool | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[RefundView]:
    query = select(Refund).order_by(Refund.id).limit(limit)
    if merchant_id is not None:
        query = query.where(Refund.merchant_id == merchant_id)
    if unsettled is not None:
        query = query.where(
            Refund.settlement_id.is_(None) if unsettled else Refund.settlement_id.is_not(None)
        )
    if after is not None:
        query = query.where(Refund.id > after)
    return [RefundView.of(r) for r in session.scalars(query)]
