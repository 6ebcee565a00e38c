"""The text of simulated bank lines: payers, UPI narrations, settlements, charges.

Two UPI narration styles, as seen on public statements:

    hdfc   UPI-<NAME>-<vpa>-<IFSC>-<RRN>-<note>     without RRN: UPI-<NAME>-<vpa>-TRANSFER
    slash  UPI/P2M/<RRN>/<NAME>/<BANK>/UPI          without RRN: UPI/P2M/<NAME>/<BANK>/TRANSFER

(ICICI and Axis print the slash style.) No name, VPA or note contains a 12-digit number or a
rail keyword, so the only reference a narration carries is the one put there on purpose.
Settlements arrive by NEFT from the gateway's nodal account:

    NEFT CR-YESB0000001-HISAABPAY SETTLEMENTS-<settlement_id>-<settlement_utr>
    NEFT CR-YESB0000001-HISAABPAY SETTLEMENTS-MID <merchant_id>-<utr>     (unlinked batch)
"""

from __future__ import annotations

import random

_FIRST = (
    "RAHUL",
    "PRIYA",
    "AMIT",
    "SNEHA",
    "VIKRAM",
    "ANITA",
    "ARJUN",
    "KAVYA",
    "ROHAN",
    "NEHA",
    "SURESH",
    "POOJA",
    "KIRAN",
    "DEEPA",
    "MANOJ",
    "LAKSHMI",
    "ARUN",
    "FATIMA",
    "IMRAN",
    "JOSEPH",
    "MEERA",
    "SANJAY",
    "ZOYA",
    "GURPREET",
)
_LAST = (
    "SHARMA",
    "PATEL",
    "IYER",
    "REDDY",
    "SINGH",
    "GUPTA",
    "NAIR",
    "KHAN",
    "DAS",
    "MEHTA",
    "JOSHI",
    "RAO",
    "BOSE",
    "PILLAI",
    "VERMA",
    "DSOUZA",
    "KAUR",
    "CHATTERJEE",
)
# (payer bank IFSC, bank name, VPA handle)
_BANKS = (
    ("HDFC0001234", "HDFC BANK", "okhdfcbank"),
    ("SBIN0004567", "STATE BANK OF INDIA", "oksbi"),
    ("ICIC0000789", "ICICI BANK", "okicici"),
    ("UTIB0000123", "AXIS BANK", "okaxis"),
    ("KKBK0000456", "KOTAK MAHINDRA BANK", "kotak"),
    ("PUNB0123400", "PUNJAB NATIONAL BANK", "ybl"),
    ("BARB0VJBAND", "BANK OF BARODA", "paytm"),
)
_NOTES = ("PAYMENT FROM PHONE", "UPI", "ORDER PAYMENT", "PAY TO MERCHANT")
POOL_SIZE = 600


class Parties:
    """A fixed pool of payers drawn from `rng`; `upi()` writes one credit's narration."""

    def __init__(self, rng: random.Random, style: str) -> None:
        self.rng = rng
        self.style = style
        self.pool: list[tuple[str, str, str, str]] = []
        for _ in range(POOL_SIZE):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            ifsc, bank, handle = rng.choice(_BANKS)
            vpa = f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{handle}"
            self.pool.append((f"{first} {last}", vpa, ifsc, bank))

    def upi(self, rrn: str | None) -> str:
        """Narration of a UPI credit carrying `rrn`, or none when `rrn` is None."""
        name, vpa, ifsc, bank = self.pool[int(self.rng.random() * POOL_SIZE)]
        if self.style == "hdfc":
            if rrn is None:
                return f"UPI-{name}-{vpa}-TRANSFER"
            return f"UPI-{name}-{vpa}-{ifsc}-{rrn}-{_NOTES[int(self.rng.random() * 4)]}"
        if rrn is None:
            return f"UPI/P2M/{name}/{bank}/TRANSFER"
        return f"UPI/P2M/{rrn}/{name}/{bank}/UPI"


def settlement(reference: str, utr: str) -> str:
    """NEFT credit of a settlement; `reference` is the settlement id or `MID <merchant>`."""
    return f"NEFT CR-YESB0000001-HISAABPAY SETTLEMENTS-{reference}-{utr}"


def vendor_refund(utr: str) -> str:
    return f"NEFT CR-HDFC0000240-REFUND FROM VENDOR-{utr}"


INTEREST = "CREDIT INTEREST CAPITALISED"
# (narration, amount in paise) of the account's own charges.
CHARGES: tuple[tuple[str, int], ...] = (
    ("SMS ALERT CHARGES INCL GST", 1_770),
    ("CHRG: INWARD REMITTANCE CHARGES INCL GST", 590),
    ("ACCOUNT MAINTENANCE CHARGES INCL GST", 59_000),
    ("CHRG: CASH HANDLING CHARGES INCL GST", 11_800),
    ("DEBIT CARD ANNUAL FEE INCL GST", 29_500),
)
