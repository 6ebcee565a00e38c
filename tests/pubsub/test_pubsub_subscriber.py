"""The subscriber goes on through bad payloads and failing handlers, and stops cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from fanout_support import Fanout, collect, reconciled

from hisaab.pubsub.config import libpq_url


def test_a_payload_that_is_not_a_json_object_is_skipped(over_postgres: Fanout) -> None:
    assert over_postgres.config.database_url is not None
    url = libpq_url(over_postgres.config.database_url)

    async def main() -> tuple[list[Any], int]:
        async with over_postgres.subscriber() as subscriber:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                for payload in ("not json", "[1, 2]", '{"type":"batch.done"}'):
                    await conn.execute("SELECT pg_notify('hisaab_events', %s)", (payload,))
            received = await collect(subscriber, 1)
        return received, subscriber.undecodable

    assert asyncio.run(main()) == ([{"type": "batch.done"}], 2)


def test_a_failing_handler_does_not_stop_the_subscriber(in_process: Fanout) -> None:
    handled: list[dict[str, Any]] = []

    def handler(message: dict[str, Any]) -> None:
        if message["receipt"] == "SGR0000001":
            raise KeyError("sessionId")
        handled.append(message)

    async def main() -> None:
        publisher = in_process.publisher()
        async with in_process.subscriber(on_message=handler):
            await publisher.publish_now(reconciled("SGR0000001", 100))
            await publisher.publish_now(reconciled("SGR0000002", 200))
            while not handled:
                await asyncio.sleep(0.001)

    asyncio.run(main())
    assert handled == [reconciled("SGR0000002", 200)]


def test_a_full_buffer_drops_new_messages_and_stop_ends_the_iteration(in_process: Fanout) -> None:
    async def main() -> tuple[list[Any], int]:
        publisher = in_process.publisher()
        subscriber = in_process.subscriber(buffer_size=3)
        await subscriber.start()
        for n in range(5):
            await publisher.publish_now(reconciled(f"SGR{n:07d}", n))
        await asyncio.sleep(0.01)  # the bus delivers on the next turns of the loop
        await subscriber.stop()
        return [m async for m in subscriber], subscriber.dropped

    received, dropped = asyncio.run(main())
    # Room for 3; 2 new ones dropped, then one more to make room for the end of the stream.
    assert received == [reconciled("SGR0000001", 1), reconciled("SGR0000002", 2)]
    assert dropped == 3
