"""HDFC's reverse file for the payouts of 3 March 2026: Chai Point's executed with its UTR,
Dosa Hut's rejected because the account is closed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hisaab.errors import InputError
from hisaab.settlement.reverse_files import read_hdfc_reverse

REVERSE = (
    "Customer Ref No,Bene Name,Bene A/c,IFSC,Account Type,Amount,Value date,Bank Ref No,"
    "Transaction Status,Reject Reason\n"
    "STL-20260303-0001,Chai Point Pune,50100012345678,HDFC0001234,10,13800.95,03/03/2026,"
    "HDFCN52026030312345678,E,\n"
    'STL-20260303-0002,Dosa Hut,000401234567,ICIC0000004,10,"2,50,000.00",03/03/2026,,R,'
    "ACCOUNT CLOSED\n"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "HISAAB010303.007.rev"
    path.write_text(text)
    return path


def test_executed_and_rejected_payouts_are_read(tmp_path: Path) -> None:
    chai, dosa = read_hdfc_reverse(write(tmp_path, REVERSE))
    assert (chai.reference, chai.status, chai.amount_minor) == (
        "STL-20260303-0001",
        "executed",
        1_380_095,
    )
    assert chai.bank_ref == "HDFCN52026030312345678" and chai.reason is None
    assert chai.value_date == dt.date(2026, 3, 3)
    assert (dosa.status, dosa.amount_minor, dosa.reason, dosa.line) == (
        "rejected",
        25_000_000,
        "ACCOUNT CLOSED",
        3,
    )


def test_a_file_without_its_header_line_reads_the_same(tmp_path: Path) -> None:
    body = REVERSE.split("\n", 1)[1]
    assert [s.reference for s in read_hdfc_reverse(write(tmp_path, body))] == [
        "STL-20260303-0001",
        "STL-20260303-0002",
    ]


@pytest.mark.parametrize(
    ("bad", "line", "message"),
    [
        (("E,", "X,"), 2, "status 'X'"),
        (("13800.95", "13800.9x"), 2, "column 'amount'"),
        (("03/03/2026,HDFCN", "2026/03/03,HDFCN"), 2, "'2026/03/03' is not a date"),
        (("STL-20260303-0002", "STL-20260303-0001"), 3, "again (first on line 2)"),
    ],
)
def test_a_bad_line_refuses_the_whole_file_and_names_it(
    tmp_path: Path, bad: tuple[str, str], line: int, message: str
) -> None:
    with pytest.raises(InputError) as err:
        read_hdfc_reverse(write(tmp_path, REVERSE.replace(*bad, 1)))
    assert err.value.line == line
    assert message in err.value.describe()


def test_a_short_line_says_what_it_needs(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_hdfc_reverse(write(tmp_path, "STL-1,Chai,123456\n"))
    assert "3 fields. Expected at least 9: customer_ref" in err.value.describe()
