"""The settlement brief's worked example, in paise, and its won and lost variants.

Merchant on T+1 with a 5% rolling reserve. Monday 2 March 2026: a Visa credit card payment
of Rs 10,000 (MDR 2%), a RuPay debit card payment of Rs 2,500 and a UPI payment of Rs 1,499
(both zero MDR), a netbanking payment of Rs 5,000 (MDR 1.9%); GST 18% on every fee. The same
cycle refunds Rs 1,200 of an older order, opens dispute D1 for Rs 3,000, holds 5% of the
gross, releases Rs 800 of a 30-day-old reserve and carries Rs 500 owed from before.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from hisaab.errors import InputError
from hisaab.settlement.compute import (
    Adjustment,
    Capture,
    CycleInput,
    DisputeEvent,
    Refund,
    ReserveRelease,
    Terms,
    settle,
)

MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)


def terms(**kw: object) -> Terms:
    base: dict[str, object] = {
        "merchant_id": "M1",
        "reserve_percent": Decimal(5),
        "reserve_days": 30,
    }
    return Terms(**{**base, **kw})  # type: ignore[arg-type]


def cycle_one(**kw: object) -> CycleInput:
    base: dict[str, object] = {
        "cycle_date": MONDAY,
        "captures": (
            Capture("pay_visa", 1_000_000, "card", "visa_credit"),
            Capture("pay_rupay", 250_000, "card", "rupay_debit"),
            Capture("pay_upi", 149_900, "upi", "bank_account"),
            Capture("pay_nb", 500_000, "netbanking"),
        ),
        "refunds": (Refund("rfn_1", 120_000, "pay_older"),),
        "disputes": (DisputeEvent("D1", "opened", 300_000),),
        "releases": (ReserveRelease("hold_2026-01-31", 80_000),),
        "carried_minor": -50_000,
    }
    return CycleInput(**{**base, **kw})  # type: ignore[arg-type]


def cycle_two(d1: str) -> CycleInput:
    return CycleInput(
        cycle_date=TUESDAY,
        captures=(Capture("pay_upi_2", 60_000, "upi"),),
        refunds=(Refund("rfn_2", 200_000, "pay_visa"),),
        disputes=(DisputeEvent("D1", d1, 300_000),),  # type: ignore[arg-type]
    )


def test_the_brief_example_pays_13800_rupees_95_paise() -> None:
    s = settle(terms(), cycle_one())
    assert s.components() == {
        "gross": 1_899_900,
        "fees": -29_500,  # 20,000 on the Visa payment + 9,500 on netbanking
        "gst": -5_310,  # 3,600 + 1,710
        "refunds": -120_000,
        "dispute_debits": -300_000,
        "dispute_reversals": 0,
        "reserve_hold": -94_995,
        "reserve_release": 80_000,
        "carry_forward": -50_000,
        "adjustments": 0,
        "net": 1_380_095,
    }
    assert (s.payout_minor, s.carry_forward_minor, s.debit_minor) == (1_380_095, 0, 0)
    assert s.reserve_available_on == date(2026, 4, 1)


def test_every_fee_can_be_recomputed_from_its_own_line() -> None:
    s = settle(terms(), cycle_one())
    by_payment = {(line.source_id, line.kind): line.amount_minor for line in s.lines}
    assert by_payment[("pay_visa", "mdr_fee")] == -20_000
    assert by_payment[("pay_visa", "gst_on_fee")] == -3_600
    assert by_payment[("pay_nb", "gst_on_fee")] == -1_710
    # Zero-MDR payments book no fee lines at all.
    assert ("pay_upi", "mdr_fee") not in by_payment
    assert ("pay_rupay", "mdr_fee") not in by_payment


def test_dispute_lost_after_a_debit_at_opening_costs_nothing_more() -> None:
    first = settle(terms(), cycle_one())
    second = settle(terms(), cycle_two("lost"))
    assert first.net_minor == 1_380_095
    assert second.net_minor == -143_000  # 60,000 - 200,000 refund - 3,000 reserve
    assert (second.payout_minor, second.carry_forward_minor) == (0, -143_000)


def test_dispute_won_after_a_debit_at_opening_gives_the_money_back() -> None:
    second = settle(terms(), cycle_two("won"))
    assert second.net_minor == 157_000
    assert second.total("dispute_reversal") == 300_000
    assert second.payout_minor == 157_000


def test_debit_only_when_lost_pays_more_first_and_takes_it_when_lost() -> None:
    policy = terms(dispute_debit="when_lost")
    assert settle(policy, cycle_one()).net_minor == 1_680_095
    lost = settle(policy, cycle_two("lost"))
    assert lost.net_minor == -443_000
    won = settle(policy, cycle_two("won"))
    assert won.net_minor == -143_000  # nothing was taken, so nothing comes back


def test_a_negative_balance_is_debited_when_the_terms_say_so() -> None:
    s = settle(terms(negative_balance="debit"), cycle_two("lost"))
    assert (s.payout_minor, s.debit_minor, s.carry_forward_minor) == (0, 143_000, 0)


def test_below_the_minimum_payout_the_balance_is_carried() -> None:
    s = settle(terms(min_payout_minor=200_000), cycle_two("won"))
    assert (s.payout_minor, s.carry_forward_minor) == (0, 157_000)


def test_the_net_is_the_sum_of_the_lines_and_adjustments_move_it() -> None:
    s = settle(terms(), cycle_one(adjustments=(Adjustment("adj_1", -1_000, "courier fee"),)))
    assert s.net_minor == sum(line.amount_minor for line in s.lines) == 1_379_095


def test_a_dispute_fee_is_its_own_line() -> None:
    s = settle(terms(), cycle_one(disputes=(DisputeEvent("D1", "opened", 300_000, 50_000),)))
    assert s.total("dispute_fee") == -50_000
    assert s.components()["dispute_debits"] == -350_000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"refunds": (Refund("rfn_1", -5),)}, "refund rfn_1: amount -5"),
        ({"captures": (Capture("p", 100, "upi", currency="KES"),)}, "payment p is in KES"),
        (
            {"captures": (Capture("p", 100, "upi"), Capture("p", 100, "upi"))},
            "counted twice in one cycle: payment p",
        ),
        ({"captures": (Capture("p", 100, "crypto"),)}, "no rate for crypto/*"),
        ({"adjustments": (Adjustment("a", 5, " "),)}, "adjustment a"),
    ],
)
def test_bad_input_is_refused_with_what_was_wrong(change: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        settle(terms(), cycle_one(**change))
