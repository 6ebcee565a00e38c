"""The Overview's in-process TTL cache: served until it expires, off at 0, bounded."""

from __future__ import annotations

from hisaab.overview.cache import TTLCache


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
