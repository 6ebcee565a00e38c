"""The client hub: 200 dashboards keep up, a slow one is told what it missed, a stuck one is
cut off, and nobody waits for either."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from typing import Any

import pytest

from hisaab.pubsub import Hub


class Dashboard:
    """An admin dashboard's socket: records what it was sent; a stuck one never finishes a send."""

    def __init__(self, *, stuck: bool = False) -> None:
        self.stuck = stuck
        self.texts: list[str] = []
        self.closed_with: list[str] = []
        self.send_abandoned = False
        self._never = asyncio.Event()

    async def send(self, text: str) -> None:
        if self.stuck:
            try:
                await self._never.wait()  # its TCP window is full and stays full
            except asyncio.CancelledError:
                self.send_abandoned = True
                raise
        self.texts.append(text)

    async def close(self, reason: str) -> None:
        self.closed_with.append(reason)

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.texts]


def payment_event(n: int) -> dict[str, Any]:
    return {"type": "payment.reconciled", "receipt": f"SGR{n:07d}", "amount_minor": 100 * n}


async def settle(hub: Hub, dashboards: list[Dashboard], count: int) -> None:
    """Let the sender tasks run until every dashboard has `count` messages (or 60 s pass)."""
    deadline = time.monotonic() + 60
    while any(len(d.texts) < count for d in dashboards) and time.monotonic() < deadline:
        await asyncio.sleep(0.001)


def test_a_stuck_dashboard_is_disconnected_and_the_others_get_everything_in_order() -> None:
    async def main() -> tuple[Hub, list[Dashboard], Dashboard]:
        hub = Hub(queue_size=1_000)
        fast = [Dashboard() for _ in range(200)]
        stuck = Dashboard(stuck=True)
        for dashboard in [*fast[:100], stuck, *fast[100:]]:
            hub.register(dashboard.send, on_close=dashboard.close)
        for n in range(3_000):
            hub.broadcast(payment_event(n))
            if n % 50 == 49:  # events arrive from the network in bursts, not all at once
                await asyncio.sleep(0)
        await settle(hub, fast, 3_000)
        await asyncio.sleep(0)  # the close task runs
        await hub.aclose()
        return hub, fast, stuck

    hub, fast, stuck = asyncio.run(main())
    expected = [payment_event(n) for n in range(3_000)]
    assert all(d.messages() == expected for d in fast)
    assert stuck.texts == []
    assert stuck.send_abandoned
    assert stuck.closed_with[0] == (
        "not reading: 1000 messages were waiting for it again after a resync"
    )
    assert (hub.resyncs, hub.dropped_clients) == (1, 1)
    assert hub.delivered == 200 * 3_000
    # A broadcast appends to 201 queues and returns: it is not a coroutine, so it cannot wait
    # for the stuck dashboard, whose send never returned while all 3,000 went out. (How long
    # a broadcast takes is a benchmark's business, benchmarks/bench_pubsub.py, not a test's:
    # a shared 2-core box can preempt any single call.)
    assert not inspect.iscoroutinefunction(Hub.broadcast)


def test_a_broadcast_is_serialised_once_for_all_clients() -> None:
    async def main() -> list[Dashboard]:
        hub = Hub()
        dashboards = [Dashboard() for _ in range(5)]
        for dashboard in dashboards:
            hub.register(dashboard.send)
        hub.broadcast(payment_event(1))
        await settle(hub, dashboards, 1)
        await hub.aclose()
        return dashboards

    dashboards = asyncio.run(main())
    first = dashboards[0].texts[0]
    assert all(d.texts[0] is first for d in dashboards)  # the very same str object
    assert first == '{"type":"payment.reconciled","receipt":"SGR0000001","amount_minor":100}'


def test_a_dashboard_whose_socket_fails_is_disconnected() -> None:
    async def main() -> tuple[Hub, list[str], Dashboard]:
        hub = Hub()
        closed: list[str] = []

        async def broken(_text: str) -> None:
            raise ConnectionResetError("peer reset the connection")

        async def record(reason: str) -> None:
            closed.append(reason)

        hub.register(broken, on_close=record)
        healthy = Dashboard()
        hub.register(healthy.send)
        hub.broadcast(payment_event(1))
        await settle(hub, [healthy], 1)
        while not closed:
            await asyncio.sleep(0.001)
        hub.broadcast(payment_event(2))
        await settle(hub, [healthy], 2)
        await hub.aclose()
        return hub, closed, healthy

    hub, closed, healthy = asyncio.run(main())
    assert closed == ["send failed: ConnectionResetError: peer reset the connection"]
    assert hub.failed_clients == 1
    assert healthy.messages() == [payment_event(1), payment_event(2)]


def test_an_unregistered_dashboard_receives_nothing_more() -> None:
    async def main() -> tuple[Hub, Dashboard, Dashboard]:
        hub = Hub()
        leaving, staying = Dashboard(), Dashboard()
        client = hub.register(leaving.send, on_close=leaving.close)
        hub.register(staying.send)
        hub.broadcast(payment_event(1))
        await settle(hub, [leaving, staying], 1)
        hub.unregister(client)
        hub.broadcast(payment_event(2))
        await settle(hub, [staying], 2)
        counted = hub.count
        await hub.aclose()
        assert counted == 1
        return hub, leaving, staying

    hub, leaving, staying = asyncio.run(main())
    assert leaving.messages() == [payment_event(1)]
    assert leaving.closed_with == []  # it left by itself: nobody needs to close it
    assert staying.messages() == [payment_event(1), payment_event(2)]
    assert hub.stats() == {
        "clients": 0,
        "broadcasts": 2,
        "delivered": 3,
        "resyncs": 0,
        "dropped_clients": 0,
        "failed_clients": 0,
    }


def test_closing_the_hub_tells_every_dashboard_why() -> None:
    async def main() -> list[Dashboard]:
        hub = Hub()
        dashboards = [Dashboard(), Dashboard(stuck=True)]
        for dashboard in dashboards:
            hub.register(dashboard.send, on_close=dashboard.close)
        hub.broadcast(payment_event(1))
        await settle(hub, dashboards[:1], 1)
        await hub.aclose("server restarting")
        return dashboards

    dashboards = asyncio.run(main())
    assert [d.closed_with for d in dashboards] == [["server restarting"]] * 2


def test_a_queue_must_hold_at_least_one_message() -> None:
    with pytest.raises(ValueError, match="queue_size must be at least 1"):
        Hub(queue_size=0)


def result(n: int) -> dict[str, Any]:
    """A reconciliation result whose cursor (its row id) is n."""
    return {"type": "reconciliation_result", "data": {"resultId": n, "sessionId": f"ps_{n}"}}


def test_a_dashboard_that_falls_behind_is_told_what_it_missed_and_from_where() -> None:
    """A dashboard on a slow link takes messages at its own pace: when 100 are waiting, it
    gets a resync naming the cursor below the first result it missed, and goes on."""

    class SlowDashboard(Dashboard):
        def __init__(self) -> None:
            super().__init__()
            self.go = asyncio.Event()

        async def send(self, text: str) -> None:
            await self.go.wait()
            self.texts.append(text)

    async def main() -> tuple[Hub, SlowDashboard, Dashboard]:
        hub = Hub(queue_size=100, cursor_of=lambda m: m.get("data", {}).get("resultId"))
        slow, fast = SlowDashboard(), Dashboard()
        hub.register(slow.send, on_close=slow.close)
        hub.register(fast.send)
        for n in range(1, 101):  # the slow one is busy with the first, 99 wait: fits
            hub.broadcast(result(n))
            await asyncio.sleep(0)
        for n in range(101, 181):  # the 101st waiting overflows: resync, then 78 more
            hub.broadcast(result(n))
            await asyncio.sleep(0)
        slow.go.set()
        await settle(hub, [fast], 180)
        deadline = time.monotonic() + 30
        while '"resultId":180' not in "".join(slow.texts[-1:]) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        await hub.aclose()
        return hub, slow, fast

    hub, slow, fast = asyncio.run(main())
    assert fast.messages() == [result(n) for n in range(1, 181)]
    got = slow.messages()
    resyncs = [m for m in got if m["type"] == "resync"]
    assert len(resyncs) >= 1
    first = resyncs[0]
    received = {m["data"]["resultId"] for m in got if m["type"] == "reconciliation_result"}
    # Nothing is lost: every result was either received or is after the resync's cursor.
    assert all(n in received or n > first["after"] for n in range(1, 181))
    assert (first["after"], first["missed"]) == (1, 101)  # 2..102 dropped; 1 was being sent
    assert first["reason"].startswith("fell behind")
    assert received == {1, *range(103, 181)}
    assert slow.closed_with == ["server shutting down"]  # reading: connected until the end
    assert hub.dropped_clients == 0 and hub.resyncs == len(resyncs)
