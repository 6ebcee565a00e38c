"""A job's results as CSV, streamed: matches, and exceptions through the list's filters.

Visibility is checked at once, in the caller's session; the rows are read while the response
streams, a batch at a time in a session of the stream's own, so a large job never sits in
memory and the request's session may close before the last row is sent. Text cells that a
spreadsheet would run as a formula are defused on the way out (`formula_safe`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy.orm import Session

from hisaab.auth.tokens import Claims
from hisaab.recon import repository
from hisaab.recon.jobs import visible_job
from hisaab.recon.repository import ExceptionFilter
from hisaab.storage.models import utcnow

MATCH_CSV_COLUMNS = ("id", *repository.MATCH_COLUMNS)
EXCEPTION_CSV_COLUMNS = (
    "id",
    "category",
    "status",
    "side",
    "record_id",
    "source_line",
    "amount_minor",
    "currency",
    "value_date",
    "utr",
    "owner_id",
    "sla_due_at",
    "age_hours",
    "details",
)
# OWASP's list for CSV injection: a spreadsheet runs a cell starting with one of these as a
# formula (tab and CR because some programs skip them and read the formula behind).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def matches_csv(
    session: Session, claims: Claims, job_id: int, open_session: Callable[[], Session]
) -> Iterator[str]:
    """The job's matches as CSV text chunks, read in a session of the stream's own.

    Visibility is checked now, in the caller's session; the rows are read while the
    response streams, a batch at a time, so a large job never sits in memory.
    """
    visible_job(session, claims, job_id)

    def rows(reader: Session) -> Iterator[tuple[object, ...]]:
        for m in repository.iter_matches(reader, job_id):
            yield (m.id, *(getattr(m, name) for name in repository.MATCH_COLUMNS))

    return _csv_stream(open_session, MATCH_CSV_COLUMNS, rows)


def exceptions_csv(
    session: Session,
    claims: Claims,
    job_id: int,
    where: ExceptionFilter,
    open_session: Callable[[], Session],
) -> Iterator[str]:
    """The job's exceptions that pass `where`, as CSV text chunks (see `matches_csv`)."""
    visible_job(session, claims, job_id)

    def rows(reader: Session) -> Iterator[tuple[object, ...]]:
        now = utcnow()
        for e in repository.iter_exceptions(reader, job_id, where):
            age = round((now - e.created_at).total_seconds() / 3600, 2)
            yield (
                e.id,
                e.category,
                e.status,
                e.side,
                e.record_id,
                e.source_line,
                e.amount_minor,
                e.currency,
                e.value_date.isoformat(),
                e.utr,
                e.owner_id,
                None if e.sla_due_at is None else _iso(e.sla_due_at),
                age,
                e.details,
            )

    return _csv_stream(open_session, EXCEPTION_CSV_COLUMNS, rows)


def _iso(at: dt.datetime) -> str:
    """UTC as the JSON answers write it: 2024-01-15T10:00:00Z."""
    return at.isoformat().replace("+00:00", "Z")


def formula_safe(value: object) -> object:
    """A text cell a spreadsheet would execute as a formula, prefixed with `'`; others as given.

    Narrations, UTRs, references and the engine's evidence come from banks, gateways and
    payers; ops staff open these exports in Excel, LibreOffice or Google Sheets, which run
    `=HYPERLINK(...)`, `@SUM(...)` or `+cmd|...` as formulas (CSV injection). A leading single
    quote makes the cell plain text, as OWASP recommends. Only `str` values are touched: a
    negative integer such as an amount delta of -50000 stays a number.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_TRIGGERS):
        return "'" + value
    return value


def _csv_stream(
    open_session: Callable[[], Session],
    header: tuple[str, ...],
    rows: Callable[[Session], Iterable[tuple[object, ...]]],
    *,
    rows_per_chunk: int = 2_000,
) -> Iterator[str]:
    buffer = io.StringIO()
    # Rows end in CRLF (RFC 4180, as Excel writes them). The writer quotes a cell holding a
    # character of the line terminator; with "\n" alone a bare CR inside a reference went out
    # unquoted, spreadsheets end a row there, and the text after it, a new row's first cell,
    # escaped `formula_safe`.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    with open_session() as reader:
        for n, row in enumerate(rows(reader), start=1):
            writer.writerow([formula_safe(cell) for cell in row])
            if n % rows_per_chunk == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()
