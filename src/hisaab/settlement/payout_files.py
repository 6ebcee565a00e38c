"""Bank payout files: the instructions that pay merchants, one adapter per bank layout.

Two layouts (settlement brief, 2.5; both from copies of bank manuals, so check them against
your bank's current specification before the first live file):

    generic-neft   the generic NEFT/RTGS CSV: a FILEHDR line (corporate id, file serial,
                   encryption flag, remarks), then one line per payment: payment type,
                   debit IFSC, debit account, receiver IFSC, beneficiary account, currency,
                   amount, transaction remarks, beneficiary name, email, remarks.
                   Files stay under 2 MB: a longer run is split into serials.
    hdfc-enet      HDFC's ENet bulk upload CSV: transaction type (N NEFT, R RTGS, I within
                   HDFC), beneficiary code, account, amount (17.2), name, print location,
                   five address lines, instruction reference, customer reference, seven
                   payment-detail lines, cheque number, date (DD/MM/YYYY), MICR, IFSC, bank,
                   branch, email. Named ClientCode + DDMM + .NNN; fields hold no commas.

Amounts are written from integer paise with exact decimal formatting. Text that the layouts
forbid (commas, line breaks) becomes a space, and names longer than a field are cut to it;
account numbers, IFSCs and references are never altered: one that does not fit is an error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hisaab.errors import InputError
from hisaab.settlement.merchants import ACCOUNT_NUMBER, IFSC

# RTGS carries payments of Rs 2 lakh and more; below that, NEFT (both run 24x7).
RTGS_MINIMUM_MINOR = 2_00_000_00
GENERIC_MAX_BYTES = 2 * 1024 * 1024
_REFERENCE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_UNSAFE = re.compile(r"[,\r\n\t\"]+")


@dataclass(frozen=True)
class PayoutInstruction:
    """One payment to a merchant's account; `reference` is how the reverse file names it."""

    reference: str
    merchant_id: str
    beneficiary_name: str
    account_number: str
    ifsc: str
    amount_minor: int
    value_date: dt.date
    currency: str = "INR"
    email: str = ""
    remarks: str = ""

    def __post_init__(self) -> None:
        where = f"payout {self.reference!r} (merchant {self.merchant_id})"
        if not _REFERENCE.match(self.reference):
            raise InputError(f"{where}: the reference", expected="1 to 20 letters, digits, _ or -")
        if self.currency != "INR":
            raise InputError(
                f"{where}: {self.currency}", expected="INR (bank payout files pay rupees)"
            )
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise InputError(f"{where}: amount {self.amount_minor!r}", expected="integer paise")
        if self.amount_minor <= 0:
            raise InputError(f"{where}: amount {self.amount_minor}", expected="more than 0 paise")
        if not ACCOUNT_NUMBER.match(self.account_number):
            raise InputError(
                f"{where}: account {self.account_number!r}", expected="6 to 34 letters or digits"
            )
        if not IFSC.match(self.ifsc):
            raise InputError(f"{where}: IFSC {self.ifsc!r}", expected="e.g. HDFC0001234")


@dataclass(frozen=True)
class DebitAccount:
    """The escrow (nodal) account the payouts leave from."""

    corporate_id: str
    account_number: str
    ifsc: str


@dataclass(frozen=True)
class PayoutFile:
    name: str
    content: bytes
    count: int
    total_minor: int


class PayoutFormat(Protocol):
    name: str

    def write(
        self,
        instructions: Sequence[PayoutInstruction],
        *,
        debit: DebitAccount,
        on_date: dt.date,
        first_serial: int = 1,
    ) -> list[PayoutFile]: ...


def rupees(minor: int) -> str:
    """Paise as the layouts write rupees: 123456 -> '1234.56' (no grouping, two decimals)."""
    whole, paise = divmod(minor, 100)
    return f"{whole}.{paise:02d}"


def _text(value: str, width: int) -> str:
    return _UNSAFE.sub(" ", value).strip()[:width].strip()


def _payment_type(p: PayoutInstruction) -> str:
    return "RTGS" if p.amount_minor >= RTGS_MINIMUM_MINOR else "NEFT"


class GenericNeft:
    """The generic NEFT/RTGS CSV with its FILEHDR line."""

    name = "generic-neft"

    def write(
        self,
        instructions: Sequence[PayoutInstruction],
        *,
        debit: DebitAccount,
        on_date: dt.date,
        first_serial: int = 1,
    ) -> list[PayoutFile]:
        _check_batch(instructions)
        lines = [
            ",".join(
                (
                    _payment_type(p),
                    debit.ifsc,
                    debit.account_number,
                    p.ifsc,
                    p.account_number,
                    p.currency,
                    rupees(p.amount_minor),
                    _text(f"{p.reference} {p.remarks}", 140),
                    _text(p.beneficiary_name, 40),
                    _text(p.email, 80),
                    _text(p.reference, 20),
                )
            )
            + "\r\n"
            for p in instructions
        ]
        files: list[PayoutFile] = []
        serial, start = first_serial, 0
        while start < len(lines):
            header = f"FILEHDR,{_text(debit.corporate_id, 32)},{serial:06d},N,{on_date:%Y%m%d}\r\n"
            size, end = len(header), start
            while end < len(lines) and size + len(lines[end]) <= GENERIC_MAX_BYTES:
                size += len(lines[end])
                end += 1
            chunk = instructions[start:end]
            files.append(
                PayoutFile(
                    f"{_text(debit.corporate_id, 32)}_{on_date:%Y%m%d}_{serial:06d}.csv",
                    (header + "".join(lines[start:end])).encode("ascii", "replace"),
                    len(chunk),
                    sum(p.amount_minor for p in chunk),
                )
            )
            serial, start = serial + 1, end
        return files


class HdfcEnet:
    """HDFC Bank's ENet bulk upload CSV (no header line)."""

    name = "hdfc-enet"

    def write(
        self,
        instructions: Sequence[PayoutInstruction],
        *,
        debit: DebitAccount,
        on_date: dt.date,
        first_serial: int = 1,
    ) -> list[PayoutFile]:
        _check_batch(instructions)
        if not 1 <= first_serial <= 999:
            raise InputError(f"file serial {first_serial}", expected="1 to 999 (the .NNN suffix)")
        rows = []
        for p in instructions:
            kind = "I" if p.ifsc.startswith("HDFC") else _payment_type(p)[0]
            fields = [
                kind,
                _text(p.merchant_id, 13),
                p.account_number,
                rupees(p.amount_minor),
                _text(p.beneficiary_name, 40),
                "",  # drawee / print location (drafts only)
                *[""] * 5,  # beneficiary address lines
                "",  # instruction reference
                p.reference,  # customer reference: what the reverse file names
                _text(p.remarks or f"Settlement {p.value_date:%d-%m-%Y}", 30),
                *[""] * 6,  # payment details 2 to 7
                "",  # cheque number
                f"{p.value_date:%d/%m/%Y}",
                "",  # MICR
                p.ifsc,
                "",  # beneficiary bank name
                "",  # branch
                _text(p.email, 100),
            ]
            rows.append(",".join(fields) + "\r\n")
        name = f"{_text(debit.corporate_id, 12)}{on_date:%d%m}.{first_serial:03d}"
        return [
            PayoutFile(
                name,
                "".join(rows).encode("ascii", "replace"),
                len(instructions),
                sum(p.amount_minor for p in instructions),
            )
        ]


FORMATS: dict[str, PayoutFormat] = {f.name: f for f in (GenericNeft(), HdfcEnet())}


def payout_format(name: str) -> PayoutFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise InputError(
            f"unknown payout file layout {name!r}", expected=", ".join(FORMATS)
        ) from None


def _check_batch(instructions: Sequence[PayoutInstruction]) -> None:
    if not instructions:
        raise InputError("a payout file with no payments", expected="at least one payout")
    seen: set[str] = set()
    for p in instructions:
        if p.reference in seen:
            raise InputError(
                f"payout reference {p.reference!r} twice in one file", expected="each once"
            )
        seen.add(p.reference)
