"""Real-time fan-out: messages from workers' transactions to every client of every API process.

    worker transaction --publish()--> transport --Subscriber--> Hub --> each client's send()

- `publisher`: `publish(session, message)` delivers if and when the transaction commits;
  `publish_now(message)` sends at once.
- `config`: which transport (in-process, PostgreSQL LISTEN/NOTIFY, Redis pub/sub) and why.
- `subscriber`: one per API process; receives every message, reconnects after an outage.
- `hub`: the connected clients, a bounded queue and a sender task each; slow ones are dropped.
- `local`: the in-process bus (embedded mode); `messages`: the wire form and its size limit.

Live delivery is at-most-once: what is sent while a subscriber or a client is disconnected is
not replayed, and clients refetch state when they (re)connect. See docs/realtime-fanout.md.
"""

from hisaab.backoff import Backoff
from hisaab.pubsub.config import FanoutConfig, Transport
from hisaab.pubsub.hub import Client, Hub
from hisaab.pubsub.local import LocalBus, local_bus
from hisaab.pubsub.messages import MAX_MESSAGE_BYTES, FanoutError, MessageTooLarge
from hisaab.pubsub.publisher import (
    Publisher,
    configure,
    get_publisher,
    publish,
    publish_many,
    publish_now,
)
from hisaab.pubsub.subscriber import Subscriber

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Backoff",
    "Client",
    "FanoutConfig",
    "FanoutError",
    "Hub",
    "LocalBus",
    "MessageTooLarge",
    "Publisher",
    "Subscriber",
    "Transport",
    "configure",
    "get_publisher",
    "local_bus",
    "publish",
    "publish_many",
    "publish_now",
]
