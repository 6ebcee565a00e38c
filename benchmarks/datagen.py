"""Benchmark data: canonical PG and bank CSVs of N rows each, generated in SQL (seconds at 10M).

Shape (per PG row index i, pseudo-random through DuckDB's hash):
- 90% UPI payments collected one by one: a unique 12-digit RRN, one bank credit each, value
  date the same day or the next;
- 10% card payments settled in batches of 100 with MDR 2% and GST 18% of the fee: one bank
  credit per batch, linked by settlement_id and settlement UTR;
- faults: about 0.1% each of missing bank credits, amount mismatches, credits without a UTR;
- unrelated bank lines so that the bank file also has exactly N rows.
The `hisaab simulate` command makes richer, realistic data; this one makes big data fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb


def generate(n: int, out_dir: Path, seed: int = 7) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    pg_path, bank_path = out_dir / "pg.csv", out_dir / "bank.csv"
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET VARIABLE seed = ?", [seed])
    con.execute("SET VARIABLE n = ?", [n])
    con.execute(
        """
        CREATE TABLE pg AS
        SELECT i,
               'pay_' || lpad(CAST(i AS VARCHAR), 10, '0') AS record_id,
               CASE WHEN i % 10 = 0 THEN 'card' ELSE 'upi' END AS kind,
               CAST(1000 + hash(i, getvariable('seed')) % 500000 AS BIGINT) AS amount_minor,
               DATE '2024-01-15' + CAST(hash(i, 1) % 3 AS INT) AS value_date,
               i % 1009 AS fault
        FROM range(getvariable('n')) t(i)
        """
    )
    con.execute(
        """
        CREATE TABLE pg_out AS
        SELECT record_id, 'pg' AS source, amount_minor, 'INR' AS currency, 'CR' AS direction,
               value_date,
               CASE WHEN kind = 'upi' THEN lpad(CAST(300000000000 + i AS VARCHAR), 12, '0')
                    END AS utr,
               'order_' || CAST(i AS VARCHAR) AS merchant_ref,
               CASE WHEN kind = 'card' THEN 'setl_' || CAST(i // 1000 AS VARCHAR) END
                   AS settlement_id,
               CASE WHEN kind = 'card' THEN amount_minor * 2 // 100 ELSE 0 END AS fee_minor,
               CASE WHEN kind = 'card' THEN (amount_minor * 2 // 100) * 18 // 100 ELSE 0 END
                   AS tax_minor,
               CASE WHEN kind = 'card' THEN 'YESBN' || lpad(CAST(i // 1000 AS VARCHAR), 11, '0')
                    END AS settlement_utr,
               'M' || lpad(CAST(i % 97 AS VARCHAR), 7, '0') AS merchant_id
        FROM pg ORDER BY i
        """
    )
    con.execute(
        """
        CREATE TABLE bank_out AS
        WITH upi AS (
            SELECT 'bank-' || lpad(CAST(i AS VARCHAR), 10, '0') AS record_id,
                   amount_minor + CASE WHEN fault = 2 THEN -500 ELSE 0 END AS amount_minor,
                   value_date + CAST(hash(i, 2) % 10 = 0 AS INT) AS value_date,
                   CASE WHEN fault = 3 THEN NULL
                        ELSE lpad(CAST(300000000000 + i AS VARCHAR), 12, '0') END AS utr,
                   NULL AS settlement_id, 'UPI credit' AS narration, hash(i, 3) AS k
            FROM pg WHERE kind = 'upi' AND fault <> 1
        ), card AS (
            SELECT 'bank-s' || CAST(i // 1000 AS VARCHAR) AS record_id,
                   sum(amount_minor - amount_minor * 2 // 100
                       - (amount_minor * 2 // 100) * 18 // 100) AS amount_minor,
                   max(value_date) + 1 AS value_date,
                   'YESBN' || lpad(CAST(i // 1000 AS VARCHAR), 11, '0') AS utr,
                   'setl_' || CAST(i // 1000 AS VARCHAR) AS settlement_id,
                   'NEFT CR settlement' AS narration, hash(i // 1000, 4) AS k
            FROM pg WHERE kind = 'card' GROUP BY i // 1000
        ), body AS (SELECT * FROM upi UNION ALL SELECT * FROM card),
        extra AS (
            SELECT 'bank-x' || CAST(j AS VARCHAR) AS record_id,
                   CAST(500 + hash(j, 5) % 100000 AS BIGINT) AS amount_minor,
                   DATE '2024-01-15' + CAST(hash(j, 6) % 3 AS INT) AS value_date,
                   'XTRA' || lpad(CAST(j AS VARCHAR), 12, '0') AS utr, NULL AS settlement_id,
                   'NEFT CR other' AS narration, hash(j, 7) AS k
            FROM range(getvariable('n') - (SELECT count(*) FROM body)) r(j)
        )
        SELECT record_id, 'bank' AS source, amount_minor, 'INR' AS currency,
               'CR' AS direction, value_date, utr, settlement_id, narration
        FROM (SELECT * FROM body UNION ALL SELECT * FROM extra) ORDER BY k
        """
    )
    con.execute(f"COPY pg_out TO '{pg_path}' (HEADER, DELIMITER ',')")
    con.execute(f"COPY bank_out TO '{bank_path}' (HEADER, DELIMITER ',')")
    con.close()
    return pg_path, bank_path


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(generate(rows, Path(sys.argv[2] if len(sys.argv) > 2 else f"bench-data/{rows}")))
