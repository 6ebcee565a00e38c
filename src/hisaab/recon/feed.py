"""A reconciliation job's records as payments and bank lines, so the Overview shows real jobs.

When a match job completes (hisaab.recon.match_job), its rows are built and checked before
anything is written (`prepare`), then stored in the job's completing transaction (`store`):

* each PG record paid in (direction CR; a refund is not a payment) becomes a `transactions`
  row: id `<job id>:<position in the file>`, the job's merchant (so a merchant's own file
  cannot book payments to another), else the record's, else UNKNOWN_MERCHANT; the method
  named first in its narration (pg-generic writes "UPI captured"), else OTHER; the file's
  layout as `data_source`, `business_date` = value date, `matched` when the engine matched
  it automatically, else `exception` (every record the engine did not match automatically
  is an exception), and `captured` in the settlement pipeline, which settlement moves on;
* each bank record becomes a `bank_transactions` row, matched or exception alike;
* merchants that do not exist yet are created (id only);
* the job's previous rows are deleted first, so a re-run replaces them and never adds to them;
* the Overview's aggregates are rebuilt for exactly the dates whose rows changed: those of the
  previous and of the new payments and exceptions.

Later, the exception workflow calls `exception_changed` on every step: a PG exception resolved
as a manual match makes its payment `matched`; reopening it makes it an exception again.
Write-offs, duplicates and accepted differences leave the payment an exception (resolved, so
counted as such by the Overview's exception figures). A job whose payments are in settlements
is not run again: replacing them would pay them twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final, cast

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import CursorResult, Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hisaab.errors import Conflict, InputError
from hisaab.overview.refresh import refresh_dates
from hisaab.storage.bulk import bulk_load
from hisaab.storage.kpi_models import PAYMENT_METHODS, BankTransaction, Transaction
from hisaab.storage.models import Merchant, ReconciliationException, utcnow
from hisaab.storage.sql import on_postgres

# The canonical columns the feed keeps of each side once the engine has let go of the rest.
RECORD_COLUMNS: Final = (
    "record_id",
    "amount_minor",
    "currency",
    "direction",
    "value_date",
    "utr",
    "merchant_id",
    "narration",
    "source_line",
)
UNKNOWN_MERCHANT: Final = "UNKNOWN"
_NAMED_METHODS = pa.array([m for m in PAYMENT_METHODS if m != "OTHER"])
# Column widths of the tables fed; longer values are refused, never cut.
_WIDTHS: Final = {"record_id": 200, "utr": 64, "merchant_id": 32}
_IN_BATCH: Final = 1_000


@dataclass(frozen=True)
class SideRecords:
    """One side's canonical records as the job read them (RECORD_COLUMNS), and their layout."""

    table: pa.Table
    template: str

    @classmethod
    def of(cls, table: pa.Table, template: str) -> SideRecords:
        return cls(table.select(list(RECORD_COLUMNS)), template)


@dataclass(frozen=True)
class JobDates:
    """Business dates of a job's payments and value dates of its exceptions."""

    payments: frozenset[dt.date]
    exceptions: frozenset[dt.date]


def dates_of(session: Session, job_id: int) -> JobDates:
    """The dates the job's stored payments and exceptions count for (before they are replaced)."""
    payments = session.scalars(
        select(Transaction.business_date).where(Transaction.job_id == job_id).distinct()
    )
    exceptions = session.scalars(
        select(ReconciliationException.value_date)
        .where(ReconciliationException.job_id == job_id)
        .distinct()
    )
    return JobDates(frozenset(payments), frozenset(exceptions))


@dataclass(frozen=True)
class FeedRows:
    """A job's payments and bank lines, built and checked before anything is written."""

    job_id: int
    payments: pa.Table
    bank_lines: pa.Table
    pg_template: str
    bank_template: str
    exception_dates: frozenset[dt.date]


def prepare(
    job_id: int,
    *,
    merchant_id: str | None,
    pg: SideRecords,
    bank: SideRecords,
    exceptions: pa.Table,
) -> FeedRows:
    """The rows to store for this run; InputError (naming the record) when one cannot be.

    `exceptions` is the engine's exception table (side, source_line, value_date) of the run.
    """
    return FeedRows(
        job_id=job_id,
        payments=_payments(job_id, pg, _exception_lines(exceptions, "pg"), merchant_id),
        bank_lines=_bank_lines(bank, _exception_lines(exceptions, "bank")),
        pg_template=pg.template,
        bank_template=bank.template,
        exception_dates=_dates(exceptions.column("value_date")),
    )


@dataclass(frozen=True)
class Fed:
    """What `store` wrote."""

    payments: int
    bank_lines: int
    merchants_created: int
    dates_refreshed: int


def store(session: Session, rows: FeedRows, *, previous: JobDates) -> Fed:
    """Replace the job's payments and bank lines with `rows`, then refresh the KPIs of the
    dates of the previous (`dates_of`, read before this run replaced anything) and new rows.

    The job's exceptions of this run must be stored already.
    """
    now = utcnow()
    job_id = rows.job_id
    settled = session.scalar(
        select(func.count()).where(
            Transaction.job_id == job_id, Transaction.settlement_id.is_not(None)
        )
    )
    if settled:
        # Replacing them would make them unsettled again, and the next settlement would pay
        # them a second time.
        raise Conflict(
            f"{settled:,} payments of job {job_id} are in settlements already; a re-run"
            " would replace them, so it is refused"
        )
    session.execute(delete(Transaction).where(Transaction.job_id == job_id))
    session.execute(delete(BankTransaction).where(BankTransaction.job_id == job_id))
    created = _create_merchants(session, rows.payments.column("merchant_id"), now)
    constants = {"data_source": rows.pg_template[:32], "job_id": job_id, "created_at": now}
    n_payments = bulk_load(session, _table(Transaction), rows.payments, constants)
    constants = {"data_source": rows.bank_template[:32], "job_id": job_id, "created_at": now}
    n_bank = bulk_load(session, _table(BankTransaction), rows.bank_lines, constants)
    payment_dates = previous.payments | _dates(rows.payments.column("business_date"))
    exception_dates = previous.exceptions | rows.exception_dates
    refresh_dates(session, payment_dates, exceptions=False)
    refresh_dates(session, exception_dates, payments=False)
    return Fed(n_payments, n_bank, created, len(payment_dates | exception_dates))


def exception_changed(session: Session, exc: ReconciliationException) -> None:
    """The workflow changed `exc`: its record follows a manual match; the KPIs follow both."""
    matched = exc.status == "resolved" and exc.resolution == "manual_match"
    recon = "matched" if matched else "exception"
    payment_changed = False
    if exc.side == "pg":
        result = session.execute(
            update(Transaction)
            .where(
                Transaction.job_id == exc.job_id,
                Transaction.source_line == exc.source_line,
                Transaction.reconciliation_status != recon,
            )
            .values(reconciliation_status=recon)
            .execution_options(synchronize_session=False)
        )
        payment_changed = cast(CursorResult[Any], result).rowcount > 0
    else:
        session.execute(
            update(BankTransaction)
            .where(
                BankTransaction.job_id == exc.job_id,
                BankTransaction.source_line == exc.source_line,
            )
            .values(reconciliation_status=recon)
            .execution_options(synchronize_session=False)
        )
    refresh_dates(session, [exc.value_date], payments=payment_changed)


# --- building the rows ---------------------------------------------------------------------


def _table(model: type[Transaction] | type[BankTransaction]) -> Table:
    return cast(Table, model.__table__)


def _exception_lines(exceptions: pa.Table, side: str) -> pa.Array:
    mask = pc.equal(exceptions.column("side"), side)
    return pc.unique(exceptions.filter(mask).column("source_line"))


def _dates(column: pa.ChunkedArray) -> frozenset[dt.date]:
    return frozenset(pc.unique(column).to_pylist())


def _blank_to_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _check_widths(side: str, table: pa.Table, columns: dict[str, pa.ChunkedArray]) -> None:
    for name, column in columns.items():
        too_long = pc.fill_null(pc.greater(pc.utf8_length(column), _WIDTHS[name]), False)
        if pc.any(too_long).as_py():
            index = pc.index(too_long, True).as_py()
            raise InputError(
                f"{side} record {table.column('record_id')[index].as_py()!r}: its {name} is"
                f" longer than {_WIDTHS[name]} characters",
                line=table.column("source_line")[index].as_py(),
                column=name,
                expected=f"at most {_WIDTHS[name]} characters",
            )


def _statuses(
    lines: pa.ChunkedArray, exception_lines: pa.Array
) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """(reconciliation_status, pipeline status) of each record: an exception's line, or not.

    Every payment starts its pipeline `captured`: matching its bank credit says the money
    reached the escrow account, not that the merchant was paid (settlement moves it on).
    """
    is_exception = pc.is_in(lines, value_set=exception_lines)
    captured = pa.chunked_array([pa.repeat(pa.scalar("captured"), len(lines))], pa.string())
    return pc.if_else(is_exception, "exception", "matched"), captured


def _payments(
    job_id: int, pg: SideRecords, exception_lines: pa.Array, job_merchant: str | None
) -> pa.Table:
    t = pg.table
    n = t.num_rows
    positions = pc.cast(pa.array(range(1, n + 1), pa.int64()), pa.string())
    ids = pc.binary_join_element_wise(pa.scalar(f"{job_id}:"), positions, "")
    merchant = (
        pa.chunked_array([pa.repeat(pa.scalar(job_merchant), n)], pa.string())
        if job_merchant is not None
        else pc.fill_null(_blank_to_null(t.column("merchant_id")), UNKNOWN_MERCHANT)
    )
    utr = _blank_to_null(t.column("utr"))
    _check_widths(
        "pg", t, {"record_id": t.column("record_id"), "utr": utr, "merchant_id": merchant}
    )
    words = pc.split_pattern(pc.utf8_upper(pc.utf8_trim_whitespace(t.column("narration"))), " ")
    first = pc.list_element(words, 0)
    method = pc.fill_null(
        pc.if_else(pc.is_in(first, value_set=_NAMED_METHODS), first, "OTHER"), "OTHER"
    )
    recon, status = _statuses(t.column("source_line"), exception_lines)
    rows = pa.table(
        {
            "id": ids,
            "merchant_id": merchant,
            "amount_minor": t.column("amount_minor"),
            "currency": t.column("currency"),
            "method": method,
            "status": status,
            "reconciliation_status": recon,
            "utr": utr,
            "business_date": t.column("value_date"),
            "record_id": t.column("record_id"),
            "source_line": t.column("source_line"),
        }
    )
    return rows.filter(pc.equal(t.column("direction"), "CR"))


def _bank_lines(bank: SideRecords, exception_lines: pa.Array) -> pa.Table:
    t = bank.table
    utr = _blank_to_null(t.column("utr"))
    _check_widths("bank", t, {"record_id": t.column("record_id"), "utr": utr})
    recon, _status = _statuses(t.column("source_line"), exception_lines)
    return pa.table(
        {
            "record_id": t.column("record_id"),
            "source_line": t.column("source_line"),
            "amount_minor": t.column("amount_minor"),
            "currency": t.column("currency"),
            "direction": t.column("direction"),
            "value_date": t.column("value_date"),
            "utr": utr,
            "reconciliation_status": recon,
        }
    )


def _create_merchants(session: Session, merchants: pa.ChunkedArray, now: dt.datetime) -> int:
    """Create the merchants not known yet (name = id); concurrent jobs may race, harmlessly."""
    wanted = sorted(pc.unique(merchants).to_pylist())
    if not wanted:
        return 0
    known: set[str] = set()
    for i in range(0, len(wanted), _IN_BATCH):
        batch = wanted[i : i + _IN_BATCH]
        known.update(session.scalars(select(Merchant.id).where(Merchant.id.in_(batch))))
    missing = [m for m in wanted if m not in known]
    if missing:
        dialect = postgresql if on_postgres(session) else sqlite
        statement = dialect.insert(Merchant.__table__).on_conflict_do_nothing(index_elements=["id"])
        session.execute(statement, [{"id": m, "name": m, "created_at": now} for m in missing])
    return len(missing)
