"""MT940 (SWIFT customer statement): reads :20: ... :62: statement blocks into canonical records.

The file is scanned into statements and tags by this module, line by line, so every record
knows the physical line of its :61: and every error names its line. Each :61: is one entry:
statement lines are split here, not by the `mt-940` library, which merges an entry without a
transaction type code (NTRF, NMSC...) into the one before it. The library still reads what it
reads well: the structured :86: details (GVC ?00 posting text, ?20-?29 purpose, ?32 name).

What banks really send, and how it is read:

* Wrapping around the messages is skipped: SWIFT envelopes ({1:...}{2:...}{4: and -}, with
  or without SOH/ETX control characters), `-`, `-XXX` and `$` trailers, bank header lines
  such as `ABNANL2A` / `940` / `ABNANL2A`, `0000 01INGBNL2AXXXX00001` or `:940:`, text before
  the first tag, blank lines, spaces at line ends, CRLF, LF or CR line ends, no final line
  end, a UTF-8 BOM; text that is not UTF-8 is read in the code page it reads best in
  (Windows-1252, ISO-8859-2, Windows-1250, code page 852 or 850, Windows-1251 or code page 866
  for Cyrillic), with a note. A "-" line is the end of a message only when the next message
  (or the end of the file) follows it; inside a wrapped :86: ("MARF/MND" "-" "EV01...") it is
  text.
* A statement starts at :20:; a :25:, :28C:, :60F: or :61: after a closed statement (one that
  had its closing balance or trailer) starts the next one when the bank left out :20:.
* Several statements in one file, statements split into :28C: pages (:62M: closing one page,
  :60M: opening the next) and snippets without a closing balance: each statement (page) is
  checked on its own, opening + credits - debits = closing, and a difference is a
  BALANCE_MISMATCH finding (a refusal with strict=True). One without both balances is read
  and noted as unchecked. Forward and available balances (:64:, :65:) are not checked.
* :61: lines are read leniently: an optional entry date, C/D/RC/RD marks in any case, a funds
  code letter (`CR`, `DR`, `CN`, `DD`...), amounts like `,5`, `500`, `000000012,00` or
  `1.000,00` (dots as thousands separators), a missing transaction type code, a type code
  without its `N` (`TRF`), and supplementary details or the amount wrapped onto the next
  line. Several :86: lines for one entry are joined; a :86: outside any entry (after the
  closing balance, or before the first :61:) is statement information and left out.
* An MT942 interim report has no balances: its floor limit (:34F:PLN0,) or its debit and
  credit summaries (:90D:2PLN186,33) name the currency, and it is read unchecked.
* Balances: blank ones (`:62F:` with nothing, or no amount) are ignored with a note, `-0,00`
  reads as zero, one without its currency (`:62M:C020315105000,00`) is in the statement's
  currency; that comes from the balances, or from a `:25:` account that ends in a currency
  code (`NL12ABNA0123456789EUR`, `123456789/EUR`, `... EUR`).
* Dates banks write that are not on the calendar: value and balance dates such as 30
  February or 31 November (German banks count interest in 30-day months) are read as the last
  day of that month. The record keeps the date as written at the end of its narration,
  `[value date 240230]` (or `[entry date 0230]`), and a note names the line. An entry date
  (MMDD) takes the year that puts it nearest its value date, so entry 0102 of value date
  231231 is 2024-01-02 and entry 1231 of value date 240102 is 2023-12-31. Two-digit years are
  20YY, or 19YY from 80 up.
* :NS: (bank-specific) fields of an entry (after its :61:, before or after its :86:) are kept
  at the end of its narration; :NS: fields outside any entry are left out.

What cannot be read is refused with a FormatError naming the file, the line and what was
expected: a :61: without a date, mark and amount, a month 13, an unreadable opening or
closing balance, an unknown currency, an amount finer than its currency allows.

RC (reversal of a credit) takes money out and RD (reversal of a debit) puts it back, so RC is
a DR record and RD a CR record.
"""

from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import mt940

from hisaab.errors import AmountError, CurrencyError, FormatError
from hisaab.ingest.formats import StandardFormat, register, statement
from hisaab.ingest.narration import extract_utr
from hisaab.ingest.records import Balance, NormalizedFile
from hisaab.money import CURRENCY_EXPONENTS, Direction, normalize_currency, parse_amount

NAME = "mt940"

# The library logs each pattern mismatch at ERROR before raising; with no handler anywhere,
# Python would print those to stderr. A NullHandler (what the library should install itself)
# keeps them out of a bare CLI run, while an application that configures logging still
# receives them.
logging.getLogger("mt940").addHandler(logging.NullHandler())

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# SOH/ETX around SWIFT messages, NULs, DOS end-of-file marks: never part of a field.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The tags of MT940 (and MT942) statements. Only these start a field: a wrapped :86: line
# that happens to begin ":12:11" (the rest of a time of day) continues the :86:.
_TAG_IDS = r"(?:13|20|21|25|28|34|60|61|62|64|65|86|90)[A-Za-z]?|NS"
_TAG = re.compile(rf"^:(?P<tag>{_TAG_IDS}):(?P<value>.*)$")
_SPLIT_TAG = re.compile(rf"^(?:{_TAG_IDS}):")
_ENVELOPE_TEXT = re.compile(r"\{4:(?P<rest>:.*)$")
_OPENING_TAGS = ("60F", "60M", "60")
_CLOSING_TAGS = ("62F", "62M", "62")
_BALANCE_TAGS = frozenset({*_OPENING_TAGS, *_CLOSING_TAGS, "64", "65"})
# Tags that begin a statement when the bank left out its :20: reference.
_START_TAGS = frozenset({"25", "28", "28C", "60F", "60M", "60", "61"})
# What may follow the "-" that ends a message: the next message (its envelope or first tag)
# or the end of the file (None).
_MESSAGE_STARTS = frozenset({None, "{", "20", "25", "28", "28C", "60F", "60M", "60"})
# Tags whose value may run over several lines; any other tag is one line, and a loose line
# after it is the bank's own wrapping (a header or trailer), not part of the field.
_MULTILINE_TAGS = frozenset({"61", "86", "NS"})
_BALANCE = re.compile(
    r"^(?P<mark>[CD])\s*(?P<date>\d{6})\s*(?P<currency>[A-Z]{3})?\s*(?P<sign>-)?"
    r"(?P<amount>[0-9.,]*)$",
    re.IGNORECASE,
)
_STATEMENT_LINE = re.compile(
    r"^(?P<value_date>\d{6})(?P<entry_date>\d{4}|\s{4})?(?P<mark>R?[CD])(?P<funds>[A-Z])?\s?"
    r"(?P<amount>\d[\d.]*(?:,\d*)?|,\d+)(?P<rest>.*)$",
    re.IGNORECASE,
)
_STATEMENT_START = re.compile(r"^\d{6}(\d{4}|\s{4})?R?[CD][A-Z]?\s?$", re.IGNORECASE)
_TYPE_CODE = re.compile(r"^[NSF][A-Z0-9][A-Z0-9 ]{2}", re.IGNORECASE)
# SWIFT transaction type identification codes, for a type code written without its N.
_BARE_TYPE_CODES_TEXT = (
    "BNK BOE BRF CAR CAS CHG CHK CLR CMI CMN CMP CMS CMT CMZ COL COM CPN DCR DDT DIS DIV EQA "
    "EXT FEX INT LBX LDP MAR MAT MGT MSC NWI ODC OPT PCH POP PRN REC RED RIG RTI SAL SEC SLE "
    "STO STP SUB SWP TAX TCK TCM TRA TRF TRN UWC VDA WAR"
)
_BARE_TYPE_CODES = frozenset(_BARE_TYPE_CODES_TEXT.split())
# After the type code: a customer reference of up to 16 characters, then "//" and the bank's
# reference (up to 16 characters, up to the first space); anything after them on the line is
# supplementary detail (Rabobank writes the counterparty's name there).
_REFERENCES = re.compile(r"^(?P<customer>(?:(?!//).){0,16})(?://(?P<bank>\S{0,16}))?(?P<more>.*)$")
# MT942 fields that name the currency: the floor limit and the debit/credit summaries.
_CURRENCY_TAGS = frozenset({"34F", "90C", "90D"})
_STATED_CURRENCY = re.compile(r"^\d*(?P<currency>[A-Z]{3})[DC]?\d")
_ACCOUNT_CURRENCY = re.compile(r"(?:^|[0-9/ ])(?P<currency>[A-Z]{3})$")
_STRUCTURED_DETAILS = re.compile(r"^\d{3}\?\d{2}")
# SWIFT fields are at most 65 characters a line; a line that long was cut by the sender's
# wrapping, not at a word boundary, so it continues without a space.
_SWIFT_LINE_WIDTH = 65
_NO_REFERENCE = frozenset({"", "NONREF", "NOREF", "NOTPROVIDED"})


@dataclass
class _Field:
    """One tag as written: its physical line and its raw lines (continuations included)."""

    tag: str
    line: int
    lines: list[str]

    @property
    def value(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Block:
    """One statement (or one :28C: page of it): from its :20: up to the next statement."""

    line: int
    fields: list[_Field] = field(default_factory=list)
    closed: bool = False

    def first(self, *tags: str) -> _Field | None:
        for fld in self.fields:
            if fld.tag in tags:
                return fld
        return None

    def describe(self) -> str:
        reference = self.first("20")
        account = self.first("25")
        text = f"statement {reference.value.strip()!r}" if reference else "statement"
        if account:
            text += f" (account {account.value.strip()})"
        return text


@dataclass
class _Entry:
    """A :61: statement line and the :86: information lines that follow it."""

    line: _Field
    details: list[_Field] = field(default_factory=list)
    bank_fields: list[_Field] = field(default_factory=list)  # :NS: fields of the entry


@dataclass(frozen=True)
class _StatedBalance:
    mark: str
    as_of: date
    currency: str | None
    amount: str
    line: int


def sniff(head: bytes) -> bool:
    """An MT940 file has at least two of its statement tags (:20:, :25:, :28C:, :60F:, :61:,
    :62F:) at line starts."""
    text = _CONTROL.sub("", head.decode("latin-1"))
    found = set(re.findall(r"(?m)^:(20|25|28C?|60[FM]?|61|62[FM]?):", text))
    return len(found) >= 2


def parse(path: Path, *, source: str = "bank", strict: bool = False) -> NormalizedFile:
    """Read an MT940 file: one canonical record per :61: line, balances checked per statement."""
    path = Path(path)
    report = statement.Report(path, strict=strict)
    text = statement.decode(
        path.read_bytes(), path, report.notes, expected="an MT940 statement starting with :20:"
    )
    blocks = _scan(text, path, report.notes)
    rows: list[dict[str, Any]] = []
    opening: Balance | None = None
    closing: Balance | None = None
    for index, block in enumerate(blocks):
        block_rows, block_opening, block_closing = _read_block(block, path, source, report)
        rows.extend(block_rows)
        if index == 0:
            opening = block_opening
        closing = block_closing
    return report.result(rows, NAME, opening=opening, closing=closing)


def _is_trailer(line: str) -> bool:
    """The end of a message: `-`, `-}` (with a {5:...} trailer block), `-XXX`, or `$`."""
    return line in ("-", "$", "-XXX") or line.startswith("-}")


def _scan(text: str, path: Path, notes: list[str]) -> list[_Block]:
    """Split the text into statements and tags, remembering each tag's physical line."""
    blocks: list[_Block] = []
    current: _Block | None = None
    last: _Field | None = None  # the field loose lines continue, if it may run on
    pending_colon: int | None = None
    raw_lines = _LINE_BREAK.split(text)
    next_tags = _next_tags(raw_lines)
    for number, raw_line in enumerate(raw_lines, start=1):
        line = _CONTROL.sub("", raw_line).rstrip()
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == ":":
            # A tag broken after its first colon (":" then "86:..." on the next line).
            pending_colon = number
            continue
        if pending_colon is not None and _SPLIT_TAG.match(line):
            line = ":" + line
        pending_colon = None
        if line.startswith("{"):
            # SWIFT envelope "{1:F01...}{2:...}{4:", sometimes with the first tag after it.
            envelope_text = _ENVELOPE_TEXT.search(line)
            if envelope_text is None:
                last = None
                continue
            line = envelope_text["rest"]
        elif _is_trailer(stripped):
            if last is not None and stripped == "-" and next_tags[number] not in _MESSAGE_STARTS:
                # A "-" line inside a wrapped field ("MARF/MND" "-" "EV01//CSID..."): the
                # statement goes on after it, so it is text, not the end of the message.
                last.lines.append(line)
                continue
            if current is not None:
                current.closed = True
            last = None
            continue
        match = _TAG.match(line)
        if match is None:
            if last is not None:
                last.lines.append(line)
            # Otherwise a bank's own header or trailer line (ABNANL2A, 940, 0000 ...).
            continue
        tag = match["tag"].upper()
        if tag == "20" or (tag in _START_TAGS and (current is None or current.closed)):
            current = _Block(line=number)
            blocks.append(current)
            if tag != "20":
                notes.append(
                    f"{path.name} line {number}: statement without a :20: reference "
                    f"starts at :{tag}:"
                )
        elif current is None:
            # A :86:, :64: or other tag before any statement: nothing to attach it to.
            last = None
            continue
        fld = _Field(tag, number, [match["value"]])
        current.fields.append(fld)
        last = fld if tag in _MULTILINE_TAGS else None
        if tag in _CLOSING_TAGS:
            current.closed = True
    if not blocks:
        raise FormatError(
            "no MT940 statement found",
            file=path,
            expected="a line starting with :20: (transaction reference) followed by :25:, "
            ":60F:, :61: and :62F: lines",
        )
    return blocks


def _next_tags(raw_lines: list[str]) -> list[str | None]:
    """For each line number (1-based), the first tag on a later line: "{" for a SWIFT
    envelope, None at the end of the text."""
    found: list[str | None] = [None] * (len(raw_lines) + 1)
    following: str | None = None
    for index in range(len(raw_lines) - 1, -1, -1):
        found[index + 1] = following
        line = _CONTROL.sub("", raw_lines[index]).strip()
        match = _TAG.match(line)
        if match is not None:
            following = match["tag"].upper()
        elif line.startswith("{"):
            following = "{"
    return found


def _calendar_date(
    year: int, month: int, day: int, written: str, what: str, path: Path, line: int
) -> tuple[date, bool]:
    """The date, with a day past the month's end moved to its last day (second item True)."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise FormatError(
            f"{what} {written!r} cannot be read",
            file=path,
            line=line,
            expected="a date written YYMMDD (or MMDD) with a month 01-12 and a day 01-31",
        )
    last_day = calendar.monthrange(year, month)[1]
    if day > last_day:
        return date(year, month, last_day), True
    return date(year, month, day), False


def _full_year(yy: int) -> int:
    return 1900 + yy if yy >= 80 else 2000 + yy


def _yymmdd(written: str, what: str, path: Path, line: int, notes: list[str]) -> tuple[date, bool]:
    year, month, day = _full_year(int(written[:2])), int(written[2:4]), int(written[4:6])
    found, moved = _calendar_date(year, month, day, written, what, path, line)
    if moved:
        notes.append(
            f"{path.name} line {line}: {what} {written} is not a calendar date "
            f"(30-day month); read as {found.isoformat()}"
        )
    return found, moved


def _entry_date(
    written: str, value_date: date, path: Path, line: int, notes: list[str]
) -> tuple[date, bool]:
    """An MMDD entry date in the year that puts it nearest its value date."""
    month, day = int(written[:2]), int(written[2:])
    candidates = [
        _calendar_date(year, month, day, written, "entry date in :61:", path, line)
        for year in (value_date.year - 1, value_date.year, value_date.year + 1)
    ]
    found, moved = min(candidates, key=lambda c: abs((c[0] - value_date).days))
    if moved:
        notes.append(
            f"{path.name} line {line}: entry date {written} in :61: is not a calendar date "
            f"(30-day month); read as {found.isoformat()}"
        )
    return found, moved


def _minor(amount: str, currency: str, path: Path, line: int) -> int:
    """Minor units of an MT940 amount: comma decimals, dots only as thousands separators."""
    text = amount.strip()
    if "," in text:
        whole, _, fraction = text.rpartition(",")
        whole = whole.replace(".", "")
    elif re.fullmatch(r"\d{1,3}(\.\d{3})+", text):
        whole, fraction = text.replace(".", ""), ""
    else:
        # A decimal point instead of the comma the standard asks for.
        whole, _, fraction = text.partition(".")
    if not (whole + fraction).isdigit():
        raise FormatError(
            f"amount {amount!r} cannot be read",
            file=path,
            line=line,
            expected="an amount with a decimal comma, such as 1500,00 or 1.500,00",
        )
    try:
        return parse_amount(f"{whole or '0'}.{fraction or '0'}", currency)
    except AmountError as exc:
        raise FormatError(exc.message, file=path, line=line, expected=exc.expected) from exc


def _stated_balance(fld: _Field, path: Path, notes: list[str]) -> _StatedBalance | None:
    value = fld.value.strip()
    match = _BALANCE.match(value)
    if not value or (match is not None and match["amount"] == ""):
        notes.append(f"{path.name} line {fld.line}: blank :{fld.tag}: balance ignored")
        return None
    if match is None:
        raise FormatError(
            f"balance :{fld.tag}: {value!r} cannot be read",
            file=path,
            line=fld.line,
            expected="a C or D mark, a YYMMDD date, a currency and an amount, "
            "such as C240131INR1000,00",
        )
    as_of, _ = _yymmdd(match["date"], f"balance date in :{fld.tag}:", path, fld.line, notes)
    mark = match["mark"].upper()
    if match["sign"]:
        mark = "C" if mark == "D" else "D"
    currency = match["currency"].upper() if match["currency"] else None
    if currency is None:
        notes.append(
            f"{path.name} line {fld.line}: :{fld.tag}: balance names no currency; "
            "read in the statement's currency"
        )
    return _StatedBalance(mark, as_of, currency, match["amount"], fld.line)


def _first_balance(
    block: _Block, tags: tuple[str, ...], path: Path, notes: list[str]
) -> _StatedBalance | None:
    for fld in block.fields:
        if fld.tag in tags:
            stated = _stated_balance(fld, path, notes)
            if stated is not None:
                return stated
    return None


def _currency(block: _Block, balances: list[_StatedBalance | None], path: Path) -> str | None:
    named = [b for b in balances if b is not None and b.currency is not None]
    text = named[0].currency if named else None
    line = named[0].line if named else block.line
    if text is None:
        account = block.first("25")
        suffix = _ACCOUNT_CURRENCY.search(account.value.strip().upper()) if account else None
        if account is not None and suffix and suffix["currency"] in CURRENCY_EXPONENTS:
            text, line = suffix["currency"], account.line
    if text is None:
        # An MT942 interim report states no balances; its floor limit (:34F:PLN0,) and its
        # counts and sums of debits and credits (:90D:2PLN186,33) name the currency.
        for fld in block.fields:
            stated = _STATED_CURRENCY.match(fld.value.strip().upper())
            if fld.tag in _CURRENCY_TAGS and stated and stated["currency"] in CURRENCY_EXPONENTS:
                text, line = stated["currency"], fld.line
                break
    if text is None:
        return None
    try:
        return normalize_currency(text)
    except CurrencyError as exc:
        raise FormatError(exc.message, file=path, line=line, expected=exc.expected) from exc


def _entries(block: _Block, path: Path, notes: list[str]) -> list[_Entry]:
    entries: list[_Entry] = []
    in_entry = False
    for fld in block.fields:
        if fld.tag == "61":
            entries.append(_Entry(fld))
            in_entry = True
        elif fld.tag == "86":
            if in_entry:
                entries[-1].details.append(fld)
            else:
                notes.append(
                    f"{path.name} line {fld.line}: statement-level :86: information is "
                    "not part of any entry and was left out"
                )
        elif fld.tag == "NS":
            if in_entry:
                entries[-1].bank_fields.append(fld)
        else:
            in_entry = False
    return entries


@dataclass(frozen=True)
class _Line:
    """A :61: statement line taken apart."""

    value_date: date
    value_moved: bool
    entry_date: date | None
    entry_moved: bool
    mark: str
    amount: str
    customer_reference: str
    bank_reference: str
    supplementary: str
    written_value_date: str
    written_entry_date: str


def _statement_line(fld: _Field, path: Path, notes: list[str]) -> _Line:
    lines = [piece.strip() for piece in fld.lines]
    first = lines[0]
    rest_lines = lines[1:]
    match = _STATEMENT_LINE.match(first)
    if match is None and rest_lines and _STATEMENT_START.match(first):
        # The amount wrapped onto the next line ("...CR" then "30,00N062NONREF").
        match = _STATEMENT_LINE.match(first + rest_lines[0])
        rest_lines = rest_lines[1:]
    if match is None:
        raise FormatError(
            f"statement line {first!r} cannot be read",
            file=path,
            line=fld.line,
            expected="YYMMDD value date, optional MMDD entry date, a C, D, RC or RD "
            "mark and an amount, such as 2401150115C1500,00NTRFNONREF",
        )
    written_value = match["value_date"]
    value_date, value_moved = _yymmdd(written_value, "value date in :61:", path, fld.line, notes)
    written_entry = (match["entry_date"] or "").strip()
    entry_date: date | None = None
    entry_moved = False
    if written_entry:
        entry_date, entry_moved = _entry_date(written_entry, value_date, path, fld.line, notes)
    rest = match["rest"].strip()
    if rest[:6].upper() == "NONREF":
        pass
    elif _TYPE_CODE.match(rest):
        rest = rest[4:]
    elif rest[:3].upper() in _BARE_TYPE_CODES:
        rest = rest[3:]
    references = _REFERENCES.match(rest)
    assert references is not None  # every part of the pattern is optional
    more = references["more"].strip()
    return _Line(
        value_date=value_date,
        value_moved=value_moved,
        entry_date=entry_date,
        entry_moved=entry_moved,
        mark=match["mark"].upper(),
        amount=match["amount"],
        customer_reference=references["customer"].strip(),
        bank_reference=(references["bank"] or "").strip(),
        supplementary=" ".join(piece for piece in [more, *rest_lines] if piece),
        written_value_date=written_value,
        written_entry_date=written_entry,
    )


def _unwrap(lines: list[str]) -> str:
    """Join the physical lines of a :86: field into one line of narration."""
    joined = ""
    previous_width = 0
    for raw in lines:
        piece = raw.strip()
        if not piece:
            continue
        if joined:
            joined += "" if previous_width >= _SWIFT_LINE_WIDTH else " "
        joined += piece
        previous_width = len(raw.rstrip())
    return joined


class _LibraryOptions:
    """What the library's :86: processor reads from the statement it belongs to."""

    options = mt940.Options.all()


def _details_text(details: list[_Field]) -> str:
    raw = "\n".join(fld.value for fld in details)
    if not _STRUCTURED_DETAILS.match(raw.replace("\n", "").replace("\r", "")):
        return " ".join(text for text in (_unwrap(fld.lines) for fld in details) if text)
    # Structured :86: (?00 posting text, ?20-?29 purpose, ?32 name): the library takes the
    # sub-fields apart, and the narration is put together from its pieces.
    # Sub-fields wrapped at a fixed width continue without a space; sub-fields written one to
    # a line (each line starting with "?") are separate words.
    continuations = [piece for piece in raw.split("\n")[1:] if piece.strip()]
    one_per_line = bool(continuations) and all(piece.startswith("?") for piece in continuations)
    parsed = mt940.processors.transaction_details_post_processor(
        _LibraryOptions(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        {"transaction_details": raw},
        {"transaction_details": raw},
        space=one_per_line,
    )
    parts = [
        piece.strip()
        for key in ("posting_text", "applicant_name", "purpose", "additional_purpose")
        if isinstance(piece := parsed.get(key), str) and piece.strip()
    ]
    return " ".join(parts)


def _narration(entry: _Entry, line: _Line) -> str | None:
    parts = [line.supplementary, _details_text(entry.details)]
    # What a bank puts in its own :NS: fields of an entry (names, addresses, references) is
    # part of what the entry says, after its :86: text.
    parts += [_unwrap(fld.lines) for fld in entry.bank_fields]
    if line.value_moved:
        parts.append(f"[value date {line.written_value_date}]")
    if line.entry_moved:
        parts.append(f"[entry date {line.written_entry_date}]")
    text = " ".join(part for part in parts if part)
    return text or None


def _reference(value: str) -> str | None:
    text = value.strip()
    return None if text.upper() in _NO_REFERENCE else text


def _signed(stated: _StatedBalance | None, currency: str, path: Path) -> Balance | None:
    if stated is None:
        return None
    minor = _minor(stated.amount, currency, path, stated.line)
    return Balance(-minor if stated.mark == "D" else minor, currency, stated.as_of)


def _read_block(
    block: _Block, path: Path, source: str, report: statement.Report
) -> tuple[list[dict[str, Any]], Balance | None, Balance | None]:
    notes = report.notes
    stated_opening = _first_balance(block, _OPENING_TAGS, path, notes)
    stated_closing = _first_balance(block, _CLOSING_TAGS, path, notes)
    entries = _entries(block, path, notes)
    currency = _currency(block, [stated_opening, stated_closing], path)
    if currency is None:
        if entries:
            raise FormatError(
                f"{block.describe()} states no currency",
                file=path,
                line=block.line,
                expected="an opening or closing balance (:60F:/:62F:) that names the currency,"
                " or an MT942 floor limit (:34F:)",
            )
        return [], None, None

    rows: list[dict[str, Any]] = []
    credits = debits = 0
    for entry in entries:
        line = _statement_line(entry.line, path, notes)
        direction: Direction = "CR" if line.mark in ("C", "RD") else "DR"
        amount = _minor(line.amount, currency, path, entry.line.line)
        if direction == "CR":
            credits += amount
        else:
            debits += amount
        narration = _narration(entry, line)
        utr = (
            extract_utr(narration)
            or _reference(line.bank_reference)
            or _reference(line.customer_reference)
        )
        rows.append(
            {
                "record_id": None,
                "source": source,
                "amount_minor": amount,
                "currency": currency,
                "direction": direction,
                "value_date": line.value_date,
                "booked_at": line.entry_date.isoformat() if line.entry_date else None,
                "utr": utr,
                "narration": narration,
                "source_file": str(path),
                "source_line": entry.line.line,
            }
        )

    opening = _signed(stated_opening, currency, path)
    closing = _signed(stated_closing, currency, path)
    if opening is not None and closing is not None:
        report.check_balances(
            what=block.describe(),
            opening_minor=opening.amount_minor,
            credits=credits,
            debits=debits,
            closing_minor=closing.amount_minor,
            currency=currency,
            line=stated_closing.line if stated_closing else block.line,
            as_of=closing.as_of,
        )
    else:
        report.unchecked(block.describe())
    return rows, opening, closing


register(
    StandardFormat(
        name=NAME,
        description="SWIFT MT940 customer statement (:20: :25: :60F: :61: :86: :62F:)",
        sniff=sniff,
        parse=parse,
    )
)
