"""Paying approved settlements through bank files, and booking what the bank did with them.

`write_payouts`: every approved settlement due by a date whose payout is positive becomes an
instruction in the chosen bank layout (reference `STL` + the settlement id), paid to the
merchant's settlement account. The files are written to a staging folder, the settlements
(`sent_to_bank`), their payments and the `payout` ledger lines are committed, and only then
are the files moved into place: a failure leaves no file and no settlement marked sent.
Merchants without a bank account are named and left approved.

`book_reverse`: the bank's reverse file, all of it or nothing. An executed payout credits its
settlement (with the UTR) and its payments; a rejected one returns the settlement, books a
`payout_return` line and carries the amount into the merchant's next settlement. A line
already booked the same way (the same file read twice) changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from hisaab.audit.log import record
from hisaab.errors import FormatError
from hisaab.outputs import atomic_dir
from hisaab.settlement.payout_files import DebitAccount, PayoutInstruction, payout_format
from hisaab.settlement.reverse_files import read_hdfc_reverse
from hisaab.storage.kpi_models import LedgerLine, Transaction
from hisaab.storage.kpi_models import Settlement as SettlementRow
from hisaab.storage.models import Merchant, utcnow

_REFERENCE = re.compile(r"^STL(\d{1,17})$")


def reference_of(settlement_id: int) -> str:
    return f"STL{settlement_id:08d}"


@dataclass(frozen=True)
class PayoutRun:
    files: list[Path]
    paid: list[int]  # settlement ids sent
    total_minor: int
    skipped: dict[str, str]  # merchant -> why its approved settlements were not sent


def write_payouts(
    sessions: sessionmaker[Session],
    on_date: dt.date,
    *,
    layout: str,
    debit: DebitAccount,
    out_dir: Path,
    actor_id: int | None = None,
) -> PayoutRun:
    fmt = payout_format(layout)
    skipped: dict[str, str] = {}
    # The transaction commits inside the staging block, and leaving the block moves the
    # files in: a failure before the commit leaves neither files nor settlements marked sent.
    with atomic_dir(out_dir) as staging, sessions.begin() as session:
        rows = session.execute(
            select(SettlementRow, Merchant)
            .join(Merchant, Merchant.id == SettlementRow.merchant_id)
            .where(
                SettlementRow.status == "approved",
                SettlementRow.settlement_date <= on_date,
                SettlementRow.amount_minor > 0,
            )
            .order_by(SettlementRow.id)
            .with_for_update(of=SettlementRow)
        ).all()
        chosen: list[tuple[SettlementRow, PayoutInstruction]] = []
        for settlement, merchant in rows:
            if not (merchant.bank_account_number and merchant.bank_ifsc):
                skipped[merchant.id] = "no settlement bank account"
                continue
            chosen.append(
                (
                    settlement,
                    PayoutInstruction(
                        reference_of(settlement.id),
                        merchant.id,
                        merchant.bank_account_name or merchant.name,
                        merchant.bank_account_number,
                        merchant.bank_ifsc,
                        settlement.amount_minor,
                        on_date,
                        currency=settlement.currency,
                        remarks=f"Settlement {settlement.settlement_date:%d-%m-%Y}",
                    ),
                )
            )
        if not chosen:
            return PayoutRun([], [], 0, skipped)
        files = fmt.write([p for _s, p in chosen], debit=debit, on_date=on_date)
        for f in files:
            (staging / f.name).write_bytes(f.content)
        now = utcnow()
        ids = [s.id for s, _p in chosen]
        for settlement, _p in chosen:
            settlement.status = "sent_to_bank"
            session.add(
                LedgerLine(
                    merchant_id=settlement.merchant_id,
                    settlement_id=settlement.id,
                    kind="payout",
                    amount_minor=-settlement.amount_minor,
                    currency=settlement.currency,
                    source_id=f"payout:{settlement.id}",
                    note=f"paid by {layout} file",
                    created_at=now,
                )
            )
        session.execute(
            update(Transaction)
            .where(Transaction.settlement_id.in_(ids))
            .values(status="sent_to_bank")
            .execution_options(synchronize_session=False)
        )
        _refresh_payment_dates(session, ids)
        record(
            session,
            actor_id=actor_id,
            action="settlement.payout_file",
            entity="settlement",
            entity_id=None,
            details={
                "layout": layout,
                "files": [f.name for f in files],
                "settlements": ids,
                "total_minor": sum(f.total_minor for f in files),
            },
        )
    return PayoutRun(
        [out_dir / f.name for f in files], ids, sum(f.total_minor for f in files), skipped
    )


@dataclass(frozen=True)
class Booked:
    credited: list[int]
    returned: list[int]


def book_reverse(
    sessions: sessionmaker[Session], path: Path, *, actor_id: int | None = None
) -> Booked:
    statuses = read_hdfc_reverse(path)
    credited: list[int] = []
    returned: list[int] = []
    with sessions.begin() as session:
        for st in statuses:
            match = _REFERENCE.match(st.reference)
            settlement = (
                session.get(SettlementRow, int(match.group(1)), with_for_update=True)
                if match
                else None
            )
            if settlement is None:
                raise FormatError(
                    f"payout {st.reference!r} is not one Hisaab sent",
                    file=path,
                    line=st.line,
                    column="customer_ref",
                )
            already = (settlement.status, st.status) in (
                ("credited", "executed"),
                ("returned", "rejected"),
            )
            if already and st.amount_minor == settlement.amount_minor:
                continue  # the same file (or line) booked before: nothing to do again
            if settlement.status != "sent_to_bank":
                raise FormatError(
                    f"payout {st.reference!r} is {settlement.status}, not sent to the bank",
                    file=path,
                    line=st.line,
                    column="customer_ref",
                )
            if st.amount_minor != settlement.amount_minor:
                raise FormatError(
                    f"payout {st.reference!r}: the bank says {st.amount_minor} paise, Hisaab"
                    f" sent {settlement.amount_minor}",
                    file=path,
                    line=st.line,
                    column="amount",
                )
            if st.status == "executed":
                settlement.status, settlement.utr = "credited", st.bank_ref
                settlement.credited_at = utcnow()
                credited.append(settlement.id)
            else:
                settlement.status = "returned"
                session.add(
                    LedgerLine(
                        merchant_id=settlement.merchant_id,
                        settlement_id=settlement.id,
                        kind="payout_return",
                        amount_minor=settlement.amount_minor,
                        currency=settlement.currency,
                        source_id=f"return:{settlement.id}",
                        note=f"returned by the bank: {st.reason or 'no reason given'}",
                    )
                )
                returned.append(settlement.id)
        if credited:
            session.execute(
                update(Transaction)
                .where(Transaction.settlement_id.in_(credited))
                .values(status="credited")
                .execution_options(synchronize_session=False)
            )
        _refresh_payment_dates(session, credited)
        record(
            session,
            actor_id=actor_id,
            action="settlement.reverse_file",
            entity="settlement",
            entity_id=None,
            details={"file": Path(path).name, "credited": credited, "returned": returned},
        )
    return Booked(credited, returned)


def _refresh_payment_dates(session: Session, settlement_ids: list[int]) -> None:
    from hisaab.overview.refresh import refresh_dates

    if not settlement_ids:
        return
    session.flush()
    dates = session.scalars(
        select(Transaction.business_date)
        .where(Transaction.settlement_id.in_(settlement_ids))
        .distinct()
    ).all()
    refresh_dates(session, dates, exceptions=False)
