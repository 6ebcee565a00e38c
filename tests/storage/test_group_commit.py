"""The group commit: callbacks' small writes share a transaction; one bad piece fails none.

Three callbacks arrive while a commit is in progress and are written in the next one. If
any piece raises, that shared attempt is rolled back and every piece runs again alone.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from hisaab.storage.engine import make_engine
from hisaab.storage.group_commit import GroupCommit, retried_alone


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'hisaab.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE callbacks (name TEXT NOT NULL)"))
    return sessionmaker(engine)


def names(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return [n for (n,) in session.execute(text("SELECT name FROM callbacks ORDER BY name"))]


def write(name: str, seen: list[tuple[str, bool]], *, fail_when_shared: bool = False) -> Any:
    def work(session: Session) -> str:
        seen.append((name, retried_alone(session)))
        session.execute(text("INSERT INTO callbacks VALUES (:name)"), {"name": name})
        if fail_when_shared and retried_alone(session):
            raise RuntimeError(f"{name} cannot share a transaction")
        return name

    return work


async def submit_together(group: GroupCommit, *works: Any) -> list[Any]:
    """Submit `works` while the writer is busy, so that they share its next transaction."""
    started, release = threading.Event(), threading.Event()

    def busy(session: Session) -> None:
        started.set()
        release.wait(10)

    gate = asyncio.ensure_future(group.submit(busy))
    await asyncio.to_thread(started.wait, 10)
    together = asyncio.gather(*(group.submit(w) for w in works), return_exceptions=True)
    await asyncio.sleep(0)  # each submit has queued its work
    release.set()
    await gate
    return list(await together)


def test_a_failed_shared_attempt_is_rolled_back_and_every_piece_retried_alone(
    sessions: sessionmaker[Session],
) -> None:
    group = GroupCommit(sessions)
    seen: list[tuple[str, bool]] = []
    answers = asyncio.run(
        submit_together(
            group,
            write("ws_CO_1001", seen),
            write("ws_CO_1002", seen, fail_when_shared=True),
            write("ws_CO_1003", seen),
        )
    )
    group.stop()

    assert answers == ["ws_CO_1001", "ws_CO_1002", "ws_CO_1003"]
    assert names(sessions) == ["ws_CO_1001", "ws_CO_1002", "ws_CO_1003"]  # each once
    assert seen == [  # the shared attempt, then each piece alone
        ("ws_CO_1001", True),
        ("ws_CO_1002", True),
        ("ws_CO_1001", False),
        ("ws_CO_1002", False),
        ("ws_CO_1003", False),
    ]


def test_a_piece_that_fails_alone_too_fails_only_its_caller(
    sessions: sessionmaker[Session],
) -> None:
    def broken(session: Session) -> None:
        raise ValueError("the payload is not an STK callback")

    group = GroupCommit(sessions)
    seen: list[tuple[str, bool]] = []
    answers = asyncio.run(submit_together(group, broken, write("ws_CO_1001", seen)))
    group.stop()

    assert isinstance(answers[0], ValueError)
    assert answers[1] == "ws_CO_1001"
    assert names(sessions) == ["ws_CO_1001"]


def test_after_commit_sees_each_committed_transactions_session(
    sessions: sessionmaker[Session],
) -> None:
    committed: list[bool] = []
    group = GroupCommit(sessions, after_commit=lambda s: committed.append(s.info["marked"]))

    def marked(session: Session) -> None:
        session.info["marked"] = True

    asyncio.run(group.submit(marked))
    group.stop()
    assert committed == [True]
