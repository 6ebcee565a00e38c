"""`hisaab merchants create|show|list`: merchants, their settlement accounts and terms."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from hisaab.errors import FormatError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hisaab.settlement.merchants import MerchantView

app = typer.Typer(help="Merchants, their settlement accounts and terms.", no_args_is_help=True)


@contextmanager
def _session() -> Iterator[Session]:
    from sqlalchemy.orm import Session

    from hisaab.config import get_settings
    from hisaab.storage.engine import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        with Session(engine) as session, session.begin():
            yield session
    finally:
        engine.dispose()


@app.command("create")
def create_command(
    merchant_id: Annotated[str, typer.Option("--id", help="e.g. M0001234")],
    name: Annotated[str, typer.Option("--name")],
    currency: Annotated[str, typer.Option("--currency")] = "INR",
    timezone: Annotated[str, typer.Option("--timezone")] = "Asia/Kolkata",
    account_name: Annotated[str | None, typer.Option("--account-name")] = None,
    account_number: Annotated[str | None, typer.Option("--account-number")] = None,
    ifsc: Annotated[str | None, typer.Option("--ifsc")] = None,
    terms: Annotated[
        Path | None,
        typer.Option("--terms", help="Terms as YAML or JSON (default: the platform's defaults)."),
    ] = None,
) -> None:
    """Create a merchant with its settlement bank account and its first terms."""
    from hisaab.errors import InputError
    from hisaab.settlement.merchants import BankAccount, create_merchant, parse_terms

    bank = None
    given = [v for v in (account_name, account_number, ifsc) if v is not None]
    if given and len(given) != 3:
        raise InputError(
            "a settlement account needs all of --account-name, --account-number and --ifsc"
        )
    if account_name is not None and account_number is not None and ifsc is not None:
        bank = BankAccount.checked(account_name, account_number, ifsc)
    spec = parse_terms(_read_document(terms)) if terms is not None else None
    with _session() as session:
        merchant = create_merchant(
            session,
            merchant_id=merchant_id,
            name=name,
            currency=currency,
            timezone=timezone,
            bank=bank,
            terms=spec,
            actor_id=None,
        )
    typer.echo(f"created merchant {merchant.id}: {merchant.name} ({merchant.currency})")


@app.command("show")
def show_command(merchant_id: Annotated[str, typer.Argument(help="The merchant's id.")]) -> None:
    """A merchant, its account, its active terms and rate card, and any change waiting."""
    from hisaab.settlement.merchants import get_merchant

    with _session() as session:
        merchant = get_merchant(session, merchant_id)
    _print_merchant(merchant)


@app.command("list")
def list_command(
    after: Annotated[str | None, typer.Option("--after", help="Start after this id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
) -> None:
    """Merchants in id order."""
    from hisaab.settlement.merchants import list_merchants

    with _session() as session:
        found = list_merchants(session, after=after, limit=limit)
    table = Table("id", "name", "status", "currency", "IFSC", "terms", "waiting")
    for m in found:
        table.add_row(
            m.id,
            m.name,
            m.status,
            m.currency,
            m.bank_account.ifsc if m.bank_account else "-",
            f"v{m.terms.version}" if m.terms else "none",
            f"v{m.proposal.version}" if m.proposal else "",
        )
    Console().print(table)


def _read_document(path: Path) -> object:
    import json

    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError(f"cannot read the terms file: {exc.strerror}", file=path) from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise FormatError(f"not valid YAML or JSON: {exc}", file=path) from None


def _print_merchant(m: MerchantView) -> None:
    console = Console()
    bank = m.bank_account
    console.print(f"[bold]{m.id}[/bold] {m.name} ({m.status}, {m.currency}, {m.timezone})")
    console.print(
        f"settles to: {bank.name}, account {bank.number}, IFSC {bank.ifsc}"
        if bank
        else "settles to: no bank account yet"
    )
    if m.terms is None:
        console.print("terms: none approved")
        return
    spec = m.terms.spec
    s = spec.schedule
    console.print(
        f"terms v{m.terms.version}: {s.cycle}, T+{s.t_plus} working days ({spec.calendar}),"
        f" cut-off {s.cutoff}; minimum payout {spec.min_payout_minor} minor units;"
        f" reserve {spec.reserve_percent}% for {spec.reserve_days} days;"
        f" negative balance: {spec.negative_balance}; disputes debited {spec.dispute_debit};"
        f" GST {spec.gst_percent}% on fees",
        markup=False,
    )
    rates = Table("instrument", "sub-rail", "MDR %", "fixed fee (minor units)")
    for r in spec.rates:
        rates.add_row(r.instrument, r.sub_rail, str(r.percent), str(r.fixed_minor))
    console.print(rates)
    if m.proposal is not None:
        console.print(
            f"waiting for approval: v{m.proposal.version} ({m.proposal.note})", markup=False
        )
