"""Golden-file comparison shared by the statement-format tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hisaab.ingest.records import NormalizedFile

DATA = Path(__file__).parents[2] / "data" / "formats"


def golden_files(fmt: str, pattern: str) -> list[Path]:
    return sorted((DATA / fmt).glob(pattern))


def assert_matches_golden(result: NormalizedFile, path: Path, fmt: str) -> None:
    """Compare a parse result with the hand-written <name>.expected.json, field by field."""
    expected = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    for side in ("opening_balance", "closing_balance"):
        balance = getattr(result, side)
        stated = None
        if balance is not None:
            as_of = balance.as_of.isoformat() if balance.as_of else None
            stated = {
                "amount_minor": balance.amount_minor,
                "currency": balance.currency,
                "as_of": as_of,
            }
        assert stated == expected[side], side
    rows = result.table.to_pylist()
    assert len(rows) == len(expected["records"])
    for number, (row, want) in enumerate(zip(rows, expected["records"], strict=True), start=1):
        for name, value in want.items():
            got: Any = row[name]
            if name == "value_date":
                got = got.isoformat()
            if name == "record_id" and value is None:
                # No id in the file: finalize derives it from the fingerprint.
                assert got == row["fingerprint"][:20], f"record {number} record_id"
                continue
            assert got == value, f"record {number} {name}"
        assert row["source"] == "bank"
        assert row["source_file"] == str(path)
    assert result.template == fmt
    assert result.source_file == str(path)
