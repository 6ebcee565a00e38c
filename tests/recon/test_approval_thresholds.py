"""Maker-checker thresholds per currency, each in that currency's own units.

The ledger: merchant Safari Pay's April job, with unmatched PG payments in rupees, shillings,
yen, Kuwaiti dinars and dollars. Each test configures the thresholds as an operator would
(HISAAB_APPROVAL_THRESHOLDS in major units, HISAAB_APPROVAL_THRESHOLD_MINOR for INR in paise),
then an sp-ops user writes one payment off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from exception_rows import unmatched_exception
from hisaab.config import Settings, get_settings
from hisaab.errors import CurrencyError
from hisaab.recon import exceptions as workflow
from hisaab.recon.approval import ApprovalThresholds
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import AuditEntry, Merchant, ReconciliationJob, User


@dataclass(frozen=True)
class Ledger:
    engine: Engine
    maker: int
    exceptions: dict[str, int]  # record id -> exception id


# record id -> (minor units, currency)
PAYMENTS: dict[str, tuple[int, str]] = {
    "PG-INR-BELOW": (999_999, "INR"),  # ₹9,999.99
    "PG-INR-ABOVE": (1_000_001, "INR"),  # ₹10,000.01
    "PG-INR-5001": (500_100, "INR"),  # ₹5,001.00
    "PG-KES-AT": (5_000_000, "KES"),  # KSh 50,000.00
    "PG-KES-ABOVE": (5_000_001, "KES"),  # KSh 50,000.01
    "PG-JPY-AT": (100_000, "JPY"),  # ¥100,000
    "PG-JPY-ABOVE": (100_001, "JPY"),  # ¥100,001
    "PG-KWD-AT": (250_500, "KWD"),  # KWD 250.500
    "PG-KWD-ABOVE": (250_501, "KWD"),  # KWD 250.501
    "PG-USD-SMALL": (500, "USD"),  # $5.00
}


@pytest.fixture(autouse=True)
def no_thresholds_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("HISAAB_APPROVAL_THRESHOLDS", "HISAAB_APPROVAL_THRESHOLD_MINOR"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    upgrade(database_url)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        session.add(Merchant(id="M0004242", name="Safari Pay"))
        maker = User(email="maker@hisaab.test", password_hash="!", role="sp-ops")
        session.add(maker)
        session.flush()
        job = ReconciliationJob(name="April", merchant_id="M0004242", created_by=maker.id)
        session.add(job)
        session.flush()
        rows = {}
        for record_id, (amount_minor, currency) in PAYMENTS.items():
            row = unmatched_exception(job.id, "pg", record_id, amount_minor)
            row.currency = currency
            rows[record_id] = row
        session.add_all(rows.values())
        session.flush()
        built = Ledger(engine, maker.id, {r: row.id for r, row in rows.items()})
    yield built
    engine.dispose()


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def write_off(ledger: Ledger, record_id: str, configured: Settings) -> str:
    """Write the payment off as the maker; the exception's status afterwards."""
    with Session(ledger.engine, expire_on_commit=False) as session, session.begin():
        done = workflow.resolve(
            session,
            ledger.exceptions[record_id],
            actor_id=ledger.maker,
            resolution="write_off",
            reason="customer refunded outside the gateway",
            approval_thresholds=ApprovalThresholds.from_settings(configured),
        )
    return done.exception.status


def resolve_audit(ledger: Ledger, record_id: str) -> dict[str, Any]:
    with Session(ledger.engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "exception_resolve",
                AuditEntry.entity_id == str(ledger.exceptions[record_id]),
            )
        ).one()
    details: dict[str, Any] = json.loads(entry.details)
    return details


@pytest.mark.parametrize(
    ("record_id", "status"),
    [("PG-INR-BELOW", "resolved"), ("PG-INR-ABOVE", "pending_approval")],
)
def test_rupees_keep_the_default_threshold_of_ten_thousand(
    ledger: Ledger, record_id: str, status: str
) -> None:
    assert write_off(ledger, record_id, settings()) == status


def test_a_pending_rupee_write_off_records_the_threshold_in_paise(ledger: Ledger) -> None:
    write_off(ledger, "PG-INR-ABOVE", settings())
    details = resolve_audit(ledger, "PG-INR-ABOVE")
    assert details["approval_threshold_minor"] == 1_000_000
    assert "approval" not in details


@pytest.mark.parametrize(
    ("record_id", "status"),
    [("PG-KES-AT", "resolved"), ("PG-KES-ABOVE", "pending_approval")],
)
def test_a_shilling_threshold_is_written_in_shillings(
    ledger: Ledger, record_id: str, status: str
) -> None:
    configured = settings(approval_thresholds="KES=50000")
    assert write_off(ledger, record_id, configured) == status


def test_a_pending_shilling_write_off_records_the_threshold_in_cents(ledger: Ledger) -> None:
    write_off(ledger, "PG-KES-ABOVE", settings(approval_thresholds="KES=50000.00"))
    assert resolve_audit(ledger, "PG-KES-ABOVE")["approval_threshold_minor"] == 5_000_000


@pytest.mark.parametrize(
    ("record_id", "status"),
    [
        ("PG-JPY-AT", "resolved"),
        ("PG-JPY-ABOVE", "pending_approval"),
        ("PG-KWD-AT", "resolved"),
        ("PG-KWD-ABOVE", "pending_approval"),
    ],
)
def test_yen_and_dinar_thresholds_use_their_own_decimals(
    ledger: Ledger, record_id: str, status: str
) -> None:
    # ¥100,000 has no decimals: 100,000 minor units. KWD 250.500 has three: 250,500 fils.
    configured = settings(approval_thresholds="JPY=100000, KWD=250.500")
    assert write_off(ledger, record_id, configured) == status


def test_the_rupee_threshold_in_paise_never_applies_to_yen(ledger: Ledger) -> None:
    # ¥100,000 is far below 1,000,000 minor units, but those are paise, not yen.
    assert write_off(ledger, "PG-JPY-AT", settings()) == "pending_approval"


def test_a_currency_without_a_threshold_always_needs_a_checker(ledger: Ledger) -> None:
    configured = settings(approval_thresholds="KES=50000")
    assert write_off(ledger, "PG-USD-SMALL", configured) == "pending_approval"
    details = resolve_audit(ledger, "PG-USD-SMALL")
    assert details["approval"] == "no approval threshold configured for USD"
    assert "approval_threshold_minor" not in details
    assert (details["amount_minor"], details["currency"]) == (500, "USD")


def test_the_legacy_paise_setting_is_the_rupee_threshold(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLD_MINOR", "500000")  # ₹5,000.00
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLDS", "KES=50000")
    configured = get_settings()
    assert write_off(ledger, "PG-INR-5001", configured) == "pending_approval"
    assert write_off(ledger, "PG-KES-AT", configured) == "resolved"


def test_listing_rupees_overrides_the_legacy_paise_setting(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLD_MINOR", "500000")  # ₹5,000.00, ignored
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLDS", "INR=20000.00")
    configured = get_settings()
    assert write_off(ledger, "PG-INR-ABOVE", configured) == "resolved"


def test_thresholds_given_in_code_name_a_bad_currency() -> None:
    with pytest.raises(CurrencyError, match="unknown currency 'KSH'"):
        ApprovalThresholds({"KSH": 5_000_000})
