"""Real bank statement files from other projects' public test corpora, read as a bank sends them.

Each file under tests/data/formats/real/<format>/ has a `<file>.expected.json` beside it:

    {"source": "owner/repo path/in/repo (licence)",
     "entries": 12,                              # how many transactions the file holds
     "signed_sum_minor": {"EUR": -12345},        # credits - debits per currency, minor units
     "findings": ["BALANCE_MISMATCH"]}           # optional: what the file gets wrong

The expected figures come from the source project's own test assertions or from counting the
file independently, never from Hisaab's output, so a wrong reading fails here.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from hisaab.ingest.normalize import normalize

REAL = Path(__file__).parents[2] / "data" / "formats" / "real"
FORMATS = ("mt940", "camt053", "ofx", "bai2")


def _real_files() -> list[Path]:
    return [
        path
        for fmt in FORMATS
        for path in sorted((REAL / fmt).glob("*"))
        if path.is_file() and not path.name.endswith(".expected.json") and path.name != "README.md"
    ]


REAL_FILES = _real_files()


def test_every_real_file_has_its_expectation() -> None:
    missing = [p.name for p in REAL_FILES if not Path(f"{p}.expected.json").exists()]
    assert missing == []


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_file_gives_its_entries_and_signed_sum(path: Path) -> None:
    expected = json.loads(Path(f"{path}.expected.json").read_text(encoding="utf-8"))
    read = normalize(path, template=path.parent.name)
    rows = read.table.to_pylist()
    signed: Counter[str] = Counter()
    for row in rows:
        signed[row["currency"]] += row["amount_minor"] * (1 if row["direction"] == "CR" else -1)
    assert len(rows) == expected["entries"]
    want = {c: v for c, v in expected["signed_sum_minor"].items() if v}
    assert {c: v for c, v in signed.items() if v} == want
    assert sorted(f.category for f in read.findings) == sorted(expected.get("findings", []))
