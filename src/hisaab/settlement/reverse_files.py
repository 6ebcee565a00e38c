"""Banks' reverse (status) files: what happened to each payout of a file we sent.

HDFC's ENet reverse file (settlement brief, 2.5) has one line per payout: customer reference
(our payout reference), beneficiary name, account, IFSC, account type, amount, value date,
bank reference (the UTR), status (E executed, R rejected) and the reason of a rejection. A
header line is optional. Executed rows confirm their payouts; rejected ones return the money
to the merchant's balance (the ledger's `payout_return`), which the caller books.

Nothing is half-read: a file with any bad line is refused whole, naming the line and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hisaab.errors import AmountError, FormatError
from hisaab.money import parse_amount

COLUMNS = (
    "customer_ref",
    "beneficiary_name",
    "account_number",
    "ifsc",
    "account_type",
    "amount",
    "value_date",
    "bank_ref",
    "status",
    "reject_reason",
)
_STATUSES: dict[str, Literal["executed", "rejected"]] = {
    "E": "executed",
    "EXECUTED": "executed",
    "R": "rejected",
    "REJECTED": "rejected",
}
_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d/%m/%y")


@dataclass(frozen=True)
class PayoutStatus:
    reference: str
    status: Literal["executed", "rejected"]
    amount_minor: int
    value_date: dt.date
    bank_ref: str | None  # the UTR the merchant's statement will show
    reason: str | None
    line: int


def read_hdfc_reverse(path: Path) -> list[PayoutStatus]:
    """Every line of an HDFC ENet reverse file, or a FormatError naming the first bad one."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        text = Path(path).read_bytes().decode("latin-1")
    found: list[PayoutStatus] = []
    seen: dict[str, int] = {}
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if line_no == 1 and cells[0].lower().replace(" ", "") in ("customerrefno", "customerref"):
            continue  # the header line
        if len(cells) < 9:
            raise FormatError(
                f"{len(cells)} fields",
                file=path,
                line=line_no,
                expected=f"at least 9: {', '.join(COLUMNS[:9])}",
            )
        cells += [""] * (len(COLUMNS) - len(cells))
        record = dict(zip(COLUMNS, cells, strict=False))
        status = _STATUSES.get(record["status"].upper())
        if status is None:
            raise FormatError(
                f"status {record['status']!r}",
                file=path,
                line=line_no,
                column="status",
                expected="E (executed) or R (rejected)",
            )
        reference = record["customer_ref"]
        if not reference:
            raise FormatError(
                "no customer reference", file=path, line=line_no, column="customer_ref"
            )
        if reference in seen:
            raise FormatError(
                f"payout {reference!r} again (first on line {seen[reference]})",
                file=path,
                line=line_no,
                column="customer_ref",
            )
        seen[reference] = line_no
        try:
            amount = parse_amount(record["amount"], "INR")
        except AmountError as exc:
            raise exc.located(file=path, line=line_no, column="amount") from None
        if amount <= 0:
            raise FormatError(
                f"amount {record['amount']!r}",
                file=path,
                line=line_no,
                column="amount",
                expected="a positive amount",
            )
        found.append(
            PayoutStatus(
                reference,
                status,
                amount,
                _date(record["value_date"], path, line_no),
                record["bank_ref"] or None,
                (record["reject_reason"] or None) if status == "rejected" else None,
                line_no,
            )
        )
    if not found:
        raise FormatError("no payout lines", file=path, expected="one line per payout")
    return found


def _date(text: str, path: Path, line: int) -> dt.date:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FormatError(
        f"{text!r} is not a date", file=path, line=line, column="value_date", expected="DD/MM/YYYY"
    )
