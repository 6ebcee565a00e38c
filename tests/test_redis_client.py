"""Redis clients from HISAAB_REDIS_URL, and how an outage is noticed, skipped and logged."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis

from hisaab.errors import InputError
from hisaab.redis_client import RedisOutage, make_async_client, make_client


def test_the_client_talks_to_the_server_with_short_timeouts(redis_url: str) -> None:
    client = make_client(redis_url)
    try:
        assert client.ping() is True
        client.set("hisaab:test:settlement-batch", "B-2026-04-01", ex=5)
        assert client.get("hisaab:test:settlement-batch") == b"B-2026-04-01"
        options = client.connection_pool.connection_kwargs
        assert (options["socket_timeout"], options["socket_connect_timeout"]) == (0.5, 0.5)
    finally:
        client.delete("hisaab:test:settlement-batch")
        client.close()


def test_the_async_client_carries_a_published_event(redis_url: str) -> None:
    async def round_trip() -> dict[str, object] | None:
        client = make_async_client(redis_url)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe("hisaab:test:payments")
                await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
                await client.publish("hisaab:test:payments", '{"receipt": "QKJ4ABC123"}')
                message: dict[str, object] | None = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=2.0
                )
                return message
        finally:
            await client.aclose()

    message = asyncio.run(round_trip())
    assert message is not None
    assert message["data"] == b'{"receipt": "QKJ4ABC123"}'


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis://127.0.0.1:port/0"]
)
def test_a_url_that_is_not_redis_is_refused_by_name(url: str) -> None:
    with pytest.raises(InputError, match="HISAAB_REDIS_URL") as raised:
        make_client(url)
    assert raised.value.expected is not None and "redis://" in raised.value.expected


def test_an_unreachable_server_fails_fast_with_a_redis_error() -> None:
    client = make_client("redis://127.0.0.1:9/0")  # the discard port: nothing listens
    try:
        with pytest.raises(redis.ConnectionError):
            client.ping()
    finally:
        client.close()


class TestOutage:
    def test_redis_is_skipped_for_the_retry_interval_after_a_failure(self) -> None:
        clock = [100.0]
        outage = RedisOutage("the Overview cache", retry_seconds=5, clock=lambda: clock[0])
        assert outage.should_try()
        outage.failed(redis.ConnectionError("Connection refused"))
        clock[0] = 104.9
        assert not outage.should_try()
        clock[0] = 105.0
        assert outage.should_try()

    def test_a_long_outage_is_logged_once_per_interval(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        clock = [0.0]
        outage = RedisOutage(
            "the login rate limit", retry_seconds=1, warn_every_seconds=60, clock=lambda: clock[0]
        )
        with caplog.at_level(logging.INFO, logger="hisaab.redis_client"):
            for second in range(0, 121, 2):  # a failure every 2 s for two minutes
                clock[0] = float(second)
                outage.failed(redis.TimeoutError("Timeout reading from socket"))
            outage.succeeded()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 3  # at 0 s, 60 s and 120 s
        assert "the login rate limit" in warnings[0].getMessage()
        assert "TimeoutError" in warnings[0].getMessage()
        assert caplog.records[-1].getMessage() == "Redis reachable again for the login rate limit"
