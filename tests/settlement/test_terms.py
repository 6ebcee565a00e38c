from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from hisaab.settlement.fees import default_rate_card
from hisaab.settlement.terms import TermsSpec


def test_default_terms_price_what_the_default_rate_card_prices() -> None:
    terms = TermsSpec().to_terms("M1", "INR", 1)
    assert dict(terms.rate_card.rates) == dict(default_rate_card().rates)
    assert terms.rate_card.gst_percent == Decimal(18)


def test_a_document_round_trips_exactly_through_json() -> None:
    spec = TermsSpec.model_validate(
        {
            "schedule": {"cycle": "weekly", "weekday": 4, "t_plus": 2, "cutoff": "18:30"},
            "reserve_percent": "5",
            "reserve_days": 30,
            "rates": [{"instrument": "card", "percent": "1.85", "fixed_minor": 300}],
        }
    )
    again = TermsSpec.model_validate_json(spec.model_dump_json())
    assert again == spec
    assert again.rates[0].percent == Decimal("1.85")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"schedule": {"cutoff": "25:00"}}, "cutoff must be a 24-hour time"),
        ({"schedule": {"cycle": "weekly"}}, "a weekly cycle needs a weekday"),
        ({"schedule": {"cycle": "monthly"}}, "a monthly cycle needs month_days"),
        ({"reserve_percent": "101"}, "less than or equal to 100"),
        (
            {"rates": [{"instrument": "upi"}, {"instrument": "upi", "sub_rail": "*"}]},
            r"upi/\* is priced twice",
        ),
        ({"rates": [{"instrument": "crypto"}]}, "instrument"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_terms_name_what_is_wrong(document: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TermsSpec.model_validate(document)
