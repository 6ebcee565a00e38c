"""The canonical record: one schema for every source (PG export, bank statement, wallet).

Amounts are non-negative integer minor units with a direction: CR is money in to the account
holder (a customer payment, a bank credit), DR money out (a refund, a bank debit).

Columns, in order (the first sixteen are the published canonical layout; the last two are
optional extensions used by settlement matching and blocking):

    record_id, source, amount_minor, currency, direction, value_date, booked_at, utr,
    merchant_ref, settlement_id, fee_minor, tax_minor, narration, source_file, source_line,
    fingerprint, merchant_id, settlement_utr
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from hisaab.ingest.findings import Finding

CANONICAL_COLUMNS: tuple[str, ...] = (
    "record_id",
    "source",
    "amount_minor",
    "currency",
    "direction",
    "value_date",
    "booked_at",
    "utr",
    "merchant_ref",
    "settlement_id",
    "fee_minor",
    "tax_minor",
    "narration",
    "source_file",
    "source_line",
    "fingerprint",
    "merchant_id",
    "settlement_utr",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("record_id", "amount_minor", "currency", "value_date")

CANONICAL_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("source", pa.string()),
        ("amount_minor", pa.int64()),
        ("currency", pa.string()),
        ("direction", pa.string()),
        ("value_date", pa.date32()),
        ("booked_at", pa.string()),
        ("utr", pa.string()),
        ("merchant_ref", pa.string()),
        ("settlement_id", pa.string()),
        ("fee_minor", pa.int64()),
        ("tax_minor", pa.int64()),
        ("narration", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("fingerprint", pa.string()),
        ("merchant_id", pa.string()),
        ("settlement_utr", pa.string()),
    ]
)

# The fields whose equality makes two rows "the same transaction" for fingerprinting.
_CONTENT_FIELDS = (
    "source",
    "direction",
    "amount_minor",
    "currency",
    "value_date",
    "booked_at",
    "utr",
    "merchant_ref",
    "settlement_id",
    "narration",
    "record_id_given",
)


@dataclass(frozen=True)
class Balance:
    """A balance a statement states about itself (opening or closing), signed minor units."""

    amount_minor: int
    currency: str
    as_of: date | None = None


@dataclass
class NormalizedFile:
    """What every parser returns: canonical records plus what the file says about itself."""

    table: pa.Table
    source_file: str
    file_sha256: str
    template: str
    opening_balance: Balance | None = None
    closing_balance: Balance | None = None
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return int(self.table.num_rows)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in chunks (never the whole file in memory)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def rows_to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Python dicts (one per record, canonical keys, missing keys = null) -> canonical table.

    For parsers whose per-row work is in Python anyway (bank statements, MT940, CAMT...).
    `value_date` may be a `date` or an ISO string; fingerprint and record_id may be left out
    and are filled by `finalize`.
    """
    columns: dict[str, list[Any]] = {name: [] for name in CANONICAL_COLUMNS}
    for row in rows:
        for name in CANONICAL_COLUMNS:
            value = row.get(name)
            if name == "value_date" and isinstance(value, str):
                value = date.fromisoformat(value)
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=CANONICAL_SCHEMA)


def empty_table() -> pa.Table:
    return CANONICAL_SCHEMA.empty_table()


def finalize(table: pa.Table) -> pa.Table:
    """Fill `fingerprint` and missing `record_id`s, vectorised in DuckDB.

    The fingerprint is occurrence-aware: SHA-256 over the row's content plus the number of
    earlier rows in the same file with identical content. Two legitimately identical rows get
    different fingerprints (#0, #1), while re-importing the same file reproduces the same ones,
    so a re-import is recognised without dropping real duplicates. A record without an id of its
    own gets the first 20 hex digits of its fingerprint.
    """
    table = conform(table)
    con = duckdb.connect()
    try:
        positioned = table.append_column("__pos", pa.array(range(table.num_rows), pa.int64()))
        con.register("t", positioned)
        content = " || '|' || ".join(
            f"coalesce(CAST({c} AS VARCHAR), '')"
            if c != "record_id_given"
            else "coalesce(record_id, '')"
            for c in _CONTENT_FIELDS
        )
        sql = f"""
            WITH keyed AS (
                SELECT *, {content} AS __content FROM t
            ), counted AS (
                SELECT *, row_number() OVER (
                    PARTITION BY coalesce(source_file, ''), __content ORDER BY source_line, __pos
                ) - 1 AS __occurrence
                FROM keyed
            ), fp AS (
                SELECT * EXCLUDE (fingerprint, record_id),
                       coalesce(fingerprint,
                                sha256(__content || '#' || CAST(__occurrence AS VARCHAR)))
                           AS fingerprint,
                       record_id AS __rid
                FROM counted
            )
            SELECT * EXCLUDE (__rid, __pos, __content, __occurrence),
                   coalesce(__rid, substr(fingerprint, 1, 20)) AS record_id
            FROM fp ORDER BY __pos
        """
        out = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    return conform(out)


def conform(table: pa.Table) -> pa.Table:
    """Add missing canonical columns as nulls and order/cast columns to the canonical schema."""
    arrays = []
    for fld in CANONICAL_SCHEMA:
        if fld.name in table.column_names:
            col = table.column(fld.name)
            arrays.append(col if col.type == fld.type else col.cast(fld.type))
        else:
            arrays.append(pa.nulls(table.num_rows, type=fld.type))
    return pa.Table.from_arrays(arrays, schema=CANONICAL_SCHEMA)
