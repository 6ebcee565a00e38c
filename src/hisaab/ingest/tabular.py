"""Reading a delimited statement or export with a template into canonical records.

The reader decodes the whole file (UTF-8 with or without BOM, then the template's fallback
encodings), finds the header row by the template's column names (so preamble lines of any
length are skipped), and then reads every later row with the csv module, keeping the
physical line each row starts on. A row whose date column holds a date is a transaction and
must parse completely; anything that fails is an error naming file, line and column. Rows
that are clearly not transactions (summaries, totals, asterisks, balance-forward lines) are
skipped and counted in the notes, never dropped silently.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

from hisaab.errors import AmountError, FormatError, InputError, TemplateError
from hisaab.ingest.narration import extract_utr
from hisaab.ingest.records import (
    Balance,
    NormalizedFile,
    file_sha256,
    finalize,
    rows_to_table,
)
from hisaab.ingest.template import (
    ColumnRef,
    Dates,
    Extractor,
    RowFilter,
    Template,
    normalize_header,
    split_occurrence,
)
from hisaab.money import Money, normalize_currency, parse_amount

DELIMITERS: tuple[str, ...] = (",", "|", ";", "\t")
MAX_FIELD_CHARS = 1 << 20  # 1 MiB: longer fields mean a broken quote or the wrong file
_BINARY_PROBE = 65536

# A cell that starts like a date: 15/01/24, 2024-01-15T10:22:11+05:30, 01-Apr-24,
# 15 Jan 2024, Jan 15, 2024, 20240115. Such a row is a transaction and must parse.
_DATE_LIKE = re.compile(
    r"^\s*(?:\d{1,4}[-/. ]+(?:\d{1,2}|[A-Za-z]{3,9})[-/., ]+\d{2,4}"
    r"|[A-Za-z]{3,9}\.?[ -]\d{1,2},?[ -]\d{2,4}"
    r"|\d{8})(?!\d)"
)
# Lines inside or after the table that state balances or totals rather than transactions.
_NON_TRANSACTION = re.compile(
    r"\b(?:totals?|grand total|summary|opening bal(?:ance)?|closing bal(?:ance)?|"
    r"balance (?:b/?f|c/?f|brought forward|carried forward)|brought forward|"
    r"carried forward|b/f|c/f)\b",
    re.IGNORECASE,
)
_HAS_LETTER = re.compile(r"[^\W\d_]")
_YEAR_RANGE = (1900, 2100)
_NOTE_RANGES = 6


# --------------------------------------------------------------------------- file access
def check_input_file(path: Path) -> None:
    """Fail clearly for a path that is not a readable, non-empty file."""
    if not path.exists():
        raise FormatError("no such file", file=path, expected="the path of a statement file")
    if path.is_dir():
        raise FormatError(
            "is a directory, not a file", file=path, expected="the path of a statement file"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FormatError(f"cannot read the file: {exc.strerror}", file=path) from None
    if size == 0:
        raise FormatError("the file is empty", file=path, expected="a header row and records")


def read_input_bytes(path: Path) -> bytes:
    check_input_file(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read the file: {exc.strerror}", file=path) from None


_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def sniff_bom(data: bytes) -> tuple[str, int] | None:
    """(encoding, BOM length) when `data` starts with a UTF-8 or UTF-16 byte-order mark."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def reject_binary(data: bytes, path: Path) -> None:
    """Text statements never contain NUL bytes (UTF-16 text aside, which announces itself with
    a byte-order mark); binary files (PDF, XLSX, images) nearly always do in their first 64 KiB."""
    bom = sniff_bom(data)
    if bom is not None and bom[0].startswith("utf-16"):
        return
    if b"\x00" in data[:_BINARY_PROBE]:
        raise FormatError(
            "this is a binary file, not a delimited text statement",
            file=path,
            expected=(
                "a CSV/TSV/pipe-delimited export (save spreadsheets as CSV first) or a "
                "standard statement (MT940, CAMT.053, OFX, BAI2)"
            ),
        )


def decode_text(data: bytes, path: Path, encodings: Sequence[str]) -> tuple[str, str]:
    """The file's text and the encoding that read it: a byte-order mark (UTF-8 or UTF-16)
    wins, then `encodings` in order. An undecodable file names the line of its first bad byte."""
    bom = sniff_bom(data)
    if bom is not None:
        encodings = (bom[0],)
        data = data[bom[1] :]
    errors: list[UnicodeDecodeError] = []
    for encoding in dict.fromkeys(encodings):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            errors.append(exc)
    first_error = errors[0]
    line = data.count(b"\n", 0, first_error.start) + 1
    raise FormatError(
        f"byte 0x{data[first_error.start]:02x} cannot be decoded as "
        + " or ".join(dict.fromkeys(encodings)),
        file=path,
        line=line,
        expected="a text file in one of the template's encodings (utf-8 by default)",
    )


def _raise_field_limit() -> None:
    # csv's limit is process-wide; raising it to 1 MiB (never lowering it) is harmless to
    # other readers and lets real multi-line narrations through.
    if csv.field_size_limit() < MAX_FIELD_CHARS:
        csv.field_size_limit(MAX_FIELD_CHARS)


def iter_records(text: str, delimiter: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(physical line the record starts on, cells) for every csv record of `text`.

    Blank lines come through as empty lists so that line numbers stay physical; a quoted field
    spanning several lines counts all of them.
    """
    _raise_field_limit()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    consumed = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc)
            if "field larger than field limit" in reason:
                reason = f"a field is longer than {MAX_FIELD_CHARS:,} characters (1 MiB)"
            raise FormatError(
                f"cannot split the line into fields: {reason}",
                file=path,
                line=consumed + 1,
                expected="fields under 1 MiB with balanced quotes",
            ) from None
        yield consumed + 1, row
        consumed = reader.line_num


# --------------------------------------------------------------------------- the header
@dataclass(frozen=True)
class HeaderMatch:
    """Where the table starts and which column holds each role."""

    delimiter: str
    record_index: int
    line: int
    cells: tuple[str, ...]
    columns: dict[str, tuple[int, ...]]
    filter_index: int | None


def resolve_columns(
    cells: Sequence[str], template: Template
) -> tuple[dict[str, tuple[int, ...]], int | None, list[str]]:
    """Role -> indices of the header cells that serve it (in preference order), the index of
    the filter column, and a description of every required column that is missing."""
    positions: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        positions.setdefault(normalize_header(cell), []).append(i)

    def lookup(name: str) -> int | None:
        base, occurrence = split_occurrence(name)
        found = positions.get(normalize_header(base), [])
        return found[occurrence - 1] if len(found) >= occurrence else None

    required = set(template.required_roles())
    columns: dict[str, tuple[int, ...]] = {}
    missing: list[str] = []
    for role, ref in template.columns.mapped().items():
        found = [lookup(n) for n in ref.all_names]
        indices = tuple(dict.fromkeys(i for i in found if i is not None))
        columns[role] = indices
        if not indices and role in required:
            missing.append(" or ".join(repr(n) for n in ref.all_names))
    filter_index: int | None = None
    if template.filter is not None:
        filter_index = lookup(template.filter.column)
        if filter_index is None:
            missing.append(repr(template.filter.column))
    return columns, filter_index, missing


def locate_header(text: str, template: Template, path: Path) -> HeaderMatch:
    """The first row, within the template's search window, that has every required column."""
    delimiters = DELIMITERS if template.delimiter == "auto" else (template.delimiter,)
    best: tuple[int, int, list[str]] | None = None  # (columns found, line, missing)
    for delimiter in delimiters:
        try:
            records = islice(iter_records(text, delimiter, path), template.header.search_rows)
            for index, (line, row) in enumerate(records):
                cells = tuple(c.strip() for c in row)
                if sum(1 for c in cells if c) < 2:
                    continue
                columns, filter_index, missing = resolve_columns(cells, template)
                if not missing:
                    return HeaderMatch(delimiter, index, line, cells, columns, filter_index)
                found = sum(1 for idx in columns.values() if idx)
                if found and (best is None or found > best[0]):
                    best = (found, line, missing)
        except FormatError:
            continue  # this delimiter cannot even split the head; try the next one
    if best is not None:
        raise FormatError(
            f"the header row is missing required columns for template {template.name!r}: "
            + ", ".join(best[2]),
            file=path,
            line=best[1],
            expected="a header row naming every column the template maps (see "
            f"`hisaab templates show {template.name}`)",
        )
    raise FormatError(
        f"no header row for template {template.name!r} in the first "
        f"{template.header.search_rows} rows",
        file=path,
        expected="a header row with the columns " + ", ".join(template.signature()),
    )


# --------------------------------------------------------------------------- dates
class DateReader:
    """Parses date cells with a template's formats; remembers answers (statements repeat
    the same few dates thousands of times)."""

    def __init__(self, dates: Dates) -> None:
        self._formats = dates.formats
        self._offset = (
            datetime.strptime(dates.utc_offset, "%z").tzinfo if dates.utc_offset else None
        )
        self._cache: dict[str, tuple[date, str] | None] = {}

    def parse(self, text: str) -> tuple[date, str] | None:
        """(value date, booked_at text) or None when no format reads `text`."""
        try:
            return self._cache[text]
        except KeyError:
            pass
        result = self._parse(text)
        if len(self._cache) > 65536:
            self._cache.clear()
        self._cache[text] = result
        return result

    def _parse(self, raw: str) -> tuple[date, str] | None:
        text = " ".join(raw.split()).replace("Sept", "Sep")
        for fmt in self._formats:
            if fmt == "iso":
                parsed = self._iso(text)
            else:
                try:
                    dt = datetime.strptime(text, fmt)
                except ValueError:
                    continue
                if any(code in fmt for code in ("%H", "%I", "%M", "%S")):
                    if dt.tzinfo is None and self._offset is not None:
                        dt = dt.replace(tzinfo=self._offset)
                    parsed = (dt.date(), dt.isoformat())
                else:
                    parsed = (dt.date(), dt.date().isoformat())
            if parsed is not None and _YEAR_RANGE[0] <= parsed[0].year <= _YEAR_RANGE[1]:
                return parsed
        return None

    def _iso(self, text: str) -> tuple[date, str] | None:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
        if len(text) <= 10:
            return dt.date(), dt.date().isoformat()
        if dt.tzinfo is None and self._offset is not None:
            return dt.date(), dt.replace(tzinfo=self._offset).isoformat()
        return dt.date(), text  # as given: keeps the source's own offset and precision


# --------------------------------------------------------------------------- rows
@dataclass
class _BalancePoint:
    line: int
    signed: int
    balance: int | None
    currency: str
    value_date: date


@dataclass
class _Tally:
    non_transaction_lines: list[int] = field(default_factory=list)
    repeated_headers: list[int] = field(default_factory=list)
    skipped_by_status: Counter[str] = field(default_factory=Counter)


class _RowReader:
    """Turns the data rows of one file into canonical record dicts."""

    def __init__(self, template: Template, header: HeaderMatch, path: Path, source: str) -> None:
        if template.dates is None or template.amounts is None:
            raise TemplateError(
                f"template {template.name!r} has no `dates` or `amounts` section",
                file=template.origin,
            )
        self.t = template
        self.amounts = template.amounts
        self.dates_formats = template.dates.formats
        self.path = path
        self.file = str(path)
        self.source = source
        self.header = header
        self.cols = header.columns
        self.width = len(header.cells)
        self.header_key = tuple(normalize_header(c) for c in header.cells)
        self.dates = DateReader(template.dates)
        self.blank = frozenset(v.casefold() for v in template.blank_values)
        self.date_indices = tuple(
            dict.fromkeys((*self.cols.get("value_date", ()), *self.cols.get("booked_at", ())))
        )
        self.amount_indices = tuple(
            dict.fromkeys(
                i for role in ("amount", "debit", "credit") for i in self.cols.get(role, ())
            )
        )
        self.debit_markers = frozenset(self._marker_key(m) for m in self.amounts.debit_markers)
        self.credit_markers = frozenset(self._marker_key(m) for m in self.amounts.credit_markers)
        positions = {normalize_header(c): i for i, c in reversed(list(enumerate(header.cells)))}
        self.debit_if = tuple(
            (positions[key], frozenset(v.casefold() for v in values))
            for name, values in self.amounts.debit_if.items()
            if (key := normalize_header(name)) in positions
        )
        self.extract = self._compile_extractors(template.extractors())
        self.row_filter = (
            (template.filter, header.filter_index)
            if template.filter is not None and header.filter_index is not None
            else None
        )
        if template.filter is not None:
            self.keep = frozenset(v.strip().casefold() for v in template.filter.keep)
            self.skip = frozenset(v.strip().casefold() for v in template.filter.skip)
        self.tally = _Tally()
        self.balances: list[_BalancePoint] = []
        self.has_balance = bool(self.cols.get("balance"))
        self._memo_row: Sequence[str] | None = None
        self._memo: dict[str, str] = {}

    # ------------------------------------------------------------------ cell access
    @staticmethod
    def _marker_key(text: str) -> str:
        return text.strip().strip(".").replace(" ", "").casefold()

    def _name(self, index: int) -> str:
        return self.header.cells[index]

    def _first_name(self, role: str) -> str:
        indices = self.cols.get(role, ())
        if indices:
            return self._name(indices[0])
        ref = getattr(self.t.columns, role)
        return str(ref.all_names[0]) if ref is not None else role

    @staticmethod
    def _cell(row: Sequence[str], index: int) -> str:
        return row[index].strip() if index < len(row) else ""

    def _value(self, row: Sequence[str], role: str) -> tuple[str, int | None]:
        """The first non-blank value among the role's columns, and the column it came from."""
        for index in self.cols.get(role, ()):
            value = self._cell(row, index)
            if value and value.casefold() not in self.blank:
                return value, index
        return "", None

    def _text(self, row: Sequence[str], role: str) -> str:
        """A text role's value; a narration wrapped over several lines reads as one line."""
        if row is not self._memo_row:  # narration is read up to five times per row
            self._memo_row, self._memo = row, {}
        elif role in self._memo:
            return self._memo[role]
        ref: ColumnRef | None = getattr(self.t.columns, role)
        if ref is None:
            return ""
        if ref.join:
            parts = (self._cell(row, i) for i in self.cols.get(role, ()))
            value = ref.separator.join(p for p in parts if p)
        else:
            value = next((v for i in self.cols.get(role, ()) if (v := self._cell(row, i))), "")
        if "\n" in value or "\r" in value:
            value = " ".join(part.strip() for part in value.splitlines() if part.strip())
        self._memo[role] = value
        return value

    def _fail(
        self, cls: type[InputError], message: str, line: int, column: str | None, expected: str
    ) -> InputError:
        return cls(message, file=self.file, line=line, column=column, expected=expected)

    def _amount(self, text: str, currency: str, line: int, index: int | None) -> int:
        try:
            return parse_amount(text, currency, decimal_separator=self.amounts.decimal_separator)
        except InputError as exc:
            column = self._name(index) if index is not None else None
            raise exc.located(file=self.file, line=line, column=column) from None

    # ------------------------------------------------------------------ classification
    def is_transaction(self, row: Sequence[str]) -> bool:
        """A row with a date is a transaction, unless it is a dated balance line
        ("Opening Balance", "B/F") that carries no debit or credit."""
        if not any(_DATE_LIKE.match(self._cell(row, i)) for i in self.date_indices):
            return False
        narration = self._text(row, "narration") if "narration" in self.cols else ""
        return not (_NON_TRANSACTION.search(narration) and not self._carries_amount(row))

    def non_transaction(self, line: int, row: Sequence[str]) -> None:
        """A row without a date: skip it, unless it carries an amount and a narration the
        way a transaction does (then its date is missing or unreadable: an error)."""
        cells = tuple(normalize_header(c) for c in row)
        if cells[: self.width] == self.header_key:
            self.tally.repeated_headers.append(line)
            return
        narration = self._text(row, "narration") if "narration" in self.cols else ""
        if (
            _HAS_LETTER.search(narration)
            and not _NON_TRANSACTION.search(narration)
            and self._carries_amount(row)
        ):
            value, index = self._value(row, "value_date")
            column = self._name(index) if index is not None else self._first_name("value_date")
            if value:
                raise self._fail(
                    FormatError,
                    f"{value!r} is not a date, but the row has an amount and a narration",
                    line,
                    column,
                    self._date_expectation(),
                )
            raise self._fail(
                FormatError,
                "the row has an amount and a narration but no date",
                line,
                column,
                self._date_expectation(),
            )
        self.tally.non_transaction_lines.append(line)

    def _carries_amount(self, row: Sequence[str]) -> bool:
        currency = self.t.currency or "INR"
        for index in self.amount_indices:
            value = self._cell(row, index)
            if value and value.casefold() not in self.blank:
                try:
                    if parse_amount(value, currency, strict_grouping=False):
                        return True
                except InputError:
                    continue
        return False

    def _date_expectation(self) -> str:
        shown = ", ".join(
            "ISO-8601" if f == "iso" else f.replace("%", "") for f in self.dates_formats
        )
        return f"a real calendar date in one of the formats {shown}"

    # ------------------------------------------------------------------ one record
    def record(self, line: int, row: list[str]) -> dict[str, Any] | None:
        """The canonical dict for a transaction row, or None when the row filter skips it."""
        if len(row) > self.width and any(c.strip() for c in row[self.width :]):
            raise self._fail(
                FormatError,
                f"the row has {len(row)} fields but the header has {self.width}",
                line,
                None,
                "one field per header column (a narration containing the delimiter must be quoted)",
            )
        if self.row_filter is not None and not self._passes_filter(line, row, *self.row_filter):
            return None
        value_date, booked_at = self._dates(line, row)
        currency = self._currency(line, row)
        signed = self._signed_amount(line, row, currency)
        amount_minor, direction = (signed, "CR") if signed >= 0 else (-signed, "DR")
        if signed == 0 and self._debit_flagged(row):
            direction = "DR"
        narration = self._text(row, "narration") if "narration" in self.cols else ""
        rec: dict[str, Any] = {
            "record_id": self._value(row, "record_id")[0] or None,
            "source": self.source,
            "amount_minor": amount_minor,
            "currency": currency,
            "direction": direction,
            "value_date": value_date,
            "booked_at": booked_at,
            "narration": narration or None,
            "source_file": self.file,
            "source_line": line,
            "fee_minor": self._optional_amount(line, row, "fee", currency),
            "tax_minor": self._optional_amount(line, row, "tax", currency),
        }
        for name in ("utr", "merchant_ref", "settlement_id", "settlement_utr", "merchant_id"):
            rec[name] = self._value(row, name)[0] or self._extracted(row, name)
        if self.has_balance:
            self.balances.append(
                _BalancePoint(
                    line, signed, self._balance(line, row, currency), currency, value_date
                )
            )
        return rec

    def filtered_out(self, row: Sequence[str]) -> bool:
        """Is this a row the filter skips (a failed payment)? Checked before anything else,
        so that a skipped row need not be complete (no timestamp, no amount)."""
        if self.row_filter is None:
            return False
        status = self._cell(row, self.row_filter[1]).casefold()
        if status in self.skip:
            self.tally.skipped_by_status[status] += 1
            return True
        return False

    def _passes_filter(
        self, line: int, row: Sequence[str], row_filter: RowFilter, index: int
    ) -> bool:
        raw = self._cell(row, index)
        if raw.casefold() in self.keep:
            return True
        raise self._fail(
            FormatError,
            f"status {raw!r} is neither kept nor skipped by template {self.t.name!r}",
            line,
            self._name(index),
            "one of " + ", ".join((*row_filter.keep, *row_filter.skip)),
        )

    def _dates(self, line: int, row: Sequence[str]) -> tuple[date, str | None]:
        value, index = self._value(row, "value_date")
        if not value:
            raise self._fail(
                FormatError,
                "the date is missing",
                line,
                self._first_name("value_date"),
                self._date_expectation(),
            )
        parsed = self.dates.parse(value)
        if parsed is None:
            raise self._fail(
                FormatError,
                f"{value!r} is not a valid date",
                line,
                self._name(index) if index is not None else None,
                self._date_expectation(),
            )
        booked: str | None = None
        if "booked_at" in self.cols:
            text, b_index = self._value(row, "booked_at")
            if text:
                b_parsed = parsed if text == value else self.dates.parse(text)
                if b_parsed is None:
                    raise self._fail(
                        FormatError,
                        f"{text!r} is not a valid date",
                        line,
                        self._name(b_index) if b_index is not None else None,
                        self._date_expectation(),
                    )
                booked = b_parsed[1]
        return parsed[0], booked

    def _currency(self, line: int, row: Sequence[str]) -> str:
        if "currency" in self.cols:
            value, index = self._value(row, "currency")
            if value:
                try:
                    return normalize_currency(value)
                except InputError as exc:
                    column = self._name(index) if index is not None else None
                    raise exc.located(file=self.file, line=line, column=column) from None
        if self.t.currency is None:
            raise self._fail(
                FormatError,
                "the currency is missing",
                line,
                self._first_name("currency"),
                "an ISO-4217 code such as INR or KES",
            )
        return self.t.currency

    def _debit_flagged(self, row: Sequence[str]) -> bool:
        return any(self._cell(row, i).casefold() in values for i, values in self.debit_if)

    def _signed_amount(self, line: int, row: Sequence[str], currency: str) -> int:
        style = self.amounts.style
        if style == "debit_credit":
            return self._debit_credit(line, row, currency)
        text, index = self._value(row, "amount")
        if not text:
            raise self._fail(
                AmountError,
                "the amount is missing",
                line,
                self._first_name("amount"),
                "an amount such as 1,053.00",
            )
        minor = self._amount(text, currency, line, index)
        if style == "signed":
            return -abs(minor) if minor < 0 or self._debit_flagged(row) else minor
        marker, m_index = self._value(row, "marker")
        key = self._marker_key(marker)
        if minor < 0:
            raise self._fail(
                AmountError,
                f"{text!r} is negative although the row has a Dr/Cr marker",
                line,
                self._name(index) if index is not None else None,
                "a positive amount with the direction in the marker column",
            )
        if key in self.debit_markers:
            return -minor
        if key in self.credit_markers:
            return minor
        raise self._fail(
            FormatError,
            f"direction marker {marker!r} is neither debit nor credit",
            line,
            self._name(m_index) if m_index is not None else self._first_name("marker"),
            "one of " + ", ".join((*self.amounts.debit_markers, *self.amounts.credit_markers)),
        )

    def _debit_credit(self, line: int, row: Sequence[str], currency: str) -> int:
        d_text, d_index = self._value(row, "debit")
        c_text, c_index = self._value(row, "credit")
        debit = abs(self._amount(d_text, currency, line, d_index)) if d_text else 0
        credit = self._amount(c_text, currency, line, c_index) if c_text else 0
        if credit < 0:
            raise self._fail(
                AmountError,
                f"{c_text!r} is a negative amount in the credit column",
                line,
                self._name(c_index) if c_index is not None else None,
                "money in as a positive amount (money out belongs in the debit column)",
            )
        if debit and credit:
            raise self._fail(
                AmountError,
                f"the row has both a debit ({d_text}) and a credit ({c_text})",
                line,
                self._first_name("debit"),
                "exactly one of the debit and credit columns to hold an amount",
            )
        if not debit and not credit:
            raise self._fail(
                AmountError,
                "the row has neither a debit nor a credit amount",
                line,
                self._first_name("debit"),
                f"an amount in {self._first_name('debit')!r} or {self._first_name('credit')!r}",
            )
        return credit if credit else -debit

    def _optional_amount(
        self, line: int, row: Sequence[str], role: str, currency: str
    ) -> int | None:
        if role not in self.cols:
            return None
        text, index = self._value(row, role)
        return self._amount(text, currency, line, index) if text else None

    def _balance(self, line: int, row: Sequence[str], currency: str) -> int | None:
        text, index = self._value(row, "balance")
        if not text:
            return None
        minor = self._amount(text, currency, line, index)
        marker, _ = self._value(row, "balance_marker")
        if marker and self._marker_key(marker) in self.debit_markers:
            minor = -abs(minor)
        return minor

    # ------------------------------------------------------------------ extraction
    @staticmethod
    def _compile_extractors(
        extractors: dict[str, tuple[Extractor, ...]],
    ) -> dict[str, tuple[tuple[Extractor, re.Pattern[str] | None], ...]]:
        return {
            name: tuple((e, re.compile(e.pattern) if e.pattern else None) for e in specs)
            for name, specs in extractors.items()
        }

    def _extracted(self, row: Sequence[str], name: str) -> str | None:
        for extractor, pattern in self.extract.get(name, ()):
            text = self._text(row, extractor.source_role)
            if not text:
                continue
            if pattern is None:
                found = extract_utr(text)
                if found:
                    return found
                continue
            m = pattern.search(text)
            if m:
                value = m.group("value") if "value" in pattern.groupindex else m.group(1)
                if value:
                    return value
        return None


# --------------------------------------------------------------------------- balances
def _check_balances(
    points: list[_BalancePoint],
) -> tuple[list[str], Balance | None, Balance | None]:
    """Does each row move the running balance by its own amount? Works for oldest-first and
    newest-first statements; a disagreement usually means a dropped or altered row."""
    with_balance = [(p, p.balance) for p in points if p.balance is not None]
    if not with_balance:
        return [], None, None
    forward_bad: list[tuple[int, int, int, str]] = []
    backward_bad: list[tuple[int, int, int, str]] = []
    pairs = 0
    for a, b in pairwise(points):
        if a.balance is None or b.balance is None or a.currency != b.currency:
            continue
        pairs += 1
        if b.balance - a.balance != b.signed:
            forward_bad.append((a.line, b.line, b.balance - a.balance - b.signed, b.currency))
        if a.balance - b.balance != a.signed:
            backward_bad.append((a.line, b.line, a.balance - b.balance - a.signed, a.currency))
    if len(forward_bad) != len(backward_bad):
        newest_first = len(backward_bad) < len(forward_bad)
    else:
        newest_first = points[0].value_date > points[-1].value_date
    bad = backward_bad if newest_first else forward_bad
    notes: list[str] = []
    if bad:
        first = bad[0]
        notes.append(
            f"the running balance does not agree with the amounts at {len(bad)} of {pairs} "
            f"consecutive row pairs (first between lines {first[0]} and {first[1]}, off by "
            f"{Money(first[2], first[3])}); rows may be missing, duplicated or altered"
        )
    newest, newest_balance = with_balance[0] if newest_first else with_balance[-1]
    oldest, oldest_balance = with_balance[-1] if newest_first else with_balance[0]
    closing = Balance(newest_balance, newest.currency, newest.value_date)
    opening = Balance(oldest_balance - oldest.signed, oldest.currency, None)
    return notes, opening, closing


def _ranges(lines: list[int]) -> str:
    spans: list[tuple[int, int]] = []
    for n in lines:
        if spans and n == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], n)
        else:
            spans.append((n, n))
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:_NOTE_RANGES])
    return text + (", ..." if len(spans) > _NOTE_RANGES else "")


def _notes(tally: _Tally, encoding: str, template: Template) -> list[str]:
    notes: list[str] = []
    if encoding.replace("_", "-").lower() not in ("utf-8", "utf8"):
        notes.append(f"decoded as {encoding}")
    if tally.repeated_headers:
        notes.append(f"skipped repeated header rows at lines {_ranges(tally.repeated_headers)}")
    if tally.non_transaction_lines:
        n = len(tally.non_transaction_lines)
        notes.append(
            f"skipped {n} non-transaction line{'s' if n != 1 else ''} (summaries, totals, "
            f"balance lines) at lines {_ranges(tally.non_transaction_lines)}"
        )
    if tally.skipped_by_status:
        total = sum(tally.skipped_by_status.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(tally.skipped_by_status.items()))
        column = template.filter.column if template.filter else "status"
        notes.append(f"skipped {total} row{'s' if total != 1 else ''} by {column} ({detail})")
    return notes


# --------------------------------------------------------------------------- entry point
def read_tabular(path: Path, template: Template, *, source: str | None = None) -> NormalizedFile:
    """Read a delimited statement or export with `template` into canonical records."""
    path = Path(path)
    data = read_input_bytes(path)
    reject_binary(data, path)
    text, encoding = decode_text(data, path, (template.encoding, *template.fallback_encodings))
    if not text.strip():
        raise FormatError(
            "the file holds only blank lines", file=path, expected="a header row and records"
        )
    header = locate_header(text, template, path)
    reader = _RowReader(template, header, path, source or template.source)
    records: list[dict[str, Any]] = []
    rows = iter_records(text, header.delimiter, path)
    for _ in islice(rows, header.record_index + 1):
        pass
    for line, row in rows:
        if not any(cell.strip() for cell in row) or reader.filtered_out(row):
            continue
        if reader.is_transaction(row):
            rec = reader.record(line, row)
            if rec is not None:
                records.append(rec)
        else:
            reader.non_transaction(line, row)
    notes = _notes(reader.tally, encoding, template)
    balance_notes, opening, closing = _check_balances(reader.balances)
    notes.extend(balance_notes)
    if not records:
        notes.append("no transactions found after the header")
    table = finalize(rows_to_table(records))
    return NormalizedFile(
        table=table,
        source_file=str(path),
        file_sha256=file_sha256(path),
        template=template.name,
        opening_balance=opening,
        closing_balance=closing,
        notes=notes,
    )


__all__ = [
    "DELIMITERS",
    "DateReader",
    "HeaderMatch",
    "check_input_file",
    "decode_text",
    "iter_records",
    "locate_header",
    "read_input_bytes",
    "read_tabular",
    "reject_binary",
    "resolve_columns",
    "sniff_bom",
]
