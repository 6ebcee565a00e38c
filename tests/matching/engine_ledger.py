"""Ledger lines for engine tests: payments and statement lines written in the test itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DAY = "2024-01-15"
NEXT_DAY = "2024-01-16"


def pg(record_id: str, rupees: str, **fields: Any) -> dict[str, Any]:
    """A captured PG payment of `rupees` (a decimal string) on DAY unless told otherwise."""
    return _record(record_id, rupees, "pg", fields)


def bank(record_id: str, rupees: str, **fields: Any) -> dict[str, Any]:
    """A bank statement line: a credit of `rupees` on DAY unless told otherwise."""
    return _record(record_id, rupees, "bank", fields)


def _record(record_id: str, rupees: str, source: str, fields: dict[str, Any]) -> dict[str, Any]:
    whole, _, paise = rupees.partition(".")
    row = {
        "record_id": record_id,
        "source": source,
        "amount_minor": int(whole) * 100 + int(paise.ljust(2, "0") or 0),
        "currency": "INR",
        "direction": "CR",
        "value_date": DAY,
    }
    for key in ("fee", "tax"):
        if key in fields:
            f_whole, _, f_paise = str(fields.pop(key)).partition(".")
            row[f"{key}_minor"] = int(f_whole) * 100 + int(f_paise.ljust(2, "0") or 0)
    row.update(fields)
    return row


@dataclass
class Outcome:
    """The engine's answer, keyed by record id for readable assertions."""

    matches: list[dict[str, Any]]
    exceptions: list[dict[str, Any]]
    summary: dict[str, Any]

    def match_of(self, record_id: str) -> dict[str, Any]:
        rows = [m for m in self.matches if record_id in (m["pg_record_id"], m["bank_record_id"])]
        assert rows, f"{record_id} is in no match"
        return rows[0]

    def members(self, bank_record_id: str) -> set[str]:
        return {m["pg_record_id"] for m in self.matches if m["bank_record_id"] == bank_record_id}

    def category(self, record_id: str) -> str | None:
        rows = [e for e in self.exceptions if e["record_id"] == record_id]
        assert len(rows) <= 1, f"{record_id} has {len(rows)} exception rows"
        return rows[0]["category"] if rows else None

    def exception(self, record_id: str) -> dict[str, Any]:
        rows = [e for e in self.exceptions if e["record_id"] == record_id]
        assert len(rows) == 1
        return rows[0]

    def auto_pairs(self) -> set[tuple[str, str]]:
        return {
            (m["pg_record_id"], m["bank_record_id"]) for m in self.matches if m["status"] == "auto"
        }


Run = Callable[..., Outcome]
