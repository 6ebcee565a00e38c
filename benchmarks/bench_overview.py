"""Overview benchmark: the five Overview service calls over N transactions on PostgreSQL.

Loads N transactions (COPY), a connector per bank and one exception per 100 payments into a
fresh database, rebuilds `kpi_daily` for the whole range with `refresh_kpis` (timed), then
times each service call uncached (the cache is off) and warm (3 calls first, not counted),
and prints p50/p95 per endpoint. The clock is the harness's own perf_counter around the
service call, in this process, including the SQL round trips but not HTTP.

    python benchmarks/bench_overview.py [--rows 200000] [--calls 50] [--dsn postgresql://...]

Without --dsn it starts a throwaway server like the tests do (tests/postgres_server.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hisaab.overview import service
from hisaab.overview.refresh import refresh_kpis
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from postgres_server import postgres_server

SOURCES = ("PG_API", "BANK_SFTP", "BANK_API", "UPLOAD")
METHODS = ("UPI", "CARD", "NETBANKING", "WALLET")
STATUSES = ("captured", "in_settlement", "sent_to_bank", "credited")
RECON = ("matched", "unmatched", "exception", "pending")
CATEGORIES = ("UNMATCHED_PG", "UNMATCHED_BANK", "AMOUNT_MISMATCH", "UTR_MISSING")
FIRST_DAY = dt.date(2026, 1, 1)


@contextlib.contextmanager
def database(dsn: str | None) -> Iterator[str]:
    """A fresh, empty database on the given server (or on a throwaway one)."""
    with contextlib.ExitStack() as stack:
        server = dsn or stack.enter_context(postgres_server())
        name = f"bench_overview_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.rsplit("/", 1)[0] + "/" + name
        finally:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def load(url: str, rows: int, merchants: int, days: int, seed: int) -> None:
    rnd = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY merchants (id, name, created_at) FROM STDIN") as copy:
            for m in range(merchants):
                copy.write_row((f"M{m:07d}", f"Merchant {m}", now))
        cur.execute(
            "INSERT INTO users (email, password_hash, role, is_active, created_at)"
            " VALUES ('bench@hisaab.test', 'x', 'sp-ops', true, %s) RETURNING id",
            (now,),
        )
        user_id = cur.fetchone()[0]  # type: ignore[index]
        cur.execute(
            "INSERT INTO reconciliation_jobs (name, status, progress, created_by, created_at)"
            " VALUES ('bench', 'completed', 100, %s, %s) RETURNING id",
            (user_id, now),
        )
        job_id = cur.fetchone()[0]  # type: ignore[index]
        columns = (
            "id, merchant_id, amount_minor, currency, method, data_source, status,"
            " reconciliation_status, utr, business_date, created_at"
        )
        with cur.copy(f"COPY transactions ({columns}) FROM STDIN") as copy:
            for i in range(rows):
                day = FIRST_DAY + dt.timedelta(days=i % days)
                copy.write_row(
                    (
                        f"T{i:010d}",
                        f"M{rnd.randrange(merchants):07d}",
                        rnd.randrange(100, 5_000_000),
                        "INR" if i % 50 else "USD",
                        rnd.choice(METHODS),
                        rnd.choice(SOURCES),
                        rnd.choice(STATUSES),
                        rnd.choices(RECON, weights=(90, 5, 3, 2))[0],
                        f"UTR{i:012d}",
                        day,
                        dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
                    )
                )
        exception_columns = (
            "job_id, category, side, record_id, source_line, amount_minor, currency, value_date,"
            " details, status, created_at"
        )
        with cur.copy(f"COPY reconciliation_exceptions ({exception_columns}) FROM STDIN") as copy:
            for i in range(rows // 100):
                copy.write_row(
                    (
                        job_id,
                        rnd.choice(CATEGORIES),
                        "pg",
                        f"T{i:010d}",
                        i + 2,
                        rnd.randrange(100, 5_000_000),
                        "INR",
                        FIRST_DAY + dt.timedelta(days=i % days),
                        "{}",
                        rnd.choice(("open", "open", "in_review", "resolved")),
                        now,
                    )
                )
        with cur.copy(
            "COPY bank_connectors (name, kind, status, last_success_at, created_at) FROM STDIN"
        ) as copy:
            for b in range(12):
                copy.write_row(
                    (f"bank-{b}", "sftp", "active", now - dt.timedelta(minutes=b * 20), now)
                )
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")


def timed(call: Callable[[], object], calls: int) -> tuple[float, float]:
    for _ in range(3):
        call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
    return statistics.median(samples), p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--merchants", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dsn", help="a PostgreSQL server to create the database on")
    args = parser.parse_args()

    with database(args.dsn) as url:
        upgrade(url)
        started = time.perf_counter()
        load(url, args.rows, args.merchants, args.days, args.seed)
        print(f"loaded {args.rows:,} transactions in {time.perf_counter() - started:.2f} s")
        engine = make_engine(url)
        sessions = sessionmaker(engine)
        last_day = FIRST_DAY + dt.timedelta(days=args.days - 1)
        started = time.perf_counter()
        with sessions.begin() as session:
            written = refresh_kpis(session, FIRST_DAY, last_day)
        refresh_s = time.perf_counter() - started
        print(f"refresh_kpis over {args.days} days: {refresh_s:.2f} s, {written:,} kpi_daily rows")
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE kpi_daily")
            conn.commit()

        dates = service.DateRange(FIRST_DAY, last_day)
        session: Session
        with sessions() as session:
            calls: dict[str, Callable[[], object]] = {
                "/api/overview": lambda: service.overview(session, dates),
                "/api/pipeline": lambda: service.pipeline(session, dates),
                "/api/sources": lambda: service.sources(session, dates),
                "/api/connectors/health": lambda: service.connectors_health(session),
                "/api/top-reasons": lambda: service.top_reasons(session, dates),
            }
            print(f"{'endpoint':<26}{'p50 ms':>10}{'p95 ms':>10}   ({args.calls} calls, uncached)")
            for name, call in calls.items():
                p50, p95 = timed(call, args.calls)
                print(f"{name:<26}{p50:>10.2f}{p95:>10.2f}")
        engine.dispose()


if __name__ == "__main__":
    main()
