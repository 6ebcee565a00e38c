"""Sorting data rows: transactions, rows the status filter skips, and the non-transaction lines
(summaries, totals, balance lines, repeated headers) that are skipped and counted."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from hisaab.errors import FormatError
from hisaab.ingest.tabular.amounts import AmountReader
from hisaab.ingest.tabular.cells import RowCells
from hisaab.ingest.tabular.dates import DateReader
from hisaab.ingest.template import RowFilter, normalize_header

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


@dataclass
class Tally:
    """The rows skipped on purpose, for the file's notes."""

    non_transaction_lines: list[int] = field(default_factory=list)
    repeated_headers: list[int] = field(default_factory=list)
    skipped_by_status: Counter[str] = field(default_factory=Counter)


class RowClassifier:
    """Decides what each data row of one file is, counting the rows it skips."""

    def __init__(
        self,
        cells: RowCells,
        amounts: AmountReader,
        dates: DateReader,
        row_filter: RowFilter | None,
        filter_index: int | None,
    ) -> None:
        self.cells = cells
        self.amounts = amounts
        self.dates = dates
        self.header_key = tuple(normalize_header(c) for c in cells.header.cells)
        cols = cells.cols
        self.date_indices = tuple(
            dict.fromkeys((*cols.get("value_date", ()), *cols.get("booked_at", ())))
        )
        self.row_filter = (
            (row_filter, filter_index)
            if row_filter is not None and filter_index is not None
            else None
        )
        if row_filter is not None:
            self.keep = frozenset(v.strip().casefold() for v in row_filter.keep)
            self.skip = frozenset(v.strip().casefold() for v in row_filter.skip)
        self.tally = Tally()

    def filtered_out(self, row: Sequence[str]) -> bool:
        """Is this a row the filter skips (a failed payment)? Checked before anything else,
        so that a skipped row need not be complete (no timestamp, no amount)."""
        if self.row_filter is None:
            return False
        status = self.cells.cell(row, self.row_filter[1]).casefold()
        if status in self.skip:
            self.tally.skipped_by_status[status] += 1
            return True
        return False

    def is_transaction(self, row: Sequence[str]) -> bool:
        """A row with a date is a transaction, unless it is a dated balance line
        ("Opening Balance", "B/F") that carries no debit or credit."""
        cells = self.cells
        if not any(_DATE_LIKE.match(cells.cell(row, i)) for i in self.date_indices):
            return False
        narration = cells.text(row, "narration")
        return not (_NON_TRANSACTION.search(narration) and not self.amounts.carries_amount(row))

    def check_transaction(self, line: int, row: Sequence[str]) -> None:
        """A transaction row must fit the header and, under a status filter, hold a status
        the filter keeps (the ones it skips were taken out by `filtered_out`)."""
        cells = self.cells
        if len(row) > cells.width and any(c.strip() for c in row[cells.width :]):
            raise cells.fail(
                FormatError,
                f"the row has {len(row)} fields but the header has {cells.width}",
                line,
                None,
                "one field per header column (a narration containing the delimiter must be quoted)",
            )
        if self.row_filter is None:
            return
        row_filter, index = self.row_filter
        raw = cells.cell(row, index)
        if raw.casefold() not in self.keep:
            raise cells.fail(
                FormatError,
                f"status {raw!r} is neither kept nor skipped by template {cells.t.name!r}",
                line,
                cells.name(index),
                "one of " + ", ".join((*row_filter.keep, *row_filter.skip)),
            )

    def non_transaction(self, line: int, row: Sequence[str]) -> None:
        """A row without a date: skip it, unless it carries an amount and a narration the
        way a transaction does (then its date is missing or unreadable: an error)."""
        cells = self.cells
        key = tuple(normalize_header(c) for c in row)
        if key[: cells.width] == self.header_key:
            self.tally.repeated_headers.append(line)
            return
        narration = cells.text(row, "narration")
        if (
            _HAS_LETTER.search(narration)
            and not _NON_TRANSACTION.search(narration)
            and self.amounts.carries_amount(row)
        ):
            value, index = cells.value(row, "value_date")
            column = cells.name(index) if index is not None else cells.first_name("value_date")
            if value:
                raise cells.fail(
                    FormatError,
                    f"{value!r} is not a date, but the row has an amount and a narration",
                    line,
                    column,
                    self.dates.expectation,
                )
            raise cells.fail(
                FormatError,
                "the row has an amount and a narration but no date",
                line,
                column,
                self.dates.expectation,
            )
        self.tally.non_transaction_lines.append(line)
