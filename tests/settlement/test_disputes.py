"""Dispute categories, deadlines and moves, for cards and UPI alike."""

from __future__ import annotations

import datetime as dt

import pytest

from hisaab.errors import Conflict, InputError
from hisaab.settlement.calendar import BankCalendar
from hisaab.settlement.disputes import category_of, double_loss, move, respond_by

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    ("network", "code", "category"),
    [
        ("visa", "10.4", "fraudulent"),
        ("visa", "12.6.1", "duplicate"),
        ("visa", "13.1", "product_not_received"),
        ("visa", "13.6", "credit_not_processed"),
        ("visa", "11.3", "general"),
        ("mastercard", "4837", "fraudulent"),
        ("mastercard", "4834", "duplicate"),
        ("mastercard", "4855", "product_not_received"),
        ("rupay", "1065", "technical_debit_no_confirmation"),
        ("rupay", "1061", "credit_not_processed"),
        ("upi", "u008", "product_not_received"),
        ("upi", "U021", "credit_not_processed"),
        ("upi", "U999", "general"),  # an unknown code keeps its raw value beside `general`
    ],
)
def test_reason_codes_become_one_set_of_categories(network: str, code: str, category: str) -> None:
    assert category_of(network, code) == category


def test_a_bad_network_or_code_is_named() -> None:
    with pytest.raises(InputError, match="network 'amex'"):
        category_of("amex", "4853")
    with pytest.raises(InputError, match="reason code"):
        category_of("visa", "10 4; drop")


def test_a_chargeback_is_answered_by_the_end_of_the_third_working_day() -> None:
    monday = dt.datetime(2026, 3, 2, 11, 0, tzinfo=IST)
    due = respond_by("chargeback", monday, calendar=BankCalendar())
    assert due.astimezone(IST) == dt.datetime(2026, 3, 5, 23, 59, 59, tzinfo=IST)
    # Arriving on a second Saturday, the days count from Monday.
    saturday = dt.datetime(2026, 3, 14, 9, 0, tzinfo=IST)
    assert respond_by("chargeback", saturday, calendar=BankCalendar()).astimezone(
        IST
    ).date() == dt.date(2026, 3, 18)
    assert respond_by("arbitration", monday, calendar=BankCalendar()).astimezone(
        IST
    ).date() == dt.date(2026, 3, 3)
    with pytest.raises(InputError, match="stage 'appeal'"):
        respond_by("appeal", monday, calendar=BankCalendar())


def test_only_the_allowed_moves_are_made() -> None:
    assert move("open", "evidence_draft") == "evidence_draft"
    assert move("evidence_draft", "submitted") == "submitted"
    assert move("submitted", "won") == "won"
    with pytest.raises(Conflict, match="a dispute that is won cannot become lost"):
        move("won", "lost")
    with pytest.raises(Conflict, match="allowed: cancelled, lost, won"):
        move("submitted", "accepted")


def test_a_refunded_payment_lost_in_a_dispute_is_a_double_loss() -> None:
    assert double_loss(captured_minor=100_000, refunded_minor=100_000, disputed_minor=100_000)
    assert not double_loss(captured_minor=100_000, refunded_minor=0, disputed_minor=100_000)
