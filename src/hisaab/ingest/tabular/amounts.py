"""Reading a row's money: the signed amount (Dr/Cr marker, debit/credit columns or a sign),
fees and taxes, and the running balance."""

from __future__ import annotations

from collections.abc import Sequence

from hisaab.errors import AmountError, FormatError, InputError
from hisaab.ingest.tabular.cells import RowCells
from hisaab.ingest.template import Amounts, normalize_header
from hisaab.money import parse_amount


def marker_key(text: str) -> str:
    """A Dr/Cr marker reduced for comparison: "Dr.", " dr", "D R" all read as "dr"."""
    return text.strip().strip(".").replace(" ", "").casefold()


class AmountReader:
    """Reads amounts in the style of a template's `amounts` section."""

    def __init__(self, cells: RowCells, amounts: Amounts) -> None:
        self.cells = cells
        self.amounts = amounts
        cols = cells.cols
        self.amount_indices = tuple(
            dict.fromkeys(i for role in ("amount", "debit", "credit") for i in cols.get(role, ()))
        )
        self.debit_markers = frozenset(marker_key(m) for m in amounts.debit_markers)
        self.credit_markers = frozenset(marker_key(m) for m in amounts.credit_markers)
        header_cells = cells.header.cells
        positions = {normalize_header(c): i for i, c in reversed(list(enumerate(header_cells)))}
        self.debit_if = tuple(
            (positions[key], frozenset(v.casefold() for v in values))
            for name, values in amounts.debit_if.items()
            if (key := normalize_header(name)) in positions
        )

    def _amount(self, text: str, currency: str, line: int, index: int | None) -> int:
        try:
            return parse_amount(text, currency, decimal_separator=self.amounts.decimal_separator)
        except InputError as exc:
            raise self.cells.located(exc, line, index) from None

    def carries_amount(self, row: Sequence[str]) -> bool:
        """Does any amount column hold a non-zero amount (read leniently, as a hint)?"""
        cells = self.cells
        currency = cells.t.currency or "INR"
        for index in self.amount_indices:
            value = cells.cell(row, index)
            if cells.holds_value(value):
                try:
                    if parse_amount(value, currency, strict_grouping=False):
                        return True
                except InputError:
                    continue
        return False

    def debit_flagged(self, row: Sequence[str]) -> bool:
        """Does another column mark the row as money out (a refund by its type)?"""
        return any(self.cells.cell(row, i).casefold() in values for i, values in self.debit_if)

    def signed(self, line: int, row: Sequence[str], currency: str) -> int:
        """The row's amount in minor units, negative for money out."""
        style = self.amounts.style
        if style == "debit_credit":
            return self._debit_credit(line, row, currency)
        cells = self.cells
        text, index = cells.value(row, "amount")
        if not text:
            raise cells.fail(
                AmountError,
                "the amount is missing",
                line,
                cells.first_name("amount"),
                "an amount such as 1,053.00",
            )
        minor = self._amount(text, currency, line, index)
        if style == "signed":
            return -abs(minor) if minor < 0 or self.debit_flagged(row) else minor
        marker, m_index = cells.value(row, "marker")
        key = marker_key(marker)
        if minor < 0:
            raise cells.fail(
                AmountError,
                f"{text!r} is negative although the row has a Dr/Cr marker",
                line,
                cells.column(index),
                "a positive amount with the direction in the marker column",
            )
        if key in self.debit_markers:
            return -minor
        if key in self.credit_markers:
            return minor
        raise cells.fail(
            FormatError,
            f"direction marker {marker!r} is neither debit nor credit",
            line,
            cells.name(m_index) if m_index is not None else cells.first_name("marker"),
            "one of " + ", ".join((*self.amounts.debit_markers, *self.amounts.credit_markers)),
        )

    def _debit_credit(self, line: int, row: Sequence[str], currency: str) -> int:
        cells = self.cells
        d_text, d_index = cells.value(row, "debit")
        c_text, c_index = cells.value(row, "credit")
        debit = abs(self._amount(d_text, currency, line, d_index)) if d_text else 0
        credit = self._amount(c_text, currency, line, c_index) if c_text else 0
        if credit < 0:
            raise cells.fail(
                AmountError,
                f"{c_text!r} is a negative amount in the credit column",
                line,
                cells.column(c_index),
                "money in as a positive amount (money out belongs in the debit column)",
            )
        if debit and credit:
            raise cells.fail(
                AmountError,
                f"the row has both a debit ({d_text}) and a credit ({c_text})",
                line,
                cells.first_name("debit"),
                "exactly one of the debit and credit columns to hold an amount",
            )
        if not debit and not credit:
            raise cells.fail(
                AmountError,
                "the row has neither a debit nor a credit amount",
                line,
                cells.first_name("debit"),
                f"an amount in {cells.first_name('debit')!r} or {cells.first_name('credit')!r}",
            )
        return credit if credit else -debit

    def optional(self, line: int, row: Sequence[str], role: str, currency: str) -> int | None:
        """A fee or tax amount, or None when the row has none."""
        text, index = self.cells.value(row, role)
        return self._amount(text, currency, line, index) if text else None

    def balance(self, line: int, row: Sequence[str], currency: str) -> int | None:
        """The running balance after the row (negative when overdrawn), if the row states it."""
        text, index = self.cells.value(row, "balance")
        if not text:
            return None
        minor = self._amount(text, currency, line, index)
        marker, _ = self.cells.value(row, "balance_marker")
        if marker and marker_key(marker) in self.debit_markers:
            minor = -abs(minor)
        return minor
