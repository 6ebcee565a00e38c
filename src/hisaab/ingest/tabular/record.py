"""Parsing one transaction row into a canonical record dict; any cell that fails is an error
naming file, line and column."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from hisaab.errors import FormatError, InputError
from hisaab.ingest.tabular.amounts import AmountReader
from hisaab.ingest.tabular.balances import BalancePoint
from hisaab.ingest.tabular.cells import RowCells
from hisaab.ingest.tabular.dates import DateReader
from hisaab.ingest.tabular.extract import ReferenceExtractor
from hisaab.money import normalize_currency

_REFERENCES = ("utr", "merchant_ref", "settlement_id", "settlement_utr", "merchant_id")


class RecordReader:
    """Turns the transaction rows of one file into canonical record dicts, keeping each row's
    running balance for the balance check."""

    def __init__(
        self,
        cells: RowCells,
        dates: DateReader,
        amounts: AmountReader,
        references: ReferenceExtractor,
        source: str,
    ) -> None:
        self.cells = cells
        self.dates = dates
        self.amounts = amounts
        self.references = references
        self.source = source
        self.balances: list[BalancePoint] = []
        self.has_balance = bool(cells.cols.get("balance"))

    def record(self, line: int, row: Sequence[str]) -> dict[str, Any]:
        """The canonical dict for a transaction row."""
        cells, amounts = self.cells, self.amounts
        value_date, booked_at = self._dates(line, row)
        currency = self._currency(line, row)
        signed = amounts.signed(line, row, currency)
        amount_minor, direction = (signed, "CR") if signed >= 0 else (-signed, "DR")
        if signed == 0 and amounts.debit_flagged(row):
            direction = "DR"
        narration = cells.text(row, "narration")
        rec: dict[str, Any] = {
            "record_id": cells.value(row, "record_id")[0] or None,
            "source": self.source,
            "amount_minor": amount_minor,
            "currency": currency,
            "direction": direction,
            "value_date": value_date,
            "booked_at": booked_at,
            "narration": narration or None,
            "source_file": cells.file,
            "source_line": line,
            "fee_minor": amounts.optional(line, row, "fee", currency),
            "tax_minor": amounts.optional(line, row, "tax", currency),
        }
        for name in _REFERENCES:
            rec[name] = cells.value(row, name)[0] or self.references.find(row, name)
        if self.has_balance:
            balance = amounts.balance(line, row, currency)
            self.balances.append(BalancePoint(line, signed, balance, currency, value_date))
        return rec

    def _dates(self, line: int, row: Sequence[str]) -> tuple[date, str | None]:
        cells = self.cells
        value, index = cells.value(row, "value_date")
        if not value:
            raise cells.fail(
                FormatError,
                "the date is missing",
                line,
                cells.first_name("value_date"),
                self.dates.expectation,
            )
        parsed = self.dates.parse(value)
        if parsed is None:
            raise self._bad_date(line, value, index)
        text, b_index = cells.value(row, "booked_at")
        if not text:
            return parsed[0], None
        booked = parsed if text == value else self.dates.parse(text)
        if booked is None:
            raise self._bad_date(line, text, b_index)
        return parsed[0], booked[1]

    def _bad_date(self, line: int, text: str, index: int | None) -> InputError:
        return self.cells.fail(
            FormatError,
            f"{text!r} is not a valid date",
            line,
            self.cells.column(index),
            self.dates.expectation,
        )

    def _currency(self, line: int, row: Sequence[str]) -> str:
        cells = self.cells
        value, index = cells.value(row, "currency")
        if value:
            try:
                return normalize_currency(value)
            except InputError as exc:
                raise cells.located(exc, line, index) from None
        if cells.t.currency is None:
            raise cells.fail(
                FormatError,
                "the currency is missing",
                line,
                cells.first_name("currency"),
                "an ISO-4217 code such as INR or KES",
            )
        return cells.t.currency
