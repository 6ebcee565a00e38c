"""Laying a simulation out as files: pg.csv, bank.csv (one of four layouts), truth.csv, README.

Every record is one physical line, so a record's `source_line` in truth.csv is its 1-based line
number in its file, counting preamble and header lines.

Bank layouts (headers exactly as the bank templates expect them):

    hdfc       preamble, `Date,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Deposit Amt.,
               Closing Balance`, dd/mm/yy, Indian grouping ("1,18,043.75"), blank cell when no
               amount, then a row of asterisks and a STATEMENT SUMMARY block
    icici      `S No.,Value Date,Transaction Date,Cheque Number,Transaction Remarks,Withdrawal
               Amount (INR ),Deposit Amount (INR ),Balance (INR )`, dd/mm/yyyy, 0.00 when none
    axis       `Name :-` ... `Statement of Account No - ... (From : dd-mm-yyyy To : ...)`, blank
               line, `Tran Date,CHQNO,PARTICULARS,DR,CR,BAL,SOL`, amounts space-padded, `-` cheque
    canonical  the canonical CSV of ingest/records.py (no balance column)

The HDFC `Chq./Ref.No.` cell repeats the reference the narration shows (empty when none).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from hisaab.ingest.records import CANONICAL_COLUMNS
from hisaab.sandbox.model import FAULT_KINDS, LABELS, METHODS, Simulation

if TYPE_CHECKING:
    from _csv import Writer

PG_GENERIC_COLUMNS: tuple[str, ...] = (
    "payment_id",
    "order_id",
    "merchant_id",
    "method",
    "status",
    "amount",
    "currency",
    "fee",
    "tax",
    "utr",
    "settlement_id",
    "settlement_utr",
    "created_at",
)
TRUTH_COLUMNS: tuple[str, ...] = (
    "side",
    "record_id",
    "source_line",
    "expected",
    "match_group",
    "amount_minor",
    "fault",
    "fault_id",
)
HDFC_HEADER = (
    "Date",
    "Narration",
    "Chq./Ref.No.",
    "Value Dt",
    "Withdrawal Amt.",
    "Deposit Amt.",
    "Closing Balance",
)
ICICI_HEADER = (
    "S No.",
    "Value Date",
    "Transaction Date",
    "Cheque Number",
    "Transaction Remarks",
    "Withdrawal Amount (INR )",
    "Deposit Amount (INR )",
    "Balance (INR )",
)
AXIS_HEADER = ("Tran Date", "CHQNO", "PARTICULARS", "DR", "CR", "BAL", "SOL")
ACCOUNT_NAME = "HISAABPAY COLLECTIONS PVT LTD"
AXIS_PAD = 15
SUCCESS_STATUS = "captured"
FAILED_STATUS = "failed"


def major(minor: int) -> str:
    """Non-negative minor units as plain major units: 85000 -> "850.00"."""
    return f"{minor // 100}.{minor % 100:02d}"


def indian(minor: int) -> str:
    """Non-negative minor units with Indian digit grouping: 11804375 -> "1,18,043.75"."""
    rupees, paise = divmod(minor, 100)
    text = str(rupees)
    if len(text) > 3:
        head, tail = text[:-3], text[-3:]
        lead = len(head) % 2
        parts = [head[:lead]] if lead else []
        parts += [head[k : k + 2] for k in range(lead, len(head), 2)]
        text = ",".join(parts) + "," + tail
    return f"{text}.{paise:02d}"


def _writer(handle: TextIO) -> Writer:
    return csv.writer(handle, lineterminator="\n")


def write_all(sim: Simulation, directory: Path) -> None:
    """Write pg.csv, bank.csv, truth.csv and README.txt into `directory`."""
    pg_lines = write_pg(sim, directory / "pg.csv")
    first_bank_line = write_bank(sim, directory / "bank.csv")
    write_truth(sim, directory / "truth.csv", pg_lines, first_bank_line)
    (directory / "README.txt").write_text(readme(sim) + "\n", encoding="utf-8")


def write_pg(sim: Simulation, path: Path) -> list[int]:
    """Write the PG export; return each payment's physical line (0 when not written)."""
    pg = sim.pg
    canonical = sim.config.bank_format == "canonical"
    day_text = [d.isoformat() for d in sim.capture_dates]
    lines = [0] * len(pg)
    line = 1
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = _writer(fh)
        out.writerow(CANONICAL_COLUMNS if canonical else PG_GENERIC_COLUMNS)
        for i in range(len(pg)):
            ok = pg.ok[i]
            if canonical and not ok:
                continue
            line += 1
            lines[i] = line
            s = pg.second[i]
            created = f"{day_text[pg.day[i]]}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+05:30"
            merchant = sim.merchant_ids[pg.merchant[i]]
            if canonical:
                out.writerow(
                    (
                        pg.payment_id[i],
                        "pg",
                        pg.amount[i],
                        "INR",
                        "CR",
                        day_text[pg.day[i]],
                        created,
                        pg.utr[i],
                        pg.order_id[i],
                        pg.settlement_id[i],
                        pg.fee[i],
                        pg.tax[i],
                        METHODS[pg.method[i]].name,
                        "",
                        line,
                        "",
                        merchant,
                        pg.settlement_utr[i],
                    )
                )
            else:
                out.writerow(
                    (
                        pg.payment_id[i],
                        pg.order_id[i],
                        merchant,
                        METHODS[pg.method[i]].name,
                        SUCCESS_STATUS if ok else FAILED_STATUS,
                        major(pg.amount[i]),
                        "INR",
                        major(pg.fee[i]),
                        major(pg.tax[i]),
                        pg.utr[i],
                        pg.settlement_id[i],
                        pg.settlement_utr[i],
                        created,
                    )
                )
    return lines


def _balances(sim: Simulation) -> Iterator[int]:
    balance = sim.opening_balance_minor
    for line in sim.bank:
        balance += line.amount_minor if line.direction == "CR" else -line.amount_minor
        yield balance


def write_bank(sim: Simulation, path: Path) -> int:
    """Write the bank statement in the configured layout; return the first data line."""
    fmt = sim.config.bank_format
    first, last = sim.bank[0].value_date, sim.bank[-1].value_date
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = _writer(fh)
        if fmt == "hdfc":
            preamble = [
                "HDFC BANK Ltd.",
                ACCOUNT_NAME,
                "Account No : 50200012345678   Currency : INR   Branch : MUMBAI - FORT",
                f"Statement From : {first:%d/%m/%y}   To : {last:%d/%m/%y}",
                "",
            ]
            fh.write("\n".join(preamble) + "\n")
            out.writerow(HDFC_HEADER)
            out.writerows(_hdfc_rows(sim))
            _hdfc_summary(sim, fh)
        elif fmt == "icici":
            preamble = []
            out.writerow(ICICI_HEADER)
            out.writerows(_icici_rows(sim))
        elif fmt == "axis":
            preamble = [
                f"Name :- {ACCOUNT_NAME}",
                "Customer ID :- 845512345",
                "IFSC Code :- UTIB0000123",
                "Statement of Account No - 912345678901234 for the period "
                f"(From : {first:%d-%m-%Y} To : {last:%d-%m-%Y})",
                "",
            ]
            fh.write("\n".join(preamble) + "\n")
            out.writerow(AXIS_HEADER)
            out.writerows(_axis_rows(sim))
        else:
            preamble = []
            out.writerow(CANONICAL_COLUMNS)
            out.writerows(_canonical_rows(sim))
    return len(preamble) + 2


def _hdfc_rows(sim: Simulation) -> Iterator[tuple[str, ...]]:
    texts: dict[date, str] = {}
    for line, balance in zip(sim.bank, _balances(sim), strict=True):
        day = texts.get(line.value_date) or texts.setdefault(
            line.value_date, f"{line.value_date:%d/%m/%y}"
        )
        amount = indian(line.amount_minor)
        dr, cr = ("", amount) if line.direction == "CR" else (amount, "")
        yield (day, line.narration, line.utr, day, dr, cr, indian(balance))


def _hdfc_summary(sim: Simulation, fh: TextIO) -> None:
    debits = [b.amount_minor for b in sim.bank if b.direction == "DR"]
    credits = [b.amount_minor for b in sim.bank if b.direction == "CR"]
    closing = sim.opening_balance_minor + sum(credits) - sum(debits)
    out = _writer(fh)
    out.writerow(["*" * 8] * len(HDFC_HEADER))
    out.writerow(["STATEMENT SUMMARY  :-"])
    out.writerow(["Opening Balance", "Dr Count", "Cr Count", "Debits", "Credits", "Closing Bal"])
    out.writerow(
        [
            indian(sim.opening_balance_minor),
            len(debits),
            len(credits),
            indian(sum(debits)),
            indian(sum(credits)),
            indian(closing),
        ]
    )
    out.writerow([f"Generated On: {sim.bank[-1].value_date:%d/%m/%y}"])
    out.writerow(["This is a computer generated statement and does not require signature."])


def _icici_rows(sim: Simulation) -> Iterator[tuple[object, ...]]:
    texts: dict[date, str] = {}
    for n, (line, balance) in enumerate(zip(sim.bank, _balances(sim), strict=True), start=1):
        day = texts.get(line.value_date) or texts.setdefault(
            line.value_date, f"{line.value_date:%d/%m/%Y}"
        )
        amount = indian(line.amount_minor)
        dr, cr = ("0.00", amount) if line.direction == "CR" else (amount, "0.00")
        yield (n, day, day, "", line.narration, dr, cr, indian(balance))


def _axis_rows(sim: Simulation) -> Iterator[tuple[str, ...]]:
    texts: dict[date, str] = {}
    for line, balance in zip(sim.bank, _balances(sim), strict=True):
        day = texts.get(line.value_date) or texts.setdefault(
            line.value_date, f"{line.value_date:%d-%m-%Y}"
        )
        amount = indian(line.amount_minor).rjust(AXIS_PAD)
        dr, cr = ("", amount) if line.direction == "CR" else (amount, "")
        yield (day, "-", line.narration, dr, cr, indian(balance).rjust(AXIS_PAD), "123")


def _canonical_rows(sim: Simulation) -> Iterator[tuple[object, ...]]:
    for n, line in enumerate(sim.bank, start=1):
        yield (
            f"bank-{n:06d}",
            "bank",
            line.amount_minor,
            "INR",
            line.direction,
            line.value_date.isoformat(),
            "",
            line.utr,
            "",
            line.settlement_id,
            "",
            "",
            line.narration,
            "",
            n + 1,
            "",
            line.merchant_id,
            "",
        )


def write_truth(sim: Simulation, path: Path, pg_lines: list[int], first_bank_line: int) -> None:
    """One row per captured payment and per bank line: what a perfect reconciliation says."""
    pg = sim.pg
    canonical = sim.config.bank_format == "canonical"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = _writer(fh)
        out.writerow(TRUTH_COLUMNS)
        out.writerows(
            (
                "pg",
                pg.payment_id[i],
                pg_lines[i],
                pg.expected[i],
                pg.group[i],
                pg.amount[i],
                pg.fault[i],
                pg.fault_id[i],
            )
            for i in range(len(pg))
            if pg.ok[i]
        )
        out.writerows(
            (
                "bank",
                f"bank-{n:06d}" if canonical else "",
                first_bank_line + n - 1,
                line.expected,
                line.group,
                line.amount_minor,
                line.fault,
                line.fault_id,
            )
            for n, line in enumerate(sim.bank, start=1)
        )


def readme(sim: Simulation) -> str:
    """One paragraph: what was generated and how many faults of each kind."""
    cfg, pg = sim.config, sim.pg
    captured = sum(pg.ok)
    per_method = ", ".join(
        f"{p.name} {sum(1 for m in pg.method if m == k)}" for k, p in enumerate(METHODS)
    )
    unlinked = sum(1 for b in sim.batches if not b.linked)
    truth = sim.truth_counts()
    faults = "; ".join(f"{FAULT_KINDS[kind]}: {count}" for kind, count in sim.fault_counts.items())
    return (
        f"Simulated by `hisaab simulate --rows {cfg.rows} --seed {cfg.seed} --bank-format "
        f"{cfg.bank_format} --days {cfg.days} --merchants {cfg.merchants}`. pg.csv holds "
        f"{len(pg)} PG transactions ({captured} captured, {len(pg) - captured} failed; "
        f"{per_method}) of {cfg.merchants} merchants captured on {cfg.days} business days "
        f"from {sim.capture_dates[0].isoformat()} to {sim.capture_dates[-1].isoformat()}"
        + (
            ", failed payments left out of the canonical file"
            if cfg.bank_format == "canonical"
            else ""
        )
        + f". bank.csv is a {cfg.bank_format} statement of {len(sim.bank)} lines from "
        f"{sim.bank[0].value_date.isoformat()} to {sim.bank[-1].value_date.isoformat()}: one "
        f"credit per UPI payment and one NEFT credit per settlement batch ({len(sim.batches)} "
        f"batches, {unlinked} of them naming only the merchant), plus unrelated lines. "
        "truth.csv gives every captured payment and every bank line its expected outcome ("
        + ", ".join(f"{label} {truth[label]}" for label in LABELS)
        + f" records). Injected faults: {faults}."
    )
