"""What every statement standard shares: decoding its bytes, its balance identity, its result.

Each format module reads its own structure; the rules a statement must obey whatever its
format live here once: text is UTF-8 (a byte-order mark wins; Windows-1252 or Latin-1 when
not, with a note), and a statement that states both balances should satisfy
opening + credits - debits = closing exactly.

A statement that breaks that identity (or a trailer whose control total disagrees with its
records) is still read, every entry of it: the difference is a `Finding` that a
reconciliation reports as an exception and `hisaab normalize` as a warning. Banks send such
files (snippets, intermediate pages, their own rounding); a reconciliation platform reports
what is wrong with them and refuses only what it cannot read. `strict=True` turns findings
back into refusals for those who want that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from hisaab.errors import FormatError
from hisaab.ingest.records import (
    BALANCE_MISMATCH,
    Balance,
    Finding,
    NormalizedFile,
    file_sha256,
    finalize,
    rows_to_table,
)
from hisaab.money import Money


class Report:
    """What one parse says about its file besides the records: notes and findings.

    `finding` records a finding, or raises it as a `FormatError` when the parse is strict.
    """

    def __init__(self, path: Path, *, strict: bool = False) -> None:
        self.path = path
        self.strict = strict
        self.notes: list[str] = []
        self.findings: list[Finding] = []

    def note(self, text: str) -> None:
        self.notes.append(text)

    def finding(
        self,
        category: str,
        message: str,
        *,
        line: int | None,
        statement: str | None = None,
        difference_minor: int | None = None,
        currency: str | None = None,
        as_of: date | None = None,
        expected: str | None = None,
    ) -> None:
        if self.strict:
            raise FormatError(message, file=self.path, line=line, expected=expected)
        self.findings.append(
            Finding(
                category=category,
                message=message,
                file=str(self.path),
                line=line,
                statement=statement,
                difference_minor=difference_minor,
                currency=currency,
                as_of=as_of,
            )
        )

    def check_balances(
        self,
        *,
        what: str,
        opening_minor: int,
        credits: int,
        debits: int,
        closing_minor: int,
        currency: str,
        line: int | None,
        as_of: date | None = None,
        expected: str = "opening + credits - debits = closing",
    ) -> None:
        """A BALANCE_MISMATCH finding (naming both figures and the difference) unless the
        balances add up."""
        computed = opening_minor + credits - debits
        if computed == closing_minor:
            return
        self.finding(
            BALANCE_MISMATCH,
            f"{what} does not add up: opening {Money(opening_minor, currency)} + credits "
            f"{Money(credits, currency)} - debits {Money(debits, currency)} = "
            f"{Money(computed, currency)}, but the closing balance is "
            f"{Money(closing_minor, currency)} (difference "
            f"{Money(closing_minor - computed, currency)})",
            line=line,
            statement=what,
            difference_minor=closing_minor - computed,
            currency=currency,
            as_of=as_of,
            expected=expected,
        )

    def unchecked(self, what: str) -> None:
        unchecked(self.path, what, self.notes)

    def result(
        self,
        rows: list[dict[str, Any]],
        name: str,
        *,
        opening: Balance | None,
        closing: Balance | None,
    ) -> NormalizedFile:
        nf = result(rows, self.path, name, opening=opening, closing=closing, notes=self.notes)
        nf.findings = self.findings
        return nf


def decode(raw: bytes, path: Path, notes: list[str], *, expected: str) -> str:
    """The statement's text; `expected` says what a non-empty file of this format starts with."""
    if not raw.strip():
        raise FormatError("the file is empty", file=path, expected=expected)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Windows-1252 is what European and Indian bank exports use when not UTF-8 (OFX 1.x
    # declares it as CHARSET:1252); the five bytes it leaves undefined only decode as Latin-1.
    try:
        text = raw.decode("cp1252")
        encoding = "Windows-1252"
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        encoding = "Latin-1"
    notes.append(f"{path.name}: not UTF-8, read as {encoding}")
    return text


def unchecked(path: Path, what: str, notes: list[str]) -> None:
    notes.append(
        f"{path.name}: {what} does not state both an opening and a closing balance,"
        " so they were not checked"
    )


def credits_and_debits(rows: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    credits = debits = 0
    for row in rows:
        if row["direction"] == "CR":
            credits += row["amount_minor"]
        else:
            debits += row["amount_minor"]
    return credits, debits


def result(
    rows: list[dict[str, Any]],
    path: Path,
    name: str,
    *,
    opening: Balance | None,
    closing: Balance | None,
    notes: list[str],
) -> NormalizedFile:
    return NormalizedFile(
        table=finalize(rows_to_table(rows)),
        source_file=str(path),
        file_sha256=file_sha256(path),
        template=name,
        opening_balance=opening,
        closing_balance=closing,
        notes=notes,
    )
