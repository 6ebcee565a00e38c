"""Alembic environment: runs migrations on the engine Hisaab would use for the URL."""

from __future__ import annotations

from alembic import context

from hisaab.storage.engine import make_engine
from hisaab.storage.schema import metadata

config = context.config


def run() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
