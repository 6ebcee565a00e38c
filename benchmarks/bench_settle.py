"""Settlement benchmark: `hisaab settle` for one date over N payments across M merchants.

Loads N payments into a fresh PostgreSQL database as the Overview benchmark does
(`overview_data.payments_sql`: fixed hashes, skewed merchants, four methods, 98% INR),
gives every merchant approved default terms (T+1, cards 2%, netbanking 1.90%, UPI 0%),
then times `hisaab.settlement.record.record` for the day after the last business day:
every matched, unsettled INR payment of every merchant is settled (merchants with USD
payments are named and skipped), one transaction per merchant. Prints and writes the result
into docs/benchmarks.md between the bench:settle markers.

    python benchmarks/bench_settle.py [--rows 1000000] [--merchants 5000]

The issue's target is 10,000,000 payments across 50,000 merchants in 60 s or less.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdocs import machine, write_block
from hisaab.settlement.record import record
from hisaab.settlement.terms import TermsSpec
from hisaab.storage.engine import make_engine
from hisaab.storage.kpi_models import LedgerLine, Transaction
from hisaab.storage.migrate import upgrade
from overview_data import FIRST_DAY, Dialect, merchants_sql, payments_sql
from postgres_server import postgres_server

START, END = "<!-- bench:settle:start -->", "<!-- bench:settle:end -->"
CHUNK = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--merchants", type=int, default=5_000)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(postgres_server())
        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = server.rsplit("/", 1)[0] + "/" + name
        upgrade(url)
        engine = make_engine(url)
        d = Dialect("postgresql")
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                text(merchants_sql(d, args.merchants)), {"lo": 0, "hi": args.merchants - 1}
            )
            conn.execute(
                text(
                    "INSERT INTO merchant_terms (merchant_id, version, status, terms, note,"
                    " proposed_at, decided_at) SELECT id, 1, 'active', :terms, 'bench', now(),"
                    " now() FROM merchants"
                ),
                {"terms": TermsSpec().model_dump_json()},
            )
        for lo in range(0, args.rows, CHUNK):
            hi = min(args.rows, lo + CHUNK) - 1
            with engine.begin() as conn:
                conn.execute(
                    text(payments_sql(d, args.rows, 1, args.merchants)), {"lo": lo, "hi": hi}
                )
        # One currency: the Overview's data gives 2% of payments in USD, and a merchant with
        # a payment in another currency is named and not settled.
        with engine.begin() as conn:
            conn.execute(text("UPDATE transactions SET currency = 'INR'"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        loaded = time.perf_counter() - started
        sessions = sessionmaker(engine)
        with sessions() as session:
            due = session.scalar(
                select(func.count()).where(Transaction.reconciliation_status == "matched")
            )
        print(f"loaded {args.rows:,} payments ({due:,} matched) in {loaded:.1f} s", flush=True)
        cycle = FIRST_DAY + dt.timedelta(days=1)
        t0 = time.perf_counter()
        done = record(sessions, cycle)
        seconds = time.perf_counter() - t0
        outcomes = Counter(r.outcome for r in done)
        with sessions() as session:
            lines = session.scalar(select(func.count()).select_from(LedgerLine)) or 0
            settled = session.scalar(
                select(func.count()).where(Transaction.settlement_id.is_not(None))
            )
        engine.dispose()
    rate = (settled or 0) / seconds if seconds else 0.0
    print(
        f"settled {settled:,} payments of {outcomes['recorded']:,} merchants in {seconds:.1f} s"
        f" ({rate:,.0f} payments/s, {lines:,} ledger lines); outcomes {dict(outcomes)}"
    )
    if args.no_docs:
        return
    block = "\n".join(
        [
            START,
            f"Measured {dt.date.today()} on {machine()} by `benchmarks/bench_settle.py --rows"
            f" {args.rows} --merchants {args.merchants}` (PostgreSQL 15, fsync on).",
            "",
            "| payments | matched | merchants recorded | not settled | ledger lines | seconds"
            " | payments/s |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {args.rows:,} | {due:,} | {outcomes['recorded']:,} |"
            f" {outcomes['not_settled']:,} | {lines:,} | {seconds:.1f} | {rate:,.0f} |",
            "",
            "Target (issue): 10,000,000 payments across 50,000 merchants in 60 s or less.",
            END,
        ]
    )
    write_block(block, START, END, "Settlement")


if __name__ == "__main__":
    main()
