"""Overview benchmark: the five Overview endpoints over 10M payments, through the real server.

1. Loads N payments (default 10,000,000) into a fresh PostgreSQL database with INSERT ...
   SELECT over generate_series: 90 business days in time order, 2,000 merchants (skewed: the
   largest takes about 8% of payments), 5 data sources, 4 methods, the pipeline and
   reconciliation statuses, INR and USD; one exception per 100 payments; 12 connectors.
   The values are a fixed hash of the row number, so every run loads the same data.
2. Rebuilds the aggregates for all 90 days with `refresh_kpis` (timed), and one day with
   `refresh_dates` (timed: what a job or an exception step pays per date it touches).
3. Starts the product's server (`hisaab serve`: uvicorn, the real app, a real PostgreSQL),
   logs in once, and times each endpoint over the whole 90 days with httpx over loopback: the
   first request of a freshly started server ("cold"), then --calls requests (p50, p95). Once
   with the Overview cache off (HISAAB_OVERVIEW_CACHE_SECONDS=0: the figures that must stay
   under 100 ms) and once with the in-process cache on (first request a miss, then hits).
4. Runs a simulated match job of --job-rows payments on top of the 10M and times it, and the
   feed's share of it (payments, bank lines, KPI refresh of the job's dates).
5. For comparison, builds the former per-merchant `kpi_daily` (migration 0004's key) from the
   same payments and times the Overview's main query on it and on the current table (SQL only).
6. Does 1 to 3 again on SQLite with --sqlite-rows (default 10,000,000; 0 skips it).

Results are printed and written into docs/benchmarks.md between the bench:overview markers.

    python benchmarks/bench_overview.py [--rows 10000000] [--calls 200] [--hisaab PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.orm import sessionmaker

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from benchdocs import machine, write_block  # noqa: E402
from hisaab.auth.tokens import Claims  # noqa: E402
from hisaab.auth.users import create_user  # noqa: E402
from hisaab.config import Settings  # noqa: E402
from hisaab.overview.refresh import refresh_dates, refresh_kpis  # noqa: E402
from hisaab.recon import feed, match_job  # noqa: E402
from hisaab.recon import jobs as recon_jobs  # noqa: E402
from hisaab.sandbox.model import SimulationConfig  # noqa: E402
from hisaab.sandbox.simulate import simulate  # noqa: E402
from hisaab.storage.engine import make_engine  # noqa: E402
from hisaab.storage.migrate import upgrade  # noqa: E402
from hisaab.storage.models import ReconciliationJob, UTCDateTime  # noqa: E402
from overview_data import (  # noqa: E402
    FIRST_DAY,
    Dialect,
    connectors_sql,
    exceptions_sql,
    merchants_sql,
    payments_sql,
)
from postgres_server import postgres_server  # noqa: E402

START, END = "<!-- bench:overview:start -->", "<!-- bench:overview:end -->"
CHUNK = 1_000_000
TARGET_MS = 100
EMAIL, PASSWORD = "bench@hisaab.test", "bench password 0123"
SECRET = "bench-secret-0123456789abcdef-0123456789abcdef"
ENDPOINTS = (
    "/api/overview",
    "/api/pipeline",
    "/api/sources",
    "/api/connectors/health",
    "/api/top-reasons",
)


@dataclass
class Loaded:
    rows: int
    exceptions: int
    merchants: int
    seconds: float
    job_id: int
    user: Claims


def load(engine: Engine, rows: int, days: int, merchants: int) -> Loaded:
    d = Dialect(engine.dialect.name)
    started = time.perf_counter()
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        user = create_user(session, email=EMAIL, password=PASSWORD, role="sp-ops")
        claims = Claims(user_id=user.id, email=user.email, role=user.role, merchant_id=None)
        job = ReconciliationJob(name="bench history", status="completed", created_by=user.id)
        session.add(job)
        session.flush()
        job_id = job.id
        session.execute(text(merchants_sql(d, merchants)), {"lo": 0, "hi": merchants - 1})
        connectors = text(connectors_sql(d)).bindparams(bindparam("now", type_=UTCDateTime()))
        session.execute(connectors, {"lo": 0, "hi": 11, "now": dt.datetime.now(dt.UTC)})
    for lo in range(0, rows, CHUNK):
        hi = min(rows, lo + CHUNK) - 1
        with engine.begin() as conn:
            conn.execute(text(payments_sql(d, rows, days, merchants)), {"lo": lo, "hi": hi})
        print(f"  {hi + 1:>12,} payments  {time.perf_counter() - started:7.1f} s", flush=True)
    n_exceptions = rows // 100
    with engine.begin() as conn:
        conn.execute(
            text(exceptions_sql(d, n_exceptions, days, job_id)), {"lo": 0, "hi": n_exceptions - 1}
        )
    analyze(engine)
    return Loaded(rows, n_exceptions, merchants, time.perf_counter() - started, job_id, claims)


def analyze(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


# --- refresh -------------------------------------------------------------------------------


@dataclass
class Refresh:
    full_s: float
    payment_rows: int
    exception_rows: int
    one_day_s: float
    one_day_payments: int


def refresh(engine: Engine, days: int) -> Refresh:
    sessions = sessionmaker(engine)
    last = FIRST_DAY + dt.timedelta(days=days - 1)
    started = time.perf_counter()
    with sessions.begin() as session:
        done = refresh_kpis(session, FIRST_DAY, last)
    full_s = time.perf_counter() - started
    analyze(engine)
    middle = FIRST_DAY + dt.timedelta(days=days // 2)
    started = time.perf_counter()
    with sessions.begin() as session:
        refresh_dates(session, [middle])
    one_day_s = time.perf_counter() - started
    with engine.connect() as conn:
        per_day = conn.execute(
            text("SELECT count(*) FROM transactions WHERE business_date = :d"), {"d": middle}
        ).scalar_one()
    return Refresh(full_s, done.payments, done.exceptions, one_day_s, int(per_day))


# --- the server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def api_server(hisaab: str, url: str, cache_seconds: int) -> Iterator[str]:
    """`hisaab serve` on a free loopback port, in a directory without a .env; always stopped."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HISAAB_")},
        "HISAAB_DATABASE_URL": url,
        "HISAAB_JWT_SECRET": SECRET,
        "HISAAB_OVERVIEW_CACHE_SECONDS": str(cache_seconds),
    }
    with tempfile.TemporaryDirectory(prefix="hisaab-bench-") as cwd:
        log = Path(cwd) / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [hisaab, "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + 60
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"hisaab serve exited: {log.read_text()[-2000:]}")
                    with (
                        contextlib.suppress(OSError),
                        socket.create_connection(("127.0.0.1", port), timeout=0.2),
                    ):
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"hisaab serve did not listen: {log.read_text()[-2000:]}"
                        )
                    time.sleep(0.05)
                yield f"http://127.0.0.1:{port}"
            finally:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@dataclass
class Timing:
    first_ms: float
    p50_ms: float
    p95_ms: float


@dataclass
class Served:
    uncached: dict[str, Timing] = field(default_factory=dict)
    cached: dict[str, Timing] = field(default_factory=dict)
    checked_payments: int = 0
    load_average: float = 0.0  # of the machine, over the last minute, when measuring ended


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]


def _get(client: httpx.Client, path: str, query: dict[str, str], token: str) -> Any:
    response = client.get(path, params=query, headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:500]}")
    return response.json()


def measure(base: str, params: dict[str, str], calls: int) -> tuple[dict[str, Timing], int]:
    """(timing per endpoint, payments the overview counted) from a just-started server."""
    with httpx.Client(base_url=base, timeout=60) as client:
        login = client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        login.raise_for_status()
        token = login.json()["access_token"]
        out: dict[str, Timing] = {}
        captured = 0
        for path in ENDPOINTS:
            query = {} if path == "/api/connectors/health" else params
            started = time.perf_counter()
            body = _get(client, path, query, token)
            first = (time.perf_counter() - started) * 1000
            if path == "/api/overview":
                captured = sum(int(c["transactions"]) for c in body["captured"])
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                _get(client, path, query, token)
                samples.append((time.perf_counter() - started) * 1000)
            out[path] = Timing(first, statistics.median(samples), _p95(samples))
    return out, captured


def serve_and_measure(hisaab: str, url: str, days: int, calls: int) -> Served:
    last = FIRST_DAY + dt.timedelta(days=days - 1)
    params = {"from": FIRST_DAY.isoformat(), "to": last.isoformat()}
    served = Served()
    with api_server(hisaab, url, cache_seconds=0) as base:
        served.uncached, served.checked_payments = measure(base, params, calls)
    with api_server(hisaab, url, cache_seconds=300) as base:
        served.cached, _ = measure(base, params, calls)
    served.load_average = os.getloadavg()[0]
    return served


# --- a job on top ----------------------------------------------------------------------------


@dataclass
class JobRun:
    payments: int
    run_s: float
    feed_s: float


def run_job(engine: Engine, url: str, claims: Claims, job_rows: int, workdir: Path) -> JobRun:
    """A simulated day's match job on top of the loaded payments, as a worker runs it."""
    data = workdir / "simulated"
    simulate(SimulationConfig(rows=job_rows, seed=7, bank_format="hdfc"), data)
    settings = Settings(database_url=url, data_dir=str(workdir / "data"), jwt_secret=SECRET)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as session:
        job_id = recon_jobs.create_job(session, claims, name="bench day").job.id
        for side, name in (("pg", "pg.csv"), ("bank", "bank.csv")):
            with (data / name).open("rb") as stream:
                recon_jobs.store_upload(
                    session,
                    claims,
                    job_id,
                    side=side,
                    stream=stream,
                    filename=name,
                    data_dir=Path(settings.data_dir),
                )
        recon_jobs.request_match(session, claims, job_id)
    spent: list[float] = []
    real_store = feed.store

    def timed_store(*args: Any, **kwargs: Any) -> feed.Fed:
        started = time.perf_counter()
        try:
            return real_store(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    match_job.feed.store = timed_store  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        with sessions() as session:
            match_job.run_match(session, job_id, settings=settings)
            session.commit()
        run_s = time.perf_counter() - started
    finally:
        match_job.feed.store = real_store  # type: ignore[assignment]
    with engine.connect() as conn:
        payments = conn.execute(
            text("SELECT count(*) FROM transactions WHERE job_id = :j"), {"j": job_id}
        ).scalar_one()
    return JobRun(int(payments), run_s, sum(spent))


# --- the former per-merchant aggregate -------------------------------------------------------


@dataclass
class Compare:
    old_rows: int
    new_rows: int
    old_p50_ms: float
    new_p50_ms: float


def compare_0004(url: str, days: int, calls: int) -> Compare:
    last = FIRST_DAY + dt.timedelta(days=days - 1)
    query = (
        "SELECT status, reconciliation_status, currency, sum(transactions), sum(amount_minor)"
        " FROM {table} WHERE business_date BETWEEN %s AND %s"
        " GROUP BY status, reconciliation_status, currency"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE kpi_daily_0004 AS SELECT business_date, merchant_id, data_source,"
            " status, reconciliation_status, currency, count(*) AS transactions,"
            " sum(amount_minor) AS amount_minor FROM transactions GROUP BY business_date,"
            " merchant_id, data_source, status, reconciliation_status, currency"
        )
        conn.execute(
            "CREATE UNIQUE INDEX ON kpi_daily_0004 (business_date, merchant_id, data_source,"
            " status, reconciliation_status, currency)"
        )
        conn.execute("VACUUM ANALYZE kpi_daily_0004")
        timings = {}
        counts = {}
        for table in ("kpi_daily_0004", "kpi_daily"):
            sql = query.format(table=table)
            for _ in range(3):
                conn.execute(sql, (FIRST_DAY, last)).fetchall()
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                conn.execute(sql, (FIRST_DAY, last)).fetchall()
                samples.append((time.perf_counter() - started) * 1000)
            timings[table] = statistics.median(samples)
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[table] = int(row[0]) if row else 0
        conn.execute("DROP TABLE kpi_daily_0004")
    return Compare(
        counts["kpi_daily_0004"],
        counts["kpi_daily"],
        timings["kpi_daily_0004"],
        timings["kpi_daily"],
    )


# --- a whole backend -------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    version: str
    loaded: Loaded
    refresh: Refresh
    served: Served
    job: JobRun | None = None
    compare: Compare | None = None


def bench_backend(url: str, args: argparse.Namespace, rows: int, workdir: Path) -> Backend:
    upgrade(url)
    engine = make_engine(url)
    try:
        name = engine.dialect.name
        print(f"{name}: loading {rows:,} payments", flush=True)
        loaded = load(engine, rows, args.days, args.merchants)
        print(f"{name}: loaded in {loaded.seconds:.1f} s; refreshing", flush=True)
        refreshed = refresh(engine, args.days)
        print(f"{name}: {refreshed}", flush=True)
        served = serve_and_measure(args.hisaab, url, args.days, args.calls)
        if served.checked_payments != rows:
            raise RuntimeError(
                f"/api/overview counted {served.checked_payments:,} payments, not {rows:,}"
            )
        print(f"{name}: {served}", flush=True)
        with engine.connect() as conn:
            version = str(
                conn.exec_driver_sql("SHOW server_version").scalar_one()
                if name == "postgresql"
                else sqlite3.sqlite_version
            )
        backend = Backend(name, version, loaded, refreshed, served)
        if name == "postgresql" and args.job_rows:
            backend.job = run_job(engine, url, loaded.user, args.job_rows, workdir)
            print(f"{name}: {backend.job}", flush=True)
        if name == "postgresql" and not args.no_compare:
            backend.compare = compare_0004(url, args.days, args.calls)
            print(f"{name}: {backend.compare}", flush=True)
        return backend
    finally:
        engine.dispose()


@contextlib.contextmanager
def postgres_database(dsn: str | None) -> Iterator[str]:
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


# --- the report ------------------------------------------------------------------------------


def render(backends: list[Backend], args: argparse.Namespace) -> str:
    lines = [
        START,
        f"Measured {dt.date.today().isoformat()} on {machine()}, by `make bench`"
        f" (`benchmarks/bench_overview.py --calls {args.calls}`); the machine was shared"
        " with other work.",
        "",
        "| backend | payments | exceptions | load | refresh 90 days | aggregate rows"
        " (payments + exceptions) | refresh 1 day |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for b in backends:
        r = b.refresh
        lines.append(
            f"| {b.name} {b.version} | {b.loaded.rows:,} | {b.loaded.exceptions:,}"
            f" | {b.loaded.seconds:.1f} s | {r.full_s:.2f} s"
            f" | {r.payment_rows:,} + {r.exception_rows:,}"
            f" | {r.one_day_s:.3f} s ({r.one_day_payments:,} payments) |"
        )
    lines += [
        "",
        "Each endpoint over all 90 days, through `hisaab serve` (uvicorn) and httpx over"
        f" loopback: the first request of a freshly started server, then {args.calls} requests"
        " (milliseconds, client-side wall time per request; the machine's 1-minute load"
        " average as measuring ended: "
        + ", ".join(f"{b.name} {b.served.load_average:.1f}" for b in backends)
        + "):",
        "",
        "| backend | endpoint | uncached: first | p50 | p95 | cached: first (miss) | p50 | p95 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for b in backends:
        for path in ENDPOINTS:
            u, c = b.served.uncached[path], b.served.cached[path]
            lines.append(
                f"| {b.name} | `{path}` | {u.first_ms:.1f} | {u.p50_ms:.1f} | {u.p95_ms:.1f}"
                f" | {c.first_ms:.1f} | {c.p50_ms:.1f} | {c.p95_ms:.1f} |"
            )
    worst = max(
        ((t.p95_ms, b.name, path) for b in backends for path, t in b.served.uncached.items()),
        default=(0.0, "", ""),
    )
    verdict = "met" if worst[0] <= TARGET_MS else "missed"
    lines += [
        "",
        f"Against the target ({TARGET_MS} ms, cache off): **{verdict}**; the slowest p95 is"
        f" {worst[0]:.1f} ms (`{worst[2]}` on {worst[1]}).",
    ]
    for b in backends:
        if b.job is not None:
            lines += [
                "",
                f"A simulated match job on top of the {b.loaded.rows:,} payments ({b.name},"
                f" `hisaab simulate --rows {args.job_rows}`, HDFC statement):"
                f" {b.job.payments:,} payments fed; the whole run took {b.job.run_s:.2f} s,"
                f" of which {b.job.feed_s:.2f} s storing payments and bank lines and"
                " refreshing the KPIs of the job's dates.",
            ]
        if b.compare is not None:
            c = b.compare
            lines += [
                "",
                f"The former per-merchant `kpi_daily` (migration 0004's key) built from the same"
                f" {b.loaded.rows:,} payments has {c.old_rows:,} rows; the Overview's main query"
                f" over 90 days on it: p50 {c.old_p50_ms:.1f} ms, against {c.new_p50_ms:.1f} ms"
                f" on the current `kpi_daily` ({c.new_rows:,} rows); SQL only, psycopg,"
                f" {args.calls} runs.",
            ]
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="payments on PostgreSQL")
    parser.add_argument("--sqlite-rows", type=int, default=10_000_000, help="0: skip SQLite")
    parser.add_argument("--calls", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--merchants", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--job-rows", type=int, default=100_000, help="0: no job on top")
    parser.add_argument("--no-compare", action="store_true", help="skip the 0004 comparison")
    parser.add_argument("--dsn", help="a PostgreSQL server to create the database on")
    parser.add_argument("--hisaab", default=str(Path(sys.executable).parent / "hisaab"))
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    backends = []
    with tempfile.TemporaryDirectory(prefix="hisaab-bench-") as tmp:
        workdir = Path(tmp)
        with postgres_database(args.dsn) as url:
            backends.append(bench_backend(url, args, args.rows, workdir))
        if args.sqlite_rows:
            url = f"sqlite:///{workdir / 'overview.db'}"
            backends.append(bench_backend(url, args, args.sqlite_rows, workdir))
    block = render(backends, args)
    print(block)
    if not args.no_docs:
        write_block(block, START, END, "Overview API")


if __name__ == "__main__":
    main()
