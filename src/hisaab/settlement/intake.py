"""Refunds and disputes from files: a gateway's refund report, an acquirer's chargeback file.

CSV with a header line; columns by name, in any order, extra columns ignored. Amounts are
written as people write them ("1,200.00", "₹1,200.00") in the row's currency; dates as
YYYY-MM-DD or DD/MM/YYYY. A file is taken whole or not at all: the first row that cannot be
taken (a bad value, an unknown merchant, an id taken already) refuses the file, naming its
line and column, and nothing of it is written.

    refunds:  refund_id, merchant_id, amount, currency, date, reason[, payment_ref]
    disputes: dispute_id, merchant_id, network, reason_code, stage, amount, currency,
              received_at (ISO 8601 with its offset, or a date: the start of that day in
              the merchant's time zone)[, payment_ref, fee]
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from hisaab.errors import FormatError, HisaabError, InputError
from hisaab.money import parse_amount
from hisaab.settlement.dispute_store import open_dispute
from hisaab.settlement.refunds import create_refund
from hisaab.storage.models import Merchant

REFUND_COLUMNS = ("refund_id", "merchant_id", "amount", "currency", "date", "reason")
DISPUTE_COLUMNS = (
    "dispute_id",
    "merchant_id",
    "network",
    "reason_code",
    "stage",
    "amount",
    "currency",
    "received_at",
)
_MAX_BYTES = 50 * 1024 * 1024


def load_refunds(session: Session, path: Path, *, actor_id: int | None) -> int:
    n = 0
    for line, row in _rows(path, REFUND_COLUMNS):
        with _located(path, line):
            currency = row["currency"].strip().upper()
            create_refund(
                session,
                refund_id=row["refund_id"].strip(),
                merchant_id=row["merchant_id"].strip(),
                amount_minor=_amount(row["amount"], currency, path, line),
                currency=currency,
                business_date=_date(row["date"], path, line, "date"),
                reason=row["reason"],
                payment_ref=(row.get("payment_ref") or "").strip() or None,
                actor_id=actor_id,
            )
        n += 1
    return n


def load_disputes(session: Session, path: Path, *, actor_id: int | None) -> int:
    n = 0
    for line, row in _rows(path, DISPUTE_COLUMNS):
        with _located(path, line):
            currency = row["currency"].strip().upper()
            merchant_id = row["merchant_id"].strip()
            fee = (row.get("fee") or "").strip()
            open_dispute(
                session,
                dispute_id=row["dispute_id"].strip(),
                merchant_id=merchant_id,
                network=row["network"].strip().lower(),
                reason_code=row["reason_code"],
                stage=row["stage"].strip().lower(),
                amount_minor=_amount(row["amount"], currency, path, line),
                currency=currency,
                received_at=_moment(session, row["received_at"], merchant_id, path, line),
                payment_ref=(row.get("payment_ref") or "").strip() or None,
                fee_minor=_amount(fee, currency, path, line, "fee") if fee else 0,
                actor_id=actor_id,
            )
        n += 1
    return n


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise FormatError("the file is larger than 50 MB", file=path)
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read the file: {exc.strerror}", file=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        raise FormatError(
            f"missing columns: {', '.join(missing)}",
            file=path,
            line=1,
            expected=", ".join(required),
        )
    reader.fieldnames = header
    found = False
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        found = True
        yield reader.line_num, {k: (v or "") for k, v in row.items() if isinstance(k, str)}
    if not found:
        raise FormatError("no rows", file=path, expected="a header line and one row per item")


@contextmanager
def _located(path: Path, line: int) -> Iterator[None]:
    """Errors raised while taking a row name the file and the row's line."""
    try:
        yield
    except InputError as exc:
        exc.located(file=path, line=line)
        raise
    except HisaabError as exc:  # an unknown merchant, an id taken already
        exc.message = f"{path}, line {line}: {exc.message}"
        raise


def _amount(text: str, currency: str, path: Path, line: int, column: str = "amount") -> int:
    try:
        return parse_amount(text, currency)
    except InputError as exc:
        raise exc.located(file=path, line=line, column=column) from None


def _date(text: str, path: Path, line: int, column: str) -> dt.date:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FormatError(
        f"{text!r} is not a date", file=path, line=line, column=column, expected="YYYY-MM-DD"
    )


def _moment(session: Session, text: str, merchant_id: str, path: Path, line: int) -> dt.datetime:
    text = text.strip()
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is not None:
        return moment
    day = moment.date() if moment is not None else _date(text, path, line, "received_at")
    merchant = session.get(Merchant, merchant_id)
    zone = ZoneInfo(merchant.timezone if merchant is not None else "Asia/Kolkata")
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)
