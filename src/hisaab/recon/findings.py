"""Statement findings as exceptions: a balance that does not add up is work for ops too.

The engine's exceptions are about records; a finding is about a statement (its balances or
control totals disagree with its entries: a missing page, a dropped line, a bank's own
error). A reconciliation reports each one as an exception row after the engine's, in
exceptions.csv and in a job's stored exceptions, so it is seen, assigned and resolved like
any other:

    exception_id    <side>-statement-<line>   (the line of the balance or trailer at fault)
    category        BALANCE_MISMATCH or CONTROL_TOTAL_MISMATCH
    record_id       empty in files; `<file name> line <n>` in a job (which needs an id)
    amount_minor    empty in files, so the totals of records stay as they are; in a job the
                    absolute difference, the money the statement leaves unexplained
    amount_delta_minor  stated - computed (closing balance or control total)
    value_date      the date the balance or trailer is stated for, when the file says
    details         JSON: reason, statement, file, line, difference
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hisaab.ingest.findings import Finding
from hisaab.ingest.records import NormalizedFile

# The columns of exceptions.csv (docs/outputs.md), with the types the engine writes.
EXCEPTION_FILE_SCHEMA = pa.schema(
    [
        ("exception_id", pa.string()),
        ("category", pa.string()),
        ("side", pa.string()),
        ("record_id", pa.string()),
        ("source_line", pa.int64()),
        ("amount_minor", pa.int64()),
        ("currency", pa.string()),
        ("direction", pa.string()),
        ("value_date", pa.date32()),
        ("utr", pa.string()),
        ("stage", pa.string()),
        ("counterpart_record_ids", pa.string()),
        ("amount_delta_minor", pa.int64()),
        ("details", pa.string()),
    ]
)


def of_sides(sides: dict[str, NormalizedFile]) -> list[tuple[str, Finding]]:
    """Every finding of the inputs, with the side whose file it is about: pg first."""
    return [(side, f) for side in ("pg", "bank") if side in sides for f in sides[side].findings]


def summary_entries(findings: list[tuple[str, Finding]]) -> list[dict[str, Any]]:
    return [{"side": side, **f.as_dict()} for side, f in findings]


def _details(finding: Finding, filename: str | None = None) -> str:
    return json.dumps(
        {
            "reason": finding.message,
            "statement": finding.statement,
            "file": filename or Path(finding.file).name,
            "line": finding.line,
            "difference_minor": finding.difference_minor,
        },
        separators=(",", ":"),
    )


def _exception_id(side: str, finding: Finding) -> str:
    return f"{side}-statement-{finding.line if finding.line is not None else 0}"


def file_rows(findings: list[tuple[str, Finding]]) -> pa.Table:
    """The findings as rows of exceptions.csv / exceptions.parquet."""
    rows = [
        {
            "exception_id": _exception_id(side, f),
            "category": f.category,
            "side": side,
            "record_id": None,
            "source_line": f.line,
            "amount_minor": None,
            "currency": f.currency,
            "direction": None,
            "value_date": f.as_of,
            "utr": None,
            "stage": None,
            "counterpart_record_ids": "",
            "amount_delta_minor": f.difference_minor,
            "details": _details(f),
        }
        for side, f in findings
    ]
    return pa.Table.from_pylist(rows, schema=EXCEPTION_FILE_SCHEMA)


def append_to_file(path: Path, findings: list[tuple[str, Finding]], fmt: str) -> None:
    """Add the findings after the engine's rows of an exceptions file it has written."""
    if not findings:
        return
    extra = file_rows(findings)
    if fmt == "csv":
        with path.open("ab") as out:
            pacsv.write_csv(
                extra,
                out,
                write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
            )
        return
    written = pq.read_table(path)
    schema = pa.schema([f.with_nullable(True) for f in written.schema])
    pq.write_table(pa.concat_tables([written.cast(schema), extra.cast(schema)]), path)


def job_rows(
    findings: list[tuple[str, Finding]],
    *,
    filenames: dict[str, str],
    fallback_dates: dict[str, dt.date | None],
) -> pa.Table:
    """The findings as rows of a job's stored exceptions (columns of EXCEPTION_COLUMNS).

    The table needs an id, an amount and a date for every row: the uploaded file's name and
    the line stand for the id, the absolute difference for the amount, and a statement that
    states no date for its balance counts on its side's last value date (`fallback_dates`).
    """
    rows = []
    for side, f in findings:
        name = filenames.get(side) or Path(f.file).name
        value_date = f.as_of or fallback_dates.get(side) or dt.datetime.now(dt.UTC).date()
        rows.append(
            {
                "category": f.category,
                "side": side,
                "record_id": f"{name} line {f.line}"[:200],
                "source_line": f.line or 0,
                "amount_minor": abs(f.difference_minor or 0),
                "currency": f.currency or "XXX",
                "value_date": value_date,
                "utr": None,
                "details": _details(f, name),
            }
        )
    return pa.Table.from_pylist(rows, schema=_JOB_SCHEMA)


# A job's exception columns (hisaab.recon.repository.EXCEPTION_COLUMNS), typed as in files.
_JOB_SCHEMA = pa.schema(
    [
        EXCEPTION_FILE_SCHEMA.field(name)
        for name in (
            "category",
            "side",
            "record_id",
            "source_line",
            "amount_minor",
            "currency",
            "value_date",
            "utr",
            "details",
        )
    ]
)
