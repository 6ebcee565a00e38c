"""Benchmark data: canonical PG and bank CSVs of N rows each, generated in SQL (seconds at 10M).

Shape (per PG row index i, pseudo-random through DuckDB's hash):
- 90% UPI payments collected one by one: a unique 12-digit RRN, one bank credit each, value
  date the same day or the next;
- 10% card payments settled in batches of 100 with MDR 2% and GST 18% of the fee: one bank
  credit per batch, linked by settlement_id and settlement UTR;
- faults: about 0.1% each of missing bank credits, amount mismatches, credits without a UTR;
- unrelated bank lines so that the bank file also has exactly N rows.

The same records can be laid out in several shapes (`SHAPES`): what real canonical files vary
in (a `booked_at` date or date-time, long bank narrations or none, every text value quoted and
empty ones as `""`, Windows line ends, no direction column), and what real data varies in
(many merchants, each card settlement per merchant and day; 10% of bank credits without a
UTR). `plain` is the
benchmark's original layout, byte for byte.

Every shape writes truth.parquet beside the CSVs: each PG record that has a true bank
counterpart, and that counterpart (an automatic match outside these pairs is wrong).
The `hisaab simulate` command makes richer, realistic data; this one makes big data fast.

    python benchmarks/datagen.py [ROWS] [OUT_DIR] [--shape NAME]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Shape:
    name: str
    about: str
    booked_at: str | None = None  # None, "date" or "datetime" (`2024-01-15 10:37:11`)
    narration: str = "short"  # "short" (`UPI credit`), "long" (a bank's real text) or "none"
    quoted: bool = False  # every text value in quotes, missing ones as ""
    crlf: bool = False  # Windows line ends
    merchants: int = 97  # card payments settle per batch of 100, or per merchant and day
    no_utr: int = 0  # percent of UPI bank credits without a UTR (besides the 0.1% fault)
    direction: bool = True  # a direction column (without one, the amount's sign gives it)


PLAIN = Shape("plain", "the benchmark's own files: dates, short narrations, quotes only if needed")
_REALISTIC = replace(
    PLAIN,
    booked_at="datetime",
    narration="long",
    quoted=True,
    crlf=True,
    merchants=20_000,
    no_utr=10,
    direction=False,
)
SHAPES = {
    s.name: s
    for s in (
        PLAIN,
        replace(PLAIN, name="booked-date", about="a booked_at date column", booked_at="date"),
        replace(
            PLAIN,
            name="booked-datetime",
            about="a booked_at date-time column (2024-01-15 10:37:11)",
            booked_at="datetime",
        ),
        replace(PLAIN, name="no-narration", about="no narration column", narration="none"),
        replace(
            PLAIN,
            name="long-narration",
            about="bank narrations as banks write them (about 70 characters)",
            narration="long",
        ),
        replace(
            PLAIN,
            name="quoted",
            about='every text value quoted, empty ones as ""',
            quoted=True,
        ),
        replace(PLAIN, name="crlf", about="Windows line ends", crlf=True),
        replace(
            PLAIN,
            name="merchants",
            about="20,000 merchants; card payments settled per merchant and day",
            merchants=20_000,
        ),
        replace(PLAIN, name="no-utr", about="10% of UPI bank credits without a UTR", no_utr=10),
        replace(
            PLAIN,
            name="no-direction",
            about="no direction column (the canonical layout does not require one)",
            direction=False,
        ),
        replace(_REALISTIC, name="realistic", about="all of the above at once"),
    )
}

_NAMES = (
    "['KIRAN DAS', 'AMIT KAUR', 'ANITA BOSE', 'RAHUL SHARMA', 'PRIYA NAIR', 'VIKRAM SINGH',"
    " 'NEHA GUPTA', 'ARJUN REDDY', 'FATIMA SHAIKH', 'JOHN MATHEW']"
)
_HANDLES = "['okaxis', 'oksbi', 'ybl', 'paytm', 'okhdfcbank', 'ibl']"
_IFSC = "['UTIB0000123', 'SBIN0004567', 'PUNB0123400', 'HDFC0000240', 'ICIC0001122']"


def _pick(options: str, i: str, salt: int) -> str:
    return f"{options}[1 + CAST(hash({i}, {salt}) % len({options}) AS INT)]"


def _booked_at(shape: Shape, date: str, key: str, salt: int) -> str:
    if shape.booked_at is None:
        return ""
    if shape.booked_at == "date":
        return f", strftime({date}, '%Y-%m-%d') AS booked_at"
    return (
        f", strftime(CAST({date} AS TIMESTAMP) + INTERVAL (hash({key}, {salt}) % 86400) SECOND,"
        " '%Y-%m-%d %H:%M:%S') AS booked_at"
    )


def generate(n: int, out_dir: Path, seed: int = 7, shape: Shape = PLAIN) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    pg_path, bank_path = out_dir / "pg.csv", out_dir / "bank.csv"
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET VARIABLE seed = ?", [seed])
    con.execute("SET VARIABLE n = ?", [n])
    merchant = "i % 97" if shape.merchants == 97 else f"hash(i, 11) % {shape.merchants}"
    direction = ", 'CR' AS direction" if shape.direction else ""
    # A card payment's settlement batch: 100 card payments in a row, or its merchant and day.
    batch = "i // 1000" if shape.merchants == 97 else f"({merchant}) * 3 + hash(i, 1) % 3"
    con.execute(
        f"""
        CREATE TABLE pg AS
        SELECT i,
               'pay_' || lpad(CAST(i AS VARCHAR), 10, '0') AS record_id,
               CASE WHEN i % 10 = 0 THEN 'card' ELSE 'upi' END AS kind,
               CAST(1000 + hash(i, getvariable('seed')) % 500000 AS BIGINT) AS amount_minor,
               DATE '2024-01-15' + CAST(hash(i, 1) % 3 AS INT) AS value_date,
               i % 1009 AS fault,
               CAST({merchant} AS BIGINT) AS merchant,
               CAST({batch} AS BIGINT) AS batch
        FROM range(getvariable('n')) t(i)
        """
    )
    con.execute(
        f"""
        CREATE TABLE pg_out AS
        SELECT record_id, 'pg' AS source, amount_minor, 'INR' AS currency{direction},
               value_date{_booked_at(shape, "value_date", "i", 12)},
               CASE WHEN kind = 'upi' THEN lpad(CAST(300000000000 + i AS VARCHAR), 12, '0')
                    END AS utr,
               'order_' || CAST(i AS VARCHAR) AS merchant_ref,
               CASE WHEN kind = 'card' THEN 'setl_' || CAST(batch AS VARCHAR) END
                   AS settlement_id,
               CASE WHEN kind = 'card' THEN amount_minor * 2 // 100 ELSE 0 END AS fee_minor,
               CASE WHEN kind = 'card' THEN (amount_minor * 2 // 100) * 18 // 100 ELSE 0 END
                   AS tax_minor,
               CASE WHEN kind = 'card' THEN 'YESBN' || lpad(CAST(batch AS VARCHAR), 11, '0')
                    END AS settlement_utr,
               'M' || lpad(CAST(merchant AS VARCHAR), 7, '0') AS merchant_id
        FROM pg ORDER BY i
        """
    )
    rrn = "lpad(CAST(300000000000 + i AS VARCHAR), 12, '0')"
    if shape.narration == "long":
        upi_text = (
            f"'UPI/CR/' || {rrn} || '/' || {_pick(_NAMES, 'i', 20)} || '/'"
            f" || lower(replace({_pick(_NAMES, 'i', 20)}, ' ', '.')) || '@'"
            f" || {_pick(_HANDLES, 'i', 21)} || '/' || {_pick(_IFSC, 'i', 22)} || '/PAYMENT'"
        )
        card_text = (
            "'NEFT CR-YESB0000001-HISAABPAY PG SETTLEMENT-' || 'setl_' || CAST(batch AS VARCHAR)"
            " || '-YESBN' || lpad(CAST(batch AS VARCHAR), 11, '0')"
        )
        extra_text = (
            f"'NEFT CR-' || {_pick(_IFSC, 'j', 23)} || '-' || {_pick(_NAMES, 'j', 24)}"
            " || '-INVOICE ' || CAST(hash(j, 25) % 100000 AS VARCHAR)"
        )
    else:
        upi_text, card_text, extra_text = "'UPI credit'", "'NEFT CR settlement'", "'NEFT CR other'"
    no_utr = "fault = 3" + (f" OR hash(i, 8) % 100 < {shape.no_utr}" if shape.no_utr else "")
    narration = "" if shape.narration == "none" else ", narration"
    con.execute(
        f"""
        CREATE TABLE bank_out AS
        WITH upi AS (
            SELECT 'bank-' || lpad(CAST(i AS VARCHAR), 10, '0') AS record_id,
                   amount_minor + CASE WHEN fault = 2 THEN -500 ELSE 0 END AS amount_minor,
                   value_date + CAST(hash(i, 2) % 10 = 0 AS INT) AS value_date,
                   CASE WHEN {no_utr} THEN NULL ELSE {rrn} END AS utr,
                   NULL AS settlement_id, {upi_text} AS narration, hash(i, 3) AS k
            FROM pg WHERE kind = 'upi' AND fault <> 1
        ), card AS (
            SELECT 'bank-s' || CAST(batch AS VARCHAR) AS record_id,
                   sum(amount_minor - amount_minor * 2 // 100
                       - (amount_minor * 2 // 100) * 18 // 100) AS amount_minor,
                   max(value_date) + 1 AS value_date,
                   'YESBN' || lpad(CAST(batch AS VARCHAR), 11, '0') AS utr,
                   'setl_' || CAST(batch AS VARCHAR) AS settlement_id,
                   {card_text} AS narration, hash(batch, 4) AS k
            FROM pg WHERE kind = 'card' GROUP BY batch
        ), body AS (SELECT * FROM upi UNION ALL SELECT * FROM card),
        extra AS (
            SELECT 'bank-x' || CAST(j AS VARCHAR) AS record_id,
                   CAST(500 + hash(j, 5) % 100000 AS BIGINT) AS amount_minor,
                   DATE '2024-01-15' + CAST(hash(j, 6) % 3 AS INT) AS value_date,
                   'XTRA' || lpad(CAST(j AS VARCHAR), 12, '0') AS utr, NULL AS settlement_id,
                   {extra_text} AS narration, hash(j, 7) AS k
            FROM range(getvariable('n') - (SELECT count(*) FROM body)) r(j)
        )
        SELECT record_id, 'bank' AS source, amount_minor, 'INR' AS currency{direction},
               value_date{_booked_at(shape, "value_date", "k", 13)},
               utr, settlement_id{narration}
        FROM (SELECT * FROM body UNION ALL SELECT * FROM extra) ORDER BY k
        """
    )
    _write(con, "pg_out", pg_path, shape)
    _write(con, "bank_out", bank_path, shape)
    # The truth: UPI payments pair with their own credit, card payments with their batch's.
    con.execute(
        f"""
        COPY (
            SELECT p.record_id AS pg_record_id,
                   CASE WHEN p.kind = 'upi' THEN 'bank-' || lpad(CAST(p.i AS VARCHAR), 10, '0')
                        ELSE 'bank-s' || CAST(p.batch AS VARCHAR) END AS bank_record_id
            FROM pg p WHERE p.kind = 'card' OR p.fault <> 1
        ) TO '{out_dir / "truth.parquet"}' (FORMAT parquet)
        """
    )
    con.close()
    return pg_path, bank_path


def _write(con: duckdb.DuckDBPyConnection, table: str, path: Path, shape: Shape) -> None:
    options = ["HEADER", "DELIMITER ','"]
    columns = con.sql(f"SELECT * FROM {table} LIMIT 0")
    select = "*"
    if shape.quoted:
        text = [c for c, t in zip(columns.columns, columns.types, strict=True) if t == "VARCHAR"]
        select = ", ".join(f"coalesce({c}, '') AS {c}" if c in text else c for c in columns.columns)
        options.append(f"FORCE_QUOTE ({', '.join(text)})")
    if shape.crlf:
        options.append("NEW_LINE '\\r\\n'")
    con.execute(f"COPY (SELECT {select} FROM {table}) TO '{path}' ({', '.join(options)})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("out_dir", nargs="?", type=Path)
    parser.add_argument("--shape", default="plain", choices=sorted(SHAPES))
    args = parser.parse_args()
    suffix = "" if args.shape == "plain" else f"-{args.shape}"
    out = args.out_dir or Path(f"bench-data/{args.rows}{suffix}")
    print(generate(args.rows, out, shape=SHAPES[args.shape]))
