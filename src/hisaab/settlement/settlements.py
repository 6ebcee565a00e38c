"""Recorded settlements: reading them with their ledger lines, and approving them.

A computed settlement is paid only once a finance user other than the one who computed it
approves it (maker-checker; a settlement computed by the scheduler or the command line has
no maker, so any finance user may approve it). Platform finance reads every settlement; a
merchant-admin reads its own merchant's and gets the same 404 for any other as for none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hisaab.audit.log import record
from hisaab.errors import Conflict, Forbidden, NotFound
from hisaab.storage.kpi_models import LedgerLine
from hisaab.storage.kpi_models import Settlement as SettlementRow


@dataclass(frozen=True)
class LineView:
    kind: str
    amount_minor: int
    source_id: str | None
    note: str
    available_on: dt.date | None


@dataclass(frozen=True)
class SettlementView:
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
    lines: tuple[LineView, ...] | None = None  # with `get_settlement` only

    @classmethod
    def of(cls, row: SettlementRow, lines: tuple[LineView, ...] | None = None) -> SettlementView:
        return cls(
            row.id,
            row.merchant_id,
            row.settlement_date,
            row.currency,
            row.status,
            row.payments,
            row.gross_minor,
            row.net_minor,
            row.amount_minor,
            row.debit_minor,
            row.carry_forward_minor,
            row.terms_version,
            row.computed_by,
            row.created_at,
            row.utr,
            lines,
        )


def list_settlements(
    session: Session,
    *,
    merchant_id: str | None = None,
    on: dt.date | None = None,
    status: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[SettlementView]:
    """Newest first (by id), a page at a time: the page after `after_id`."""
    query = select(SettlementRow).order_by(SettlementRow.id.desc()).limit(limit)
    if merchant_id is not None:
        query = query.where(SettlementRow.merchant_id == merchant_id)
    if on is not None:
        query = query.where(SettlementRow.settlement_date == on)
    if status is not None:
        query = query.where(SettlementRow.status == status)
    if after_id is not None:
        query = query.where(SettlementRow.id < after_id)
    return [SettlementView.of(row) for row in session.scalars(query)]


def get_settlement(
    session: Session, settlement_id: int, *, merchant_id: str | None = None
) -> SettlementView:
    """One settlement with its lines; `merchant_id` scopes it (another's is not found)."""
    row = session.get(SettlementRow, settlement_id)
    if row is None or (merchant_id is not None and row.merchant_id != merchant_id):
        raise NotFound(f"no settlement {settlement_id}")
    lines = session.scalars(
        select(LedgerLine).where(LedgerLine.settlement_id == settlement_id).order_by(LedgerLine.id)
    )
    return SettlementView.of(
        row,
        tuple(LineView(x.kind, x.amount_minor, x.source_id, x.note, x.available_on) for x in lines),
    )


def approve(session: Session, settlement_id: int, *, actor_id: int) -> SettlementView:
    row = session.scalar(
        select(SettlementRow).where(SettlementRow.id == settlement_id).with_for_update()
    )
    if row is None:
        raise NotFound(f"no settlement {settlement_id}")
    if row.status != "computed":
        raise Conflict(
            f"settlement {settlement_id} is {row.status}; only a computed one is approved"
        )
    if row.computed_by == actor_id:
        raise Forbidden("the user who computed this settlement cannot also approve it")
    row.status = "approved"
    session.flush()
    record(
        session,
        actor_id=actor_id,
        action="settlement.approve",
        entity="settlement",
        entity_id=settlement_id,
        details={
            "merchant_id": row.merchant_id,
            "date": row.settlement_date.isoformat(),
            "payout_minor": row.amount_minor,
            "currency": row.currency,
        },
    )
    return get_settlement(session, settlement_id)
