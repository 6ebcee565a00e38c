"""CSV exports that a spreadsheet opens as text, never as formulas (OWASP "CSV injection").

The ledger: Chai Point's April job. References, UTRs and evidence come from the gateway, the
bank and payers, so a payment reference can arrive as `=HYPERLINK(...)` or a UTR as
`@SUM(...)`. Ops staff open the exports in Excel; every such text cell must come out with a
leading `'`, while numbers, negative ones included, stay numbers. Amounts are INR paise.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exception_rows import unmatched_exception
from hisaab.auth.tokens import Claims
from hisaab.recon.export import exceptions_csv, formula_safe, matches_csv
from hisaab.recon.repository import ExceptionFilter
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import ReconciliationJob, ReconMatch, User

# A payment reference per character a spreadsheet would act on, as a gateway might send it.
HOSTILE_REFERENCES = {
    "=": '=HYPERLINK("http://evil.example/refund","Claim refund")',
    "+": "+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t": "\t=1+1",
    "\r": "\r=1+1",
}


@dataclass(frozen=True)
class Ledger:
    engine: Engine
    job: int
    ops: Claims


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    upgrade(database_url)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        ops = User(email="ops@hisaab.test", password_hash="!", role="sp-ops")
        session.add(ops)
        session.flush()
        april = ReconciliationJob(name="April", created_by=ops.id)
        session.add(april)
        session.flush()
        built = Ledger(engine, april.id, Claims(ops.id, ops.email, ops.role, None))
    yield built
    engine.dispose()


def _add(ledger: Ledger, *rows: object) -> None:
    with Session(ledger.engine) as session, session.begin():
        session.add_all(rows)


def _export_text(ledger: Ledger, which: str) -> str:
    """The job's `matches` or `exceptions` CSV, streamed as the API streams it."""
    with Session(ledger.engine) as session:
        if which == "exceptions":
            chunks = exceptions_csv(
                session, ledger.ops, ledger.job, ExceptionFilter(), lambda: Session(ledger.engine)
            )
        else:
            chunks = matches_csv(session, ledger.ops, ledger.job, lambda: Session(ledger.engine))
        return "".join(chunks)


def _export(ledger: Ledger, which: str) -> list[dict[str, str]]:
    """The export as a CSV reader sees it, one dict per row."""
    return list(csv.DictReader(io.StringIO(_export_text(ledger, which), newline="")))


def _short_credit(job: int, pg_record_id: str, bank_record_id: str) -> ReconMatch:
    """₹25,000.00 paid, ₹24,500.00 credited by the bank: a delta of -50000 paise."""
    return ReconMatch(
        job_id=job,
        match_id=1,
        match_type="one_to_one",
        stage="utr_exact",
        confidence=Decimal("0.9100"),
        status="auto",
        pg_record_id=pg_record_id,
        bank_record_id=bank_record_id,
        pg_amount_minor=2_500_000,
        bank_amount_minor=2_450_000,
        currency="INR",
        pg_source_line=4,
        bank_source_line=7,
        amount_delta_minor=-50_000,
    )


def test_hostile_references_and_utrs_of_exceptions_read_back_as_quoted_text(
    ledger: Ledger,
) -> None:
    _add(
        ledger,
        *(
            unmatched_exception(ledger.job, "pg", reference, 49_900, utr=reference)
            for reference in HOSTILE_REFERENCES.values()
        ),
    )
    rows = _export(ledger, "exceptions")
    assert [(row["record_id"], row["utr"]) for row in rows] == [
        ("'" + reference, "'" + reference) for reference in HOSTILE_REFERENCES.values()
    ]


def test_a_carriage_return_inside_a_reference_cannot_start_a_row_of_its_own(
    ledger: Ledger,
) -> None:
    smuggled = "pay_7\r=2+5+cmd|' /C calc'!A0"
    _add(ledger, unmatched_exception(ledger.job, "pg", smuggled, 49_900))
    rows = _export(ledger, "exceptions")
    assert [(row["record_id"], row["amount_minor"]) for row in rows] == [(smuggled, "49900")]


def test_evidence_text_that_starts_like_a_formula_is_quoted(ledger: Ledger) -> None:
    credit = unmatched_exception(ledger.job, "bank", "BANK-2001", 30_000)
    credit.details = "@SUM(1+9)*cmd|' /C calc'!A0"
    _add(ledger, credit)
    (row,) = _export(ledger, "exceptions")
    assert row["details"] == "'@SUM(1+9)*cmd|' /C calc'!A0"


def test_hostile_record_ids_of_a_match_are_quoted(ledger: Ledger) -> None:
    _add(ledger, _short_credit(ledger.job, HOSTILE_REFERENCES["="], HOSTILE_REFERENCES["@"]))
    (row,) = _export(ledger, "matches")
    assert (row["pg_record_id"], row["bank_record_id"]) == (
        "'" + HOSTILE_REFERENCES["="],
        "'" + HOSTILE_REFERENCES["@"],
    )


def test_a_short_credit_keeps_its_negative_delta_a_plain_number(ledger: Ledger) -> None:
    _add(ledger, _short_credit(ledger.job, "pay_3", "bnk_3"))
    row = _export_text(ledger, "matches").splitlines()[1].split(",")
    assert (row[8], row[9], row[13]) == ("2500000", "2450000", "-50000")


def test_ordinary_text_is_written_as_before(ledger: Ledger) -> None:
    payment = unmatched_exception(ledger.job, "pg", "pay_3", 75_050, utr="401512345673")
    payment.details = json.dumps({"reason": "no counterpart", "narration": "=ref from payer"})
    _add(ledger, payment)
    (row,) = _export(ledger, "exceptions")
    assert (row["record_id"], row["utr"], row["amount_minor"]) == ("pay_3", "401512345673", "75050")
    assert (row["value_date"], row["category"], row["owner_id"]) == (
        "2024-04-01",
        "UNMATCHED_PG",
        "",
    )
    assert json.loads(row["details"])["narration"] == "=ref from payer"


def test_only_text_that_a_spreadsheet_would_run_is_touched() -> None:
    assert [formula_safe(v) for v in ("=1+1", "+91", "-5", "@A1", "\tx", "\rx")] == [
        "'=1+1",
        "'+91",
        "'-5",
        "'@A1",
        "'\tx",
        "'\rx",
    ]
    untouched: list[object] = [
        "UTR=401512345673",
        "",
        -50_000,
        Decimal("-0.5"),
        None,
        dt.date(2024, 4, 1),
    ]
    assert [formula_safe(v) for v in untouched] == untouched
