"""The exception workflow as a finance team lives it: assign, resolve, approve, reject, reopen.

The ledger of each test: merchant Chai Point's job with unmatched PG payments and bank
credits, in INR minor units (paise), and the default approval threshold of ₹10,000.00.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from exception_rows import unmatched_exception
from hisaab.audit.log import verify
from hisaab.errors import Conflict, Forbidden, InputError, NotFound
from hisaab.recon import exceptions as workflow
from hisaab.recon.approval import ApprovalThresholds
from hisaab.recon.exceptions import ExceptionWithHistory
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import (
    AuditEntry,
    ExceptionAction,
    Merchant,
    ReconciliationException,
    ReconciliationJob,
    User,
)

THRESHOLD = 1_000_000  # ₹10,000.00, the default HISAAB_APPROVAL_THRESHOLD_MINOR
THRESHOLDS = ApprovalThresholds({"INR": THRESHOLD})


@dataclass(frozen=True)
class Ledger:
    engine: Engine
    job: int  # Chai Point's April job
    maker: int  # sp-ops
    checker: int  # another sp-ops
    admin: int
    finance: int  # sp-finance: may not resolve
    small: int  # PG-1001, ₹500.00
    at_threshold: int  # PG-1002, ₹10,000.00 exactly
    large: int  # PG-1003, ₹25,000.00
    other_job: int  # another merchant's bank credit BANK-9001


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    upgrade(database_url)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        session.add_all(
            [Merchant(id="M0001234", name="Chai Point"), Merchant(id="M0009999", name="Dosa Hut")]
        )
        users = {
            name: User(email=f"{name}@hisaab.test", password_hash="!", role=role)
            for name, role in [
                ("maker", "sp-ops"),
                ("checker", "sp-ops"),
                ("admin", "admin"),
                ("finance", "sp-finance"),
            ]
        }
        session.add_all(users.values())
        session.flush()
        chai = ReconciliationJob(name="April", merchant_id="M0001234", created_by=users["admin"].id)
        dosa = ReconciliationJob(name="April", merchant_id="M0009999", created_by=users["admin"].id)
        session.add_all([chai, dosa])
        session.flush()
        rows = [
            unmatched_exception(chai.id, "pg", "PG-1001", 50_000),
            unmatched_exception(chai.id, "pg", "PG-1002", THRESHOLD),
            unmatched_exception(chai.id, "pg", "PG-1003", 2_500_000),
            unmatched_exception(chai.id, "bank", "BANK-2001", 30_000),
            unmatched_exception(chai.id, "bank", "BANK-2002", 20_000),
            unmatched_exception(dosa.id, "bank", "BANK-9001", 50_000),
        ]
        session.add_all(rows)
        session.flush()
        built = Ledger(
            engine,
            chai.id,
            users["maker"].id,
            users["checker"].id,
            users["admin"].id,
            users["finance"].id,
            rows[0].id,
            rows[1].id,
            rows[2].id,
            rows[5].id,
        )
    yield built
    engine.dispose()


def step(ledger: Ledger, action: Callable[[Session], ExceptionWithHistory]) -> ExceptionWithHistory:
    """One step in its own transaction, committed like a request's."""
    with Session(ledger.engine, expire_on_commit=False) as session, session.begin():
        return action(session)


def write_off(ledger: Ledger, exception_id: int, actor_id: int) -> ExceptionWithHistory:
    return step(
        ledger,
        lambda s: workflow.resolve(
            s,
            exception_id,
            actor_id=actor_id,
            resolution="write_off",
            reason="bank charge below follow-up cost",
            approval_thresholds=THRESHOLDS,
        ),
    )


def test_assigning_puts_an_open_exception_in_review(ledger: Ledger) -> None:
    done = step(
        ledger,
        lambda s: workflow.assign(s, ledger.small, actor_id=ledger.admin, owner_id=ledger.maker),
    )
    assert (done.exception.status, done.exception.owner_id) == ("in_review", ledger.maker)
    assert [(a.action, a.actor_id, a.status_after) for a in done.history] == [
        ("assign", ledger.admin, "in_review")
    ]


def test_only_someone_who_can_resolve_may_own_anunmatched_exception(ledger: Ledger) -> None:
    with pytest.raises(InputError, match="sp-finance\\) cannot resolve exceptions"):
        step(
            ledger,
            lambda s: workflow.assign(
                s, ledger.small, actor_id=ledger.admin, owner_id=ledger.finance
            ),
        )


def test_a_write_off_of_exactly_the_threshold_resolves_at_once(ledger: Ledger) -> None:
    done = write_off(ledger, ledger.at_threshold, ledger.maker)
    exc = done.exception
    assert (exc.status, exc.resolution, exc.resolved_by, exc.approved_by) == (
        "resolved",
        "write_off",
        ledger.maker,
        None,
    )
    assert exc.resolved_at is not None


def test_a_write_off_above_the_threshold_waits_for_a_checker(ledger: Ledger) -> None:
    pending = write_off(ledger, ledger.large, ledger.maker).exception
    assert (pending.status, pending.resolution, pending.resolved_by, pending.resolved_at) == (
        "pending_approval",
        "write_off",
        ledger.maker,
        None,
    )
    assert pending.resolution_reason == "bank charge below follow-up cost"

    done = step(ledger, lambda s: workflow.approve(s, ledger.large, actor_id=ledger.checker))
    exc = done.exception
    assert (exc.status, exc.resolved_by, exc.approved_by) == (
        "resolved",
        ledger.maker,
        ledger.checker,
    )
    assert exc.resolved_at is not None
    assert [a.action for a in done.history] == ["resolve", "approve"]


@pytest.mark.parametrize("checker_step", ["approve", "reject"])
def test_the_maker_cannot_check_their_own_resolution(ledger: Ledger, checker_step: str) -> None:
    write_off(ledger, ledger.large, ledger.maker)
    with pytest.raises(Forbidden, match="maker-checker"):
        step(
            ledger,
            lambda s: (
                workflow.approve(s, ledger.large, actor_id=ledger.maker)
                if checker_step == "approve"
                else workflow.reject(s, ledger.large, actor_id=ledger.maker, reason="oops")
            ),
        )
    with Session(ledger.engine) as session:
        assert session.get_one(ReconciliationException, ledger.large).status == "pending_approval"


def test_a_rejected_resolution_goes_back_to_review_and_stays_in_history(ledger: Ledger) -> None:
    write_off(ledger, ledger.large, ledger.maker)
    done = step(
        ledger,
        lambda s: workflow.reject(
            s, ledger.large, actor_id=ledger.checker, reason="the bank refunded it on 3 April"
        ),
    )
    exc = done.exception
    assert (exc.status, exc.resolution, exc.resolution_reason, exc.resolved_by) == (
        "in_review",
        None,
        None,
        None,
    )
    assert [(a.action, a.resolution, a.reason, a.status_after) for a in done.history] == [
        ("resolve", "write_off", "bank charge below follow-up cost", "pending_approval"),
        ("reject", "write_off", "the bank refunded it on 3 April", "in_review"),
    ]


def test_reopening_clears_the_resolution(ledger: Ledger) -> None:
    write_off(ledger, ledger.small, ledger.maker)
    done = step(
        ledger,
        lambda s: workflow.reopen(
            s, ledger.small, actor_id=ledger.admin, reason="customer disputed the charge"
        ),
    )
    exc = done.exception
    assert exc.status == "open"
    assert (exc.resolution, exc.resolution_reason, exc.resolved_by, exc.resolved_at) == (
        None,
        None,
        None,
        None,
    )
    assert [(a.action, a.status_after) for a in done.history] == [
        ("resolve", "resolved"),
        ("reopen", "open"),
    ]


def test_a_pending_resolution_can_be_reopened_by_its_maker(ledger: Ledger) -> None:
    write_off(ledger, ledger.large, ledger.maker)
    done = step(
        ledger,
        lambda s: workflow.reopen(s, ledger.large, actor_id=ledger.maker, reason="wrong amount"),
    )
    assert (done.exception.status, done.exception.resolution) == ("open", None)


@pytest.mark.parametrize(
    ("start", "attempt", "message"),
    [
        ("resolved", "resolve", "is resolved \\(write_off\\); reopen it first"),
        ("pending", "resolve", "approve, reject or reopen it first"),
        ("resolved", "assign", "reopen it first"),
        ("open", "approve", "is open: there is no pending resolution to approve"),
        ("resolved", "reject", "reopen it first"),
        ("open", "reopen", "only a resolved or pending exception can be reopened"),
    ],
)
def test_a_step_from_the_wrong_state_is_a_conflict(
    ledger: Ledger, start: str, attempt: str, message: str
) -> None:
    target = {"open": ledger.small, "resolved": ledger.small, "pending": ledger.large}[start]
    if start != "open":
        write_off(ledger, target, ledger.maker)
    attempts: dict[str, Callable[[Session], ExceptionWithHistory]] = {
        "resolve": lambda s: workflow.resolve(
            s,
            target,
            actor_id=ledger.admin,
            resolution="accept",
            reason="again",
            approval_thresholds=THRESHOLDS,
        ),
        "assign": lambda s: workflow.assign(
            s, target, actor_id=ledger.admin, owner_id=ledger.admin
        ),
        "approve": lambda s: workflow.approve(s, target, actor_id=ledger.checker),
        "reject": lambda s: workflow.reject(s, target, actor_id=ledger.checker, reason="no"),
        "reopen": lambda s: workflow.reopen(s, target, actor_id=ledger.admin, reason="why"),
    }
    with pytest.raises(Conflict, match=message):
        step(ledger, attempts[attempt])


def test_a_manual_match_records_its_counterparts_once_each(ledger: Ledger) -> None:
    done = step(
        ledger,
        lambda s: workflow.resolve(
            s,
            ledger.small,
            actor_id=ledger.maker,
            resolution="manual_match",
            reason="one payment settled as two bank credits",
            record_ids=["BANK-2001", "BANK-2002", "BANK-2001"],
            approval_thresholds=THRESHOLDS,
        ),
    )
    assert (done.exception.status, done.exception.resolution) == ("resolved", "manual_match")
    assert json.loads(done.history[-1].record_ids or "null") == ["BANK-2001", "BANK-2002"]


def test_a_manual_match_names_every_unknown_record(ledger: Ledger) -> None:
    # BANK-9001 belongs to another merchant's job; PG-1003 is on the same side.
    with pytest.raises(InputError) as raised:
        step(
            ledger,
            lambda s: workflow.resolve(
                s,
                ledger.small,
                actor_id=ledger.maker,
                resolution="manual_match",
                reason="matched by UTR",
                record_ids=["BANK-2001", "BANK-9001", "PG-1003"],
                approval_thresholds=THRESHOLDS,
            ),
        )
    assert raised.value.message == (f"unknown bank records of job {ledger.job}: BANK-9001, PG-1003")
    assert raised.value.column == "record_ids"


@pytest.mark.parametrize(
    ("resolution", "record_ids", "message"),
    [
        ("manual_match", None, "manual_match needs the records it matches"),
        ("manual_match", [" "], "manual_match needs the records it matches"),
        ("write_off", ["BANK-2001"], "record_ids apply only to manual_match, not write_off"),
        ("reopen", None, "unknown resolution 'reopen'"),
    ],
)
def test_record_ids_go_with_a_manual_match_only(
    ledger: Ledger, resolution: str, record_ids: list[str] | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        step(
            ledger,
            lambda s: workflow.resolve(
                s,
                ledger.small,
                actor_id=ledger.maker,
                resolution=resolution,
                reason="because",
                record_ids=record_ids,
                approval_thresholds=THRESHOLDS,
            ),
        )


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_every_resolution_needs_a_reason(ledger: Ledger, reason: str) -> None:
    with pytest.raises(InputError, match="a reason is required"):
        step(
            ledger,
            lambda s: workflow.resolve(
                s,
                ledger.small,
                actor_id=ledger.maker,
                resolution="accept",
                reason=reason,
                approval_thresholds=THRESHOLDS,
            ),
        )


def test_another_merchants_exception_is_not_found(ledger: Ledger) -> None:
    with Session(ledger.engine) as session:
        own = workflow.get_with_history(session, ledger.small, merchant_id="M0001234")
        assert own.exception.record_id == "PG-1001"
        with pytest.raises(NotFound, match=f"no exception {ledger.other_job}"):
            workflow.get_with_history(session, ledger.other_job, merchant_id="M0001234")


def test_every_step_is_in_the_history_and_the_audit_chain(ledger: Ledger) -> None:
    step(
        ledger,
        lambda s: workflow.assign(s, ledger.large, actor_id=ledger.admin, owner_id=ledger.maker),
    )
    write_off(ledger, ledger.large, ledger.maker)
    step(ledger, lambda s: workflow.reject(s, ledger.large, actor_id=ledger.checker, reason="no"))
    write_off(ledger, ledger.large, ledger.maker)
    step(ledger, lambda s: workflow.approve(s, ledger.large, actor_id=ledger.admin))
    step(ledger, lambda s: workflow.reopen(s, ledger.large, actor_id=ledger.admin, reason="why"))

    with Session(ledger.engine) as session:
        history = session.execute(
            select(ExceptionAction.action, ExceptionAction.actor_id, ExceptionAction.status_after)
            .where(ExceptionAction.exception_id == ledger.large)
            .order_by(ExceptionAction.id)
        ).all()
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        chain = verify(session)
    assert [tuple(row) for row in history] == [
        ("assign", ledger.admin, "in_review"),
        ("resolve", ledger.maker, "pending_approval"),
        ("reject", ledger.checker, "in_review"),
        ("resolve", ledger.maker, "pending_approval"),
        ("approve", ledger.admin, "resolved"),
        ("reopen", ledger.admin, "open"),
    ]
    assert [(e.action, e.entity, e.entity_id) for e in audit] == [
        (f"exception_{action}", "exception", str(ledger.large))
        for action in ("assign", "resolve", "reject", "resolve", "approve", "reopen")
    ]
    approved = json.loads(audit[4].details)
    assert approved == {
        "amount_minor": 2_500_000,
        "currency": "INR",
        "job_id": ledger.job,
        "maker_id": ledger.maker,
        "resolution": "write_off",
        "status_after": "resolved",
        "status_before": "pending_approval",
    }
    assert (chain.ok, chain.entries) == (True, 6)


def test_an_approver_who_waited_for_another_gets_a_conflict(ledger: Ledger) -> None:
    """The first approval holds the row uncommitted; the second waits, then loses."""
    write_off(ledger, ledger.large, ledger.maker)
    outcome: list[object] = []

    def second_approver() -> None:
        try:
            step(ledger, lambda s: workflow.approve(s, ledger.large, actor_id=ledger.admin))
            outcome.append("approved")
        except Conflict as exc:
            outcome.append(exc)

    with Session(ledger.engine) as first, first.begin():
        workflow.approve(first, ledger.large, actor_id=ledger.checker)
        waiting = threading.Thread(target=second_approver)
        waiting.start()
        time.sleep(0.3)
        assert waiting.is_alive(), "the second approval did not wait for the first"
    waiting.join(timeout=10)

    assert len(outcome) == 1 and isinstance(outcome[0], Conflict)
    with Session(ledger.engine) as session:
        exc = session.get_one(ReconciliationException, ledger.large)
        approvals = session.scalars(
            select(ExceptionAction.actor_id).where(ExceptionAction.action == "approve")
        ).all()
    assert (exc.status, exc.approved_by) == ("resolved", ledger.checker)
    assert approvals == [ledger.checker]


def test_a_reopen_racing_an_approval_leaves_a_consistent_history(ledger: Ledger) -> None:
    """Whoever commits first wins; the other either follows it (approve, then reopen of the
    resolved exception) or gets a 409 because the exception changed under it. Never both
    half-applied: the history holds exactly the winners' steps, in an order the state
    machine allows, and the status is what the last of them left."""
    write_off(ledger, ledger.large, ledger.maker)
    start = threading.Barrier(2)
    winners: list[str] = []
    losers: list[str] = []

    def race(name: str, action: Callable[[Session], ExceptionWithHistory]) -> None:
        start.wait()
        try:
            step(ledger, action)
            winners.append(name)
        except Conflict:
            losers.append(name)

    threads = [
        threading.Thread(
            target=race,
            args=("approve", lambda s: workflow.approve(s, ledger.large, actor_id=ledger.checker)),
        ),
        threading.Thread(
            target=race,
            args=(
                "reopen",
                lambda s: workflow.reopen(s, ledger.large, actor_id=ledger.admin, reason="why"),
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    with Session(ledger.engine) as session:
        status = session.get_one(ReconciliationException, ledger.large).status
        steps = session.scalars(
            select(ExceptionAction.action)
            .where(ExceptionAction.action != "resolve")
            .order_by(ExceptionAction.id)
        ).all()
        assert verify(session).ok
    assert winners and sorted(winners + losers) == ["approve", "reopen"]
    assert sorted(steps) == sorted(winners)
    assert steps in (["approve"], ["reopen"], ["approve", "reopen"])  # never approve after reopen
    assert status == {"approve": "resolved", "reopen": "open"}[steps[-1]]
