"""Helpers of the fan-out tests: a payments table, a transport bundle and message collection.

Also imported by the child processes of test_pubsub_processes (this folder on their path).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.orm import Session, sessionmaker

from hisaab.pubsub import FanoutConfig, LocalBus, Publisher, Subscriber

payments = Table(
    "fanout_test_payments",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("receipt", String(20), nullable=False),
    Column("amount_minor", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
)


@dataclass
class Fanout:
    """A transport's configuration, the database beside it and a bus of the test's own."""

    config: FanoutConfig
    sessions: sessionmaker[Session]
    bus: LocalBus

    def publisher(self) -> Publisher:
        return Publisher(self.config, bus=self.bus)

    def subscriber(self, **kwargs: Any) -> Subscriber:
        return Subscriber(self.config, bus=self.bus, **kwargs)


def reconciled(receipt: str, amount_minor: int) -> dict[str, Any]:
    """The event a reconciliation job publishes for a confirmed M-Pesa payment."""
    return {
        "type": "payment.reconciled",
        "receipt": receipt,
        "amount_minor": amount_minor,
        "currency": "KES",
    }


def record_payment(session: Session, publisher: Publisher, receipt: str, amount_minor: int) -> None:
    """Write the payment and publish its event in the caller's transaction."""
    session.execute(
        insert(payments).values(receipt=receipt, amount_minor=amount_minor, currency="KES")
    )
    publisher.publish(session, reconciled(receipt, amount_minor))


async def collect(
    subscriber: Subscriber, count: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """The next `count` messages of an iterating subscriber; TimeoutError if they do not come."""
    received: list[dict[str, Any]] = []

    async def take() -> None:
        async for message in subscriber:
            received.append(message)
            if len(received) == count:
                return

    try:
        await asyncio.wait_for(take(), timeout)
    except TimeoutError:
        raise TimeoutError(f"received {len(received)} of {count} messages: {received}") from None
    return received
