"""`hisaab migrate` and `hisaab config show`: running a deployment's database and settings."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

config_app = typer.Typer(help="Show the effective settings.", no_args_is_help=True)


def migrate_command(
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Overrides HISAAB_DATABASE_URL for this run."),
    ] = None,
) -> None:
    """Create or upgrade the application database to the current schema."""
    # Imported here, not at the top: `hisaab --help` and other commands stay fast.
    from hisaab.config import get_settings, mask_url
    from hisaab.storage.migrate import current_revision, upgrade

    url = database_url or get_settings().database_url
    before = current_revision(url)
    upgrade(url)
    after = current_revision(url)
    state = "already at" if before == after else f"migrated from {before or 'empty'} to"
    typer.echo(f"{mask_url(url)}: {state} revision {after}")


@config_app.command("show")
def show_command() -> None:
    """Print the effective settings (environment and .env), secrets masked."""
    from hisaab.config import get_settings

    table = Table(title="Hisaab settings")
    table.add_column("setting")
    table.add_column("value")
    for name, value in get_settings().shown().items():
        table.add_row(name, "" if value is None else str(value))
    Console().print(table)
