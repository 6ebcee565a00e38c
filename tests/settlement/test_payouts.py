"""Paying settlements through an HDFC bulk file and booking HDFC's reverse file, on SQLite
and PostgreSQL.

Chai Point (an HDFC account) and Dosa Hut (an ICICI account) each have a matched card payment
of Rs 10,000 on Monday 2 March 2026, settled on Tuesday 3 at 2% MDR + GST (Rs 9,764 each) and
approved; Idli Cafe has no bank account yet. The bank executes Chai Point's payout and
rejects Dosa Hut's (account closed); Dosa Hut's money comes back with its next settlement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hisaab.audit.log import verify
from hisaab.auth.users import create_user
from hisaab.errors import InputError
from hisaab.settlement.merchants import BankAccount, create_merchant
from hisaab.settlement.payout_files import DebitAccount
from hisaab.settlement.payouts import Booked, book_reverse, reference_of, write_payouts
from hisaab.settlement.record import record
from hisaab.settlement.settlements import approve
from hisaab.storage.engine import make_engine
from hisaab.storage.kpi_models import LedgerLine, Settlement, Transaction
from hisaab.storage.migrate import upgrade
from settlement_rows import matched_payment

MON, TUE, WED = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)
ESCROW = DebitAccount("HISAAB01", "00600350012345", "HDFC0000060")
ACCOUNTS = {
    "M0001234": BankAccount("Chai Point Pvt Ltd", "50100012345678", "HDFC0001234"),
    "M0009999": BankAccount("Dosa Hut LLP", "000401234567", "ICIC0000004"),
    "M0005555": None,
}


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine: Engine = make_engine(database_url)
    factory = sessionmaker(engine)
    with factory.begin() as session:
        finance = create_user(
            session, email="asha@hisaab.test", password="x" * 12, role="sp-finance"
        ).id
        for n, (merchant_id, bank) in enumerate(ACCOUNTS.items(), start=1):
            create_merchant(
                session, merchant_id=merchant_id, name=merchant_id, bank=bank, actor_id=None
            )
            session.add(matched_payment(f"1:{n}", merchant_id, 1_000_000, MON, method="CARD"))
    for done in record(factory, TUE):
        with factory.begin() as session:
            approve(session, done.settlement_id or 0, actor_id=finance)
    yield factory
    engine.dispose()


def settlement_of(session: Session, merchant_id: str, on: dt.date = TUE) -> Settlement:
    row = session.scalar(
        select(Settlement).where(
            Settlement.merchant_id == merchant_id, Settlement.settlement_date == on
        )
    )
    assert row is not None
    return row


def reverse_file(tmp_path: Path, chai: int, dosa: int, chai_amount: str = "9764.00") -> Path:
    path = tmp_path / "HISAAB010303.001.rev"
    path.write_text(
        f"{reference_of(chai)},Chai Point Pvt Ltd,50100012345678,HDFC0001234,10,{chai_amount},"
        "03/03/2026,HDFCN52026030399887766,E,\n"
        f"{reference_of(dosa)},Dosa Hut LLP,000401234567,ICIC0000004,10,9764.00,03/03/2026,,R,"
        "ACCOUNT CLOSED\n"
    )
    return path


def test_approved_settlements_go_out_in_one_file_and_come_back_booked(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    run = write_payouts(sessions, TUE, layout="hdfc-enet", debit=ESCROW, out_dir=tmp_path / "out")
    assert [p.name for p in run.files] == ["HISAAB010303.001"]
    assert (len(run.paid), run.total_minor) == (2, 2 * 976_400)
    assert run.skipped == {"M0005555": "no settlement bank account"}
    content = run.files[0].read_text()
    assert "50100012345678,9764.00" in content and "000401234567,9764.00" in content
    with sessions() as session:
        chai, dosa = settlement_of(session, "M0001234"), settlement_of(session, "M0009999")
        assert (chai.status, dosa.status) == ("sent_to_bank", "sent_to_bank")
        assert settlement_of(session, "M0005555").status == "approved"
        statuses = dict(session.execute(select(Transaction.id, Transaction.status)).all())
        assert statuses == {"1:1": "sent_to_bank", "1:2": "sent_to_bank", "1:3": "in_settlement"}
        chai_id, dosa_id = chai.id, dosa.id

    # Nothing approved is left to send (Idli Cafe still has no account).
    again = write_payouts(sessions, TUE, layout="hdfc-enet", debit=ESCROW, out_dir=tmp_path / "2")
    assert again.paid == [] and again.files == []

    booked = book_reverse(sessions, reverse_file(tmp_path, chai_id, dosa_id))
    assert (booked.credited, booked.returned) == ([chai_id], [dosa_id])
    # The same file read again books nothing twice.
    assert book_reverse(sessions, reverse_file(tmp_path, chai_id, dosa_id)) == Booked([], [])
    with sessions() as session:
        chai, dosa = settlement_of(session, "M0001234"), settlement_of(session, "M0009999")
        assert (chai.status, chai.utr) == ("credited", "HDFCN52026030399887766")
        assert dosa.status == "returned"
        returned = session.scalars(
            select(LedgerLine.amount_minor).where(LedgerLine.kind == "payout_return")
        ).all()
        assert returned == [976_400]
        assert session.get(Transaction, "1:1").status == "credited"  # type: ignore[union-attr]
        assert verify(session).ok

    # Dosa Hut's returned payout is paid again with its next settlement, once.
    wednesday = {r.plan.merchant_id: r for r in record(sessions, WED)}
    dosa_next = wednesday["M0009999"].plan.settlement
    assert dosa_next is not None and dosa_next.total("carry_forward") == 976_400
    assert "M0001234" not in wednesday or wednesday["M0001234"].outcome == "nothing_due"
    with sessions() as session:
        assert settlement_of(session, "M0009999", WED).amount_minor == 976_400


def test_a_reverse_file_is_booked_whole_or_not_at_all(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    write_payouts(sessions, TUE, layout="hdfc-enet", debit=ESCROW, out_dir=tmp_path / "out")
    with sessions() as session:
        chai, dosa = settlement_of(session, "M0001234").id, settlement_of(session, "M0009999").id
    wrong_amount = reverse_file(tmp_path, chai, dosa, chai_amount="9765.00")
    with pytest.raises(InputError) as err:
        book_reverse(sessions, wrong_amount)
    assert err.value.line == 1 and "the bank says 976500 paise" in err.value.describe()
    unknown = reverse_file(tmp_path, chai, 999_999)
    with pytest.raises(InputError, match="not one Hisaab sent"):
        book_reverse(sessions, unknown)
    with sessions() as session:
        statuses = {settlement_of(session, m).status for m in ("M0001234", "M0009999")}
        assert statuses == {"sent_to_bank"}  # the good first line was not booked either
