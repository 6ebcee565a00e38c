"""The queue tests' database: migrated, with the test handlers' marker table, on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from queue_test_handlers import prepare
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = prepare(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine)
