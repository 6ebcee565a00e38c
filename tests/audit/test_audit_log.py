"""The audit trail detects any change to its past."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from hisaab.audit.log import GENESIS, Entry, record, record_many, verify
from hisaab.storage.engine import make_engine
from hisaab.storage.group_commit import _FIRST_ATTEMPT as FIRST_ATTEMPT
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import AuditEntry


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        record(session, actor_id=None, action="login", entity="user", entity_id=1)
        record(
            session,
            actor_id=None,
            action="upload",
            entity="job",
            entity_id=7,
            details={"side": "bank", "sha256": "ab" * 32},
        )
        record(
            session,
            actor_id=None,
            action="resolve",
            entity="exception",
            entity_id=42,
            details={"resolution": "write_off", "amount_minor": 150_000},
        )
    yield engine
    engine.dispose()


def test_an_untouched_chain_verifies(engine: Engine) -> None:
    with Session(engine) as session:
        result = verify(session)
        first = session.get(AuditEntry, 1)
    assert (result.ok, result.entries) == (True, 3)
    assert first is not None and first.prev_hash == GENESIS


def test_an_edited_entry_is_named(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(AuditEntry).where(AuditEntry.id == 3).values(details='{"resolution":"accept"}')
        )
    with Session(engine) as session:
        result = verify(session)
    assert (result.ok, result.first_bad_id) == (False, 3)
    assert result.problem == "its content does not match its hash"


def test_a_deleted_entry_breaks_the_link_of_the_next(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.execute(delete(AuditEntry).where(AuditEntry.id == 2))
    with Session(engine) as session:
        result = verify(session)
    assert (result.first_bad_id, result.problem) == (3, "its link to the previous entry is broken")


def test_an_entry_rolled_back_with_its_action_leaves_no_trace(engine: Engine) -> None:
    with Session(engine) as session:
        record(session, actor_id=None, action="approve", entity="exception", entity_id=42)
        session.rollback()
    with Session(engine) as session:
        assert verify(session).entries == 3


def test_concurrent_writers_never_fork_the_chain(engine: Engine) -> None:
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                with Session(engine) as session, session.begin():
                    record(
                        session,
                        actor_id=None,
                        action="approve",
                        entity="exception",
                        entity_id=f"{n}-{i}",
                    )
        except BaseException as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as session:
        result = verify(session)
    assert (result.ok, result.entries) == (True, 3 + 40)


def _group_attempt(session: Session) -> None:
    """Mark `session` as a group commit's shared attempt (hisaab.storage.group_commit)."""
    session.info[FIRST_ATTEMPT] = True


def test_a_batch_appended_at_once_chains_in_id_order(engine: Engine) -> None:
    entries = [
        Entry(actor_id=None, action="payment_session.create", entity="payment_session",
              entity_id=f"ps_{n:03d}", details={"amount_minor": 100 * n})
        for n in range(60)
    ]  # fmt: skip
    with Session(engine) as session, session.begin():
        _group_attempt(session)
        record_many(session, entries)
    with Session(engine) as session:
        result = verify(session)
        ids = [e.entity_id for e in session.query(AuditEntry).order_by(AuditEntry.id)][3:]
    assert (result.ok, result.entries) == (True, 3 + 60)
    assert ids == [f"ps_{n:03d}" for n in range(60)]


def test_batches_from_concurrent_writers_never_fork_the_chain(engine: Engine) -> None:
    """Group commits of several API processes append batches at once: they take turns."""
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(8):
                with Session(engine) as session, session.begin():
                    _group_attempt(session)
                    record_many(
                        session,
                        [
                            Entry(
                                None, "payment_session.stk_push", "payment_session", f"{n}-{i}-{k}"
                            )
                            for k in range(5)
                        ],
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as session:
        result = verify(session)
    assert (result.ok, result.entries) == (True, 3 + 4 * 8 * 5)
