"""The Overview benchmark's data, generated inside the database by one INSERT ... SELECT each.

The same SQL (but for a few dialect differences) on PostgreSQL (over generate_series) and
SQLite (over a recursive CTE): every value is a fixed hash of the row number, so a given size
loads the same payments on both, run after run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FIRST_DAY = dt.date(2026, 1, 1)
# 2**31 - 1: a prime; ((row * a + c) mod P)**2 mod P stays within 64-bit integers on both
# databases for every row number used here.
_P = 2_147_483_647


def _hash(k: int) -> str:
    x = f"(((i + {k * 7919}) * 1103515245 + 12345) % {_P})"
    return f"(({x} * {x}) % {_P})"


def _pick(h: str, shares: list[tuple[int, str]]) -> str:
    """CASE over h % 100: each value takes the given percentage, the last takes the rest."""
    whens, below = [], 0
    for share, value in shares[:-1]:
        below += share
        whens.append(f"WHEN {h} % 100 < {below} THEN '{value}'")
    return f"CASE {' '.join(whens)} ELSE '{shares[-1][1]}' END"


@dataclass(frozen=True)
class Dialect:
    """The few SQL differences between PostgreSQL and SQLite that the generator meets."""

    name: str

    def rows(self, select: str) -> str:
        """`select` (over a column i) for i = :lo .. :hi."""
        if self.name == "postgresql":
            return (
                f"SELECT i, {select} FROM generate_series(CAST(:lo AS BIGINT), CAST(:hi AS BIGINT))"
                " AS s(i)"
            )
        return (
            "WITH RECURSIVE s(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM s WHERE i < :hi)"
            f" SELECT i, {select} FROM s"
        )

    def padded(self, prefix: str, expr: str, width: int) -> str:
        if self.name == "postgresql":
            return f"'{prefix}' || lpad(({expr})::text, {width}, '0')"
        return f"printf('{prefix}%0{width}d', {expr})"

    def day(self, offset: str) -> str:
        if self.name == "postgresql":
            return f"(DATE '{FIRST_DAY.isoformat()}' + ({offset})::int)"
        return f"date('{FIRST_DAY.isoformat()}', '+' || ({offset}) || ' days')"

    def noon(self, offset: str) -> str:
        if self.name == "postgresql":
            return f"(({self.day(offset)})::timestamp + interval '12 hours') AT TIME ZONE 'UTC'"
        return f"({self.day(offset)} || ' 12:00:00.000000')"


def payments_sql(d: Dialect, rows: int, days: int, merchants: int) -> str:
    day = f"(i * {days}) / {rows}"
    age = f"({days - 1} - {day})"
    u = f"({_hash(2)} % 1000)"
    status_old = _pick(
        _hash(3),
        [(94, "credited"), (3, "sent_to_bank"), (2, "in_settlement"), (1, "captured")],
    )
    status_new = _pick(
        _hash(3),
        [(40, "captured"), (30, "in_settlement"), (20, "sent_to_bank"), (10, "credited")],
    )
    select = ", ".join(
        [
            d.padded("T", "i", 10) + " AS id",
            # u**3: a few large merchants and a long tail, like a real gateway's book.
            d.padded("M", f"({u} * {u} * {u} * {merchants}) / 1000000000", 7) + " AS merchant",
            f"100 + ({_hash(7)} % 1000) * ({_hash(7)} % 1000) * 5 AS amount_minor",
            f"CASE WHEN {_hash(6)} % 100 < 98 THEN 'INR' ELSE 'USD' END AS currency",
            _pick(_hash(1), [(55, "UPI"), (20, "CARD"), (10, "NETBANKING"), (15, "WALLET")])
            + " AS method",
            _pick(
                _hash(5),
                [
                    (55, "PG_API"),
                    (15, "BANK_SFTP"),
                    (12, "BANK_API"),
                    (10, "UPLOAD"),
                    (8, "pg-generic"),
                ],
            )
            + " AS data_source",
            f"CASE WHEN {age} >= 3 THEN {status_old} ELSE {status_new} END AS status",
            _pick(_hash(4), [(90, "matched"), (5, "unmatched"), (3, "exception"), (2, "pending")])
            + " AS reconciliation_status",
            d.padded("UTR", "i", 12) + " AS utr",
            d.day(day) + " AS business_date",
            d.noon(day) + " AS created_at",
        ]
    )
    columns = (
        "id, merchant_id, amount_minor, currency, method, data_source, status,"
        " reconciliation_status, utr, business_date, created_at"
    )
    return (
        f"INSERT INTO transactions ({columns}) SELECT id, merchant, amount_minor, currency,"
        f" method, data_source, status, reconciliation_status, utr, business_date, created_at"
        f" FROM ({d.rows(select)}) g"
    )


def exceptions_sql(d: Dialect, n: int, days: int, job_id: int) -> str:
    day = f"(i * {days}) / {n}"
    select = ", ".join(
        [
            _pick(
                _hash(11),
                [
                    (40, "UNMATCHED_PG"),
                    (25, "UNMATCHED_BANK"),
                    (15, "AMOUNT_MISMATCH"),
                    (10, "UTR_MISSING"),
                    (5, "DUPLICATE_UTR"),
                    (5, "AMBIGUOUS"),
                ],
            )
            + " AS category",
            f"CASE WHEN {_hash(12)} % 3 = 0 THEN 'bank' ELSE 'pg' END AS side",
            d.padded("X", "i", 10) + " AS record_id",
            "i + 2 AS source_line",
            f"100 + ({_hash(13)} % 1000) * ({_hash(13)} % 1000) * 5 AS amount_minor",
            f"CASE WHEN {_hash(14)} % 100 < 98 THEN 'INR' ELSE 'USD' END AS currency",
            d.day(day) + " AS value_date",
            _pick(
                _hash(15),
                [(45, "open"), (15, "in_review"), (5, "pending_approval"), (35, "resolved")],
            )
            + " AS status",
            d.noon(day) + " AS created_at",
        ]
    )
    columns = (
        "job_id, category, side, record_id, source_line, amount_minor, currency, value_date,"
        " details, status, created_at"
    )
    return (
        f"INSERT INTO reconciliation_exceptions ({columns}) SELECT {job_id}, category, side,"
        " record_id, source_line, amount_minor, currency, value_date, '{}', status, created_at"
        f" FROM ({d.rows(select)}) g"
    )


def merchants_sql(d: Dialect, merchants: int) -> str:
    select = ", ".join(
        [
            d.padded("M", "i", 7) + " AS id",
            d.padded("Merchant ", "i", 7) + " AS name",
            d.noon("0") + " AS created_at",
        ]
    )
    return (
        "INSERT INTO merchants (id, name, created_at)"
        f" SELECT id, name, created_at FROM ({d.rows(select)}) g"
    )


def connectors_sql(d: Dialect) -> str:
    select = ", ".join(
        [
            d.padded("bank-", "i", 2) + " AS name",
            d.noon("0") + " AS created_at",
        ]
    )
    return (
        "INSERT INTO bank_connectors (name, kind, status, last_success_at, created_at)"
        f" SELECT name, 'sftp', 'active', :now, created_at FROM ({d.rows(select)}) g"
    )
