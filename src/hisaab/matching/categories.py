"""The exception categories the engine assigns: the seed's five, AMBIGUOUS, and two for
suggested matches whose shortfall is neither a reference nor the amount (see docs/rules.md)."""

from __future__ import annotations

EXCEPTION_CATEGORIES: tuple[str, ...] = (
    "UNMATCHED_PG",
    "UNMATCHED_BANK",
    "AMOUNT_MISMATCH",
    "UTR_MISSING",
    "DUPLICATE_UTR",
    "AMBIGUOUS",
    "DATE_MISMATCH",
    "LOW_CONFIDENCE",
)
