"""The Overview cache: in-process (served until it expires, off at 0, bounded) and in Redis
(shared, JSON under `hisaab:overview:`, expired by Redis, and never fatal when Redis is down).

The Redis examples cache a day's settlement figure for Chai Point: ₹4,600.00 captured on
1 April 2026 in four payments, as `DaySummary`, a dataclass with a business date in it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from hisaab.overview.cache import RedisTTLCache, TTLCache, make_cache
from hisaab.redis_client import RedisOutage, make_client
from redis_server import redis_server


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_an_answer_is_served_until_its_ttl_passes() -> None:
    clock = [100.0]
    cache, compute = TTLCache(30, clock=lambda: clock[0]), Counter()
    assert cache.get_or_compute("overview", compute) == 1
    clock[0] = 129.9
    assert cache.get_or_compute("overview", compute) == 1
    clock[0] = 130.0
    assert cache.get_or_compute("overview", compute) == 2


def test_a_ttl_of_zero_computes_every_time() -> None:
    cache, compute = TTLCache(0), Counter()
    assert [cache.get_or_compute("k", compute) for _ in range(3)] == [1, 2, 3]
    assert len(cache) == 0


def test_the_oldest_entry_goes_when_full() -> None:
    cache = TTLCache(30, clock=lambda: 0.0, max_entries=2)
    for key in ("a", "b", "c"):
        cache.get_or_compute(key, lambda: 0)
    compute = Counter()
    assert cache.get_or_compute("a", compute) == 1  # "a" was evicted, so it is computed again
    assert cache.get_or_compute("c", compute) == 0  # "c" is still cached, with its value


def test_clear_empties_it() -> None:
    cache, compute = TTLCache(30, clock=lambda: 0.0), Counter()
    cache.get_or_compute("k", compute)
    cache.clear()
    assert cache.get_or_compute("k", compute) == 2


# --- in Redis ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DaySummary:
    business_date: dt.date
    currency: str
    transactions: int
    captured_minor: int


APRIL_1 = dt.date(2026, 4, 1)
KEY = ("overview", APRIL_1)


class Summaries:
    """Computes the day's summary, counting how often it had to."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> DaySummary:
        self.calls += 1
        return DaySummary(APRIL_1, "INR", 4, 460_000)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = make_client(redis_url)
    client.flushdb()
    yield client
    client.close()


def test_make_cache_chooses_redis_only_when_a_client_is_given(client: redis.Redis) -> None:
    assert type(make_cache(30, None)) is TTLCache
    assert type(make_cache(30, client)) is RedisTTLCache


def test_a_miss_computes_and_stores_json_with_the_ttl(client: redis.Redis) -> None:
    cache, compute = RedisTTLCache(client, 30), Summaries()
    assert cache.get_or_compute(KEY, compute) == DaySummary(APRIL_1, "INR", 4, 460_000)
    assert compute.calls == 1
    (name,) = client.keys("*")
    assert name == b'hisaab:overview:["overview","2026-04-01"]'
    assert json.loads(client.get(name)) == {
        "business_date": "2026-04-01",
        "currency": "INR",
        "transactions": 4,
        "captured_minor": 460_000,
    }
    assert 29_000 < client.pttl(name) <= 30_000


def test_a_hit_comes_back_as_the_annotated_type_without_computing(client: redis.Redis) -> None:
    cache, compute = RedisTTLCache(client, 30), Summaries()
    cache.get_or_compute(KEY, compute)
    cached = cache.get_or_compute(KEY, compute)
    assert compute.calls == 1
    assert type(cached) is DaySummary
    assert cached.business_date == APRIL_1 and cached.captured_minor == 460_000


def test_processes_share_answers_through_redis(client: redis.Redis) -> None:
    first, second, compute = RedisTTLCache(client, 30), RedisTTLCache(client, 30), Summaries()
    first.get_or_compute(KEY, compute)
    assert second.get_or_compute(KEY, compute) == DaySummary(APRIL_1, "INR", 4, 460_000)
    assert compute.calls == 1


def test_an_answer_expires_in_redis_after_its_ttl(client: redis.Redis) -> None:
    cache, compute = RedisTTLCache(client, 0.2), Summaries()
    cache.get_or_compute(KEY, compute)
    cache.get_or_compute(KEY, compute)
    assert compute.calls == 1
    time.sleep(0.3)
    assert client.exists(cache.redis_key(KEY)) == 0
    cache.get_or_compute(KEY, compute)
    assert compute.calls == 2


def test_each_key_is_cached_apart(client: redis.Redis) -> None:
    cache = RedisTTLCache(client, 30)
    cache.get_or_compute(("overview", APRIL_1), lambda: 1)
    cache.get_or_compute(("overview", APRIL_1 + dt.timedelta(days=1)), lambda: 2)
    assert len(cache) == 2
    assert cache.get_or_compute(("overview", APRIL_1), lambda: 3) == 1


def test_a_compute_without_annotation_gets_plain_json_back(client: redis.Redis) -> None:
    cache = RedisTTLCache(client, 30)
    cache.get_or_compute(KEY, lambda: DaySummary(APRIL_1, "INR", 4, 460_000))
    assert cache.get_or_compute(KEY, lambda: None) == {
        "business_date": "2026-04-01",
        "currency": "INR",
        "transactions": 4,
        "captured_minor": 460_000,
    }


def test_an_answer_of_another_shape_is_a_miss(client: redis.Redis) -> None:
    cache, compute = RedisTTLCache(client, 30), Summaries()
    client.set(cache.redis_key(KEY), b'{"captured": 460000}', ex=30)
    assert cache.get_or_compute(KEY, compute) == DaySummary(APRIL_1, "INR", 4, 460_000)
    assert compute.calls == 1


def test_a_ttl_of_zero_stores_nothing(client: redis.Redis) -> None:
    cache, compute = RedisTTLCache(client, 0), Summaries()
    cache.get_or_compute(KEY, compute)
    cache.get_or_compute(KEY, compute)
    assert (compute.calls, client.dbsize()) == (2, 0)


def test_clear_removes_only_overview_answers(client: redis.Redis) -> None:
    cache, compute = RedisTTLCache(client, 30), Summaries()
    cache.get_or_compute(KEY, compute)
    client.set("hisaab:login-failures:abc", 1)
    cache.clear()
    assert client.keys("*") == [b"hisaab:login-failures:abc"]
    cache.get_or_compute(KEY, compute)
    assert compute.calls == 2


def test_while_redis_is_down_answers_are_computed_and_kept_in_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with redis_server() as server:
        client = make_client(server.url)
        try:
            cache = RedisTTLCache(client, 30, outage=RedisOutage("the Overview cache"))
            compute = Summaries()
            assert cache.get_or_compute(KEY, compute) == DaySummary(APRIL_1, "INR", 4, 460_000)
            server.stop()
            with caplog.at_level(logging.WARNING, logger="hisaab.redis_client"):
                answers = [cache.get_or_compute(KEY, compute) for _ in range(3)]
        finally:
            client.close()
    assert answers == [DaySummary(APRIL_1, "INR", 4, 460_000)] * 3
    assert compute.calls == 2  # once into Redis, then once into the in-process fallback
    assert len(caplog.records) == 1
    assert "Redis unreachable for the Overview cache" in caplog.records[0].getMessage()
