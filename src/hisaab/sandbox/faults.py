"""UPI credits (with their injected faults) and the statement lines unrelated to the PG.

Each captured UPI payment normally produces one credit carrying its RRN. A few are picked for
a fault; the truth of every record involved follows docs/simulate.md:

    upi_never_credited  no credit                               PG UNMATCHED_PG
    upi_amount_off      credit 1-500 INR off, same RRN and day  both AMOUNT_MISMATCH
    upi_no_rrn          credit without the RRN, same amount/day both UTR_MISSING
    bank_double_post    the credit posted twice                 all three DUPLICATE_UTR
    ambiguous           no-RRN credit plus a same-amount decoy  all three AMBIGUOUS
    pg_reused_rrn       a second payment repeats an RRN         the reuser DUPLICATE_UTR,
                                                                the original pair MATCHED

Payments that can only be paired by amount get a "loose" amount (see uniques.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial

from hisaab.sandbox import narrations
from hisaab.sandbox.model import (
    AMBIGUOUS,
    AMOUNT_MISMATCH,
    DUPLICATE_UTR,
    MATCHED,
    UNMATCHED_BANK,
    UNMATCHED_PG,
    UTR_MISSING,
    BankLine,
    Book,
    PgTable,
)
from hisaab.sandbox.uniques import Uniques

UPI_NEXT_DAY_SHARE = 0.10
# The faults a captured UPI payment can get, in the order they are picked.
UPI_FAULTS = (
    "upi_never_credited",
    "upi_amount_off",
    "upi_no_rrn",
    "bank_double_post",
    "ambiguous",
    "pg_reused_rrn",
)
_EXPECTED = {
    "upi_never_credited": UNMATCHED_PG,
    "upi_amount_off": AMOUNT_MISMATCH,
    "upi_no_rrn": UTR_MISSING,
    "bank_double_post": DUPLICATE_UTR,
    "ambiguous": AMBIGUOUS,
}


class UpiCredits:
    """Posts one credit per captured UPI payment, applying the faults picked by `choose`."""

    def __init__(
        self,
        book: Book,
        pg: PgTable,
        dates: list[date],
        rng: random.Random,
        uniq: Uniques,
        parties: narrations.Parties,
        loose_amount: Callable[[date], int],
    ) -> None:
        self.book, self.pg, self.dates = book, pg, dates
        self.rng, self.uniq, self.parties = rng, uniq, parties
        self.loose_amount = loose_amount
        self.roles: dict[int, str] = {}
        self.reuse_of: dict[int, int] = {}  # reusing payment -> payment whose RRN it repeats

    def choose(self, candidates: list[int], wanted: dict[str, int]) -> None:
        """Pick distinct payments among `candidates` for `wanted[kind]` faults of each kind."""
        need = sum(wanted.values()) + wanted["pg_reused_rrn"]  # a reuser needs an original
        if need > len(candidates):  # tiny data sets: fewer faults
            wanted = {k: v * len(candidates) // need for k, v in wanted.items()}
        picked = self.rng.sample(candidates, sum(wanted.values()) + wanted["pg_reused_rrn"])
        at = 0
        for kind in UPI_FAULTS:
            for i in picked[at : at + wanted[kind]]:
                self.roles[i] = kind
            at += wanted[kind]
        reusers = picked[at - wanted["pg_reused_rrn"] : at]
        self.reuse_of = dict(zip(reusers, picked[at:], strict=True))

    def post(self, upi: list[int]) -> None:
        pg, rng, book = self.pg, self.rng, self.book
        originals = set(self.reuse_of.values())
        credit_of: dict[int, BankLine] = {}
        for i in upi:
            kind = self.roles.get(i, "")
            on = self.dates[pg.day[i]]
            second = pg.second[i] + rng.randint(5, 900)
            rrn = pg.utr[i]
            if not kind:
                if rng.random() < UPI_NEXT_DAY_SHARE:
                    on, second = on + timedelta(days=1), rng.randint(0, 21_599)
                group = book.group()
                pg.expected[i], pg.group[i] = MATCHED, group
                text = self.parties.upi(rrn)
                line = book.post(on, second, pg.amount[i], "CR", text, utr=rrn, group=group)
                if i in originals:
                    credit_of[i] = line
            elif kind != "pg_reused_rrn":  # reusers are handled with their original below
                self._fault(i, kind, on, second)
        for reuser, original in self.reuse_of.items():
            self._reuse(reuser, original, credit_of[original])

    def _fault(self, i: int, kind: str, on: date, second: int) -> None:
        pg, rng, book, parties = self.pg, self.rng, self.book, self.parties
        fid = book.fault(kind)
        expected = _EXPECTED[kind]
        pg.fault[i], pg.fault_id[i], pg.expected[i] = kind, fid, expected
        tags = {"expected": expected, "fault": kind, "fault_id": fid}
        rrn = pg.utr[i]
        if kind in ("upi_never_credited", "upi_no_rrn", "ambiguous"):
            pg.amount[i] = self.loose_amount(on)
        amount = pg.amount[i]
        if kind == "upi_amount_off":
            delta = rng.randint(1, 500) * 100
            amount += -delta if amount > delta and rng.random() < 0.5 else delta
            book.post(on, second, amount, "CR", parties.upi(rrn), utr=rrn, **tags)
        elif kind == "upi_no_rrn":
            book.post(on, second, amount, "CR", parties.upi(None), **tags)
        elif kind == "bank_double_post":
            text = parties.upi(rrn)
            for later in (0, rng.randint(60, 3_600)):
                book.post(on, second + later, amount, "CR", text, utr=rrn, **tags)
        elif kind == "ambiguous":  # the payment's no-RRN credit and a decoy like it
            for later in (0, rng.randint(60, 3_600)):
                book.post(on, second + later, amount, "CR", parties.upi(None), **tags)

    def _reuse(self, reuser: int, original: int, credit: BankLine) -> None:
        """The PG export repeats `original`'s RRN on `reuser`, with another amount."""
        pg = self.pg
        kind, fid = "pg_reused_rrn", self.book.fault("pg_reused_rrn")
        on = self.dates[pg.day[reuser]]
        pg.amount[reuser] = self.loose_amount(on)
        while pg.amount[reuser] == pg.amount[original]:  # pragma: no cover - vanishingly rare
            pg.amount[reuser] = self.loose_amount(on)
        pg.utr[reuser] = pg.utr[original]
        pg.expected[reuser] = DUPLICATE_UTR
        for i in (reuser, original):
            pg.fault[i], pg.fault_id[i] = kind, fid
        credit.fault, credit.fault_id = kind, fid  # the original's credit is part of the story

    def post_unknown_rrn_credits(self, count: int) -> None:
        """UPI credits whose RRN no PG record has."""
        rng = self.rng
        for _ in range(count):
            on = self.dates[rng.randrange(len(self.dates))]
            amount = self.loose_amount(on)
            rrn = self.uniq.rrns(1)[0]
            fid = self.book.fault("unknown_rrn_credit")
            tags = {"expected": UNMATCHED_BANK, "fault": "unknown_rrn_credit", "fault_id": fid}
            text = self.parties.upi(rrn)
            self.book.post(on, rng.randint(0, 86_399), amount, "CR", text, utr=rrn, **tags)


def post_other_lines(book: Book, dates: list[date], rng: random.Random, uniq: Uniques) -> None:
    """Lines of the account that have nothing to do with the PG: charges, a refund, interest."""

    def tags(kind: str) -> dict[str, str]:
        return {"expected": UNMATCHED_BANK, "fault": kind, "fault_id": book.fault(kind)}

    for on in dates:
        for _ in range(rng.randint(1, 2)):
            text, fee = rng.choice(narrations.CHARGES)
            amount = uniq.fresh(on.toordinal(), partial(int, fee))
            book.post(on, rng.randint(79_200, 86_399), amount, "DR", text, **tags("bank_charge"))
    on = dates[len(dates) // 2]
    utr = uniq.neft_utr("HDFC", on)
    amount = uniq.fresh(on.toordinal(), lambda: rng.randint(500_000, 5_000_000))
    text = narrations.vendor_refund(utr)
    book.post(on, rng.randint(36_000, 61_200), amount, "CR", text, utr=utr, **tags("vendor_refund"))
    on = dates[-1]
    amount = uniq.fresh(on.toordinal(), lambda: rng.randint(50_000, 500_000))
    book.post(on, 86_399, amount, "CR", narrations.INTEREST, **tags("interest"))
