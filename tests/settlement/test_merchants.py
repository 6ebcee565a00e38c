"""Merchants and maker-checker on their terms, on SQLite and PostgreSQL.

Chai Point (M0001234) is created by platform ops with an HDFC account; finance then lowers
its card MDR and adds a 5% reserve, which takes effect only once a second finance user
approves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hisaab.audit.log import verify
from hisaab.auth.users import create_user
from hisaab.errors import Conflict, Forbidden, InputError, NotFound
from hisaab.settlement.compute import Capture, CycleInput, settle
from hisaab.settlement.merchants import (
    BankAccount,
    active_terms,
    create_merchant,
    decide_terms,
    get_merchant,
    list_merchants,
    parse_terms,
    propose_terms,
    terms_history,
)
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import AuditEntry

HDFC = BankAccount.checked("Chai Point Pvt Ltd", "50100012345678", "hdfc0001234")
CHEAPER_CARDS = parse_terms(
    {
        "reserve_percent": "5",
        "reserve_days": 30,
        "rates": [
            {"instrument": "upi"},
            {"instrument": "card", "percent": "1.75"},
            {"instrument": "netbanking", "percent": "1.90"},
        ],
    }
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def users(engine: Engine) -> dict[str, int]:
    with Session(engine) as session, session.begin():
        return {
            name: create_user(session, email=f"{name}@hisaab.test", password="x" * 12, role=role).id
            for name, role in (("ops", "sp-ops"), ("asha", "sp-finance"), ("ravi", "sp-finance"))
        }


def chai(session: Session, actor: int) -> None:
    create_merchant(session, merchant_id="M0001234", name="Chai Point", bank=HDFC, actor_id=actor)


def test_a_merchant_starts_with_the_default_terms_active(
    engine: Engine, users: dict[str, int]
) -> None:
    with Session(engine) as session, session.begin():
        chai(session, users["ops"])
    with Session(engine) as session:
        m = get_merchant(session, "M0001234")
        assert (m.name, m.currency, m.timezone) == ("Chai Point", "INR", "Asia/Kolkata")
        assert m.bank_account == BankAccount("Chai Point Pvt Ltd", "50100012345678", "HDFC0001234")
        assert m.terms is not None and m.terms.version == 1 and m.terms.status == "active"
        assert m.proposal is None
        assert [x.id for x in list_merchants(session)] == ["M0001234"]


def test_a_change_of_terms_waits_for_a_second_finance_user(
    engine: Engine, users: dict[str, int]
) -> None:
    with Session(engine) as session, session.begin():
        chai(session, users["ops"])
        propose_terms(
            session, "M0001234", CHEAPER_CARDS, note="volume discount", actor_id=users["asha"]
        )
    with Session(engine) as session, session.begin():
        # Until approved, settlements still use version 1 (cards at 2%).
        assert active_terms(session, "M0001234").version == 1
        with pytest.raises(Forbidden, match="cannot also approve"):
            decide_terms(session, "M0001234", 2, approve=True, actor_id=users["asha"])
    with Session(engine) as session, session.begin():
        decided = decide_terms(session, "M0001234", 2, approve=True, actor_id=users["ravi"])
        assert decided.status == "active"
    with Session(engine) as session:
        terms = active_terms(session, "M0001234")
        assert terms.version == 2 and terms.reserve_percent == Decimal(5)
        assert [(t.version, t.status) for t in terms_history(session, "M0001234")] == [
            (1, "superseded"),
            (2, "active"),
        ]
        # The settlement names its terms version and uses its rates: 1.75% of Rs 10,000.
        s = settle(
            terms, CycleInput(date(2026, 3, 2), captures=(Capture("p1", 1_000_000, "card"),))
        )
        assert (s.terms_version, s.total("mdr_fee"), s.total("reserve_hold")) == (
            2,
            -17_500,
            -50_000,
        )
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[-3:] == [
            "merchant.create",
            "merchant.terms.propose",
            "merchant.terms.approve",
        ]
        assert verify(session).ok


def test_one_proposal_at_a_time_and_a_rejection_says_why(
    engine: Engine, users: dict[str, int]
) -> None:
    with Session(engine) as session, session.begin():
        chai(session, users["ops"])
        propose_terms(session, "M0001234", CHEAPER_CARDS, note="first", actor_id=users["asha"])
        with pytest.raises(Conflict, match="version 2 of its terms waiting"):
            propose_terms(session, "M0001234", CHEAPER_CARDS, note="again", actor_id=users["ops"])
        with pytest.raises(InputError, match="a rejection needs a reason"):
            decide_terms(session, "M0001234", 2, approve=False, actor_id=users["ravi"])
        rejected = decide_terms(
            session, "M0001234", 2, approve=False, actor_id=users["ravi"], reason="no volume yet"
        )
        assert (rejected.status, rejected.decision_reason) == ("rejected", "no volume yet")
        with pytest.raises(Conflict, match="is rejected"):
            decide_terms(session, "M0001234", 2, approve=True, actor_id=users["ravi"])
        # A new proposal after a rejection is version 3.
        assert (
            propose_terms(
                session, "M0001234", CHEAPER_CARDS, note="retry", actor_id=users["asha"]
            ).version
            == 3
        )


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"merchant_id": "M 1"}, InputError, "is not a merchant id"),
        ({"currency": "XYZ"}, InputError, "unknown currency"),
        ({"timezone": "Mars/Olympus"}, InputError, "unknown time zone"),
        ({"merchant_id": "M0001234"}, Conflict, "already exists"),
    ],
)
def test_bad_merchants_are_refused_and_nothing_is_written(
    engine: Engine,
    users: dict[str, int],
    change: dict[str, str],
    error: type[Exception],
    message: str,
) -> None:
    with Session(engine) as session, session.begin():
        chai(session, users["ops"])
    fields: dict[str, str] = {"merchant_id": "M0009999", "name": "Dosa Hut", **change}
    with Session(engine) as session, session.begin():
        audited = len(session.scalars(select(AuditEntry.id)).all())
        with pytest.raises(error, match=message):
            create_merchant(session, **fields, actor_id=users["ops"])  # type: ignore[arg-type]
    with Session(engine) as session:
        assert [m.id for m in list_merchants(session)] == ["M0001234"]
        assert len(session.scalars(select(AuditEntry.id)).all()) == audited


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Chai", "5010001234", "HDFC1234567"), "is not an IFSC"),
        (("Chai", "12-34", "HDFC0001234"), "is not an account number"),
        (("", "50100012345678", "HDFC0001234"), "holder's name"),
    ],
)
def test_a_bank_account_is_checked(args: tuple[str, str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        BankAccount.checked(*args)


def test_unknown_merchants_and_versions_are_404(engine: Engine, users: dict[str, int]) -> None:
    with Session(engine) as session, session.begin():
        with pytest.raises(NotFound, match="no merchant M404"):
            get_merchant(session, "M404")
        chai(session, users["ops"])
        with pytest.raises(NotFound, match="no version 7"):
            decide_terms(session, "M0001234", 7, approve=True, actor_id=users["ravi"])


def test_a_terms_document_error_names_the_field() -> None:
    with pytest.raises(InputError, match=r"schedule\.t_plus"):
        parse_terms({"schedule": {"t_plus": 99}})
