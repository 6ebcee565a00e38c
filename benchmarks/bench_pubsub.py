"""Fan-out benchmark: latency from a worker's transaction to a client's send, at a steady rate.

A publishing process (this one) records M-Pesa payments at `--rate` per second for
`--seconds`, one transaction each (an INSERT plus `publish()`), as a reconciliation job does,
from `--publishers` threads sharing one schedule (several workers: at 1,000 events/s one
thread alone cannot commit a PostgreSQL transaction every millisecond on a busy 2-core box).
A separate listener process (an API process stand-in: a Subscriber feeding a Hub with
`--clients` clients whose send is a no-op) notes when each event arrives. Four instants per
event, on the machine's monotonic clock (CLOCK_MONOTONIC, shared by all processes):

    begin   the publisher opens the transaction
    commit  the commit has returned in the publisher
    recv    the listener's Subscriber hands the event on (decoded)
    client  the last-registered client's send is called with it

and the report gives p50/p99/max of commit->recv (the transport), begin->recv (persisted and
received) and begin->client (the whole path, through the hub). The first 5% of events are
warm-up and not counted. Transports: postgres (NOTIFY; the database is PostgreSQL), redis
(pub/sub after commit; the database is PostgreSQL) and in-process (SQLite database, the
subscriber on an event loop in a thread of the publishing process).

    python benchmarks/bench_pubsub.py [--rate 1000] [--seconds 10] [--clients 100]
        [--publishers 4] [--transports postgres,redis,in-process]

It starts a throwaway PostgreSQL and Redis like the tests do (tests/postgres_server.py,
tests/redis_server.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hisaab.pubsub import FanoutConfig, Hub, Publisher, Subscriber, Transport
from hisaab.storage.engine import make_engine
from postgres_server import postgres_server
from redis_server import redis_server

payments = Table(
    "bench_payments",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("receipt", String(20), nullable=False),
    Column("amount_minor", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
)


def now() -> int:
    return time.monotonic_ns()


# The listener side: a Subscriber feeding a Hub, as in an API process.


async def listen(
    config: FanoutConfig, count: int, clients: int, ready: Any, out: Path | None = None
) -> dict[int, tuple[int, int]]:
    """Receive `count` events; returns seq -> (recv, client) instants."""
    recv: dict[int, int] = {}
    seen: dict[int, tuple[int, int]] = {}
    done = asyncio.Event()
    hub = Hub(queue_size=10_000)

    async def nothing(_text: str) -> None:
        return None

    async def probe(text: str) -> None:
        seq = json.loads(text)["seq"]
        seen[seq] = (recv[seq], now())
        if len(seen) == count:
            done.set()

    for _ in range(clients - 1):
        hub.register(nothing)
    hub.register(probe)

    def on_message(message: dict[str, Any]) -> None:
        recv[message["seq"]] = now()
        hub.broadcast(message)

    async with Subscriber(config, on_message):
        ready.set()
        await asyncio.wait_for(done.wait(), timeout=120)
    await hub.aclose()
    if out is not None:
        out.write_text(json.dumps(seen))
    return seen


def listener_process(
    config_fields: dict[str, Any], count: int, clients: int, ready: Any, out: str
) -> None:
    config = FanoutConfig(**{**config_fields, "transport": Transport(config_fields["transport"])})
    asyncio.run(listen(config, count, clients, ready, Path(out)))


# The publisher side: one transaction per event, at a steady rate.


def publish_at_rate(
    database_url: str, rate: int, count: int, publisher: Publisher, threads: int
) -> tuple[dict[int, tuple[int, int]], int, float]:
    """seq -> (begin, commit) instants, how many events started over 1 ms late, achieved rate.

    `threads` publishing threads (workers) share the schedule: thread t sends seq t, t+threads...
    """
    engine = make_engine(database_url, pool_size=threads)
    sent: dict[int, tuple[int, int]] = {}
    late = [0] * threads
    interval = 1_000_000_000 // rate
    start = now() + 50_000_000

    def work(first: int) -> None:
        for seq in range(first, count, threads):
            due = start + seq * interval
            ahead = due - now()
            if ahead > 0:
                time.sleep(ahead / 1e9)
            elif -ahead > 1_000_000:
                late[first] += 1
            begin = now()
            with Session(engine) as session, session.begin():
                session.execute(
                    insert(payments).values(
                        receipt=f"SGR{seq:07d}", amount_minor=100 * seq, currency="KES"
                    )
                )
                publisher.publish(
                    session,
                    {
                        "type": "payment.reconciled",
                        "seq": seq,
                        "receipt": f"SGR{seq:07d}",
                        "amount_minor": 100 * seq,
                        "currency": "KES",
                    },
                )
            sent[seq] = (begin, now())

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        engine.dispose()
    achieved = count / ((max(c for _b, c in sent.values()) - start) / 1e9)
    return sent, sum(late), achieved


def run_transport(
    transport: Transport, database_url: str, redis_url: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    count = args.rate * args.seconds
    config = FanoutConfig.from_urls(database_url, redis_url, transport=transport)
    engine = make_engine(database_url)
    payments.metadata.drop_all(engine)
    payments.metadata.create_all(engine)
    engine.dispose()
    publisher = Publisher(config)
    if transport is Transport.IN_PROCESS:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        result: dict[str, dict[int, tuple[int, int]]] = {}

        def loop_thread() -> None:
            result["seen"] = loop.run_until_complete(listen(config, count, args.clients, ready))

        thread = threading.Thread(target=loop_thread)
        thread.start()
        ready.wait(30)
        sent, late, achieved = publish_at_rate(
            database_url, args.rate, count, publisher, args.publishers
        )
        thread.join(130)
        loop.close()
        seen = result["seen"]
    else:
        spawn = multiprocessing.get_context("spawn")
        ready_event = spawn.Event()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "seen.json"
            fields = {
                "transport": config.transport.value,
                "database_url": config.database_url,
                "redis_url": config.redis_url,
            }
            process = spawn.Process(
                target=listener_process,
                args=(fields, count, args.clients, ready_event, str(out)),
            )
            process.start()
            try:
                if not ready_event.wait(60):
                    raise RuntimeError("the listener process did not subscribe")
                sent, late, achieved = publish_at_rate(
                    database_url, args.rate, count, publisher, args.publishers
                )
                process.join(130)
                if process.exitcode != 0:
                    raise RuntimeError(f"the listener process exited with {process.exitcode}")
                seen = {int(k): (v[0], v[1]) for k, v in json.loads(out.read_text()).items()}
            finally:
                if process.is_alive():
                    process.kill()
                    process.join()
    publisher.close()
    warmup = count // 20
    keys = [seq for seq in range(warmup, count)]
    return {
        "transport": transport.value,
        "events": len(keys),
        "late_starts": late,
        "achieved_rate": achieved,
        "commit->recv": [(seen[k][0] - sent[k][1]) / 1e6 for k in keys],
        "begin->recv": [(seen[k][0] - sent[k][0]) / 1e6 for k in keys],
        "begin->client": [(seen[k][1] - sent[k][0]) / 1e6 for k in keys],
    }


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49]:6.2f}  p99 {q[98]:6.2f}  max {max(values):6.2f}"


@contextlib.contextmanager
def database(server: str) -> Iterator[str]:
    name = f"bench_pubsub_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=100, help="hub clients per listener")
    parser.add_argument("--publishers", type=int, default=4, help="publishing threads")
    parser.add_argument("--transports", default="postgres,redis,in-process")
    args = parser.parse_args()
    transports = [Transport(t) for t in args.transports.split(",")]
    results = []
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(postgres_server())
        pg_url = stack.enter_context(database(server))
        redis_url = stack.enter_context(redis_server()).url
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for transport in transports:
            database_url = (
                f"sqlite:///{tmp / 'hisaab.db'}" if transport is Transport.IN_PROCESS else pg_url
            )
            results.append(
                run_transport(
                    transport,
                    database_url,
                    redis_url if transport is Transport.REDIS else None,
                    args,
                )
            )
    print(
        f"{args.rate} events/s for {args.seconds} s, one transaction each,"
        f" {args.publishers} publishing thread(s), {args.clients} hub clients; milliseconds"
    )
    for r in results:
        print(
            f"\n{r['transport']}: {r['achieved_rate']:.0f} events/s achieved,"
            f" {r['events']} counted, {r['late_starts']} started over 1 ms late"
        )
        for stage in ("commit->recv", "begin->recv", "begin->client"):
            print(f"  {stage:14} {percentiles(r[stage])}")


if __name__ == "__main__":
    main()
