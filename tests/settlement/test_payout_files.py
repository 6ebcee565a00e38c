"""Payout files for the bank: Chai Point and Dosa Hut paid on Tuesday 3 March 2026.

Chai Point (HDFC account) is paid Rs 13,800.95 and Dosa Hut (an ICICI account) Rs 2,50,000,
which goes by RTGS; the money leaves the escrow account of corporate HISAAB01 at HDFC.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from hisaab.errors import InputError
from hisaab.settlement import payout_files
from hisaab.settlement.payout_files import (
    DebitAccount,
    GenericNeft,
    HdfcEnet,
    PayoutInstruction,
    payout_format,
    rupees,
)

TUESDAY = dt.date(2026, 3, 3)
ESCROW = DebitAccount("HISAAB01", "00600350012345", "HDFC0000060")
CHAI = PayoutInstruction(
    "STL-20260303-0001",
    "M0001234",
    "Chai Point, Pune",  # a comma the layouts cannot hold
    "50100012345678",
    "HDFC0001234",
    1_380_095,
    TUESDAY,
    email="accounts@chaipoint.example",
)
DOSA = PayoutInstruction(
    "STL-20260303-0002", "M0009999", "Dosa Hut", "000401234567", "ICIC0000004", 25_000_000, TUESDAY
)


def test_rupees_are_written_exactly_from_paise() -> None:
    assert [rupees(x) for x in (1_380_095, 5, 100, 25_000_000)] == [
        "13800.95",
        "0.05",
        "1.00",
        "250000.00",
    ]


def test_the_generic_file_has_its_header_and_one_line_per_payout() -> None:
    (f,) = GenericNeft().write([CHAI, DOSA], debit=ESCROW, on_date=TUESDAY)
    assert f.name == "HISAAB01_20260303_000001.csv"
    assert (f.count, f.total_minor) == (2, 26_380_095)
    assert f.content.decode().split("\r\n") == [
        "FILEHDR,HISAAB01,000001,N,20260303",
        "NEFT,HDFC0000060,00600350012345,HDFC0001234,50100012345678,INR,13800.95,"
        "STL-20260303-0001,Chai Point  Pune,accounts@chaipoint.example,STL-20260303-0001",
        "RTGS,HDFC0000060,00600350012345,ICIC0000004,000401234567,INR,250000.00,"
        "STL-20260303-0002,Dosa Hut,,STL-20260303-0002",
        "",
    ]


def test_the_generic_file_splits_at_two_megabytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payout_files, "GENERIC_MAX_BYTES", 400)
    many = [dataclasses.replace(CHAI, reference=f"STL-{i:04d}") for i in range(7)]
    files = GenericNeft().write(many, debit=ESCROW, on_date=TUESDAY, first_serial=41)
    assert [f.name[-10:] for f in files] == [f"0000{n}.csv" for n in (41, 42, 43, 44)]
    assert all(len(f.content) <= 400 for f in files)
    assert sum(f.count for f in files) == 7
    assert sum(f.total_minor for f in files) == 7 * 1_380_095


def test_the_hdfc_file_pays_within_hdfc_by_transfer_and_others_by_neft_or_rtgs() -> None:
    (f,) = HdfcEnet().write([CHAI, DOSA], debit=ESCROW, on_date=TUESDAY, first_serial=7)
    assert f.name == "HISAAB010303.007"
    chai, dosa = (line.split(",") for line in f.content.decode().splitlines())
    assert len(chai) == len(dosa) == 27
    assert chai[:5] == ["I", "M0001234", "50100012345678", "13800.95", "Chai Point  Pune"]
    assert dosa[0] == "R"
    assert chai[12] == "STL-20260303-0001"  # customer reference: the reverse file names it
    assert (chai[21], chai[23], chai[26]) == ("03/03/2026", "HDFC0001234", CHAI.email)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount_minor": 0}, "amount 0"),
        ({"currency": "KES"}, "KES"),
        ({"ifsc": "HDFC1234"}, "IFSC 'HDFC1234'"),
        ({"reference": "STL/1"}, "the reference"),
        ({"account_number": "12"}, "account '12'"),
    ],
)
def test_a_bad_instruction_is_refused_before_any_file(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        dataclasses.replace(CHAI, **change)  # type: ignore[arg-type]


def test_a_reference_twice_or_an_empty_run_is_refused() -> None:
    with pytest.raises(InputError, match="twice in one file"):
        HdfcEnet().write([CHAI, CHAI], debit=ESCROW, on_date=TUESDAY)
    with pytest.raises(InputError, match="no payments"):
        GenericNeft().write([], debit=ESCROW, on_date=TUESDAY)
    with pytest.raises(InputError, match="unknown payout file layout 'sbi'"):
        payout_format("sbi")
