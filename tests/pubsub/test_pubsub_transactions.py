"""A message goes out when its transaction commits, never when it rolls back, on every transport.

Publishing runs in a thread, as a worker does; the subscriber runs on the event loop. "Not
delivered" is shown without sleeping: a later committed message arrives first, and the
transports keep each publisher's order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fanout_support import Fanout, collect, payments, reconciled, record_payment
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hisaab.pubsub import FanoutError, Publisher


def in_transaction(fanout: Fanout, work: Callable[[Session], None]) -> None:
    with fanout.sessions() as session, session.begin():
        work(session)


def rolled_back(fanout: Fanout, work: Callable[[Session], None]) -> None:
    """Run `work` in a transaction that fails after it, as a failing job handler does."""
    with (
        pytest.raises(RuntimeError, match="bank statement not yet available"),
        fanout.sessions() as session,
        session.begin(),
    ):
        work(session)
        raise RuntimeError("bank statement not yet available")


def run(fanout: Fanout, scenario: Callable[[Publisher], Any], expected: int) -> list[Any]:
    """Subscribe, run the (blocking) publishing scenario in a thread, collect `expected`."""

    async def main() -> list[Any]:
        publisher = fanout.publisher()
        async with fanout.subscriber() as subscriber:
            await asyncio.to_thread(scenario, publisher)
            received = await collect(subscriber, expected)
        publisher.close()
        return received

    return asyncio.run(main())


def test_a_committed_payment_is_announced(fanout: Fanout) -> None:
    def scenario(publisher: Publisher) -> None:
        in_transaction(fanout, lambda s: record_payment(s, publisher, "SGR7H2K1LP", 150_000))

    assert run(fanout, scenario, 1) == [reconciled("SGR7H2K1LP", 150_000)]


def test_a_rolled_back_payment_is_never_announced(fanout: Fanout) -> None:
    def scenario(publisher: Publisher) -> None:
        rolled_back(fanout, lambda s: record_payment(s, publisher, "SGR7H2K1LP", 150_000))
        in_transaction(fanout, lambda s: record_payment(s, publisher, "SGR7H2K9ZZ", 2_500))

    assert run(fanout, scenario, 1) == [reconciled("SGR7H2K9ZZ", 2_500)]
    with fanout.sessions() as session:
        assert session.scalar(select(func.count()).select_from(payments)) == 1


def test_nothing_is_sent_before_the_commit(fanout: Fanout) -> None:
    async def main() -> int:
        publisher = fanout.publisher()
        async with fanout.subscriber() as subscriber:
            opened = asyncio.Event()
            release = asyncio.Event()
            loop = asyncio.get_running_loop()

            def scenario() -> None:
                with fanout.sessions() as session, session.begin():
                    record_payment(session, publisher, "SGR7H2K1LP", 150_000)
                    loop.call_soon_threadsafe(opened.set)
                    asyncio.run_coroutine_threadsafe(release.wait(), loop).result(timeout=10)

            committing = asyncio.create_task(asyncio.to_thread(scenario))
            await opened.wait()
            await asyncio.sleep(0.2)  # time enough for a premature message to arrive
            early = subscriber.received
            release.set()
            await committing
            await collect(subscriber, 1)
        publisher.close()
        return early

    assert asyncio.run(main()) == 0


def test_a_rolled_back_savepoint_takes_its_messages_with_it(fanout: Fanout) -> None:
    def scenario(publisher: Publisher) -> None:
        with fanout.sessions() as session, session.begin():
            record_payment(session, publisher, "SGR7H2K1LP", 150_000)
            with pytest.raises(ValueError, match="duplicate receipt"), session.begin_nested():
                record_payment(session, publisher, "SGR7H2K1LP", 150_000)
                raise ValueError("duplicate receipt")
            with session.begin_nested():
                record_payment(session, publisher, "SGR7H2K2MN", 99_900)

    assert run(fanout, scenario, 2) == [
        reconciled("SGR7H2K1LP", 150_000),
        reconciled("SGR7H2K2MN", 99_900),
    ]


def test_identical_messages_in_one_transaction_go_out_once(fanout: Fanout) -> None:
    def scenario(publisher: Publisher) -> None:
        with fanout.sessions() as session, session.begin():
            publisher.publish(session, reconciled("SGR7H2K1LP", 150_000))
            publisher.publish(session, reconciled("SGR7H2K1LP", 150_000))
            publisher.publish(session, reconciled("SGR7H2K2MN", 99_900))
        in_transaction(fanout, lambda s: publisher.publish(s, {"type": "batch.done"}))

    assert run(fanout, scenario, 3) == [
        reconciled("SGR7H2K1LP", 150_000),
        reconciled("SGR7H2K2MN", 99_900),
        {"type": "batch.done"},
    ]


def test_one_publishers_messages_arrive_in_commit_order(fanout: Fanout) -> None:
    receipts = [f"SGR{n:07d}" for n in range(200)]

    def scenario(publisher: Publisher) -> None:
        for n, receipt in enumerate(receipts):
            with fanout.sessions() as session, session.begin():
                record_payment(session, publisher, receipt, n)

    received = run(fanout, scenario, len(receipts))
    assert [m["receipt"] for m in received] == receipts


def test_a_message_too_large_fails_the_transaction_that_sent_it(fanout: Fanout) -> None:
    publisher = fanout.publisher()
    with (
        pytest.raises(FanoutError, match=r"of type 'statement.parsed' is 8\d\d\d bytes"),
        fanout.sessions() as session,
        session.begin(),
    ):
        record_payment(session, publisher, "SGR7H2K1LP", 150_000)
        publisher.publish(session, {"type": "statement.parsed", "rows": ["x" * 60] * 130})
    with fanout.sessions() as session:
        assert session.scalar(select(func.count()).select_from(payments)) == 0


def test_publish_now_sends_outside_a_transaction(fanout: Fanout) -> None:
    snapshot = {"type": "stats", "reconciled": 1_204, "pending": 17, "amount_minor": 98_765_400}

    async def main() -> list[Any]:
        publisher = fanout.publisher()
        async with fanout.subscriber() as subscriber:
            await publisher.publish_now(snapshot)
            received = await collect(subscriber, 1)
        await publisher.aclose()
        return received

    assert asyncio.run(main()) == [snapshot]


def test_a_batch_of_payments_is_announced_in_order_and_only_if_committed(fanout: Fanout) -> None:
    # A worker reconciling a batch publishes its results together (one statement on
    # PostgreSQL); quotes and non-ASCII text in the messages must arrive intact.
    batch = [reconciled(f"SGR7H2K{n:03d}", 100 * n) for n in range(1, 6)]
    batch[2]["note"] = 'paid "in full" by Wanjiku Kamau – ₹/KSh'

    def scenario(publisher: Publisher) -> None:
        dropped = [reconciled("SGR7H2KXX1", 1), reconciled("SGR7H2KXX2", 2)]
        rolled_back(fanout, lambda s: publisher.publish_many(s, dropped))
        in_transaction(fanout, lambda s: publisher.publish_many(s, batch))

    assert run(fanout, scenario, len(batch)) == batch
