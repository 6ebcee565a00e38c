"""Publishing's edges: a wrong session, a Redis that is down, nobody listening, the default."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from fanout_support import Fanout, collect, payments, reconciled, record_payment
from sqlalchemy import func, select

from hisaab.pubsub import (
    FanoutConfig,
    FanoutError,
    Publisher,
    Subscriber,
    configure,
    get_publisher,
    publish,
)


def test_postgres_fan_out_refuses_a_session_on_another_database(
    over_postgres: Fanout, in_process: Fanout
) -> None:
    publisher = Publisher(over_postgres.config)
    with (
        pytest.raises(FanoutError, match="needs a PostgreSQL session; this one is on sqlite"),
        in_process.sessions() as session,
        session.begin(),
    ):
        publisher.publish(session, reconciled("SGR7H2K1LP", 150_000))


def test_a_redis_outage_drops_the_event_but_never_the_payment(
    in_process: Fanout, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nobody listens on: Redis is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert in_process.config.database_url is not None
    publisher = Publisher(
        FanoutConfig.from_urls(in_process.config.database_url, f"redis://127.0.0.1:{port}/0")
    )
    with caplog.at_level(logging.WARNING, logger="hisaab.pubsub"):
        for receipt in ("SGR7H2K1LP", "SGR7H2K2MN"):
            with in_process.sessions() as session, session.begin():
                record_payment(session, publisher, receipt, 150_000)
    publisher.close()
    with in_process.sessions() as session:
        assert session.scalar(select(func.count()).select_from(payments)) == 2
    # The first failure is tried and logged; the second falls in the pause that follows it.
    assert (publisher.sent, publisher.dropped) == (0, 2)
    assert [r.getMessage().split(",")[0] for r in caplog.records] == [
        "fan-out: 1 committed message(s) not published"
    ]


def test_an_event_nobody_in_the_process_listens_to_is_counted(
    in_process: Fanout, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = in_process.publisher()
    with caplog.at_level(logging.WARNING, logger="hisaab.pubsub"):
        for receipt in ("SGR7H2K1LP", "SGR7H2K2MN"):
            with in_process.sessions() as session, session.begin():
                record_payment(session, publisher, receipt, 150_000)
    assert in_process.bus.unheard == 2
    assert len(caplog.records) == 1  # said once, not once per event
    assert "run the worker inside the API process" in caplog.records[0].getMessage()


def test_the_module_functions_use_the_configured_publisher(
    tmp_path: Path, in_process: Fanout
) -> None:
    config = FanoutConfig.from_urls(f"sqlite:///{tmp_path / 'hisaab.db'}")
    configured = configure(config)
    try:
        assert get_publisher() is configured

        async def main() -> list[Any]:
            async with Subscriber(config) as subscriber:  # the process's own bus

                def work() -> None:
                    with in_process.sessions() as session, session.begin():
                        publish(session, reconciled("SGR7H2K1LP", 150_000))

                await asyncio.to_thread(work)
                return await collect(subscriber, 1)

        assert asyncio.run(main()) == [reconciled("SGR7H2K1LP", 150_000)]
    finally:
        configure(None)
