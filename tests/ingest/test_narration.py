"""The UTR/RRN inside Indian bank narrations, as each bank prints it."""

from __future__ import annotations

import pytest

from hisaab.ingest.narration import extract_utr


@pytest.mark.parametrize(
    ("narration", "utr"),
    [
        # HDFC UPI: UPI-<name>-<vpa>-<IFSC>-<RRN>-<note>
        ("UPI-PRIYA NAIR-priya.nair@okaxis-UTIB0000456-412345678901-Order 1001", "412345678901"),
        # Axis UPI merchant payment
        ("UPI/P2M/412345678999/PRIYA NAIR/HDFC BANK/UPI", "412345678999"),
        # SBI outward UPI
        ("TO TRANSFER-UPI/DR/409100011122/PRIYA NAIR/HDFC/priya@okhdfc/UPI--", "409100011122"),
        # ICICI UPI: the RRN right after UPI/
        ("UPI/412345600001/Order 2001/priya@okicici/ICICI Bank/ICIa1b2c3", "412345600001"),
        # Kotak UPI: the payer's name comes before the RRN
        ("UPI/PRIYA NAIR/412345611111/Order 3001", "412345611111"),
        # IMPS, HDFC and ICICI styles
        ("IMPS-412399887766-ACME TRADERS-Refund", "412399887766"),
        ("MMT/IMPS/401812345678/ACME LTD/HDFC Bank", "401812345678"),
        ("IMPS/P2A/401800011122/ACME TRADERS/HDFC/Refund", "401800011122"),
        # settlement credits: the NEFT UTR, not the IFSC and not the settlement id
        (
            "NEFT CR-YESB0000001-HISAABPAY SETTLEMENTS-setl_Xk3f9aQ2Lm7pRt-YESBN24015123456",
            "YESBN24015123456",
        ),
        (
            "NEFT CR-YESB0000001-HISAABPAY SETTLEMENTS-MID M0001234-YESBN24016000111",
            "YESBN24016000111",
        ),
        (
            "BY TRANSFER-NEFT*YESB0000001*YESBN24093000123*HISAABPAY SETTLEMENTS--",
            "YESBN24093000123",
        ),
        (
            "NEFT-HDFCN52024012100012345-HISAABPAY SETTLEMENTS-MID M0004567",
            "HDFCN52024012100012345",
        ),
        (
            "RTGS CR-SBIN0000001-BIGCORP LTD-INV 2024 17-SBINR52024011900012345",
            "SBINR52024011900012345",
        ),
        # older NEFT UTRs: one letter and fifteen digits
        ("NEFT-N015240123456789-GLOBEX PVT LTD", "N015240123456789"),
    ],
)
def test_utr_is_found_in_each_banks_narration(narration: str, utr: str) -> None:
    assert extract_utr(narration) == utr


@pytest.mark.parametrize(
    "narration",
    [
        None,
        "",
        "CHQ PAID-MICR CTS-MUMBAI-SHARMA TRADERS",
        "ATW-512345XXXXXX6789-S1AW0123-PUNE",
        "BIL/ONL/000123456789/ELECTRICITY BOARD/MSEB",  # a bill reference is not a UTR
        "NEFT CR-YESB0000001-ONLY AN IFSC",
    ],
)
def test_narrations_without_a_payment_reference_give_none(narration: str | None) -> None:
    assert extract_utr(narration) is None


def test_rrn_keeps_its_leading_zero_as_a_string() -> None:
    assert extract_utr("UPI/P2M/012345678901/SHOP/YESB/UPI") == "012345678901"
