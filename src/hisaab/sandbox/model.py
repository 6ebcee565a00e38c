"""What a simulation is made of: its settings, the records it generates and the truth labels.

The generator (`simulate.py`) fills these; the writers (`writers.py`) only lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from hisaab.errors import InputError

BANK_FORMATS: tuple[str, ...] = ("hdfc", "icici", "axis", "canonical")
START_DATE = date(2024, 1, 15)
MAX_DAYS = 366
MAX_MERCHANTS = 100_000

MATCHED = "MATCHED"
UNMATCHED_PG = "UNMATCHED_PG"
UNMATCHED_BANK = "UNMATCHED_BANK"
AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
UTR_MISSING = "UTR_MISSING"
DUPLICATE_UTR = "DUPLICATE_UTR"
AMBIGUOUS = "AMBIGUOUS"
EXCEPTION_CATEGORIES: tuple[str, ...] = (
    UNMATCHED_PG,
    UNMATCHED_BANK,
    AMOUNT_MISMATCH,
    UTR_MISSING,
    DUPLICATE_UTR,
    AMBIGUOUS,
)
LABELS: tuple[str, ...] = (MATCHED, *EXCEPTION_CATEGORIES)

# Fault kinds, as written in truth.csv's `fault` column, with what each one is.
FAULT_KINDS: dict[str, str] = {
    "upi_never_credited": "UNMATCHED_PG: successful UPI payment never credited",
    "unknown_rrn_credit": "UNMATCHED_BANK: UPI credit whose RRN no PG record has",
    "bank_charge": "UNMATCHED_BANK: bank charge (debit)",
    "vendor_refund": "UNMATCHED_BANK: NEFT refund from a vendor",
    "interest": "UNMATCHED_BANK: interest credit",
    "upi_amount_off": "AMOUNT_MISMATCH: UPI credit 1-500 INR off the payment",
    "settlement_amount_off": "AMOUNT_MISMATCH: settlement credit off its net sum",
    "upi_no_rrn": "UTR_MISSING: UPI credit without the RRN",
    "pg_reused_rrn": "DUPLICATE_UTR: second PG payment reusing an RRN",
    "bank_double_post": "DUPLICATE_UTR: UPI credit posted twice",
    "ambiguous": "AMBIGUOUS: no-RRN credit plus a same-amount decoy",
    "unlinked_batch": "UTR_MISSING: settlement naming only the merchant, found by subset sum",
}


@dataclass(frozen=True)
class MethodProfile:
    """How one payment method behaves (from the ops seed: success rate, average amount)."""

    name: str
    share: float  # of all PG transactions
    success_rate: float
    mean_minor: int
    mdr_bp: int  # merchant discount rate in basis points of the amount (0: zero-MDR UPI)


METHODS: tuple[MethodProfile, ...] = (
    MethodProfile("UPI", 0.55, 0.92, 85_000, 0),
    MethodProfile("CARD", 0.20, 0.88, 120_000, 200),
    MethodProfile("NETBANKING", 0.10, 0.85, 250_000, 190),
    MethodProfile("WALLET", 0.15, 0.95, 40_000, 150),
)
UPI = 0
GST_PERCENT = 18


def mdr_fee(amount_minor: int, mdr_bp: int) -> int:
    """MDR on an amount, rounded half-up to the paisa in integer arithmetic."""
    return (amount_minor * mdr_bp + 5_000) // 10_000


def gst_on(fee_minor: int) -> int:
    """GST (18%) on a fee, rounded half-up to the paisa."""
    return (fee_minor * GST_PERCENT + 50) // 100


@dataclass(frozen=True)
class SimulationConfig:
    """What `hisaab simulate` was asked for."""

    rows: int
    seed: int = 7
    bank_format: str = "canonical"
    days: int = 3
    merchants: int = 25
    start_date: date = START_DATE

    def validate(self) -> None:
        if self.rows <= 0:
            raise InputError(
                f"--rows must be a positive number of PG transactions, got {self.rows}",
                expected="an integer of at least 1",
            )
        if self.bank_format not in BANK_FORMATS:
            raise InputError(
                f"unknown --bank-format {self.bank_format!r}",
                expected="one of " + ", ".join(BANK_FORMATS),
            )
        if not 1 <= self.days <= MAX_DAYS:
            raise InputError(f"--days must be between 1 and {MAX_DAYS}, got {self.days}")
        if not 1 <= self.merchants <= MAX_MERCHANTS:
            raise InputError(
                f"--merchants must be between 1 and {MAX_MERCHANTS}, got {self.merchants}"
            )


@dataclass
class PgTable:
    """The PG export, one list per column, in file order (by created_at)."""

    payment_id: list[str]
    order_id: list[str]
    merchant: list[int]  # index into Simulation.merchant_ids
    method: list[int]  # index into METHODS
    ok: list[bool]  # captured (True) or failed
    day: list[int]  # index into Simulation.capture_dates
    second: list[int]  # seconds after local midnight (IST)
    amount: list[int]
    fee: list[int]
    tax: list[int]
    utr: list[str]
    settlement_id: list[str]
    settlement_utr: list[str]
    expected: list[str]
    group: list[str]
    fault: list[str]
    fault_id: list[str]

    def __len__(self) -> int:
        return len(self.payment_id)


@dataclass(slots=True)
class BankLine:
    """One statement line; `utr`, `settlement_id`, `merchant_id` are what its narration shows."""

    value_date: date
    second: int
    seq: int
    amount_minor: int
    direction: str
    narration: str
    utr: str = ""
    settlement_id: str = ""
    merchant_id: str = ""
    expected: str = MATCHED
    group: str = ""
    fault: str = ""
    fault_id: str = ""


@dataclass(slots=True)
class Batch:
    """One settlement: a merchant's captured CARD/NETBANKING/WALLET payments of one day."""

    merchant: int
    day: int
    members: list[int]
    net_minor: int = 0
    settlement_id: str = ""
    settlement_utr: str = ""
    linked: bool = True  # False: PG rows lack the settlement id; the bank names the merchant
    credit_minor: int = 0


@dataclass
class Simulation:
    """Everything generated: the PG export, the bank statement (sorted) and the truth."""

    config: SimulationConfig
    capture_dates: list[date]
    merchant_ids: list[str]
    pg: PgTable
    bank: list[BankLine]
    batches: list[Batch]
    opening_balance_minor: int
    fault_counts: dict[str, int] = field(default_factory=dict)

    def truth_counts(self) -> dict[str, int]:
        """Truth rows per expected label (PG records are the captured payments)."""
        counts = dict.fromkeys(LABELS, 0)
        for ok, label in zip(self.pg.ok, self.pg.expected, strict=True):
            if ok:
                counts[label] += 1
        for line in self.bank:
            counts[line.expected] += 1
        return counts


class Book:
    """The bank statement being written: its lines, and the match groups and fault ids."""

    def __init__(self) -> None:
        self.lines: list[BankLine] = []
        self.counts = dict.fromkeys(FAULT_KINDS, 0)
        self._groups = 0
        self._faults = 0

    def group(self) -> str:
        """A new match group id."""
        self._groups += 1
        return f"G{self._groups:07d}"

    def fault(self, kind: str) -> str:
        """A new fault id, counted under `kind`."""
        self._faults += 1
        self.counts[kind] += 1
        return f"F{self._faults:05d}"

    def post(
        self, on: date, second: int, amount: int, direction: str, narration: str, **truth: str
    ) -> BankLine:
        """Add a line (`truth`: utr, settlement_id, merchant_id, expected, group, fault...)."""
        line = BankLine(
            on, min(second, 86_399), len(self.lines), amount, direction, narration, **truth
        )
        self.lines.append(line)
        return line
