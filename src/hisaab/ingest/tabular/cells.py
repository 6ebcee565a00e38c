"""Reading a row's cells by template role, and naming the column when a cell is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hisaab.errors import InputError
from hisaab.ingest.tabular.header import HeaderMatch
from hisaab.ingest.template import ColumnRef, Template


class RowCells:
    """One file's data rows seen through its header: the value of a role in a row, the header
    name of a column, and errors located at file, line and column."""

    def __init__(self, template: Template, header: HeaderMatch, path: Path) -> None:
        self.t = template
        self.file = str(path)
        self.header = header
        self.cols = header.columns
        self.width = len(header.cells)
        self.blank = frozenset(v.casefold() for v in template.blank_values)
        self._memo_row: Sequence[str] | None = None
        self._memo: dict[str, str] = {}

    def name(self, index: int) -> str:
        return self.header.cells[index]

    def column(self, index: int | None) -> str | None:
        """The header name of column `index`, when a value came from one."""
        return self.name(index) if index is not None else None

    def first_name(self, role: str) -> str:
        indices = self.cols.get(role, ())
        if indices:
            return self.name(indices[0])
        ref = getattr(self.t.columns, role)
        return str(ref.all_names[0]) if ref is not None else role

    @staticmethod
    def cell(row: Sequence[str], index: int) -> str:
        return row[index].strip() if index < len(row) else ""

    def holds_value(self, text: str) -> bool:
        """Is a stripped cell neither empty nor one of the template's blank markers ("-")?"""
        return bool(text) and text.casefold() not in self.blank

    def value(self, row: Sequence[str], role: str) -> tuple[str, int | None]:
        """The first non-blank value among the role's columns, and the column it came from."""
        for index in self.cols.get(role, ()):
            value = self.cell(row, index)
            if self.holds_value(value):
                return value, index
        return "", None

    def text(self, row: Sequence[str], role: str) -> str:
        """A text role's value; a narration wrapped over several lines reads as one line."""
        if row is not self._memo_row:  # narration is read up to five times per row
            self._memo_row, self._memo = row, {}
        elif role in self._memo:
            return self._memo[role]
        ref: ColumnRef | None = getattr(self.t.columns, role)
        if ref is None:
            return ""
        if ref.join:
            parts = (self.cell(row, i) for i in self.cols.get(role, ()))
            value = ref.separator.join(p for p in parts if p)
        else:
            value = next((v for i in self.cols.get(role, ()) if (v := self.cell(row, i))), "")
        if "\n" in value or "\r" in value:
            value = " ".join(part.strip() for part in value.splitlines() if part.strip())
        self._memo[role] = value
        return value

    def fail(
        self, cls: type[InputError], message: str, line: int, column: str | None, expected: str
    ) -> InputError:
        return cls(message, file=self.file, line=line, column=column, expected=expected)

    def located(self, exc: InputError, line: int, index: int | None) -> InputError:
        """`exc`, raised without knowing where, placed at this file, `line` and column."""
        return exc.located(file=self.file, line=line, column=self.column(index))
