"""Disputes as records: opened by platform ops, answered by the merchant, decided, expired.

Each step follows `hisaab.settlement.disputes` (categories, deadlines, allowed moves) and is
on the audit chain. A merchant-admin sees and answers its own merchant's disputes only (the
same 404 for any other). Its answer is a draft until it submits it; accepting is a loss by
choice. An answer not submitted by the deadline expires (a loss) when `expire_overdue` runs:
every settlement run calls it first, so a loss is booked in the cycle that follows it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hisaab.audit.log import record
from hisaab.errors import Conflict, InputError, NotFound
from hisaab.settlement import disputes as rules
from hisaab.settlement.merchants import RECORD_ID, merchant_settling_in
from hisaab.settlement.plan import CALENDARS
from hisaab.storage.kpi_models import Dispute, Refund, Transaction
from hisaab.storage.models import utcnow
from hisaab.storage.unique import add_unique

MAX_EVIDENCE = 20_000


@dataclass(frozen=True)
class DisputeView:
    id: str
    merchant_id: str
    payment_ref: str | None
    network: str
    reason_code: str
    category: str
    stage: str
    status: str
    amount_minor: int
    fee_minor: int
    currency: str
    received_at: dt.datetime
    respond_by: dt.datetime
    evidence: str | None
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None
    double_loss: bool

    @classmethod
    def of(cls, d: Dispute) -> DisputeView:
        return cls(
            d.id,
            d.merchant_id,
            d.payment_ref,
            d.network,
            d.reason_code,
            d.category,
            d.stage,
            d.status,
            d.amount_minor,
            d.fee_minor,
            d.currency,
            d.received_at,
            d.respond_by,
            d.evidence,
            d.submitted_at,
            d.decided_at,
            d.double_loss,
        )


def open_dispute(
    session: Session,
    *,
    dispute_id: str,
    merchant_id: str,
    network: str,
    reason_code: str,
    stage: str,
    amount_minor: int,
    currency: str,
    received_at: dt.datetime,
    payment_ref: str | None = None,
    fee_minor: int = 0,
    actor_id: int | None,
) -> DisputeView:
    if not RECORD_ID.match(dispute_id):
        raise InputError(f"{dispute_id!r} is not a dispute id", column="id")
    if amount_minor <= 0 or fee_minor < 0:
        raise InputError("amounts", column="amount_minor", expected="an amount > 0, a fee >= 0")
    merchant = merchant_settling_in(session, merchant_id, currency, what="a dispute")
    category = rules.category_of(network, reason_code)
    due = rules.respond_by(stage, received_at, calendar=CALENDARS["IN"], timezone=merchant.timezone)
    dispute = Dispute(
        id=dispute_id,
        merchant_id=merchant_id,
        payment_ref=payment_ref,
        network=network,
        reason_code=reason_code.strip().upper(),
        category=category,
        stage=stage,
        status="open",
        amount_minor=amount_minor,
        fee_minor=fee_minor,
        currency=currency,
        received_at=received_at,
        respond_by=due,
        created_by=actor_id,
    )
    add_unique(session, dispute, f"dispute {dispute_id} exists already")
    _audit(session, dispute, "dispute.open", actor_id, {"category": category})
    return DisputeView.of(dispute)


def get_dispute(
    session: Session, dispute_id: str, *, merchant_id: str | None = None
) -> DisputeView:
    return DisputeView.of(_get(session, dispute_id, merchant_id))


def list_disputes(
    session: Session,
    *,
    merchant_id: str | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[DisputeView]:
    query = select(Dispute).order_by(Dispute.id).limit(limit)
    if merchant_id is not None:
        query = query.where(Dispute.merchant_id == merchant_id)
    if status is not None:
        query = query.where(Dispute.status == status)
    if after is not None:
        query = query.where(Dispute.id > after)
    return [DisputeView.of(d) for d in session.scalars(query)]


def respond(
    session: Session,
    dispute_id: str,
    action: Literal["draft", "submit", "accept"],
    *,
    evidence: str | None = None,
    merchant_id: str | None = None,
    actor_id: int,
    now: dt.datetime | None = None,
) -> DisputeView:
    """The merchant's answer: save a draft, submit it (final), or accept the dispute."""
    dispute = _get(session, dispute_id, merchant_id, lock=True)
    now = now or utcnow()
    if dispute.status in ("open", "evidence_draft") and now > dispute.respond_by:
        raise Conflict(
            f"dispute {dispute_id}'s deadline passed at {dispute.respond_by:%Y-%m-%d %H:%M} UTC"
        )
    if evidence is not None:
        if len(evidence) > MAX_EVIDENCE:
            raise InputError(
                "evidence", column="evidence", expected=f"{MAX_EVIDENCE:,} characters at most"
            )
        dispute.evidence = evidence
    target = {"draft": "evidence_draft", "submit": "submitted", "accept": "accepted"}[action]
    if action == "submit" and not (dispute.evidence or "").strip():
        raise InputError("a submission needs evidence", column="evidence")
    dispute.status = rules.move(dispute.status, target)
    if action == "submit":
        dispute.submitted_at = now
    if action == "accept":
        _decided(session, dispute, now)
    _audit(session, dispute, f"dispute.{action}", actor_id, {})
    return DisputeView.of(dispute)


def decide(
    session: Session,
    dispute_id: str,
    outcome: Literal["won", "lost", "cancelled"],
    *,
    actor_id: int,
    now: dt.datetime | None = None,
) -> DisputeView:
    """The network's decision, recorded by platform ops."""
    dispute = _get(session, dispute_id, None, lock=True)
    dispute.status = rules.move(dispute.status, outcome)
    _decided(session, dispute, now or utcnow())
    _audit(session, dispute, "dispute.decide", actor_id, {"outcome": outcome})
    return DisputeView.of(dispute)


def expire_overdue(session: Session, now: dt.datetime | None = None) -> list[str]:
    """Disputes not answered by their deadline become `expired` (a loss)."""
    now = now or utcnow()
    overdue = session.scalars(
        select(Dispute)
        .where(Dispute.status.in_(("open", "evidence_draft")), Dispute.respond_by < now)
        .with_for_update()
    ).all()
    for dispute in overdue:
        dispute.status = rules.move(dispute.status, "expired")
        _decided(session, dispute, now)
        _audit(session, dispute, "dispute.expire", None, {"respond_by": dispute.respond_by})
    return [d.id for d in overdue]


def _decided(session: Session, dispute: Dispute, now: dt.datetime) -> None:
    dispute.decided_at = now
    if dispute.status in rules.LOSSES and dispute.payment_ref:
        captured = session.scalar(
            select(func.sum(Transaction.amount_minor)).where(
                Transaction.merchant_id == dispute.merchant_id,
                Transaction.record_id == dispute.payment_ref,
            )
        )
        refunded = session.scalar(
            select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
                Refund.merchant_id == dispute.merchant_id,
                Refund.payment_ref == dispute.payment_ref,
            )
        )
        if captured is not None:
            dispute.double_loss = rules.double_loss(
                int(captured), int(refunded or 0), dispute.amount_minor
            )


def _get(
    session: Session, dispute_id: str, merchant_id: str | None, *, lock: bool = False
) -> Dispute:
    dispute = session.get(Dispute, dispute_id, with_for_update=lock)
    if dispute is None or (merchant_id is not None and dispute.merchant_id != merchant_id):
        raise NotFound(f"no dispute {dispute_id}")
    return dispute


def _audit(
    session: Session, d: Dispute, action: str, actor_id: int | None, extra: dict[str, object]
) -> None:
    session.flush()
    record(
        session,
        actor_id=actor_id,
        action=action,
        entity="dispute",
        entity_id=d.id,
        details={
            "merchant_id": d.merchant_id,
            "status": d.status,
            "stage": d.stage,
            "amount_minor": d.amount_minor,
            "currency": d.currency,
            **extra,
        },
    )
