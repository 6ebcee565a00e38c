"""Choosing the transport: Redis when configured, else NOTIFY on PostgreSQL, else in-process."""

from __future__ import annotations

import pytest

from hisaab.config import Settings
from hisaab.pubsub import FanoutConfig, FanoutError, Transport

PG = "postgresql://hisaab:s3cret@db.internal:5432/hisaab"
SQLITE = "sqlite:///hisaab.db"
REDIS = "redis://:r3dis@cache.internal:6379/0"


@pytest.mark.parametrize(
    ("database_url", "redis_url", "transport"),
    [
        (SQLITE, None, Transport.IN_PROCESS),
        (PG, None, Transport.POSTGRES),
        ("postgresql+psycopg://hisaab@db.internal/hisaab", None, Transport.POSTGRES),
        (PG, REDIS, Transport.REDIS),
        (SQLITE, REDIS, Transport.REDIS),
        (PG, "", Transport.POSTGRES),
    ],
)
def test_the_transport_follows_the_urls(
    database_url: str, redis_url: str | None, transport: Transport
) -> None:
    assert FanoutConfig.from_urls(database_url, redis_url).transport is transport


def test_an_operator_may_name_the_transport() -> None:
    config = FanoutConfig.from_urls(PG, REDIS, transport="postgres")
    assert config.transport is Transport.POSTGRES
    assert config.pg_channel == "hisaab_events"


@pytest.mark.parametrize(
    ("database_url", "redis_url", "transport", "error"),
    [
        (SQLITE, None, "postgres", "needs a postgresql:// database URL"),
        (PG, None, "redis", r"needs a Redis URL \(HISAAB_REDIS_URL\)"),
        (PG, None, "kafka", "unknown fan-out transport 'kafka'; expected one of in-process"),
    ],
)
def test_a_transport_that_cannot_work_is_refused(
    database_url: str, redis_url: str | None, transport: str, error: str
) -> None:
    with pytest.raises(FanoutError, match=error):
        FanoutConfig.from_urls(database_url, redis_url, transport=transport)


def test_passwords_stay_out_of_repr_and_logs() -> None:
    config = FanoutConfig.from_urls(PG, REDIS)
    assert "r3dis" not in repr(config)
    assert (
        config.describe()
        == "redis pub/sub 'hisaab:events' on redis://:********@cache.internal:6379/0"
    )
    assert "s3cret" not in FanoutConfig.from_urls(PG).describe()


def test_settings_give_the_urls() -> None:
    settings = Settings(database_url=PG, redis_url=REDIS)
    assert FanoutConfig.from_settings(settings).transport is Transport.REDIS
