"""The exception categories: the engine's (the seed's five, AMBIGUOUS, and two for suggested
matches whose shortfall is neither a reference nor the amount; see docs/rules.md), then the
statement findings that reading a file can report (a balance or control total that does not
add up; hisaab.ingest.records)."""

from __future__ import annotations

from hisaab.ingest.findings import FINDING_CATEGORIES

ENGINE_CATEGORIES: tuple[str, ...] = (
    "UNMATCHED_PG",
    "UNMATCHED_BANK",
    "AMOUNT_MISMATCH",
    "UTR_MISSING",
    "DUPLICATE_UTR",
    "AMBIGUOUS",
    "DATE_MISMATCH",
    "LOW_CONFIDENCE",
)
EXCEPTION_CATEGORIES: tuple[str, ...] = (*ENGINE_CATEGORIES, *FINDING_CATEGORIES)
