"""Every PostgreSQL connection the fan-out opens is closed, on every way out.

The evidence is the server's: a connection that is closed has no backend left in
`pg_stat_activity` (looked up by the application name each connection sets), and none is
collected still open (psycopg warns when that happens: a ResourceWarning). The ways out are an
API whose lifespans overlap (two test clients on one application), a shutdown after
`publish_now` on the API's event loop, a publisher awaited in a second event loop, a publisher
replaced or closed from another thread or mid-publish, and a subscriber stopped mid-connect.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from fanout_support import Fanout, reconciled
from fastapi.testclient import TestClient

from hisaab.api.app import create_app
from hisaab.config import Settings
from hisaab.pubsub import FanoutConfig, configure, publish_now
from hisaab.pubsub.config import libpq_url
from hisaab.pubsub.publisher import PUBLISHER_APPLICATION_NAME
from hisaab.pubsub.subscriber import LISTENER_APPLICATION_NAME

JWT_SECRET = "closing-test-secret-0123456789abcdef-0123"
LISTENER = LISTENER_APPLICATION_NAME
PUBLISHER = PUBLISHER_APPLICATION_NAME


def backends(database_url: str, application_name: str) -> set[int]:
    """The server processes serving connections of `application_name` on this database."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (application_name,),
        ).fetchall()
    return {pid for (pid,) in rows}


def settled(database_url: str, application_name: str, count: int) -> set[int]:
    """`backends`, once there are `count` of them (or after 5 s): a backend ends just after
    its client closes the connection, not at the same instant."""
    deadline = time.monotonic() + 5.0
    found = backends(database_url, application_name)
    while len(found) != count and time.monotonic() < deadline:
        time.sleep(0.02)
        found = backends(database_url, application_name)
    return found


@contextmanager
def collected_open() -> Iterator[list[str]]:
    """The psycopg connections collected while still open, during the block or just after it.

    The list is filled when the block ends, after a garbage collection.
    """
    leaks: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield leaks
        gc.collect()
    leaks.extend(
        str(w.message)
        for w in caught
        if issubclass(w.category, ResourceWarning) and "AsyncConnection" in str(w.message)
    )


@pytest.fixture
def on_postgres(pg_database: str) -> Iterator[Settings]:
    """Settings of an API whose fan-out is PostgreSQL's LISTEN/NOTIFY."""
    yield Settings(database_url=pg_database, jwt_secret=JWT_SECRET, ws_heartbeat_seconds=3600)
    configure(None)  # create_app made its publisher the default: forget it with the database


# --- the API's lifespan ---------------------------------------------------------------------


def test_two_overlapping_lifespans_of_one_api_each_stop_their_own_listener(
    on_postgres: Settings,
) -> None:
    url = on_postgres.database_url
    app = create_app(on_postgres)
    try:
        with collected_open() as leaks:
            with TestClient(app):
                with TestClient(app):
                    assert len(settled(url, LISTENER, 2)) == 2
                assert len(settled(url, LISTENER, 1)) == 1
            assert settled(url, LISTENER, 0) == set()
        assert leaks == []
    finally:
        app.state.engine.dispose()


def test_shutting_down_closes_what_publish_now_opened_on_the_apis_loop(
    on_postgres: Settings,
) -> None:
    url = on_postgres.database_url
    app = create_app(on_postgres)
    try:
        with collected_open() as leaks:
            with TestClient(app) as client:
                client.portal.call(publish_now, reconciled("SGR7H2K1LP", 150_000))
                assert len(settled(url, PUBLISHER, 1)) == 1
            assert settled(url, PUBLISHER, 0) == set()
        assert leaks == []
    finally:
        app.state.engine.dispose()


# --- the publisher ----------------------------------------------------------------------------


def test_a_publisher_awaited_in_a_second_event_loop_closes_the_first_loops_connection(
    over_postgres: Fanout,
) -> None:
    url = over_postgres.config.database_url
    assert url is not None
    publisher = over_postgres.publisher()
    with collected_open() as leaks:
        asyncio.run(publisher.publish_now(reconciled("SGR0000001", 100)))
        first = settled(url, PUBLISHER, 1)
        asyncio.run(publisher.publish_now(reconciled("SGR0000002", 200)))
        second = settled(url, PUBLISHER, 1)
        publisher.close()
        assert settled(url, PUBLISHER, 0) == set()
    assert len(first) == len(second) == 1
    assert first != second  # the first loop's connection was closed, a new one opened
    assert leaks == []


def test_a_replaced_default_publisher_closes_its_connection(over_postgres: Fanout) -> None:
    url = over_postgres.config.database_url
    assert url is not None
    with collected_open() as leaks:
        try:
            configure(over_postgres.config)
            asyncio.run(publish_now(reconciled("SGR7H2K1LP", 150_000)))
            assert len(settled(url, PUBLISHER, 1)) == 1
            configure(FanoutConfig.from_urls("sqlite://"))  # say, a new application
            assert settled(url, PUBLISHER, 0) == set()
        finally:
            configure(None)
    assert leaks == []


def test_a_publisher_closed_from_another_thread_is_closed_on_its_own_loop(
    over_postgres: Fanout,
) -> None:
    url = over_postgres.config.database_url
    assert url is not None
    publisher = over_postgres.publisher()

    async def main() -> set[int]:
        await publisher.publish_now(reconciled("SGR7H2K1LP", 150_000))
        await asyncio.to_thread(publisher.close)  # the loop keeps running meanwhile
        return await asyncio.to_thread(settled, url, PUBLISHER, 0)

    with collected_open() as leaks:
        assert asyncio.run(main()) == set()
    assert leaks == []


def test_a_publisher_closed_mid_publish_closes_once_the_publish_is_done(
    over_postgres: Fanout,
) -> None:
    url = over_postgres.config.database_url
    assert url is not None
    publisher = over_postgres.publisher()

    async def main() -> set[int]:
        sending = asyncio.create_task(publisher.publish_now(reconciled("SGR7H2K1LP", 150_000)))
        await asyncio.sleep(0)  # the publish has started connecting
        publisher.close()
        await sending  # it still goes out
        return await asyncio.to_thread(settled, url, PUBLISHER, 0)

    with collected_open() as leaks:
        assert asyncio.run(main()) == set()
    assert publisher.sent == 1
    assert leaks == []


# --- the subscriber ---------------------------------------------------------------------------


@pytest.mark.parametrize("cancellations", [1, 3])
def test_a_subscriber_stopped_mid_connect_leaves_no_connection(
    over_postgres: Fanout, cancellations: int
) -> None:
    url = over_postgres.config.database_url
    assert url is not None

    async def main() -> None:
        subscriber = over_postgres.subscriber()
        starting = asyncio.create_task(subscriber.start())
        await asyncio.sleep(0)  # connecting
        for _ in range(cancellations):  # as a shutdown that cancels again and again does
            starting.cancel()
            await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await starting
        await subscriber.stop()
        # The connect goes on in a task of its own: once it ends, what it made is closed.
        while len(asyncio.all_tasks()) > 1:
            await asyncio.sleep(0.01)

    with collected_open() as leaks:
        asyncio.run(main())
        assert settled(url, LISTENER, 0) == set()
    assert leaks == []


def test_a_subscriber_stops_its_listener(over_postgres: Fanout) -> None:
    url = over_postgres.config.database_url
    assert url is not None

    async def main() -> tuple[int, int]:
        async with over_postgres.subscriber():
            listening = len(await asyncio.to_thread(settled, url, LISTENER, 1))
        return listening, len(await asyncio.to_thread(settled, url, LISTENER, 0))

    with collected_open() as leaks:
        assert asyncio.run(main()) == (1, 0)
    assert leaks == []
