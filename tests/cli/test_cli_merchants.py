"""`hisaab merchants create|show|list`: a merchant set up from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hisaab.cli.main import main
from hisaab.config import get_settings


def run(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def migrated(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HISAAB_DATABASE_URL", database_url)
    get_settings.cache_clear()
    assert run("migrate") == 0
    yield
    get_settings.cache_clear()


CHAI = [
    "merchants",
    "create",
    "--id",
    "M0001234",
    "--name",
    "Chai Point",
    "--account-name",
    "Chai Point Pvt Ltd",
    "--account-number",
    "5010 0012 3456 78",
    "--ifsc",
    "hdfc0001234",
]


def test_create_show_and_list(
    migrated: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terms = tmp_path / "terms.yaml"
    terms.write_text(
        "schedule: {cycle: daily, t_plus: 2, cutoff: '18:30'}\n"
        "reserve_percent: '5'\nreserve_days: 30\n"
        "rates:\n  - {instrument: upi}\n  - {instrument: card, percent: '1.85', fixed_minor: 300}\n"
    )
    assert run(*CHAI, "--terms", str(terms)) == 0
    assert "created merchant M0001234: Chai Point (INR)" in capsys.readouterr().out
    assert run("merchants", "show", "M0001234") == 0
    shown = capsys.readouterr().out
    assert "Chai Point Pvt Ltd, account 50100012345678, IFSC HDFC0001234" in shown
    assert "T+2 working days" in shown and "cut-off 18:30" in shown
    assert "1.85" in shown and "300" in shown
    assert run("merchants", "create", "--id", "M0009999", "--name", "Dosa Hut") == 0
    capsys.readouterr()
    assert run("merchants", "list") == 0
    listed = capsys.readouterr().out
    assert listed.index("M0001234") < listed.index("M0009999")
    assert "no bank account" not in listed and "HDFC0001234" in listed


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ifsc", "HDFC1234567"], "'HDFC1234567' is not an IFSC"),
        (["--currency", "XYZ"], "unknown currency 'XYZ'"),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_is_created(
    migrated: None, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = CHAI[: CHAI.index("--ifsc")] if extra[0] == "--ifsc" else CHAI
    assert run(*args, *extra) == 2
    assert message in capsys.readouterr().err
    assert run("merchants", "show", "M0001234") == 2
    assert "no merchant M0001234" in capsys.readouterr().err


def test_a_bad_terms_file_names_the_field(
    migrated: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terms = tmp_path / "terms.yaml"
    terms.write_text("schedule: {t_plus: 99}\n")
    assert run(*CHAI, "--terms", str(terms)) == 2
    assert "schedule.t_plus" in capsys.readouterr().err


def test_an_account_needs_all_three_parts(
    migrated: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("merchants", "create", "--id", "M1", "--name", "X", "--ifsc", "HDFC0001234") == 2
    assert "needs all of --account-name" in capsys.readouterr().err


def test_settle_shows_then_records_a_date_once(
    migrated: None, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt

    from sqlalchemy.orm import Session

    from hisaab.storage.engine import make_engine
    from hisaab.storage.kpi_models import Transaction

    assert run(*CHAI) == 0
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        session.add(
            Transaction(
                id="7:1",
                merchant_id="M0001234",
                amount_minor=1_000_000,
                currency="INR",
                method="CARD",
                data_source="pg-generic",
                status="credited",
                reconciliation_status="matched",
                business_date=dt.date(2026, 3, 2),
            )
        )
    engine.dispose()
    capsys.readouterr()
    assert run("settle", "--date", "2026-03-03", "--dry-run") == 0
    out = capsys.readouterr().out
    # Cards at the default 2.00%: fee Rs 200, GST Rs 36, paid Rs 9,764.
    assert "M0001234" in out and "10,000.00 INR" in out and "9,764.00 INR" in out
    assert "dry run: nothing written" in out and "would record" in out
    assert run("settle", "--date", "2026-03-03") == 0
    out = capsys.readouterr().out
    assert "recorded" in out and "9,764.00 INR" in out
    assert run("settle", "--date", "2026-03-03") == 0
    out = capsys.readouterr().out
    assert "already" in out and "9,764.00 INR" not in out
    assert run("settle", "--date", "03/03/2026", "--dry-run") == 2
    assert "is not a date" in capsys.readouterr().err


def test_payouts_write_and_reverse_from_the_command_line(
    migrated: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    escrow = ["--corporate-id", "HISAAB01", "--debit-account", "00600350012345"]
    args = ["payouts", "write", "--date", "2026-03-03", "--layout", "hdfc-enet"]
    assert run(*args, "--out", str(tmp_path), *escrow, "--debit-ifsc", "HDFC0000060") == 0
    assert "no approved settlement is due" in capsys.readouterr().out
    assert run(*args, "--out", str(tmp_path), *escrow, "--debit-ifsc", "HDFC60") == 2
    assert "'HDFC60' is not an IFSC" in capsys.readouterr().err
    rev = tmp_path / "x.rev"
    rev.write_text("STL00000042,Chai,50100012345678,HDFC0001234,10,9764.00,03/03/2026,U1,E,\n")
    assert run("payouts", "reverse", str(rev)) == 2
    assert "payout 'STL00000042' is not one Hisaab sent" in capsys.readouterr().err


def test_settling_many_merchants_prints_a_summary_and_the_problems(
    migrated: None, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt

    from sqlalchemy.orm import Session

    from hisaab.settlement.merchants import create_merchant
    from hisaab.storage.engine import make_engine
    from settlement_rows import matched_payment

    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        for n in range(52):
            create_merchant(session, merchant_id=f"M{n:07d}", name=f"Shop {n}", actor_id=None)
            method = "OTHER" if n == 7 else "UPI"  # one whose method the gateway did not say
            session.add(
                matched_payment(f"9:{n}", f"M{n:07d}", 10_000, dt.date(2026, 3, 2), method=method)
            )
    engine.dispose()
    assert run("settle", "--date", "2026-03-03", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "52 merchants (1 not settled, 51 would record); 51 payments;" in out
    assert "payouts 5,100.00 INR" in out
    assert "M0000007" in out and "without a known method" in out
    assert "M0000008" not in out  # settled ones are in the summary, not listed


REFUNDS = (
    "refund_id,merchant_id,payment_ref,amount,currency,date,reason\n"
    'rfn_1,M0001234,pay_1,"1,200.00",INR,2026-03-02,order cancelled\n'
    "rfn_2,M0001234,,499.00,INR,02/03/2026,damaged in transit\n"
)
DISPUTES = (
    "dispute_id,merchant_id,network,reason_code,stage,amount,currency,received_at,fee\n"
    "D1,M0001234,visa,13.1,chargeback,3000.00,INR,2026-12-07T10:00:00+05:30,500.00\n"
    "D2,M0001234,upi,U008,chargeback,149.00,INR,2026-12-07,\n"
)


def test_refunds_and_disputes_load_from_files(
    migrated: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*CHAI) == 0
    refunds, disputes = tmp_path / "refunds.csv", tmp_path / "disputes.csv"
    refunds.write_text(REFUNDS)
    disputes.write_text(DISPUTES)
    assert run("refunds", "load", str(refunds)) == 0
    assert run("disputes", "load", str(disputes)) == 0
    out = capsys.readouterr().out
    assert "2 refunds loaded" in out and "2 disputes opened" in out
    # Loading the same refund file again is refused whole, naming the row.
    assert run("refunds", "load", str(refunds)) == 2
    assert "line 2: refund rfn_1 exists already" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (REFUNDS.replace('"1,200.00"', "twelve"), "line 2, column 'amount'"),
        (
            REFUNDS.replace("02/03/2026", "March 2"),
            "line 3, column 'date': 'March 2' is not a date",
        ),
        (REFUNDS.replace("M0001234,,499", "M404,,499"), "line 3: no merchant M404"),
        (REFUNDS.replace("reason", "why"), "missing columns: reason"),
    ],
)
def test_a_bad_refund_file_is_refused_whole(
    migrated: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    assert run(*CHAI) == 0
    path = tmp_path / "refunds.csv"
    path.write_text(text)
    assert run("refunds", "load", str(path)) == 2
    assert message in capsys.readouterr().err
    good = tmp_path / "good.csv"
    good.write_text(REFUNDS)
    assert run("refunds", "load", str(good)) == 0  # nothing of the bad file was kept
