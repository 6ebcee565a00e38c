"""`hisaab templates list|show`: the built-in normalisation templates."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hisaab.errors import TemplateError

app = typer.Typer(help="List and show normalisation templates.", no_args_is_help=True)


@app.command("list")
def list_command() -> None:
    """List the built-in templates (and the statement standards read without one)."""
    # Imported here, not at the top: `hisaab --help` and other commands stay fast.
    from hisaab.ingest import formats
    from hisaab.ingest.template import list_templates

    table = Table(title="Normalisation templates", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("description")
    for template in list_templates():
        table.add_row(template.name, template.source, template.description)
    for name, fmt in sorted(formats.STANDARD_FORMATS.items()):
        table.add_row(name, "bank", f"{fmt.description} (statement standard)")
    Console(soft_wrap=False).print(table)


@app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="Template name or path of a template YAML file.")],
) -> None:
    """Show one template's YAML."""
    # Imported here, not at the top: `hisaab --help` and other commands stay fast.
    from hisaab.ingest import formats
    from hisaab.ingest.template import load_template

    standard = formats.STANDARD_FORMATS.get(name)
    if standard is not None:
        typer.echo(
            f"# {name}: {standard.description}\n"
            "# A statement standard read by its own parser; it has no YAML template."
        )
        return
    template = load_template(name)
    if template.origin is None:
        raise TemplateError(f"template {name!r} has no file to show")
    typer.echo(template.origin.read_text(encoding="utf-8").rstrip("\n"))
