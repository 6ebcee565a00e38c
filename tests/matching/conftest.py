"""The `run` fixture: reconcile ledger lines written in a test and return readable results."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from engine_ledger import Outcome, Run

from hisaab.ingest.records import rows_to_table
from hisaab.matching.engine import reconcile
from hisaab.matching.result import ReconResult
from hisaab.matching.rules import RuleSet, default_ruleset


@pytest.fixture
def run() -> Iterator[Run]:
    results: list[ReconResult] = []

    def _run(
        pg_rows: list[dict[str, Any]],
        bank_rows: list[dict[str, Any]],
        ruleset: RuleSet | None = None,
    ) -> Outcome:
        for i, row in enumerate(pg_rows):
            row.setdefault("source_line", i + 2)
        for i, row in enumerate(bank_rows):
            row.setdefault("source_line", i + 2)
        result = reconcile(as_table(pg_rows), as_table(bank_rows), ruleset or default_ruleset())
        results.append(result)
        return Outcome(
            matches=result.matches().to_pylist(),
            exceptions=result.exceptions().to_pylist(),
            summary=result.summary(),
        )

    yield _run
    for result in results:
        result.close()


def as_table(rows: list[dict[str, Any]]) -> pa.Table:
    return rows_to_table(rows)
