"""The schema: migrations build it on SQLite and PostgreSQL alike, and it guards its invariants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import current_revision, downgrade, head_revision, upgrade
from hisaab.storage.models import (
    Merchant,
    ReconciliationException,
    ReconciliationJob,
    User,
)
from hisaab.storage.schema import metadata


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated: str) -> Iterator[Engine]:
    engine = make_engine(migrated)
    yield engine
    engine.dispose()


def test_upgrade_creates_every_table_of_the_models(migrated: str) -> None:
    engine = make_engine(migrated)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(metadata.tables) <= tables
    assert current_revision(migrated) == head_revision(migrated)


def test_migrations_and_models_agree(migrated: str) -> None:
    engine = make_engine(migrated)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(migrated: str) -> None:
    downgrade(migrated, "base")
    assert current_revision(migrated) is None
    upgrade(migrated)
    upgrade(migrated)  # a second upgrade is a no-op
    assert current_revision(migrated) == head_revision(migrated)


def test_unknown_role_is_refused_by_the_database(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(User(email="a@example.com", password_hash="x", role="superuser"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_merchant_admin_needs_a_merchant_and_staff_may_not_have_one(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(User(email="m@example.com", password_hash="x", role="merchant-admin"))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        session.add(Merchant(id="M0001234", name="Chai Point"))
        session.add(
            User(email="ops@example.com", password_hash="x", role="sp-ops", merchant_id="M0001234")
        )
        with pytest.raises(IntegrityError):
            session.commit()


def test_negative_exception_amount_is_refused(engine: Engine) -> None:
    with Session(engine) as session:
        user = User(email="ops@example.com", password_hash="x", role="sp-ops")
        session.add(user)
        session.flush()
        job = ReconciliationJob(name="HDFC January", created_by=user.id)
        session.add(job)
        session.flush()
        session.add(
            ReconciliationException(
                job_id=job.id,
                category="UNMATCHED_PG",
                side="pg",
                record_id="pay_1",
                source_line=2,
                amount_minor=-100,
                currency="INR",
                value_date=dt.date(2024, 1, 15),
                details="{}",
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()


def test_timestamps_come_back_as_the_same_instant_in_utc(engine: Engine) -> None:
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    at = dt.datetime(2024, 1, 15, 10, 22, 11, tzinfo=ist)
    with Session(engine) as session:
        user = User(email="ops@example.com", password_hash="x", role="sp-ops", created_at=at)
        session.add(user)
        session.commit()
        session.expire_all()
        stored = session.get(User, user.id)
        assert stored is not None
        assert stored.created_at == at
        assert stored.created_at.utcoffset() == dt.timedelta(0)


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            User(
                email="x@example.com",
                password_hash="x",
                role="sp-ops",
                created_at=dt.datetime(2024, 1, 15, 10, 0),
            )
        )
        with pytest.raises(Exception, match="timezone-aware"):
            session.commit()


def test_0009_puts_matched_payments_back_to_captured_with_their_overview_figures(
    database_url: str,
) -> None:
    """Before 0009 a matched payment was `credited`; no merchant had been paid, so it is
    `captured` after, and the Overview's daily figures of its date say so too."""
    from sqlalchemy import text

    upgrade(database_url, "0008")
    engine = make_engine(database_url)
    try:
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO merchants (id, name, created_at)"
                    " VALUES ('M1', 'Chai Point', '2026-01-01 00:00:00+00')"
                )
            )
            for pid, status, recon, amount in (
                ("1:1", "credited", "matched", 500),
                ("1:2", "captured", "exception", 700),
            ):
                c.execute(
                    text(
                        "INSERT INTO transactions (id, merchant_id, amount_minor, currency,"
                        " method, data_source, status, reconciliation_status, business_date,"
                        " created_at) VALUES (:id, 'M1', :amount, 'INR', 'UPI', 'pg', :status,"
                        " :recon, '2026-03-02', '2026-03-02 00:00:00+00')"
                    ),
                    {"id": pid, "status": status, "recon": recon, "amount": amount},
                )
                c.execute(
                    text(
                        "INSERT INTO kpi_daily (business_date, data_source, status,"
                        " reconciliation_status, currency, transactions, amount_minor,"
                        " refreshed_at) VALUES ('2026-03-02', 'pg', :status, :recon, 'INR', 1,"
                        " :amount, '2026-03-02 00:00:00+00')"
                    ),
                    {"status": status, "recon": recon, "amount": amount},
                )
        engine.dispose()
        upgrade(database_url)
        query = text(
            "SELECT status, reconciliation_status, transactions, amount_minor FROM kpi_daily"
            " ORDER BY reconciliation_status"
        )
        with engine.connect() as c:
            assert [tuple(r) for r in c.execute(query)] == [
                ("captured", "exception", 1, 700),
                ("captured", "matched", 1, 500),
            ]
        engine.dispose()
        downgrade(database_url, "0008")
        with engine.connect() as c:
            assert [tuple(r)[:2] for r in c.execute(query)] == [
                ("captured", "exception"),
                ("credited", "matched"),
            ]
    finally:
        engine.dispose()
