"""`hisaab templates list|show`: the built-in normalisation templates."""

from __future__ import annotations

import typer

from hisaab.errors import NotYetImplemented

app = typer.Typer(help="List and show normalisation templates.", no_args_is_help=True)


@app.command("list")
def list_command() -> None:
    """List the built-in templates."""
    raise NotYetImplemented("hisaab templates list is not built yet")


@app.command("show")
def show_command(name: str) -> None:
    """Show one template."""
    raise NotYetImplemented("hisaab templates show is not built yet")
