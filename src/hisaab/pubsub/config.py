"""Which transport fans messages out, chosen once from the database URL and the Redis URL.

The rule, in order:

1. an explicit `transport` (when the operator names one) is used as given, if it can work;
2. else, a Redis URL configured means Redis pub/sub (channel `hisaab:events`);
3. else, a PostgreSQL database means LISTEN/NOTIFY (channel `hisaab_events`);
4. else (SQLite, the embedded default), the in-process bus of this process.

Redis wins when it is configured because an operator who runs Redis has chosen to keep
fan-out traffic off the database: NOTIFY makes committing transactions queue on one
database-wide lock, and every API process holds a PostgreSQL connection open to LISTEN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from psycopg.conninfo import make_conninfo

from hisaab.config import Settings, mask_url
from hisaab.pubsub.messages import FanoutError

PG_CHANNEL = "hisaab_events"
REDIS_CHANNEL = "hisaab:events"


class Transport(StrEnum):
    IN_PROCESS = "in-process"
    POSTGRES = "postgres"
    REDIS = "redis"


def is_postgres(url: str | None) -> bool:
    return url is not None and url.startswith(("postgresql://", "postgresql+psycopg://"))


LISTEN_CONNECT_TIMEOUT_SECONDS = 5


def listen_conninfo(url: str, application_name: str) -> str:
    """Connection string for a LISTEN connection, which sits idle for long stretches: TCP
    keepalives find a dead network or server within about 25 s (the OS default takes hours)."""
    return make_conninfo(
        libpq_url(url),
        application_name=application_name,
        connect_timeout=LISTEN_CONNECT_TIMEOUT_SECONDS,
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
    )


def libpq_url(url: str) -> str:
    """The database URL as psycopg takes it (without SQLAlchemy's driver suffix)."""
    return "postgresql://" + url.split("://", 1)[1] if is_postgres(url) else url


@dataclass(frozen=True)
class FanoutConfig:
    """The chosen transport and what it needs; URLs stay out of repr (they may hold passwords)."""

    transport: Transport
    database_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    pg_channel: str = PG_CHANNEL
    redis_channel: str = REDIS_CHANNEL

    @classmethod
    def from_urls(
        cls,
        database_url: str | None,
        redis_url: str | None = None,
        *,
        transport: Transport | str | None = None,
    ) -> FanoutConfig:
        """Apply the rule of this module; FanoutError when the named transport cannot work."""
        redis_url = redis_url or None
        if transport is None:
            chosen = (
                Transport.REDIS
                if redis_url
                else Transport.POSTGRES
                if is_postgres(database_url)
                else Transport.IN_PROCESS
            )
        else:
            try:
                chosen = Transport(transport)
            except ValueError:
                known = ", ".join(t.value for t in Transport)
                raise FanoutError(
                    f"unknown fan-out transport {transport!r}; expected one of {known}"
                ) from None
        if chosen is Transport.REDIS and not redis_url:
            raise FanoutError("the redis fan-out transport needs a Redis URL (HISAAB_REDIS_URL)")
        if chosen is Transport.POSTGRES and not is_postgres(database_url):
            raise FanoutError(
                "the postgres fan-out transport needs a postgresql:// database URL"
                " (HISAAB_DATABASE_URL)"
            )
        return cls(chosen, database_url=database_url, redis_url=redis_url)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: Transport | str | None = None
    ) -> FanoutConfig:
        return cls.from_urls(settings.database_url, settings.redis_url, transport=transport)

    def describe(self) -> str:
        """One line for the logs, passwords masked."""
        if self.transport is Transport.REDIS and self.redis_url:
            return f"redis pub/sub {self.redis_channel!r} on {mask_url(self.redis_url)}"
        if self.transport is Transport.POSTGRES and self.database_url:
            return f"postgres NOTIFY {self.pg_channel!r} on {mask_url(self.database_url)}"
        return "in-process bus"
