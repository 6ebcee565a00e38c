"""Generating PG payments, how their money reaches the bank, injected faults and the truth.

The model (docs/simulate.md has the whole story):

* UPI payments are collected one by one: each captured one has a 12-digit RRN and produces
  one bank credit of the gross amount (same day, or the next day for about 10%).
* CARD / NETBANKING / WALLET payments settle per (merchant, capture day) in one NEFT credit of
  sum(amount - fee - tax) the next day; PG rows carry `settlement_id` and `settlement_utr`.
  About 3% of small batches are "unlinked": no settlement id anywhere, only `MID <merchant>`.
* Faults are injected a few per thousand rows; each record's truth label says what a perfect
  reconciliation reports for it.

Everything comes from one `random.Random(seed)`, so a seed always gives the same files.
"""

from __future__ import annotations

import math
import os
import random
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path

from hisaab.errors import InputError
from hisaab.outputs import atomic_dir
from hisaab.sandbox import narrations
from hisaab.sandbox.faults import UPI_FAULTS, UpiCredits, post_other_lines
from hisaab.sandbox.model import (
    AMOUNT_MISMATCH,
    MATCHED,
    METHODS,
    UPI,
    UTR_MISSING,
    Batch,
    Book,
    PgTable,
    Simulation,
    SimulationConfig,
    gst_on,
    mdr_fee,
)
from hisaab.sandbox.uniques import Uniques
from hisaab.sandbox.writers import write_all

AMOUNT_SIGMA = 0.8  # log-space spread of payment amounts
PRICE_POINT_SHARE = 0.25  # share of amounts snapped to a price point such as 499.00
MIN_AMOUNT_MINOR = 100
MAX_AMOUNT_MINOR = 50_000_000
UNLINKED_SHARE = 0.03  # of settlement batches
UNLINKED_MAX_PAYMENTS = 12
SETTLEMENT_MISMATCH_SHARE = 0.02  # of linked batches
SETTLEMENT_MISMATCH_MAX_PAYMENTS = 50  # prefer small batches: a mismatch flags every member
FAULTS_ALWAYS_FROM_ROWS = 2_000  # from this many rows on, every fault kind occurs at least once
# Injected faults per PG transaction.
FAULT_RATES: dict[str, float] = {
    "upi_never_credited": 0.0008,
    "unknown_rrn_credit": 0.0005,
    "upi_amount_off": 0.0005,
    "upi_no_rrn": 0.0006,
    "pg_reused_rrn": 0.0003,
    "bank_double_post": 0.0003,
    "ambiguous": 0.0003,
}


def business_days(start: date, count: int) -> list[date]:
    """The first `count` weekdays from `start` on."""
    days: list[date] = []
    current = start
    while len(days) < count:
        if current.weekday() < 5:
            days.append(current)
        current += timedelta(days=1)
    return days


def generate(config: SimulationConfig) -> Simulation:
    """Generate the whole data set in memory (files are written by `writers`)."""
    config.validate()
    return _Generator(config).run()


def simulate(config: SimulationConfig, out: Path) -> Simulation:
    """Generate and write pg.csv, bank.csv, truth.csv and README.txt into `out`, atomically."""
    config.validate()
    check_writable(out)
    sim = generate(config)
    try:
        with atomic_dir(out) as staging:
            write_all(sim, staging)
    except OSError as exc:
        raise InputError(f"cannot write into {out}: {exc.strerror or exc}", file=out) from exc
    return sim


def check_writable(out: Path) -> None:
    """Fail early (before minutes of work) when `out` cannot become a directory we write in."""
    if out.exists() and not out.is_dir():
        raise InputError(
            f"{out} exists and is not a directory",
            expected="a directory path (it is created when missing)",
        )
    ancestor = out
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"cannot create {out}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"cannot create or write {out}: {ancestor} is not writable")


class _Generator:
    def __init__(self, config: SimulationConfig) -> None:
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.uniq = Uniques(self.rng)
        self.book = Book()
        self.mu = [math.log(p.mean_minor / 100) - AMOUNT_SIGMA**2 / 2 for p in METHODS]

    def _draw(self, method: int, *, price_points: bool = True) -> int:
        """A lognormal amount with the method's mean, in paise; some at price points (499.00)."""
        rupees = math.exp(self.rng.gauss(self.mu[method], AMOUNT_SIGMA))
        if price_points and rupees >= 150 and self.rng.random() < PRICE_POINT_SHARE:
            return (round(rupees / 100) * 100 - 1) * 100
        return min(MAX_AMOUNT_MINOR, max(MIN_AMOUNT_MINOR, round(rupees * 100)))

    def _loose_upi_amount(self, on: date) -> int:
        return self.uniq.fresh(on.toordinal(), lambda: self._draw(UPI, price_points=False))

    def _count(self, total: int, share: float) -> int:
        n = round(total * share)
        return max(n, 1) if self.cfg.rows >= FAULTS_ALWAYS_FROM_ROWS and total else n

    def run(self) -> Simulation:
        cfg, rng = self.cfg, self.rng
        dates = business_days(cfg.start_date, cfg.days)
        self.dates = dates
        self.merchant_ids = [f"M{n:07d}" for n in rng.sample(range(1_000, 10**7), cfg.merchants)]
        style = "hdfc" if cfg.bank_format in ("hdfc", "canonical") else "slash"
        parties = narrations.Parties(rng, style)
        self.pg = self._payments()
        batches = self._batches()
        upi = UpiCredits(self.book, self.pg, dates, rng, self.uniq, parties, self._loose_upi_amount)
        # Payments of merchants with an unlinked batch stay fault-free, so that batch is the only
        # loose set of that merchant's payments and its subset sum is unique.
        upi.choose(
            [i for i in self.upi if self.pg.merchant[i] not in self.unlinked_merchants],
            {kind: self._count(cfg.rows, FAULT_RATES[kind]) for kind in UPI_FAULTS},
        )
        upi.post(self.upi)
        upi.post_unknown_rrn_credits(self._count(cfg.rows, FAULT_RATES["unknown_rrn_credit"]))
        self._settlements(batches)
        post_other_lines(self.book, dates, rng, self.uniq)
        bank = sorted(self.book.lines, key=lambda b: (b.value_date, b.second, b.seq))
        opening = rng.randrange(10**7, 5 * 10**8)
        return Simulation(
            cfg, dates, self.merchant_ids, self.pg, bank, batches, opening, self.book.counts
        )

    def _merchant_weights(self) -> list[float]:
        """Zipf-like big merchants plus a tail of small ones (4 to 14 payments a day each)."""
        cfg, rng = self.cfg, self.rng
        n_small = cfg.merchants // 5
        small = [rng.randint(4, 14) * cfg.days / cfg.rows for _ in range(n_small)]
        small_total = sum(small)
        if small_total > 0.2:
            small = [w * 0.2 / small_total for w in small]
            small_total = 0.2
        zipf = [1 / k**1.1 for k in range(1, cfg.merchants - n_small + 1)]
        scale = (1 - small_total) / sum(zipf)
        return [w * scale for w in zipf] + small

    def _payments(self) -> PgTable:
        """All PG transactions in created_at order (times are iid, so sorting them is enough)."""
        cfg, rng = self.cfg, self.rng
        n = cfg.rows
        per_day = [0] * cfg.days
        for d in rng.choices(range(cfg.days), k=n):
            per_day[d] += 1
        day: list[int] = []
        second: list[int] = []
        tri = rng.triangular
        for d, c in enumerate(per_day):
            day.extend([d] * c)
            second.extend(sorted(int(tri(0, 86_399, 50_400)) for _ in range(c)))
        method_cum = list(accumulate(p.share for p in METHODS))
        method = rng.choices(range(len(METHODS)), cum_weights=method_cum, k=n)
        merchant_cum = list(accumulate(self._merchant_weights()))
        merchant = rng.choices(range(cfg.merchants), cum_weights=merchant_cum, k=n)
        rate = [p.success_rate for p in METHODS]
        rand = rng.random
        ok = [rand() < rate[m] for m in method]
        draw = self._draw
        amount = [draw(m) for m in method]
        return PgTable(
            payment_id=self.uniq.ids_with("pay_", n, 14),
            order_id=self.uniq.ids_with("order_", n, 10),
            merchant=merchant,
            method=method,
            ok=ok,
            day=day,
            second=second,
            amount=amount,
            fee=[0] * n,
            tax=[0] * n,
            utr=[""] * n,
            settlement_id=[""] * n,
            settlement_utr=[""] * n,
            expected=[""] * n,
            group=[""] * n,
            fault=[""] * n,
            fault_id=[""] * n,
        )

    def _batches(self) -> list[Batch]:
        """Fees, taxes, RRNs and settlement batches; pick unlinked and mismatched batches."""
        pg, rng = self.pg, self.rng
        by_key: dict[tuple[int, int], list[int]] = {}
        self.upi: list[int] = []
        for i in range(len(pg)):
            if not pg.ok[i]:
                continue
            m = pg.method[i]
            if m == UPI:
                self.upi.append(i)
                continue
            fee = mdr_fee(pg.amount[i], METHODS[m].mdr_bp)
            pg.fee[i], pg.tax[i] = fee, gst_on(fee)
            by_key.setdefault((pg.day[i], pg.merchant[i]), []).append(i)
        for i, rrn in zip(self.upi, self.uniq.rrns(len(self.upi)), strict=True):
            pg.utr[i] = rrn
        batches = [Batch(m, d, members) for (d, m), members in sorted(by_key.items())]
        for b in batches:
            b.net_minor = sum(pg.amount[i] - pg.fee[i] - pg.tax[i] for i in b.members)
            b.credit_minor = b.net_minor

        # Unlinked: at most one per merchant, so no other loose payment of that merchant is
        # near its credit (UPI faults avoid these merchants too): the subset is unique.
        eligible = [b for b in batches if len(b.members) <= UNLINKED_MAX_PAYMENTS]
        rng.shuffle(eligible)
        wanted = self._count(len(batches), UNLINKED_SHARE)
        self.unlinked_merchants: set[int] = set()
        for b in eligible:
            if len(self.unlinked_merchants) >= wanted:
                break
            if b.merchant not in self.unlinked_merchants:
                b.linked = False
                self.unlinked_merchants.add(b.merchant)
                captured_on = self.dates[b.day].toordinal()
                for i in b.members:
                    self.uniq.hold(pg.amount[i], captured_on)
                # no other loose line near the credit may equal the batch or a part of it
                sums = {0}
                for i in b.members:
                    net = pg.amount[i] - pg.fee[i] - pg.tax[i]
                    sums |= {s + net for s in sums}
                for total in sorted(sums - {0}):
                    self.uniq.hold(total, captured_on + 1)
        linked = [b for b in batches if b.linked]
        small = [b for b in linked if len(b.members) <= SETTLEMENT_MISMATCH_MAX_PAYMENTS]
        pool = small or sorted(linked, key=lambda b: len(b.members))[:1]
        wanted = min(len(pool), self._count(len(linked), SETTLEMENT_MISMATCH_SHARE))
        self.mismatched = {id(b) for b in rng.sample(pool, wanted)}
        return batches

    def _settlements(self, batches: list[Batch]) -> None:
        pg, rng = self.pg, self.rng
        for b in batches:
            on = self.dates[b.day] + timedelta(days=1)
            utr = self.uniq.neft_utr("YESB", on)
            expected, group, kind, fid = MATCHED, self.book.group(), "", ""
            if not b.linked:
                # Found by a subset sum, not by a reference: proposed for review, not automatic.
                expected = UTR_MISSING
                kind, fid = "unlinked_batch", self.book.fault("unlinked_batch")
                reference = f"MID {self.merchant_ids[b.merchant]}"
            else:
                b.settlement_id = self.uniq.ids_with("setl_", 1, 14)[0]
                b.settlement_utr = utr
                reference = b.settlement_id
                if id(b) in self.mismatched:
                    kind, fid = "settlement_amount_off", self.book.fault("settlement_amount_off")
                    expected, group = AMOUNT_MISMATCH, ""
                    delta = rng.randint(1, 500) * 100
                    lower = b.net_minor > delta and rng.random() < 0.5
                    b.credit_minor = b.net_minor - delta if lower else b.net_minor + delta
            for i in b.members:
                pg.settlement_id[i], pg.settlement_utr[i] = b.settlement_id, b.settlement_utr
                pg.expected[i], pg.group[i] = expected, group
                pg.fault[i], pg.fault_id[i] = kind, fid
            self.book.post(
                on,
                rng.randint(36_000, 46_800),
                b.credit_minor,
                "CR",
                narrations.settlement(reference, utr),
                utr=utr,
                settlement_id=b.settlement_id,
                merchant_id="" if b.linked else self.merchant_ids[b.merchant],
                expected=expected,
                group=group,
                fault=kind,
                fault_id=fid,
            )
