"""Findings: what a statement says about itself that does not add up, found while reading it.

Kept apart from hisaab.ingest.records (which needs DuckDB and Arrow) so that the categories
can be named anywhere, the database models included, without loading the batch engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

# What a statement can say about itself that does not add up. A finding is reported (an
# exception row of a reconciliation, a warning of `hisaab normalize`), never a refusal, unless
# the reader was asked to be strict.
BALANCE_MISMATCH = "BALANCE_MISMATCH"  # opening + credits - debits != closing
CONTROL_TOTAL_MISMATCH = "CONTROL_TOTAL_MISMATCH"  # a trailer's count or total != its records
FINDING_CATEGORIES: tuple[str, ...] = (BALANCE_MISMATCH, CONTROL_TOTAL_MISMATCH)


@dataclass(frozen=True)
class Finding:
    """Something wrong in a file that still could be read: what, where, and by how much.

    `statement` names the statement or account (`statement '0001' (account 123)`),
    `difference_minor` is what the file states minus what its entries add up to, in
    `currency`'s minor units, when the finding is about an amount.
    """

    category: str
    message: str
    file: str
    line: int | None = None
    statement: str | None = None
    difference_minor: int | None = None
    currency: str | None = None
    as_of: date | None = None  # the date of the balance or trailer it is about, when stated

    def as_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "statement": self.statement,
            "difference_minor": self.difference_minor,
            "currency": self.currency,
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }

    def describe(self) -> str:
        where = Path(self.file).name + (f" line {self.line}" if self.line else "")
        return f"{where}: {self.message}"
