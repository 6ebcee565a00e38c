"""The `recon.match` handler: what the engine found is what the database holds, on both backends.

Jobs are set up through the service (create, upload both sides, request matching) and run
by calling the handler the way a worker does: `handler(session, payload)`, then commit.

The Overview's feed is shown on a gateway export of 15-16 January 2024 against the bank's
statement, in INR paise:

    pay_1  ₹499.00    UPI         Chai Point (M0001234)  15 Jan  credited as bnk_1
    pay_2  ₹1,200.00  CARD        Chai Point             15 Jan  credited as bnk_2
    pay_3  ₹750.50    NETBANKING  Dosa Hut (M0009999)    16 Jan  no credit found
    ref_1  ₹100.00    a refund (DR) of Chai Point        16 Jan  no debit found
    bnk_9  ₹300.00    a bank credit no payment explains  16 Jan
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from hisaab.auth import passwords
from hisaab.auth.tokens import Claims
from hisaab.auth.users import create_user
from hisaab.config import Settings, get_settings
from hisaab.errors import FormatError, InputError
from hisaab.ingest.normalize import normalize
from hisaab.matching.engine import reconcile
from hisaab.matching.rules import load_ruleset
from hisaab.overview import service as overview
from hisaab.queue import jobs as queue
from hisaab.recon import exceptions as workflow
from hisaab.recon import files, match_job
from hisaab.recon import jobs as service
from hisaab.recon.approval import ApprovalThresholds
from hisaab.sandbox.model import SimulationConfig
from hisaab.sandbox.simulate import simulate
from hisaab.storage.engine import make_engine
from hisaab.storage.kpi_models import BankTransaction, KpiDaily, KpiExceptionsDaily, Transaction
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import (
    AuditEntry,
    Merchant,
    QueueJob,
    ReconciliationException,
    ReconciliationJob,
    ReconMatch,
)

SLA_HOURS = 48


@dataclass
class Db:
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    ops: Claims

    def job(self, pg: Path, bank: Path, *, merchant_id: str | None = None) -> int:
        """A job with both files uploaded and matching requested, as the API would leave it."""
        with self.sessions.begin() as session:
            job_id = service.create_job(
                session, self.ops, name="simulated day", merchant_id=merchant_id
            ).job.id
            for side, path in (("pg", pg), ("bank", bank)):
                with path.open("rb") as stream:
                    service.store_upload(
                        session,
                        self.ops,
                        job_id,
                        side=side,
                        stream=stream,
                        filename=path.name,
                        data_dir=Path(self.settings.data_dir),
                    )
            service.request_match(session, self.ops, job_id)
        return job_id

    def run(self, job_id: int) -> None:
        """What a worker does with the job: run the handler, commit with it."""
        with self.sessions() as session:
            match_job.run_match(session, job_id, settings=self.settings)
            session.commit()

    def job_row(self, job_id: int) -> ReconciliationJob:
        with self.sessions() as session:
            job = session.get(ReconciliationJob, job_id)
            assert job is not None
            return job


@pytest.fixture
def db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Db]:
    monkeypatch.setattr(passwords, "_HASHER", PasswordHasher(1, 1024, 1))
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    settings = Settings(
        database_url=database_url,
        data_dir=str(tmp_path / "data"),
        exception_sla_hours=SLA_HOURS,
    )
    with sessions.begin() as session:
        user = create_user(
            session, email="ops@hisaab.test", password="correct horse battery", role="sp-ops"
        )
        ops = Claims(user_id=user.id, email=user.email, role=user.role, merchant_id=None)
    yield Db(engine, sessions, settings, ops)
    engine.dispose()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PG export and an HDFC statement for 400 payments, with the simulator's faults."""
    out = tmp_path_factory.mktemp("simulated")
    simulate(SimulationConfig(rows=400, seed=11, bank_format="hdfc"), out)
    return out


def canonical(
    tmp_path: Path,
    name: str,
    rows: list[str],
    header: str = "record_id,amount_minor,currency,direction,value_date,utr",
) -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def engine_reference(pg: Path, bank: Path) -> dict[str, Any]:
    """The engine run on its own over the same files: what the database should hold."""
    pg_nf = normalize(pg, source="pg")
    bank_nf = normalize(bank, source="bank")
    result = reconcile(pg_nf.table, bank_nf.table, load_ruleset())
    try:
        return {
            "matches": result.matches().num_rows,
            "exceptions": result.exceptions().num_rows,
            "pg_total": sum(pg_nf.table.column("amount_minor").to_pylist()),
            "bank_total": sum(bank_nf.table.column("amount_minor").to_pylist()),
            "summary": result.summary(),
        }
    finally:
        result.close()


class TestStoredResults:
    def test_the_database_holds_what_the_engine_found(self, db: Db, simulated: Path) -> None:
        pg, bank = simulated / "pg.csv", simulated / "bank.csv"
        job_id = db.job(pg, bank)
        db.run(job_id)
        expected = engine_reference(pg, bank)
        with db.sessions() as session:
            n_matches = session.scalar(select(func.count()).where(ReconMatch.job_id == job_id))
            by_category = dict(
                session.execute(
                    select(ReconciliationException.category, func.count())
                    .where(ReconciliationException.job_id == job_id)
                    .group_by(ReconciliationException.category)
                ).all()
            )
        assert n_matches == expected["matches"] > 300
        assert sum(by_category.values()) == expected["exceptions"] > 0
        assert by_category == {
            category: sum(sides[s]["INR"]["records"] for s in sides)
            for category, sides in expected["summary"]["exceptions_by_category"].items()
        }

    def test_every_rupee_is_in_an_automatic_match_or_an_exception(
        self, db: Db, simulated: Path
    ) -> None:
        pg, bank = simulated / "pg.csv", simulated / "bank.csv"
        job_id = db.job(pg, bank)
        db.run(job_id)
        expected = engine_reference(pg, bank)
        with db.sessions() as session:
            auto = session.execute(
                select(
                    ReconMatch.pg_amount_minor,
                    ReconMatch.bank_record_id,
                    ReconMatch.bank_amount_minor,
                ).where(ReconMatch.job_id == job_id, ReconMatch.status == "auto")
            ).all()
            exceptions = dict(
                session.execute(
                    select(
                        ReconciliationException.side, func.sum(ReconciliationException.amount_minor)
                    )
                    .where(ReconciliationException.job_id == job_id)
                    .group_by(ReconciliationException.side)
                ).all()
            )
        pg_matched = sum(amount for amount, _bank, _bank_amount in auto)
        bank_matched = sum(dict((bank, amount) for _pg, bank, amount in auto).values())
        assert pg_matched + exceptions["pg"] == expected["pg_total"]
        assert bank_matched + exceptions["bank"] == expected["bank_total"]

    def test_the_job_completes_with_the_engines_summary(self, db: Db, simulated: Path) -> None:
        job_id = db.job(simulated / "pg.csv", simulated / "bank.csv")
        db.run(job_id)
        job = db.job_row(job_id)
        assert (job.status, job.progress, job.error) == ("completed", 100, None)
        assert job.started_at is not None and job.finished_at is not None
        assert job.started_at <= job.finished_at
        summary = json.loads(job.summary or "{}")
        assert summary["inputs"]["bank"]["template"] == "hdfc"
        assert (summary["inputs"]["pg"]["file"], job.ruleset_version) == ("pg.csv", "seed-1")

    def test_exceptions_open_due_after_the_sla(self, db: Db, tmp_path: Path) -> None:
        pg = canonical(tmp_path, "pg.csv", ["pay_1,49900,INR,CR,2024-01-15,401512345671"])
        bank = canonical(tmp_path, "bank.csv", ["bnk_9,30000,INR,CR,2024-01-16,409999999999"])
        job_id = db.job(pg, bank)
        db.run(job_id)
        with db.sessions() as session:
            rows = session.scalars(select(ReconciliationException)).all()
        assert sorted(r.record_id for r in rows) == ["bnk_9", "pay_1"]
        for row in rows:
            assert (row.status, row.owner_id) == ("open", None)
            assert row.sla_due_at == row.created_at + dt.timedelta(hours=SLA_HOURS)

    def test_text_survives_the_bulk_load_exactly(self, db: Db, tmp_path: Path) -> None:
        """Quotes, commas and non-ASCII in ids, and a missing UTR stays NULL, not ''."""
        pg = canonical(tmp_path, "pg.csv", ['"pay ""A"", №1",75050,INR,CR,2024-01-15,'])
        bank = canonical(tmp_path, "bank.csv", ["bnk_1,49900,INR,CR,2024-01-15,401512345671"])
        job_id = db.job(pg, bank)
        db.run(job_id)
        with db.sessions() as session:
            row = session.scalars(
                select(ReconciliationException).where(ReconciliationException.side == "pg")
            ).one()
        assert (row.record_id, row.utr, row.amount_minor) == ('pay "A", №1', None, 75050)
        assert json.loads(row.details)["reason"] == "no counterpart found by any stage"

    def test_results_are_loaded_in_bulk_not_row_by_row(self, db: Db, simulated: Path) -> None:
        job_id = db.job(simulated / "pg.csv", simulated / "bank.csv")
        inserts: list[bool] = []

        def spy(
            _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, many: bool
        ) -> None:
            if statement.lstrip().lower().startswith("insert into recon_matches"):
                inserts.append(many)

        event.listen(db.engine, "before_cursor_execute", spy)
        try:
            db.run(job_id)
        finally:
            event.remove(db.engine, "before_cursor_execute", spy)
        # PostgreSQL COPYs on the raw connection (no INSERT at all); SQLite executemany's.
        expected = [] if db.engine.dialect.name == "postgresql" else [True]
        assert inserts == expected

    def test_matching_again_replaces_the_previous_results(self, db: Db, simulated: Path) -> None:
        job_id = db.job(simulated / "pg.csv", simulated / "bank.csv")
        db.run(job_id)
        pairs = select(ReconMatch.pg_record_id, ReconMatch.bank_record_id)
        with db.sessions() as session:
            first = session.execute(pairs).all()
        db.run(job_id)
        with db.sessions() as session:
            second = session.execute(pairs).all()
            n_exceptions = session.scalar(select(func.count()).select_from(ReconciliationException))
        assert sorted(second) == sorted(first) and len(set(second)) == len(second)
        assert (
            n_exceptions
            == engine_reference(simulated / "pg.csv", simulated / "bank.csv")["exceptions"]
        )


class TestRunLifecycle:
    def test_progress_is_visible_while_the_run_goes_on(
        self, db: Db, simulated: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        job_id = db.job(simulated / "pg.csv", simulated / "bank.csv")
        seen: list[tuple[str, int]] = []

        def watching(path: Path, **kwargs: Any) -> Any:
            with db.sessions() as reader:  # another connection, as a reader of the API would
                job = reader.get(ReconciliationJob, job_id)
                assert job is not None
                seen.append((job.status, job.progress))
            return normalize(path, **kwargs)

        monkeypatch.setattr(files, "normalize", watching)
        db.run(job_id)
        assert seen == [("running", 1), ("running", 10)]

    def test_a_failed_run_records_why_and_keeps_no_results(self, db: Db, simulated: Path) -> None:
        job_id = db.job(simulated / "pg.csv", simulated / "bank.csv")
        for stored in (Path(db.settings.data_dir) / "jobs" / str(job_id)).glob("bank-*"):
            stored.write_text("Date,Narration\n01/13/24,garbage\n", encoding="utf-8")
        with db.sessions() as session, pytest.raises(FormatError) as raised:
            match_job.run_match(session, job_id, settings=db.settings)
        job = db.job_row(job_id)
        assert job.status == "failed" and job.finished_at is not None
        assert job.error is not None and job.error == match_job._describe(raised.value)
        with db.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReconMatch)) == 0
            actions = session.scalars(select(AuditEntry.action)).all()
        assert "match_completed" not in actions

    def test_a_retry_after_a_failure_completes(self, db: Db, tmp_path: Path) -> None:
        pg = canonical(tmp_path, "pg.csv", ["pay_1,49900,INR,CR,2024-01-15,401512345671"])
        bank = canonical(tmp_path, "bank.csv", ["bnk_1,49900,INR,CR,2024-01-15,401512345671"])
        job_id = db.job(pg, bank)
        [stored] = (Path(db.settings.data_dir) / "jobs" / str(job_id)).glob("bank-*")
        original = stored.read_bytes()
        stored.unlink()
        with db.sessions() as session, pytest.raises(FormatError, match="no such file"):
            match_job.run_match(session, job_id, settings=db.settings)
        failed = db.job_row(job_id)
        assert failed.status == "failed" and failed.error is not None
        assert failed.error.startswith("bank.csv: no such file")  # the upload's name, not our disk
        stored.write_bytes(original)
        db.run(job_id)
        assert (db.job_row(job_id).status, db.job_row(job_id).error) == ("completed", None)

    def test_a_job_deleted_meanwhile_is_nothing_to_do(self, db: Db) -> None:
        with db.sessions() as session:
            match_job.run_match(session, 12345, settings=db.settings)
            assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0

    def test_completion_is_audited_with_the_counts(self, db: Db, tmp_path: Path) -> None:
        pg = canonical(tmp_path, "pg.csv", ["pay_1,49900,INR,CR,2024-01-15,401512345671"])
        bank = canonical(tmp_path, "bank.csv", ["bnk_1,49900,INR,CR,2024-01-15,401512345671"])
        job_id = db.job(pg, bank)
        db.run(job_id)
        with db.sessions() as session:
            entry = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "match_completed")
            ).one()
        details = json.loads(entry.details)
        assert (entry.entity_id, entry.actor_id) == (str(job_id), None)
        assert (details["matches"], details["exceptions"]) == (1, 0)


class TestQueueContract:
    def test_the_handler_is_registered_for_workers(self) -> None:
        assert "hisaab.recon.match_job" in queue.HANDLER_MODULES
        assert queue.HANDLERS["recon.match"] is match_job.run_match_job

    def test_the_queued_payload_runs_through_the_registered_handler(
        self, db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pg = canonical(tmp_path, "pg.csv", ["pay_1,49900,INR,CR,2024-01-15,401512345671"])
        bank = canonical(tmp_path, "bank.csv", ["bnk_1,49900,INR,CR,2024-01-15,401512345671"])
        job_id = db.job(pg, bank)
        monkeypatch.setenv("HISAAB_DATA_DIR", db.settings.data_dir)
        get_settings.cache_clear()
        try:
            with db.sessions() as session:
                row = session.scalars(select(QueueJob)).one()
                queue.HANDLERS[row.kind](session, json.loads(row.payload))
                session.commit()
        finally:
            get_settings.cache_clear()
        assert db.job_row(job_id).status == "completed"


# --- the Overview's feed ---------------------------------------------------------------------

JAN_15, JAN_16 = dt.date(2024, 1, 15), dt.date(2024, 1, 16)
GATEWAY_HEADER = "record_id,amount_minor,currency,direction,value_date,utr,merchant_id,narration"
GATEWAY = [
    "pay_1,49900,INR,CR,2024-01-15,401512345671,M0001234,UPI captured",
    "pay_2,120000,INR,CR,2024-01-15,401512345672,M0001234,CARD captured",
    "pay_3,75050,INR,CR,2024-01-16,401599999999,M0009999,NETBANKING captured",
    "ref_1,10000,INR,DR,2024-01-16,,M0001234,UPI refund",
]
STATEMENT = [
    "bnk_1,49900,INR,CR,2024-01-15,401512345671",
    "bnk_2,120000,INR,CR,2024-01-15,401512345672",
    "bnk_9,30000,INR,CR,2024-01-16,409999999999",
]


def _payments(session: Session) -> list[tuple[Any, ...]]:
    t = Transaction
    rows = session.execute(
        select(
            t.record_id,
            t.merchant_id,
            t.method,
            t.amount_minor,
            t.business_date,
            t.status,
            t.reconciliation_status,
            t.data_source,
        ).order_by(t.source_line)
    )
    return [tuple(r) for r in rows]


def _kpis(session: Session) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    k, e = KpiDaily, KpiExceptionsDaily
    payments = session.execute(
        select(
            k.business_date,
            k.status,
            k.reconciliation_status,
            k.currency,
            k.transactions,
            k.amount_minor,
        ).order_by(k.business_date, k.status)
    )
    exceptions = session.execute(
        select(
            e.value_date, e.status, e.category, e.currency, e.exceptions, e.amount_minor
        ).order_by(e.value_date, e.status, e.category)
    )
    return [tuple(r) for r in payments], [tuple(r) for r in exceptions]


@pytest.fixture
def january(tmp_path: Path) -> tuple[Path, Path]:
    return (
        canonical(tmp_path, "gateway.csv", GATEWAY, header=GATEWAY_HEADER),
        canonical(tmp_path, "statement.csv", STATEMENT),
    )


class TestTheOverviewFeed:
    def test_payments_become_transactions_matched_or_exceptions(
        self, db: Db, january: tuple[Path, Path]
    ) -> None:
        job_id = db.job(*january)
        db.run(job_id)
        with db.sessions() as session:
            assert _payments(session) == [
                ("pay_1", "M0001234", "UPI", 49900, JAN_15, "captured", "matched", "canonical"),
                ("pay_2", "M0001234", "CARD", 120000, JAN_15, "captured", "matched", "canonical"),
                ("pay_3", "M0009999", "NETBANKING", 75050, JAN_16, "captured", "exception",
                 "canonical"),
            ]  # fmt: skip
            ids = session.scalars(select(Transaction.id).order_by(Transaction.id)).all()
            assert ids == [f"{job_id}:1", f"{job_id}:2", f"{job_id}:3"]
            assert set(session.scalars(select(Transaction.job_id))) == {job_id}

    def test_bank_lines_become_bank_transactions(self, db: Db, january: tuple[Path, Path]) -> None:
        job_id = db.job(*january)
        db.run(job_id)
        b = BankTransaction
        with db.sessions() as session:
            rows = session.execute(
                select(b.record_id, b.amount_minor, b.direction, b.value_date, b.utr,
                       b.reconciliation_status, b.data_source, b.job_id).order_by(b.source_line)
            ).all()  # fmt: skip
        assert [tuple(r) for r in rows] == [
            ("bnk_1", 49900, "CR", JAN_15, "401512345671", "matched", "canonical", job_id),
            ("bnk_2", 120000, "CR", JAN_15, "401512345672", "matched", "canonical", job_id),
            ("bnk_9", 30000, "CR", JAN_16, "409999999999", "exception", "canonical", job_id),
        ]

    def test_the_kpis_of_the_jobs_dates_are_refreshed(
        self, db: Db, january: tuple[Path, Path]
    ) -> None:
        db.run(db.job(*january))
        with db.sessions() as session:
            payments, exceptions = _kpis(session)
            answer = overview.overview(session, overview.DateRange(JAN_15, JAN_16))
        assert payments == [
            (JAN_15, "captured", "matched", "INR", 2, 169_900),
            (JAN_16, "captured", "exception", "INR", 1, 75_050),
        ]
        # The refund is no payment, but its missing debit is an exception like any other.
        assert exceptions == [
            (JAN_16, "open", "UNMATCHED_BANK", "INR", 1, 30_000),
            (JAN_16, "open", "UNMATCHED_PG", "INR", 2, 85_050),
        ]
        assert [(c.transactions, c.amount_minor) for c in answer.captured] == [(3, 244_950)]
        assert [(c.transactions, c.amount_minor) for c in answer.matched] == [(2, 169_900)]
        assert (answer.exceptions.open, answer.exceptions.resolved) == (3, 0)

    def test_merchants_named_by_the_records_are_created(
        self, db: Db, january: tuple[Path, Path]
    ) -> None:
        db.run(db.job(*january))
        with db.sessions() as session:
            merchants = session.execute(select(Merchant.id, Merchant.name)).all()
        assert sorted(tuple(m) for m in merchants) == [
            ("M0001234", "M0001234"),
            ("M0009999", "M0009999"),
        ]

    def test_a_merchants_own_job_counts_for_that_merchant(
        self, db: Db, january: tuple[Path, Path]
    ) -> None:
        with db.sessions.begin() as session:
            session.add(Merchant(id="M0005555", name="Idli Corner"))
        db.run(db.job(*january, merchant_id="M0005555"))
        with db.sessions() as session:
            assert set(session.scalars(select(Transaction.merchant_id))) == {"M0005555"}

    def test_records_without_a_merchant_or_method_are_kept(self, db: Db, tmp_path: Path) -> None:
        pg = canonical(tmp_path, "pg.csv", ["pay_1,49900,INR,CR,2024-01-15,401512345671"])
        bank = canonical(tmp_path, "bank.csv", ["bnk_1,49900,INR,CR,2024-01-15,401512345671"])
        db.run(db.job(pg, bank))
        with db.sessions() as session:
            row = session.scalars(select(Transaction)).one()
        assert (row.merchant_id, row.method, row.utr) == ("UNKNOWN", "OTHER", "401512345671")

    def test_running_the_job_again_does_not_count_twice(
        self, db: Db, january: tuple[Path, Path]
    ) -> None:
        job_id = db.job(*january)
        db.run(job_id)
        with db.sessions() as session:
            first = (_payments(session), _kpis(session))
        db.run(job_id)
        with db.sessions() as session:
            assert (_payments(session), _kpis(session)) == first
            assert session.scalar(select(func.count()).select_from(BankTransaction)) == 3

    def test_a_retry_after_a_crash_counts_once(
        self, db: Db, january: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        job_id = db.job(*january)
        real_record = match_job.audit.record

        def crash(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("worker lost its database connection")

        monkeypatch.setattr(match_job.audit, "record", crash)
        with pytest.raises(RuntimeError, match="lost"):
            db.run(job_id)
        with db.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Transaction)) == 0
        monkeypatch.setattr(match_job.audit, "record", real_record)
        db.run(job_id)
        with db.sessions() as session:
            payments, _exceptions = _kpis(session)
            assert session.scalar(select(func.count()).select_from(Transaction)) == 3
        assert sum(row[4] for row in payments) == 3

    def test_dates_a_rerun_no_longer_has_are_emptied(
        self, db: Db, january: tuple[Path, Path]
    ) -> None:
        job_id = db.job(*january)
        db.run(job_id)
        # The gateway corrects its export: every payment was of 17 January.
        [stored] = (Path(db.settings.data_dir) / "jobs" / str(job_id)).glob("pg-*")
        stored.write_text(
            stored.read_text(encoding="utf-8").replace("2024-01-15", "2024-01-17"),
            encoding="utf-8",
        )
        stored.write_text(
            stored.read_text(encoding="utf-8").replace("2024-01-16", "2024-01-17"),
            encoding="utf-8",
        )
        db.run(job_id)
        with db.sessions() as session:
            payments, _exceptions = _kpis(session)
        assert {row[0] for row in payments} == {dt.date(2024, 1, 17)}
        assert sum(row[4] for row in payments) == 3

    def test_a_merchant_id_too_long_for_the_ledger_fails_the_job_cleanly(
        self, db: Db, tmp_path: Path
    ) -> None:
        pg = canonical(
            tmp_path,
            "pg.csv",
            ["pay_1,49900,INR,CR,2024-01-15,401512345671," + "M" * 33 + ",UPI"],
            header=GATEWAY_HEADER,
        )
        bank = canonical(tmp_path, "bank.csv", ["bnk_1,49900,INR,CR,2024-01-15,401512345671"])
        job_id = db.job(pg, bank)
        with db.sessions() as session, pytest.raises(InputError, match="merchant_id") as raised:
            match_job.run_match(session, job_id, settings=db.settings)
        assert (raised.value.line, raised.value.column) == (2, "merchant_id")
        job = db.job_row(job_id)
        assert job.status == "failed" and "longer than 32" in (job.error or "")
        with db.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReconMatch)) == 0
            assert session.scalar(select(func.count()).select_from(Transaction)) == 0


class TestExceptionsResolvedLater:
    """A payment the engine left as an exception follows its exception's manual match."""

    def _pay_3(self, db: Db, january: tuple[Path, Path]) -> int:
        db.run(db.job(*january))
        with db.sessions() as session:
            return session.scalars(
                select(ReconciliationException.id).where(
                    ReconciliationException.record_id == "pay_3"
                )
            ).one()

    def _resolve(self, db: Db, exception_id: int, threshold: int = 1_000_000) -> None:
        with db.sessions.begin() as session:
            workflow.resolve(
                session,
                exception_id,
                actor_id=db.ops.user_id,
                resolution="manual_match",
                reason="credited with the wrong UTR; the bank confirmed",
                record_ids=["bnk_9"],
                approval_thresholds=ApprovalThresholds({"INR": threshold}),
            )

    def test_a_manual_match_makes_the_payment_matched(
        self, db: Db, january: tuple[Path, Path]
    ) -> None:
        self._resolve(db, self._pay_3(db, january))
        with db.sessions() as session:
            pay_3 = session.scalars(select(Transaction).where(Transaction.record_id == "pay_3"))
            # Matched: its money is in escrow; paying the merchant is settlement's step.
            assert [(p.status, p.reconciliation_status) for p in pay_3] == [("captured", "matched")]
            payments, exceptions = _kpis(session)
        assert (JAN_16, "captured", "matched", "INR", 1, 75_050) in payments
        assert (JAN_16, "resolved", "UNMATCHED_PG", "INR", 1, 75_050) in exceptions
        assert (JAN_16, "open", "UNMATCHED_PG", "INR", 1, 10_000) in exceptions

    def test_reopening_makes_it_an_exception_again(
        self, db: Db, january: tuple[Path, Path]
    ) -> None:
        exception_id = self._pay_3(db, january)
        with db.sessions() as session:
            before = _kpis(session)
        self._resolve(db, exception_id)
        with db.sessions.begin() as session:
            workflow.reopen(
                session, exception_id, actor_id=db.ops.user_id, reason="the bank withdrew it"
            )
        with db.sessions() as session:
            assert _kpis(session) == before

    def test_a_resolution_waiting_for_approval_changes_nothing_yet(
        self, db: Db, january: tuple[Path, Path]
    ) -> None:
        exception_id = self._pay_3(db, january)
        self._resolve(db, exception_id, threshold=0)
        with db.sessions() as session:
            payments, exceptions = _kpis(session)
        assert (JAN_16, "captured", "exception", "INR", 1, 75_050) in payments
        assert (JAN_16, "pending_approval", "UNMATCHED_PG", "INR", 1, 75_050) in exceptions


# An MT940 page whose closing balance is 250.00 above what its one credit explains.
SHORT_STATEMENT = (
    ":20:STMT1\n:25:50100012345678\n:28C:1/1\n:60F:C240101INR1000,00\n"
    ":61:2401150115C499,00NTRFNONREF//HDFC0001\n:86:UPI/P2M/401512345671/RAVI/HDFC/UPI\n"
    ":62F:C240131INR1749,00\n"
)


class TestStatementFindings:
    def _job(self, db: Db, tmp_path: Path) -> int:
        pg = canonical(tmp_path, "pg.csv", ["pay_1,49900,INR,CR,2024-01-15,401512345671"])
        bank = tmp_path / "bank.sta"
        bank.write_text(SHORT_STATEMENT, encoding="utf-8")
        job_id = db.job(pg, bank)
        db.run(job_id)
        return job_id

    def test_a_balance_that_does_not_add_up_is_an_open_exception_of_the_job(
        self, db: Db, tmp_path: Path
    ) -> None:
        job_id = self._job(db, tmp_path)
        with db.sessions() as session:
            [row] = session.scalars(select(ReconciliationException)).all()
            _payments, kpi_exceptions = _kpis(session)
        assert (row.category, row.side, row.record_id) == (
            "BALANCE_MISMATCH",
            "bank",
            "bank.sta line 7",
        )
        assert (row.amount_minor, row.currency, row.value_date) == (
            25_000,
            "INR",
            dt.date(2024, 1, 31),
        )
        assert row.status == "open"
        assert "difference 250.00 INR" in json.loads(row.details)["reason"]
        assert (dt.date(2024, 1, 31), "open", "BALANCE_MISMATCH", "INR", 1, 25_000) in (
            kpi_exceptions
        )
        summary = json.loads(db.job_row(job_id).summary or "{}")
        assert summary["findings"][0]["difference_minor"] == 25_000

    def test_a_finding_cannot_be_resolved_as_a_manual_match(self, db: Db, tmp_path: Path) -> None:
        self._job(db, tmp_path)
        with db.sessions.begin() as session:
            finding_id = session.scalars(select(ReconciliationException.id)).one()
            with pytest.raises(InputError, match="about a whole statement"):
                workflow.resolve(
                    session,
                    finding_id,
                    actor_id=db.ops.user_id,
                    resolution="manual_match",
                    reason="matched it",
                    record_ids=["pay_1"],
                    approval_thresholds=ApprovalThresholds({"INR": 1_000_000}),
                )
