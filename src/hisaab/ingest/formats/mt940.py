"""MT940 (SWIFT customer statement): reads :20: ... :62: statement blocks into canonical records.

The tag contents are parsed by the `mt-940` library (`mt940.parse`): it knows the :61:
sub-field layout (value date, entry date, D/C/RC/RD mark, amount, type code, customer and bank
reference, supplementary details), structured :86: details (GVC ?00/?20/?32 sub-fields) and the
entry-date year rollover. Around it this module does what the library does not do, or does in
a way a reconciliation must not rely on:

* physical line numbers: the file is scanned into tags first, so every record knows the line
  of its :61: and every error names its line;
* one statement per :20: block, each checked on its own (opening + credits - debits = closing);
* impossible dates are refused with their line: the library silently moves 30 February to
  the 28th, so its `date_fixup_pre_processor` is switched off and dates are checked up front;
* real-world deviations: CRLF, LF or CR line ends, no final line end, a UTF-8 BOM, Windows-1252
  or Latin-1 bytes, SWIFT envelope lines ({1:...}{4: and -}), blank balance lines, amounts like
  ",00" and zero debit balances, :86: narration wrapped over several lines, and a
  statement-level :86: after the closing balance (kept out of the last entry).

RC (reversal of a credit) takes money out and RD (reversal of a debit) puts it back, so RC is
a DR record and RD a CR record.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import mt940

from hisaab.errors import AmountError, CurrencyError, FormatError
from hisaab.ingest.formats import StandardFormat, register, statement
from hisaab.ingest.narration import extract_utr
from hisaab.ingest.records import (
    Balance,
    NormalizedFile,
)
from hisaab.money import Direction, normalize_currency, parse_amount

NAME = "mt940"

# The library logs each pattern mismatch at ERROR before raising; with no handler anywhere,
# Python would print those to stderr beside the FormatError this module raises. A NullHandler
# (what the library should install itself) keeps them out of a bare CLI run, while an
# application that configures logging still receives them.
logging.getLogger("mt940").addHandler(logging.NullHandler())

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TAG = re.compile(r"^:(?P<tag>[0-9]{2}[A-Z]?|NS):(?P<value>.*)$")
_OPENING_TAGS = ("60F", "60M", "60")
_CLOSING_TAGS = ("62F", "62M", "62")
_BALANCE_TAGS = frozenset({*_OPENING_TAGS, *_CLOSING_TAGS, "64", "65"})
_BALANCE = re.compile(
    r"^(?P<mark>[CD])(?P<date>\d{6})(?P<currency>[A-Z]{3})(?P<amount>[0-9,]*)$", re.IGNORECASE
)
_STATEMENT_LINE = re.compile(r"^(?P<value_date>\d{6})(?P<entry_date>\d{4})?(?P<mark>R?[CD])", re.I)
_TYPED_STATEMENT_LINE = re.compile(
    r"^\d{6}(\d{4})?R?[CD][A-Z]?[\n ]?[\d,]+[A-Z][A-Z0-9 ]{3}", re.IGNORECASE
)
# SWIFT fields are at most 65 characters a line; a line that long was cut by the sender's
# wrapping, not at a word boundary, so it continues without a space.
_SWIFT_LINE_WIDTH = 65
_NO_REFERENCE = frozenset({"", "NONREF", "NOREF", "NOTPROVIDED"})
# The library's balance attributes, in order of preference, per side of the statement.
_OPENING_KEYS = ("final_opening_balance", "intermediate_opening_balance", "opening_balance")
_CLOSING_KEYS = ("final_closing_balance", "intermediate_closing_balance", "closing_balance")


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
    """One statement: everything from a :20: up to the next :20:."""

    line: int
    fields: list[_Field] = field(default_factory=list)

    def first(self, *tags: str) -> _Field | None:
        for wanted in tags:
            for fld in self.fields:
                if fld.tag == wanted:
                    return fld
        return None

    def describe(self) -> str:
        reference = self.first("20")
        account = self.first("25")
        text = f"statement {reference.value.strip()!r}" if reference else "statement"
        if account:
            text += f" (account {account.value.strip()})"
        return text


def sniff(head: bytes) -> bool:
    """An MT940 file has a :20: reference and a :25: account or :60F: balance at line starts."""
    text = head.decode("latin-1")
    return bool(re.search(r"(?m)^:20:", text)) and bool(re.search(r"(?m)^:(25|60F|61):", text))


def parse(path: Path, *, source: str = "bank", strict: bool = False) -> NormalizedFile:
    """Read an MT940 file: one canonical record per :61: line, balances checked per statement."""
    path = Path(path)
    report = statement.Report(path, strict=strict)
    text = _decode(path.read_bytes(), path, report.notes)
    blocks = _scan(text, path)
    rows: list[dict[str, Any]] = []
    opening: Balance | None = None
    closing: Balance | None = None
    for index, block in enumerate(blocks):
        statement_rows, block_opening, block_closing = _read_block(block, path, source, report)
        rows.extend(statement_rows)
        if index == 0:
            opening = block_opening
        closing = block_closing
    return report.result(rows, NAME, opening=opening, closing=closing)


def _decode(raw: bytes, path: Path, notes: list[str]) -> str:
    return statement.decode(raw, path, notes, expected="an MT940 statement starting with :20:")


def _scan(text: str, path: Path) -> list[_Block]:
    """Split the text into statements and tags, remembering each tag's physical line."""
    blocks: list[_Block] = []
    current: _Block | None = None
    for number, raw_line in enumerate(_LINE_BREAK.split(text), start=1):
        line = raw_line.rstrip()
        if not line.strip():
            continue
        # SWIFT envelope: "{1:F01...}{2:...}{4:" before the text block, "-}" or "-" after it.
        if line.startswith("{") or line.startswith("-}") or line.strip() == "-":
            continue
        match = _TAG.match(line)
        if match:
            tag = match["tag"]
            if tag == "20":
                current = _Block(line=number)
                blocks.append(current)
            elif current is None:
                if tag == "61" or tag in _BALANCE_TAGS:
                    raise FormatError(
                        f":{tag}: appears before any :20: statement reference",
                        file=path,
                        line=number,
                        expected="each statement to start with a :20: line",
                    )
                continue
            current.fields.append(_Field(tag, number, [match["value"]]))
        elif current is not None and current.fields:
            current.fields[-1].lines.append(line)
    if not blocks:
        raise FormatError(
            "no MT940 statement found",
            file=path,
            expected="a line starting with :20: (transaction reference) followed by :25:, "
            ":60F:, :61: and :62F: lines",
        )
    return blocks


def _check_date(yymmdd: str, what: str, path: Path, line: int) -> None:
    try:
        date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError:
        raise FormatError(
            f"impossible {what} {yymmdd!r}",
            file=path,
            line=line,
            expected="a real calendar date written YYMMDD",
        ) from None


def _prepare(block: _Block, path: Path, notes: list[str]) -> tuple[list[_Field], list[_Field]]:
    """The fields to hand to the library (and its :61: lines), after checks and clean-up."""
    kept: list[_Field] = []
    statement_lines: list[_Field] = []
    in_entry = False
    for fld in block.fields:
        if fld.tag in _BALANCE_TAGS:
            in_entry = False
            value = fld.value.strip()
            match = _BALANCE.match(value)
            if not value or (match is not None and match["amount"] == ""):
                notes.append(f"{path.name} line {fld.line}: blank :{fld.tag}: balance ignored")
                continue
            if match is None:
                raise FormatError(
                    f"balance :{fld.tag}: {value!r} cannot be read",
                    file=path,
                    line=fld.line,
                    expected="a C or D mark, a YYMMDD date, a currency and an amount, "
                    "such as C240131INR1000,00",
                )
            _check_date(match["date"], f"balance date in :{fld.tag}:", path, fld.line)
        elif fld.tag == "61":
            in_entry = True
            match = _STATEMENT_LINE.match(fld.value)
            if match is None:
                raise FormatError(
                    f"statement line {fld.value.splitlines()[0]!r} cannot be read",
                    file=path,
                    line=fld.line,
                    expected="YYMMDD value date, optional MMDD entry date, a C, D, RC or RD "
                    "mark and an amount, such as 2401150115C1500,00NTRFNONREF",
                )
            _check_date(match["value_date"], "value date in :61:", path, fld.line)
            if match["entry_date"]:
                # The entry date has no year of its own; 2000 is a leap year, so only
                # dates that exist in no year at all (30 February, 31 April) fail here.
                _check_date("00" + match["entry_date"], "entry date in :61:", path, fld.line)
            statement_lines.append(fld)
        elif fld.tag == "86":
            if not in_entry:
                notes.append(
                    f"{path.name} line {fld.line}: statement-level :86: information is "
                    "not part of any entry and was left out"
                )
                continue
        elif fld.tag != "NS":
            in_entry = False
        kept.append(fld)
    return kept, statement_lines


def _run_library(kept: list[_Field], path: Path) -> Any:
    text = "\n".join(f":{fld.tag}:{fld.value}" for fld in kept)
    try:
        # A file object, not a str: the library reads a str that names a file as that file.
        # No pre_statement processors: the default one clamps impossible February dates.
        return mt940.parse(
            io.StringIO(text), processors={"pre_statement": []}, options=mt940.Options.all()
        )
    except Exception as exc:
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        line = None
        if isinstance(exc, RuntimeError) and len(exc.args) >= 3 and isinstance(exc.args[2], str):
            # The library raises RuntimeError(message, tag, value) for a value its pattern
            # does not match; the value's first line finds the field in the file.
            tag, value = exc.args[1], exc.args[2]
            message = f"{getattr(tag, 'name', 'field')} value {value!r} does not match its layout"
            first = value.strip().split("\n", 1)[0].strip()
            line = next((f.line for f in kept if f.lines[0].strip() == first), None)
        raise FormatError(
            f"MT940 field cannot be read: {message}",
            file=path,
            line=line,
            expected="fields laid out as in the SWIFT MT940 standard",
        ) from exc


def _minor(value: Decimal, currency: str, path: Path, line: int) -> int:
    try:
        return parse_amount(format(value.copy_abs(), "f"), currency)
    except AmountError as exc:
        raise FormatError(exc.message, file=path, line=line, expected=exc.expected) from exc


def _balance(
    parsed: Any, keys: tuple[str, ...], currency: str, path: Path, line: int
) -> Balance | None:
    for key in keys:
        found = parsed.data.get(key)
        if found is None or not isinstance(found.amount, mt940.models.Amount):
            continue
        minor = _minor(found.amount.amount, currency, path, line)
        sign = -1 if str(found.status).upper() == "D" else 1
        as_of = date(found.date.year, found.date.month, found.date.day) if found.date else None
        return Balance(sign * minor, currency, as_of)
    return None


def _unwrap(text: str) -> str:
    """Join the physical lines of a :86: field into one line of narration."""
    joined = ""
    previous_width = 0
    for raw in text.split("\n"):
        piece = raw.strip()
        if not piece:
            continue
        if joined:
            joined += "" if previous_width >= _SWIFT_LINE_WIDTH else " "
        joined += piece
        previous_width = len(raw.rstrip())
    return joined


def _narration(data: dict[str, Any]) -> str | None:
    parts: list[str] = []
    extra = data.get("extra_details")
    if isinstance(extra, str) and extra.strip():
        parts.append(extra.strip())
    details = data.get("transaction_details")
    if isinstance(details, str):
        parts.append(_unwrap(details))
    else:
        # Structured :86: (?00 posting text, ?20-?29 purpose, ?32 name): the library has taken
        # the raw text apart, so the narration is put back together from its pieces.
        for key in ("posting_text", "applicant_name", "purpose", "additional_purpose"):
            piece = data.get(key)
            if isinstance(piece, str) and piece.strip():
                parts.append(piece.strip())
    text = " ".join(part for part in parts if part)
    return text or None


def _reference(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return None if text.upper() in _NO_REFERENCE else text


def _read_block(
    block: _Block, path: Path, source: str, report: statement.Report
) -> tuple[list[dict[str, Any]], Balance | None, Balance | None]:
    kept, statement_lines = _prepare(block, path, report.notes)
    parsed = _run_library(kept, path)
    entries = list(parsed.transactions)
    if len(entries) != len(statement_lines):
        # The library starts a new entry only after one with a type code (NTRF, NMSC...);
        # without it the next :61: is merged into this one.
        untyped = next(
            (fld for fld in statement_lines if not _TYPED_STATEMENT_LINE.match(fld.value)), None
        )
        if untyped is not None:
            raise FormatError(
                "statement line has no transaction type code, so the entry after it cannot "
                "be told apart from it",
                file=path,
                line=untyped.line,
                expected="a type code such as NTRF or NMSC after the amount",
            )
        raise FormatError(
            f"{block.describe()}: {len(statement_lines)} :61: lines but {len(entries)} entries",
            file=path,
            line=block.line,
        )
    currency_text = parsed.currency
    if not currency_text:
        raise FormatError(
            f"{block.describe()} states no currency",
            file=path,
            line=block.line,
            expected="an opening or closing balance (:60F:/:62F:) that names the currency",
        )
    try:
        currency = normalize_currency(currency_text)
    except CurrencyError as exc:
        raise FormatError(exc.message, file=path, line=block.line, expected=exc.expected) from exc

    rows: list[dict[str, Any]] = []
    credits = debits = 0
    for entry, fld in zip(entries, statement_lines, strict=True):
        data = entry.data
        mark = str(data.get("status") or "").upper()
        direction: Direction = "CR" if mark in ("C", "RD") else "DR"
        amount = _minor(data["amount"].amount, currency, path, fld.line)
        if direction == "CR":
            credits += amount
        else:
            debits += amount
        value_date = data["date"]
        entry_date = data.get("entry_date")
        narration = _narration(data)
        utr = (
            extract_utr(narration)
            or _reference(data.get("bank_reference"))
            or _reference(data.get("customer_reference"))
        )
        rows.append(
            {
                "record_id": None,
                "source": source,
                "amount_minor": amount,
                "currency": currency,
                "direction": direction,
                "value_date": date(value_date.year, value_date.month, value_date.day),
                "booked_at": (
                    date(entry_date.year, entry_date.month, entry_date.day).isoformat()
                    if entry_date
                    else None
                ),
                "utr": utr,
                "narration": narration,
                "source_file": str(path),
                "source_line": fld.line,
            }
        )

    opening_field = block.first(*_OPENING_TAGS)
    closing_field = block.first(*_CLOSING_TAGS)
    opening_line = opening_field.line if opening_field else block.line
    closing_line = closing_field.line if closing_field else block.line
    opening = _balance(parsed, _OPENING_KEYS, currency, path, opening_line)
    closing = _balance(parsed, _CLOSING_KEYS, currency, path, closing_line)
    if opening is not None and closing is not None:
        report.check_balances(
            what=block.describe(),
            opening_minor=opening.amount_minor,
            credits=credits,
            debits=debits,
            closing_minor=closing.amount_minor,
            currency=currency,
            line=closing_line,
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
