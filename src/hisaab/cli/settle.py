"""`hisaab settle --date D [--merchant M] [--dry-run]`: each merchant's settlement for a date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
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
    """Settle each merchant's matched payments due by a date with its terms, as ledger lines.

    Running a date again records nothing twice; --dry-run shows what would be recorded.
    """
    from hisaab.errors import InputError

    try:
        cycle_date = dt.date.fromisoformat(date)
    except ValueError:
        raise InputError(f"--date {date!r} is not a date", expected="YYYY-MM-DD") from None
    from sqlalchemy.orm import Session, sessionmaker

    from hisaab.config import get_settings
    from hisaab.settlement.plan import plan
    from hisaab.settlement.record import record
    from hisaab.storage.engine import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        if dry_run:
            with Session(engine) as session:
                plans = plan(session, cycle_date, merchant_id=merchant)
            rows = [(p, "would record" if p.settlement else "not settled") for p in plans]
        else:
            done = record(sessionmaker(engine), cycle_date, merchant_id=merchant)
            rows = [(r.plan, r.outcome.replace("_", " ")) for r in done]
            notes = {r.plan.merchant_id: r.message for r in done if r.outcome == "already"}
    finally:
        engine.dispose()
    title = f"Settlement on {cycle_date}" + (" (dry run: nothing written)" if dry_run else "")
    if len(rows) > DETAIL_ROWS:
        rows = _summarise(rows, cycle_date)
    _print(title, rows, {} if dry_run else notes)


# Above this many merchants the table shows only those not settled as they stand (and a
# summary line); `--merchant` shows one merchant whole.
DETAIL_ROWS = 50


def _summarise(
    rows: Sequence[tuple[MerchantPlan, str]], cycle_date: dt.date
) -> list[tuple[MerchantPlan, str]]:
    from collections import Counter

    from hisaab.money import Money

    outcomes = Counter(outcome for _p, outcome in rows)
    payouts: dict[str, int] = {}
    payments = 0
    for p, _o in rows:
        if p.settlement is not None:
            cur = p.settlement.currency
            payouts[cur] = payouts.get(cur, 0) + p.settlement.payout_minor
            payments += p.payments
    paid = ", ".join(str(Money(minor, cur)) for cur, minor in sorted(payouts.items())) or "none"
    typer.echo(
        f"{cycle_date}: {len(rows):,} merchants ("
        + ", ".join(f"{n:,} {o}" for o, n in sorted(outcomes.items()))
        + f"); {payments:,} payments; payouts {paid}. Shown below: merchants not settled;"
        " --merchant M shows one merchant whole."
    )
    return [(p, o) for p, o in rows if p.settlement is None][:DETAIL_ROWS]


def _print(title: str, rows: Sequence[tuple[MerchantPlan, str]], notes: dict[str, str]) -> None:
    from hisaab.money import Money

    table = Table(
        "merchant",
        "outcome",
        "payments",
        "gross",
        "MDR",
        "GST",
        "reserve held",
        "released",
        "carried in",
        "net",
        "payout",
        "carried out",
        "terms",
        title=title,
    )
    for p, outcome in rows:
        s = p.settlement
        if s is None:
            why = p.problem or notes.get(p.merchant_id, "")
            table.add_row(p.merchant_id, outcome, str(p.payments) if p.payments else "", why)
            continue
        c = s.components()

        def money(minor: int, cur: str = s.currency) -> str:
            return str(Money(minor, cur))

        table.add_row(
            p.merchant_id,
            outcome,
            f"{p.payments:,}",
            money(c["gross"]),
            money(-c["fees"]),
            money(-c["gst"]),
            money(-c["reserve_hold"]),
            money(c["reserve_release"]),
            money(c["carry_forward"]),
            money(c["net"]),
            money(s.payout_minor) if not s.debit_minor else f"debit {money(s.debit_minor)}",
            money(s.carry_forward_minor),
            f"v{s.terms_version}",
        )
    if not rows:
        table.add_row("nothing is due on this date", "")
    console = Console()
    # Piped to a file or another program, a row stays one line instead of 80-column wraps.
    (console if console.is_terminal else Console(width=260)).print(table)


payouts_app = typer.Typer(
    help="Bank payout files and the bank's reverse files.", no_args_is_help=True
)


@payouts_app.command("write")
def payouts_write_command(
    date: Annotated[str, typer.Option("--date", help="Value date of the payouts, YYYY-MM-DD.")],
    layout: Annotated[str, typer.Option("--layout", help="generic-neft or hdfc-enet.")],
    out: Annotated[Path, typer.Option("--out", help="Folder the files are written to.")],
    corporate_id: Annotated[str, typer.Option("--corporate-id", help="Your id at the bank.")],
    debit_account: Annotated[str, typer.Option("--debit-account", help="The escrow account.")],
    debit_ifsc: Annotated[str, typer.Option("--debit-ifsc", help="The escrow account's IFSC.")],
) -> None:
    """Write approved settlements due by the date into the bank's payout file layout."""
    from sqlalchemy.orm import sessionmaker

    from hisaab.config import get_settings
    from hisaab.errors import InputError
    from hisaab.money import Money
    from hisaab.settlement.merchants import BankAccount
    from hisaab.settlement.payout_files import DebitAccount
    from hisaab.settlement.payouts import write_payouts
    from hisaab.storage.engine import make_engine

    try:
        on_date = dt.date.fromisoformat(date)
    except ValueError:
        raise InputError(f"--date {date!r} is not a date", expected="YYYY-MM-DD") from None
    escrow = BankAccount.checked(corporate_id, debit_account, debit_ifsc)
    debit = DebitAccount(corporate_id.strip(), escrow.number, escrow.ifsc)
    engine = make_engine(get_settings().database_url)
    try:
        run = write_payouts(sessionmaker(engine), on_date, layout=layout, debit=debit, out_dir=out)
    finally:
        engine.dispose()
    for path in run.files:
        typer.echo(f"wrote {path}")
    typer.echo(
        f"{len(run.paid)} settlements sent, {Money(run.total_minor, 'INR')}"
        if run.paid
        else "no approved settlement is due"
    )
    for merchant_id, why in sorted(run.skipped.items()):
        typer.echo(f"not sent: {merchant_id}: {why}")


@payouts_app.command("reverse")
def payouts_reverse_command(
    file: Annotated[Path, typer.Argument(help="The bank's reverse (status) file.")],
) -> None:
    """Book an HDFC reverse file: executed payouts credited, rejected ones returned."""
    from sqlalchemy.orm import sessionmaker

    from hisaab.config import get_settings
    from hisaab.settlement.payouts import book_reverse
    from hisaab.storage.engine import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        booked = book_reverse(sessionmaker(engine), file)
    finally:
        engine.dispose()
    typer.echo(
        f"{len(booked.credited)} payouts credited, {len(booked.returned)} returned"
        " (their amounts are paid again with the merchant's next settlement)"
    )


refunds_app = typer.Typer(help="Refunds merchants owe back.", no_args_is_help=True)
disputes_app = typer.Typer(help="Disputes and chargebacks.", no_args_is_help=True)


def _load(kind: str, file: Path) -> int:
    from sqlalchemy.orm import Session

    from hisaab.config import get_settings
    from hisaab.settlement.intake import load_disputes, load_refunds
    from hisaab.storage.engine import make_engine

    loader = load_refunds if kind == "refunds" else load_disputes
    engine = make_engine(get_settings().database_url)
    try:
        with Session(engine) as session, session.begin():  # the whole file, or nothing
            return loader(session, file, actor_id=None)
    finally:
        engine.dispose()


@refunds_app.command("load")
def refunds_load_command(
    file: Annotated[Path, typer.Argument(help="CSV: refund_id, merchant_id, amount, ...")],
) -> None:
    """Load a refund report (CSV): every row, or none when one cannot be taken."""
    typer.echo(f"{_load('refunds', file):,} refunds loaded from {file}")


@disputes_app.command("load")
def disputes_load_command(
    file: Annotated[Path, typer.Argument(help="CSV: dispute_id, merchant_id, network, ...")],
) -> None:
    """Load an acquirer's dispute file (CSV): every row, or none when one cannot be taken."""
    typer.echo(f"{_load('disputes', file):,} disputes opened from {file}")
