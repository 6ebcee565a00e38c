"""BAI2 cash-management balance reports: reads 16 transaction details into canonical records.

Which reader does what, and why:

* The `bai2` library's type-code table (`bai2.constants.TypeCodes`) says whether a code is a
  credit, a debit, a non-monetary detail or a balance; its funds types name the availability
  fields that follow an amount. Both are used as they are.
* Its record and file parsers are not: they stop at the first trailer whose total or count
  disagrees (an `IntegrityException` naming no line), refuse a file that ends before its
  trailers, a blank amount, a type code missing from the table, and records that banks do
  send: a record wrapped onto the next physical line without an 88, several records on one
  line ("...PPD/ 16,142,..."), "88:" for "88,". So records, continuations and the
  01/02/03/49/98/99 structure are read here, leniently:

  - every physical line is stripped (fixed-length exports pad to 80 columns); records joined
    on one line are split where a "/" is followed by blanks and a record code; a line that
    starts with no record code continues the record before it (a wrap, not a record);
  - an 88 continues the record before it, whatever that record is (03 summaries, 16 text,
    trailers); a 16's text continues across 88s with a space, its fields with a comma;
  - a blank detail amount is read as 0 (with a note); a blank summary amount is "not stated";
  - a signed detail amount ("-5000", "+5000") is read as its size, the type code giving the
    direction as always, with a note; the trailers add it up as written;
  - 49, 98 and 99 trailers are compared with what their records add up to (49: summary plus
    detail amounts and records; 98 and 99: the accounts' and groups' totals computed from
    their records, the number of accounts or groups, and the records). One that disagrees,
    and a trailer that is missing (a file that stops early), is a CONTROL_TOTAL_MISMATCH
    finding naming the trailer with the stated and computed figures; `strict` refuses it;
  - each account's balances are checked: 010 opening ledger + credits - debits = 015 closing
    ledger (a BALANCE_MISMATCH finding when they are not).

What cannot be read is refused with its line: a file that does not start with 01, an unknown
record code, an impossible date, a type code that is neither a credit nor a debit, a detail
amount that is not a number.

Amounts are integers in the currency's minor units (BAI2 implies the currency's decimals: 2
for USD, 0 for JPY, 3 for KWD), so they are used as they are. The currency is the 03
account's, else the 02 group's, else the specification's default (USD, with a note). A 16
record has no date of its own: its value date is the funds' value date when the funds type
is V, else the group's as-of date, which is also its booking date. utr: a rail reference
found in the text, else the bank reference, else the customer reference; record_id: the
bank reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from bai2.constants import TypeCodes, TypeCodeTransaction

from hisaab.errors import AmountError, CurrencyError, FormatError
from hisaab.ingest.findings import CONTROL_TOTAL_MISMATCH
from hisaab.ingest.formats import StandardFormat, register, statement
from hisaab.ingest.narration import extract_utr
from hisaab.ingest.records import Balance, NormalizedFile
from hisaab.money import Direction, Money, normalize_currency, parse_amount

NAME = "bai2"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_RECORD_CODES = frozenset({"01", "02", "03", "16", "49", "88", "98", "99"})
_RECORD_START = re.compile(r"(\d\d)\s*([,:])")
# "...PPD/ 16,142,2500,..." : a record ends with "/" and the next starts on the same line.
_JOINED = re.compile(r"(?<=/)\s+(?=(?:01|02|03|16|49|88|98|99)\s*,)")
_SIGNED_INTEGER = re.compile(r"[+-]?\d+")
_STRAY_COMMA = re.compile(r"\s*,\s*\d{3}\s*,\s*[+-]?\d")
_TYPE_CODES: dict[str, Any] = dict(TypeCodes)
_OPENING_LEDGER = "010"
_CLOSING_LEDGER = "015"
# Fields that follow the funds type: V value date and time, S three amounts, D a count and
# that many day/amount pairs (counted when it is read).
_FUNDS_FIELDS = {"V": 2, "S": 3}

# BAI2 (2005) 02 and 03 records: a blank currency code means the originator's currency.
DEFAULT_CURRENCY = "USD"


@dataclass
class _Record:
    """One logical record: its code, first physical line, and the bodies of its physical
    records (the record itself, then each 88 that continues it)."""

    code: str
    line: int
    parts: list[str]

    def fields(self) -> list[str]:
        """Comma fields of every physical record, each ending where its record ends."""
        out: list[str] = []
        for part in self.parts:
            body = part.strip()
            body = body.removesuffix("/")
            out.extend(item.strip() for item in body.split(","))
        return out


@dataclass
class _Account:
    number: str
    currency: str
    line: int
    summaries: list[tuple[str, int | None]]
    records: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    detail_total: int = 0

    @property
    def total(self) -> int:
        return sum(amount or 0 for _, amount in self.summaries) + self.detail_total

    def summary(self, code: str) -> int | None:
        for type_code, amount in self.summaries:
            if type_code == code:
                return amount
        return None


@dataclass
class _Group:
    line: int
    as_of: date
    currency: str | None
    records: int
    accounts: list[_Account] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(account.total for account in self.accounts)


@dataclass
class _File:
    line: int
    records: int
    groups: list[_Group] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(group.total for group in self.groups)


def sniff(head: bytes) -> bool:
    """A BAI2 file starts with a 01 file header and has 02 group and 03 account records."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().decode("latin-1")
    return bool(re.match(r"01\s*,", text)) and bool(re.search(r"(?m)(^|/\s*)02\s*,", text))


def parse(path: Path, *, source: str = "bank", strict: bool = False) -> NormalizedFile:
    """Read a BAI2 file: one record per 16 detail, balances and trailers checked."""
    path = Path(path)
    report = statement.Report(path, strict=strict)
    records = _scan(_decode(path.read_bytes(), path, report.notes), path, report.notes)
    reader = _Reader(path, source, report)
    for record in records:
        reader.read(record)
    reader.finish(records[-1])
    return report.result(reader.rows, NAME, opening=reader.opening, closing=reader.closing)


def _decode(raw: bytes, path: Path, notes: list[str]) -> str:
    return statement.decode(raw, path, notes, expected="a BAI2 file starting with a 01 record")


def _not_a_record(piece: str, path: Path, line: int) -> FormatError:
    return FormatError(
        f"{piece[:20]!r} is not a BAI2 record",
        file=path,
        line=line,
        expected="a record code (01, 02, 03, 16, 88, 49, 98 or 99) and a comma",
    )


def _scan(text: str, path: Path, notes: list[str]) -> list[_Record]:
    """Logical records with their first physical line; wraps and 88s joined to their record."""
    records: list[_Record] = []
    wrapped = colon = trailing = False
    record_length = _physical_record_length(text)
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        # Blanks pad fixed-length records; DOS files may end with Ctrl-Z.
        line = raw.strip().strip("\x00\x1a").strip()
        if not line:
            continue
        for piece in _pieces(line, record_length, path, notes):
            start = _RECORD_START.match(piece)
            code = start.group(1) if start else None
            previous_open = bool(records) and not records[-1].parts[-1].rstrip().endswith("/")
            if start is None or code not in _RECORD_CODES:
                if records and records[-1].code == "99" and not previous_open:
                    trailing = True  # after the file trailer: not part of the report
                    continue
                if not previous_open:
                    raise _not_a_record(piece, path, number)
                # A record wrapped onto the next physical line (some banks wrap at 80 columns).
                records[-1].parts[-1] += piece
                wrapped = True
                continue
            colon = colon or start.group(2) == ":"
            body = piece[start.end() :]
            if code == "88":
                if not records:
                    raise FormatError(
                        "a continuation (88) record with no record before it",
                        file=path,
                        line=number,
                        expected="an 88 record after the record it continues",
                    )
                records[-1].parts.append(body)
            else:
                records.append(_Record(str(code), number, [body]))
    if trailing:
        notes.append(f"{path.name}: text after the 99 file trailer was ignored")
    if not records:
        raise FormatError("no BAI2 records found", file=path, expected="01,sender,receiver,...")
    if records[0].code != "01":
        raise FormatError(
            "the file does not start with a 01 file header",
            file=path,
            line=records[0].line,
            expected="01,sender,receiver,YYMMDD,HHMM,file id,...",
        )
    if wrapped:
        notes.append(f"{path.name}: records wrapped onto the next line without an 88 were joined")
    if colon:
        notes.append(f"{path.name}: a record code followed by ':' was read as one followed by ','")
    return records


def _physical_record_length(text: str) -> int | None:
    """The physical record length the 01 file header states (its sixth field), if any."""
    header = re.match(r"\s*01\s*,([^/\r\n]*)", text.lstrip("\ufeff"))
    if header is None:
        return None
    fields = header.group(1).split(",")
    length = fields[5].strip() if len(fields) > 5 else ""
    return int(length) if length.isdigit() and int(length) >= 20 else None


def _pieces(line: str, record_length: int | None, path: Path, notes: list[str]) -> list[str]:
    """The records on one physical line: a file sent as one stream of fixed-length records
    (no line breaks) is cut at the length its 01 header states; records joined with "/ " are
    split apart."""
    if record_length is not None and len(line) > record_length:
        chunks = [line[i : i + record_length].strip() for i in range(0, len(line), record_length)]
        if all(not chunk or _RECORD_START.match(chunk) for chunk in chunks):
            note = (
                f"{path.name}: records without line breaks were cut every"
                f" {record_length} characters"
            )
            if note not in notes:
                notes.append(note)
            return [piece for chunk in chunks if chunk for piece in _JOINED.split(chunk)]
    return _JOINED.split(line)


def _date(text: str, what: str, record: _Record, path: Path) -> date:
    try:
        if not text.isdigit() or len(text) not in (6, 8):
            raise ValueError(text)
        if len(text) == 8:  # YYYYMMDD, which some banks write instead of YYMMDD
            return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        raise FormatError(
            f"impossible {what} {text!r}",
            file=path,
            line=record.line,
            expected="a real calendar date written YYMMDD",
        ) from None


def _field(fields: list[str], index: int) -> str:
    return fields[index] if len(fields) > index else ""


def _integer(text: str) -> int | None:
    """A stated integer (sign allowed), or None when the field is blank or not a number."""
    text = text.replace(" ", "")
    return int(text) if _SIGNED_INTEGER.fullmatch(text) else None


def _summaries(fields: list[str]) -> list[tuple[str, int | None]]:
    """The 03 record's (type code, amount) summaries; a blank amount is not stated.

    Each summary is type code, amount, item count, funds type and its availability fields;
    a blank where a type code belongs (a record closed by ",/") is skipped."""
    out: list[tuple[str, int | None]] = []
    index = 0
    while index < len(fields):
        type_code = fields[index]
        if not type_code.isdigit():
            index += 1
            continue
        amount = _integer(_field(fields, index + 1))
        funds = _field(fields, index + 3).upper()
        index += 4
        if funds == "D":
            count = _integer(_field(fields, index)) or 0
            index += 1 + 2 * count
        else:
            index += _FUNDS_FIELDS.get(funds, 0)
        out.append((type_code, amount))
    return out


@dataclass
class _Detail:
    fields: list[str]
    text: str


def _detail(record: _Record) -> _Detail:
    """The 16 record's fields up to the customer reference, and its text (the rest)."""
    fields: list[str] = []
    text: list[str] = []
    in_text = False
    for part in record.parts:
        body = part.strip()
        ended = body.endswith("/")
        body = body.removesuffix("/")
        if in_text:
            text.append(body)
            continue
        pieces = body.split(",")
        while pieces:
            needed = _fields_before_text(fields)
            if needed is not None and len(fields) >= needed:
                text.append(",".join(pieces))
                in_text = True
                break
            fields.append(pieces.pop(0).strip())
        needed = _fields_before_text(fields)
        if ended and needed is not None and len(fields) >= needed:
            in_text = True
    words = " ".join(piece.strip().rstrip(",").strip() for piece in text if piece.strip())
    return _Detail(fields, words)


def _fields_before_text(fields: list[str]) -> int | None:
    """How many fields come before a 16 record's text, once the funds type says so."""
    if len(fields) < 3:
        return None
    funds = fields[2].upper()
    if funds == "D":
        if len(fields) < 4:
            return None
        return 3 + 1 + 2 * (_integer(fields[3]) or 0) + 2
    return 3 + _FUNDS_FIELDS.get(funds, 0) + 2


class _Reader:
    """Walks the records: groups, accounts and details, checking each trailer as it comes."""

    def __init__(self, path: Path, source: str, report: statement.Report) -> None:
        self.path = path
        self.source = source
        self.report = report
        self.rows: list[dict[str, Any]] = []
        self.opening: Balance | None = None
        self.closing: Balance | None = None
        self.file: _File | None = None
        self.group: _Group | None = None
        self.account: _Account | None = None
        self.first_account = True

    def read(self, record: _Record) -> None:
        handler = {
            "01": self._file_header,
            "02": self._group_header,
            "03": self._account_header,
            "16": self._transaction,
            "49": self._account_trailer,
            "98": self._group_trailer,
            "99": self._file_trailer,
        }[record.code]
        handler(record)

    def finish(self, last: _Record) -> None:
        """At the end of the file: trailers that never came are a finding, not a refusal."""
        missing: list[str] = []
        if self.account is not None:
            missing.append(f"the 49 account trailer of account {self.account.number}")
            self._close_account(None)
        if self.group is not None:
            missing.append("its 98 group trailer")
            self._close_group(None)
        if self.file is not None:
            missing.append("its 99 file trailer")
            self.file = None
        if missing:
            self.report.finding(
                CONTROL_TOTAL_MISMATCH,
                f"the file stops before {_listed(missing)}: it looks truncated; the records"
                " before that were read, but their totals cannot be checked",
                line=last.line,
                expected="a last record 99,file total,number of groups,number of records/",
            )

    # -- headers -------------------------------------------------------------------------

    def _file_header(self, record: _Record) -> None:
        if self.file is not None:
            self.finish(record)
        fields = record.fields()
        try:
            _date(_field(fields, 2), "creation date", record, self.path)
        except FormatError as exc:
            # The creation date is not used: a wrong one is worth a note, not a refusal.
            self.report.note(f"line {record.line}: {exc.message}")
        self.file = _File(record.line, len(record.parts))

    def _group_header(self, record: _Record) -> None:
        if self.file is None:
            self._outside(record, "a 01 file header")
        self._missing_account_trailer(record)
        if self.group is not None:
            self._missing_trailer(record, "98 group trailer", f"group at line {self.group.line}")
            self._close_group(None)
        fields = record.fields()
        as_of = _date(_field(fields, 3), "as-of date", record, self.path)
        currency = _field(fields, 5) or None
        self.group = _Group(record.line, as_of, currency, len(record.parts))

    def _account_header(self, record: _Record) -> None:
        if self.group is None:
            self._outside(record, "a 02 group header")
        self._missing_account_trailer(record)
        fields = record.fields()
        number = _field(fields, 0)
        self.account = _Account(
            number=number,
            currency=self._currency(_field(fields, 1), record),
            line=record.line,
            summaries=_summaries(fields[2:]),
            records=len(record.parts),
        )

    def _currency(self, stated: str, record: _Record) -> str:
        assert self.group is not None
        text = stated or self.group.currency
        if text is None:
            self.report.note(
                f"line {record.line}: neither the account (03) nor its group (02) states a"
                f" currency; the BAI2 default {DEFAULT_CURRENCY} was used"
            )
            return DEFAULT_CURRENCY
        try:
            return normalize_currency(text)
        except CurrencyError as exc:
            raise FormatError(
                exc.message, file=self.path, line=record.line, expected=exc.expected
            ) from exc

    def _outside(self, record: _Record, wanted: str) -> NoReturn:
        raise FormatError(
            f"a {record.code} record outside {wanted}",
            file=self.path,
            line=record.line,
            expected=f"{wanted} before each {record.code} record",
        )

    # -- details -------------------------------------------------------------------------

    def _transaction(self, record: _Record) -> None:
        account, group = self.account, self.group
        if account is None or group is None:
            self._outside(record, "an account (03)")
        account.records += len(record.parts)
        if _STRAY_COMMA.match(record.parts[0]):
            # "16,,115,450000,..." : an empty field before the type code, typed by hand.
            record.parts[0] = record.parts[0].lstrip()[1:]
            self.report.note(f"line {record.line}: an empty field before the type code skipped")
        detail = _detail(record)
        fields = detail.fields
        type_code = _field(fields, 0)
        direction = self._direction(type_code, record)
        amount, written = self._amount(_field(fields, 1), account.currency, record)
        account.detail_total += written
        if amount != written:
            self.report.note(
                f"line {record.line}: detail amount {_field(fields, 1)!r} carries a sign; BAI2"
                f" amounts are unsigned and type code {type_code} gives the direction, so it"
                f" was read as {Money(amount, account.currency)}"
                + ("" if direction is None else f" ({'credit' if direction == 'CR' else 'debit'})")
            )
        if direction is None:
            self.report.note(
                f"line {record.line}: detail {type_code} carries non-monetary information"
                " and is not an entry"
            )
            return
        value_date = group.as_of
        funds = _field(fields, 2).upper()
        if funds == "V" and _field(fields, 3):
            value_date = _date(_field(fields, 3), "value date", record, self.path)
        after_funds = _fields_before_text(fields) or 5
        bank_reference = _field(fields, after_funds - 2) or None
        customer_reference = _field(fields, after_funds - 1) or None
        narration = " ".join(detail.text.split()) or None
        row = {
            "record_id": bank_reference,
            "source": self.source,
            "amount_minor": amount,
            "currency": account.currency,
            "direction": direction,
            "value_date": value_date,
            "booked_at": group.as_of.isoformat(),
            "utr": extract_utr(narration) or bank_reference or customer_reference,
            "narration": narration,
            "source_file": str(self.path),
            "source_line": record.line,
        }
        account.rows.append(row)
        self.rows.append(row)

    def _direction(self, type_code: str, record: _Record) -> Direction | None:
        """CR or DR; None for a non-monetary detail (890); a refusal for anything else."""
        known = _TYPE_CODES.get(type_code)
        number = int(type_code) if type_code.isdigit() and len(type_code) == 3 else -1
        if known is not None:
            if known.transaction == TypeCodeTransaction.credit:
                return "CR"
            if known.transaction == TypeCodeTransaction.debit:
                return "DR"
            if known.transaction == TypeCodeTransaction.misc:
                return None
            raise FormatError(
                f"type code {type_code} ({known.description}) is not a credit or a debit",
                file=self.path,
                line=record.line,
                expected="a detail type code: 100-399 or 920-959 credits,"
                " 400-699 or 960-999 debits",
            )
        # Bank-specific codes (BAI2 reserves 900-999: 920-959 credits, 960-999 debits) and
        # codes newer than the library's table, by the specification's ranges.
        if 100 <= number <= 399 or 920 <= number <= 959:
            direction: Direction = "CR"
        elif 400 <= number <= 699 or 960 <= number <= 999:
            direction = "DR"
        else:
            raise FormatError(
                f"unknown BAI2 type code {type_code!r}",
                file=self.path,
                line=record.line,
                expected="a detail type code: 100-399 or 920-959 credits,"
                " 400-699 or 960-999 debits",
            )
        if number < 900:
            self.report.note(
                f"line {record.line}: type code {type_code} is not in the BAI2 code table;"
                f" read as a {'credit' if direction == 'CR' else 'debit'} by its range"
            )
        return direction

    def _amount(self, text: str, currency: str, record: _Record) -> tuple[int, int]:
        """A detail's amount in minor units, and the value as written (which control totals
        add up): they differ when a bank signed the amount ("-5000"), which BAI2 does not do;
        the type code, not the sign, says which way the money went."""
        text = text.replace(" ", "")
        if not text:
            self.report.note(f"line {record.line}: a detail with no amount was read as 0")
            return 0, 0
        negative = text.startswith("-")
        digits = text.lstrip("+-") if text[:1] in "+-" and len(text) > 1 else text
        if digits.isdigit() and text.count("-") + text.count("+") <= 1:
            value = int(digits)
            return value, -value if negative else value
        if "." in digits and digits[:1] not in "+-":
            # Not BAI2 (amounts imply their decimals), but unambiguous: 1234.50 USD.
            try:
                value = parse_amount(digits, currency)
            except AmountError:
                pass
            else:
                self.report.note(
                    f"line {record.line}: amount {text!r} has a decimal point; read as"
                    f" {Money(value, currency)}"
                )
                return value, -value if negative else value
        raise FormatError(
            f"transaction detail amount {text!r} is not an amount",
            file=self.path,
            line=record.line,
            expected="an amount in minor units, such as 150000 for 1,500.00",
        )

    # -- trailers ------------------------------------------------------------------------

    def _missing_account_trailer(self, record: _Record) -> None:
        if self.account is not None:
            self._missing_trailer(
                record, "49 account trailer", f"account {self.account.number}", self.account
            )
            self._close_account(None)

    def _missing_trailer(
        self, record: _Record, trailer: str, what: str, account: _Account | None = None
    ) -> None:
        figures = ""
        if account is not None:
            figures = f" (its records add up to {account.total} in {account.records} records)"
        self.report.finding(
            CONTROL_TOTAL_MISMATCH,
            f"{what} has no {trailer}: it ends at line {record.line} with the next"
            f" {record.code} record{figures}",
            line=record.line,
            statement=what,
            expected=f"a {trailer} before line {record.line}",
        )

    def _account_trailer(self, record: _Record) -> None:
        account = self.account
        if account is None:
            self.report.note(f"line {record.line}: a 49 account trailer with no account ignored")
            return
        account.records += len(record.parts)
        self._close_account(record)

    def _close_account(self, trailer: _Record | None) -> None:
        account, group = self.account, self.group
        assert account is not None and group is not None
        self.account = None
        group.accounts.append(account)
        group.records += account.records
        what = f"account {account.number}"
        if trailer is not None:
            fields = trailer.fields()
            self._compare(
                trailer,
                f"49 account trailer of {what}",
                what,
                account.currency,
                stated_total=_field(fields, 0),
                total=account.total,
                counts=[("records", _field(fields, 1), account.records)],
            )
        self._check_balances(account, group)

    def _check_balances(self, account: _Account, group: _Group) -> None:
        opening_minor = account.summary(_OPENING_LEDGER)
        closing_minor = account.summary(_CLOSING_LEDGER)
        currency = account.currency
        opening = (
            Balance(opening_minor, currency, group.as_of) if opening_minor is not None else None
        )
        closing = (
            Balance(closing_minor, currency, group.as_of) if closing_minor is not None else None
        )
        if self.first_account:
            self.opening, self.first_account = opening, False
        self.closing = closing
        if opening_minor is None or closing_minor is None:
            self.report.unchecked(f"account {account.number} (010 opening, 015 closing ledger)")
            return
        credits, debits = statement.credits_and_debits(account.rows)
        self.report.check_balances(
            what=f"account {account.number}",
            opening_minor=opening_minor,
            credits=credits,
            debits=debits,
            closing_minor=closing_minor,
            currency=currency,
            line=account.line,
            as_of=group.as_of,
            expected="010 opening ledger + credits - debits = 015 closing ledger",
        )

    def _group_trailer(self, record: _Record) -> None:
        if self.group is None:
            self.report.note(f"line {record.line}: a 98 group trailer with no group ignored")
            return
        self._missing_account_trailer(record)
        self.group.records += len(record.parts)
        self._close_group(record)

    def _close_group(self, trailer: _Record | None) -> None:
        group, file = self.group, self.file
        assert group is not None and file is not None
        self.group = None
        file.groups.append(group)
        file.records += group.records
        if trailer is None:
            return
        fields = trailer.fields()
        currencies = {account.currency for account in group.accounts}
        self._compare(
            trailer,
            f"98 group trailer of the group at line {group.line}",
            f"group at line {group.line}",
            currencies.pop() if len(currencies) == 1 else None,
            stated_total=_field(fields, 0),
            total=group.total,
            counts=[
                ("accounts", _field(fields, 1), len(group.accounts)),
                ("records", _field(fields, 2), group.records),
            ],
        )

    def _file_trailer(self, record: _Record) -> None:
        file = self.file
        if file is None:
            self.report.note(f"line {record.line}: a 99 file trailer with no file ignored")
            return
        self._missing_account_trailer(record)
        if self.group is not None:
            self._missing_trailer(record, "98 group trailer", f"group at line {self.group.line}")
            self._close_group(None)
        file.records += len(record.parts)
        self.file = None
        fields = record.fields()
        currencies = {account.currency for group in file.groups for account in group.accounts}
        self._compare(
            record,
            "99 file trailer",
            "file",
            currencies.pop() if len(currencies) == 1 else None,
            stated_total=_field(fields, 0),
            total=file.total,
            counts=[
                ("groups", _field(fields, 1), len(file.groups)),
                ("records", _field(fields, 2), file.records),
            ],
        )

    def _compare(
        self,
        trailer: _Record,
        name: str,
        what: str,
        currency: str | None,
        *,
        stated_total: str,
        total: int,
        counts: list[tuple[str, str, int]],
    ) -> None:
        """A CONTROL_TOTAL_MISMATCH finding when the trailer's figures are not its records'."""
        wrong: list[str] = []
        difference: int | None = None
        stated = _integer(stated_total)
        if stated_total and stated is None:
            wrong.append(f"a total {stated_total!r} that is not a number")
        elif stated is not None and stated != total:
            wrong.append(f"a total of {stated}, but its records add up to {total}")
            difference = stated - total
        for label, text, counted in counts:
            number = _integer(text)
            if number != counted:
                wrong.append(f"{text or 'no'} {label}, but there are {counted}")
        if not wrong:
            return
        self.report.finding(
            CONTROL_TOTAL_MISMATCH,
            f"the {name} does not match its records: it states {'; '.join(wrong)}",
            line=trailer.line,
            statement=what,
            difference_minor=difference,
            currency=currency if difference is not None else None,
            expected=f"a {name} whose total and counts match its records",
        )


def _listed(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


register(
    StandardFormat(
        name=NAME,
        description="BAI2 cash-management balance report (01/02/03/16/88/49/98/99 records)",
        sniff=sniff,
        parse=parse,
    )
)
