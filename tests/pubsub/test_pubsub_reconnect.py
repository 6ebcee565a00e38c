"""An API process whose fan-out connection drops reconnects by itself and hears events again.

The connection is really cut: PostgreSQL terminates the listener's backend, Redis kills the
subscriber's client. Events sent while it is down are lost to it (at-most-once), and
`on_reconnect` tells the application so it can have clients refetch state.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import redis
from fanout_support import Fanout, collect, reconciled

from hisaab.config import mask_url
from hisaab.pubsub import Backoff, FanoutConfig, FanoutError, Subscriber
from hisaab.pubsub.config import libpq_url


def cut_postgres(config: FanoutConfig) -> int:
    assert config.database_url is not None
    with psycopg.connect(libpq_url(config.database_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'hisaab-fanout-listener' AND datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def cut_redis(config: FanoutConfig) -> int:
    assert config.redis_url is not None
    client = redis.Redis.from_url(config.redis_url)
    try:
        return int(client.client_kill_filter(_type="pubsub"))
    finally:
        client.close()


async def wait_for(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting for {what}")
        await asyncio.sleep(0.01)


def _reconnects_after_a_cut(fanout: Fanout, cut: Any) -> tuple[int, list[Any], list[str]]:
    publisher = fanout.publisher()
    announced: list[str] = []

    async def main() -> tuple[int, list[Any]]:
        subscriber = fanout.subscriber(
            backoff=Backoff(first=0.05, most=0.2),
            on_reconnect=lambda: announced.append("refetch"),
        )
        async with subscriber:
            await publisher.publish_now(reconciled("SGR0000001", 100))
            before = await collect(subscriber, 1)
            cut_count = cut(fanout.config)
            await wait_for(lambda: subscriber.reconnects == 1, "the subscriber to reconnect")
            await publisher.publish_now(reconciled("SGR0000002", 200))
            after = await collect(subscriber, 1)
        await publisher.aclose()
        return cut_count, before + after

    cut_count, received = asyncio.run(main())
    return cut_count, received, announced


def test_a_listener_cut_off_by_postgres_listens_again(over_postgres: Fanout) -> None:
    cut_count, received, announced = _reconnects_after_a_cut(over_postgres, cut_postgres)
    assert cut_count == 1
    assert received == [reconciled("SGR0000001", 100), reconciled("SGR0000002", 200)]
    assert announced == ["refetch"]


def test_a_subscriber_cut_off_by_redis_subscribes_again(over_redis: Fanout) -> None:
    cut_count, received, announced = _reconnects_after_a_cut(over_redis, cut_redis)
    assert cut_count == 1
    assert received == [reconciled("SGR0000001", 100), reconciled("SGR0000002", 200)]
    assert announced == ["refetch"]


def test_a_subscriber_that_cannot_connect_at_start_says_so(over_postgres: Fanout) -> None:
    assert over_postgres.config.database_url is not None
    unreachable = over_postgres.config.database_url.rsplit("/", 1)[0] + "/no_such_database"
    config = FanoutConfig.from_urls(unreachable)

    async def main() -> str:
        try:
            await Subscriber(config).start()
        except FanoutError as exc:
            return str(exc)
        raise AssertionError("start() should have failed")

    error = asyncio.run(main())
    assert error.startswith(
        f"cannot subscribe to postgres NOTIFY 'hisaab_events' on {mask_url(unreachable)}"
    )
    assert 'database "no_such_database" does not exist' in error
