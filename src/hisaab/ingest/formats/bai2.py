"""BAI2 cash-management balance reports: reads 16 transaction details into canonical records.

The record structure (01 file, 02 group, 03 account, 16 detail, 88 continuation, 49/98/99
trailers), the joining of 88 continuations, the funds-availability fields and the control
totals (49 account total = summary amounts + detail amounts; record counts; 98 and 99 totals)
are read and checked by the `bai2` library. Around it this module:

* scans the lines first, so every record and every error knows its physical line;
  unknown record codes, impossible dates (240230) and a file that stops before its 99
  trailer are refused with their line;
* accepts bank-specific type codes 920-959 (credits) and 960-999 (debits), and 900-919
  (status), which the library would reject as "not supported yet";
* applies the specification's default when a group and account both leave the currency
  blank (the originator's currency: USD for the US banks that use BAI2), and says so in the
  file's notes, since a currency taken by default deserves a second look;
* checks each account's balances: 010 opening ledger + credits - debits = 015 closing ledger.

Amounts are integers in the currency's minor units (BAI2 implies the decimals), so they are
used as they are. A 16 record has no date of its own: its value date is the funds' value date
when the funds type is V, else the group's as-of date, which is also its booking date.
utr: a rail reference found in the text, else the bank reference, else the customer
reference; record_id: the bank reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bai2.constants import RecordCode, TypeCode, TypeCodeLevel, TypeCodes, TypeCodeTransaction
from bai2.helpers import IteratorHelper
from bai2.parsers import (
    AccountIdentifierParser,
    AccountParser,
    Bai2FileParser,
    GroupParser,
    TransactionDetailParser,
)

from hisaab.errors import CurrencyError, FormatError
from hisaab.ingest.formats import StandardFormat, register, statement
from hisaab.ingest.narration import extract_utr
from hisaab.ingest.records import (
    Balance,
    NormalizedFile,
)
from hisaab.money import Direction, normalize_currency

NAME = "bai2"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_RECORD_CODES = frozenset({"01", "02", "03", "16", "49", "88", "98", "99"})
_LIBRARY_RECORD_NAME = re.compile(r"RecordCode\.(\w+)")
_OPENING_LEDGER = "010"
_CLOSING_LEDGER = "015"


def _type_code(value: str) -> Any:
    """The library's type code, or one built for a bank-specific code (900-999)."""
    known = TypeCodes.get(value)
    if known is not None:
        return known
    number = int(value) if value.isdigit() else -1
    if 920 <= number <= 959:
        return TypeCode(value, TypeCodeTransaction.credit, TypeCodeLevel.detail, "Custom credit")
    if 960 <= number <= 999:
        return TypeCode(value, TypeCodeTransaction.debit, TypeCodeLevel.detail, "Custom debit")
    if 900 <= number <= 919:
        return TypeCode(value, None, TypeCodeLevel.status, "Custom status")
    raise ValueError(f"unknown BAI2 type code {value!r}")


# The library looks type codes up through these class-level field lists; the subclasses only
# swap in the lookup above, so custom codes read instead of failing.
class _DetailParser(TransactionDetailParser):  # type: ignore[misc]
    head_fields_config = (
        ("type_code", _type_code),
        *TransactionDetailParser.head_fields_config[1:],
    )


class _AccountIdentifierParser(AccountIdentifierParser):  # type: ignore[misc]
    summary_fields_config = (
        ("type_code", _type_code),
        *AccountIdentifierParser.summary_fields_config[1:],
    )


class _AccountParser(AccountParser):  # type: ignore[misc]
    header_parser_class = _AccountIdentifierParser
    child_parser_class = _DetailParser


class _GroupParser(GroupParser):  # type: ignore[misc]
    child_parser_class = _AccountParser


class _FileParser(Bai2FileParser):  # type: ignore[misc]
    child_parser_class = _GroupParser


class _CountingIterator(IteratorHelper):  # type: ignore[misc]
    """The library's record iterator, counting records so an error can name its line."""

    def __init__(self, lines: list[str]) -> None:
        self.index = -1
        super().__init__(lines)

    def advance(self) -> None:
        super().advance()
        self.index += 1


@dataclass(frozen=True)
class _Line:
    number: int
    text: str

    @property
    def code(self) -> str:
        return self.text[:2]

    @property
    def fields(self) -> list[str]:
        return self.text.rstrip("/").split(",")


def sniff(head: bytes) -> bool:
    """A BAI2 file starts with a 01 file header and has 02 group and 03 account records."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().decode("latin-1")
    return text.startswith("01,") and bool(re.search(r"(?m)^02,", text))


def parse(path: Path, *, source: str = "bank", strict: bool = False) -> NormalizedFile:
    """Read a BAI2 file: one record per 16 detail, balances checked per account."""
    path = Path(path)
    report = statement.Report(path, strict=strict)
    notes = report.notes
    lines = _scan(_decode(path.read_bytes(), path, notes), path)
    parsed = _run_library(lines, path)
    detail_lines = iter([line for line in lines if line.code == "16"])
    group_lines = iter([line for line in lines if line.code == "02"])
    account_lines = iter([line for line in lines if line.code == "03"])
    rows: list[dict[str, Any]] = []
    opening: Balance | None = None
    closing: Balance | None = None
    first = True
    for group in parsed.children:
        group_line = next(group_lines)
        as_of: date = group.header.as_of_date
        group_currency = _stated_currency(group_line.fields, 6)
        for account in group.children:
            account_line = next(account_lines)
            currency = _account_currency(account_line, group_currency, path, notes)
            account_rows = [
                _row(detail, next(detail_lines), currency, as_of, path, source)
                for detail in account.children
            ]
            rows.extend(account_rows)
            account_opening, account_closing = _check_account(
                account, account_rows, currency, as_of, account_line, report
            )
            if first:
                opening, first = account_opening, False
            closing = account_closing
    return report.result(rows, NAME, opening=opening, closing=closing)


def _decode(raw: bytes, path: Path, notes: list[str]) -> str:
    return statement.decode(raw, path, notes, expected="a BAI2 file starting with a 01 record")


def _scan(text: str, path: Path) -> list[_Line]:
    """Non-blank lines with their physical numbers, each checked to start with a record code."""
    lines: list[_Line] = []
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        # Fixed-length exports pad each record with spaces to 80 characters.
        line = raw.strip()
        if not line:
            continue
        if line[:2] not in _RECORD_CODES or line[2:3] != ",":
            raise FormatError(
                f"{line[:20]!r} is not a BAI2 record",
                file=path,
                line=number,
                expected="a record code (01, 02, 03, 16, 88, 49, 98 or 99) and a comma",
            )
        lines.append(_Line(number, line))
    if lines[-1].code != "99":
        raise FormatError(
            "the file stops before its 99 file trailer: it looks truncated",
            file=path,
            line=lines[-1].number,
            expected="a last record 99,file total,number of groups,number of records/",
        )
    if lines[0].code != "01":
        raise FormatError(
            "the file does not start with a 01 file header",
            file=path,
            line=lines[0].number,
            expected="01,sender,receiver,YYMMDD,HHMM,file id,...",
        )
    for line in lines:
        if line.code == "02":
            fields = line.fields
            _check_date(fields[4] if len(fields) > 4 else "", "as-of date", line, path)
        elif line.code == "01":
            fields = line.fields
            _check_date(fields[3] if len(fields) > 3 else "", "creation date", line, path)
    return lines


def _check_date(text: str, what: str, line: _Line, path: Path) -> None:
    try:
        if len(text) != 6 or not text.isdigit():
            raise ValueError(text)
        date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        raise FormatError(
            f"impossible {what} {text!r}",
            file=path,
            line=line.number,
            expected="a real calendar date written YYMMDD",
        ) from None


def _run_library(lines: list[_Line], path: Path) -> Any:
    records = [line for line in lines if line.code != "88"]
    iterator: _CountingIterator | None = None
    try:
        iterator = _CountingIterator([line.text for line in lines])
        return _FileParser(iterator, check_integrity=True).parse()
    except Exception as exc:
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        # "Expected RecordCode.account_identifier" reads better as "Expected 03 (account ...)".
        message = _LIBRARY_RECORD_NAME.sub(_record_name, message)
        at = None
        if iterator is not None and 0 <= iterator.index < len(records):
            at = records[iterator.index].number
        if type(exc).__name__ == "IntegrityException":
            # Raised after the trailer was read, when the iterator has moved on: the totals
            # are what is wrong, not the line it stands on.
            raise FormatError(
                f"control totals do not agree: {message}",
                file=path,
                expected="49, 98 and 99 trailers whose totals and record counts match the file",
            ) from exc
        raise FormatError(
            f"BAI2 record cannot be read: {message}",
            file=path,
            line=at,
            expected="records laid out as in the BAI2 specification",
        ) from exc


def _record_name(match: re.Match[str]) -> str:
    name = match.group(1)
    try:
        return f"{RecordCode[name].value} ({name.replace('_', ' ')})"
    except KeyError:
        return name


# BAI2 (2005) 02 and 03 records: a blank currency code means the originator's currency.
DEFAULT_CURRENCY = "USD"


def _stated_currency(fields: list[str], index: int) -> str | None:
    value = fields[index].strip() if len(fields) > index else ""
    return value or None


def _account_currency(
    account_line: _Line, group_currency: str | None, path: Path, notes: list[str]
) -> str:
    text = _stated_currency(account_line.fields, 2) or group_currency
    if text is None:
        notes.append(
            f"line {account_line.number}: neither the account (03) nor its group (02) states a"
            f" currency; the BAI2 default {DEFAULT_CURRENCY} was used"
        )
        return DEFAULT_CURRENCY
    try:
        return normalize_currency(text)
    except CurrencyError as exc:
        raise FormatError(
            exc.message, file=path, line=account_line.number, expected=exc.expected
        ) from exc


def _direction(type_code: Any, line: _Line, path: Path) -> Direction:
    if type_code.transaction == TypeCodeTransaction.credit:
        return "CR"
    if type_code.transaction == TypeCodeTransaction.debit:
        return "DR"
    raise FormatError(
        f"type code {type_code.code} ({type_code.description}) is not a credit or a debit",
        file=path,
        line=line.number,
        expected="a detail type code: 100-399 or 920-959 credits, 400-699 or 960-999 debits",
    )


def _reference(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text or None


def _row(
    detail: Any, line: _Line, currency: str, as_of: date, path: Path, source: str
) -> dict[str, Any]:
    amount = detail.amount
    if amount is None or amount < 0:
        raise FormatError(
            f"transaction detail amount {amount!r} is missing or signed",
            file=path,
            line=line.number,
            expected="an unsigned amount in minor units, such as 150000 for 1,500.00",
        )
    value_date = as_of
    availability = detail.availability
    if availability and isinstance(availability.get("date"), date):
        value_date = availability["date"]
    # The library joins a text continued on 88 records; a text that starts on the 88 record
    # after a 16 record ending in "/" comes out with a leading comma.
    text = _reference(detail.text)
    narration = (text.lstrip(", ").strip() or None) if text else None
    bank_reference = _reference(detail.bank_reference)
    return {
        "record_id": bank_reference,
        "source": source,
        "amount_minor": int(amount),
        "currency": currency,
        "direction": _direction(detail.type_code, line, path),
        "value_date": value_date,
        "booked_at": as_of.isoformat(),
        "utr": extract_utr(narration) or bank_reference or _reference(detail.customer_reference),
        "narration": narration,
        "source_file": str(path),
        "source_line": line.number,
    }


def _summary(account: Any, code: str) -> int | None:
    for item in account.header.summary_items:
        if item.type_code is not None and item.type_code.code == code:
            return int(item.amount) if item.amount is not None else None
    return None


def _check_account(
    account: Any,
    rows: list[dict[str, Any]],
    currency: str,
    as_of: date,
    line: _Line,
    report: statement.Report,
) -> tuple[Balance | None, Balance | None]:
    number = account.header.customer_account_number
    opening_minor = _summary(account, _OPENING_LEDGER)
    closing_minor = _summary(account, _CLOSING_LEDGER)
    opening = Balance(opening_minor, currency, as_of) if opening_minor is not None else None
    closing = Balance(closing_minor, currency, as_of) if closing_minor is not None else None
    if opening_minor is None or closing_minor is None:
        report.unchecked(f"account {number} (010 opening, 015 closing ledger)")
        return opening, closing
    credits, debits = statement.credits_and_debits(rows)
    report.check_balances(
        what=f"account {number}",
        opening_minor=opening_minor,
        credits=credits,
        debits=debits,
        closing_minor=closing_minor,
        currency=currency,
        line=line.number,
        as_of=as_of,
        expected="010 opening ledger + credits - debits = 015 closing ledger",
    )
    return opening, closing


register(
    StandardFormat(
        name=NAME,
        description="BAI2 cash-management balance report (01/02/03/16/88/49/98/99 records)",
        sniff=sniff,
        parse=parse,
    )
)
