"""`hisaab settle --date D [--merchant M] --dry-run`: what each merchant would be paid."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from hisaab.settlement.plan import MerchantPlan


def settle_command(
    date: Annotated[
        str, typer.Option("--date", help="The settlement date, YYYY-MM-DD (payout day).")
    ],
    merchant: Annotated[str | None, typer.Option("--merchant", help="Only this merchant.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compute and show; write nothing.")
    ] = False,
) -> None:
    """Compute each merchant's settlement for a date from its matched payments and terms."""
    from hisaab.errors import InputError, NotYetImplemented

    try:
        cycle_date = dt.date.fromisoformat(date)
    except ValueError:
        raise InputError(f"--date {date!r} is not a date", expected="YYYY-MM-DD") from None
    if not dry_run:
        raise NotYetImplemented(
            "recording settlements, their ledger lines and payout files is not built yet;"
            " run with --dry-run to see what each merchant would be paid"
        )
    from sqlalchemy.orm import Session

    from hisaab.config import get_settings
    from hisaab.settlement.plan import plan
    from hisaab.storage.engine import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        with Session(engine) as session:
            plans = plan(session, cycle_date, merchant_id=merchant)
    finally:
        engine.dispose()
    _print(cycle_date, plans)


def _print(cycle_date: dt.date, plans: Sequence[MerchantPlan]) -> None:
    from hisaab.money import Money

    table = Table(
        "merchant",
        "payments",
        "gross",
        "MDR",
        "GST",
        "reserve held",
        "net",
        "payout",
        "carried",
        "terms",
        title=f"Settlement on {cycle_date} (dry run: nothing written)",
    )
    for p in plans:
        s = p.settlement
        if s is None:
            table.add_row(p.merchant_id, str(p.payments), f"not settled: {p.problem}")
            continue
        c = s.components()

        def money(minor: int, cur: str = s.currency) -> str:
            return str(Money(minor, cur))

        table.add_row(
            p.merchant_id,
            f"{p.payments:,}",
            money(c["gross"]),
            money(-c["fees"]),
            money(-c["gst"]),
            money(-c["reserve_hold"]),
            money(c["net"]),
            money(s.payout_minor),
            money(s.carry_forward_minor),
            f"v{s.terms_version}",
        )
    if not plans:
        table.add_row("no merchant has matched payments due", "", "")
    console = Console()
    # Piped to a file or another program, a row stays one line instead of 80-column wraps.
    (console if console.is_terminal else Console(width=240)).print(table)
