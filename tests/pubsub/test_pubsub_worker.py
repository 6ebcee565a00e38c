"""A reconciliation job announces its result through the real worker, only when the job commits.

The job runs in `run_one`, whose transaction also marks the job done: the event goes out with
that commit. A job that fails is rolled back and retried later, and says nothing meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fanout_support import collect, payments, reconciled, record_payment
from sqlalchemy.orm import Session, sessionmaker

from hisaab.pubsub import FanoutConfig, LocalBus, Publisher, Subscriber
from hisaab.queue.claim import claim
from hisaab.queue.jobs import enqueue
from hisaab.queue.worker import Outcome, run_one
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade


@pytest.fixture
def sessions(database_url: str) -> Any:
    upgrade(database_url)
    engine = make_engine(database_url)
    payments.metadata.create_all(engine)
    yield sessionmaker(engine, class_=Session)
    engine.dispose()


def test_only_the_job_that_commits_is_announced(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    bus = LocalBus()
    config = FanoutConfig.from_urls(database_url)  # in-process on SQLite, NOTIFY on PostgreSQL
    publisher = Publisher(config, bus=bus)

    def reconcile(session: Session, payload: dict[str, Any]) -> None:
        record_payment(session, publisher, payload["receipt"], payload["amount_minor"])
        if payload["receipt"] == "SGR0000002":
            raise RuntimeError("Daraja query timed out")

    for n in (1, 2, 3):
        with sessions() as session, session.begin():
            enqueue(session, "mpesa.reconcile", {"receipt": f"SGR{n:07d}", "amount_minor": n})

    def work() -> list[Outcome]:
        outcomes = []
        while (job := claim(sessions, "worker-1")) is not None:
            outcomes.append(run_one(sessions, job, handlers={"mpesa.reconcile": reconcile}))
        return outcomes

    async def main() -> tuple[list[Outcome], list[dict[str, Any]]]:
        async with Subscriber(config, bus=bus) as subscriber:
            outcomes = await asyncio.to_thread(work)
            return outcomes, await collect(subscriber, 2)

    outcomes, received = asyncio.run(main())
    assert outcomes == [Outcome.DONE, Outcome.RETRY, Outcome.DONE]
    assert received == [reconciled("SGR0000001", 1), reconciled("SGR0000003", 3)]
