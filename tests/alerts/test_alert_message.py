"""Alert texts: exact amounts, masked phones, and an SMS that always fits one GSM-7 segment."""

from __future__ import annotations

import datetime as dt

import pytest
from alert_examples import amount_mismatch
from hypothesis import given, settings
from hypothesis import strategies as st

from hisaab.alerts.message import (
    SMS_LIMIT,
    Alert,
    Issue,
    email_body,
    email_subject,
    gsm7_length,
    mask_phone,
    sms_text,
    to_gsm7,
)
from hisaab.errors import InputError

EAT = dt.timezone(dt.timedelta(hours=3))


class TestPhoneMasking:
    @pytest.mark.parametrize(
        "phone",
        ["254708374149", "+254708374149", "+254 708 374 149", "0708374149", "25470****149"],
    )
    def test_every_way_of_writing_a_kenyan_number_masks_to_the_same_text(self, phone: str) -> None:
        assert mask_phone(phone) == "2547****149"

    def test_a_short_number_keeps_only_its_last_three_digits(self) -> None:
        assert mask_phone("70837414") == "****414"

    def test_a_hashed_msisdn_is_not_shown_at_all(self) -> None:
        assert mask_phone("a1f3" * 16) == "****"

    def test_no_phone_reads_as_not_known(self) -> None:
        assert mask_phone(None) == "not known"


class TestEmail:
    def test_the_subject_names_severity_kind_amount_and_session(self, alert: Alert) -> None:
        assert email_subject(alert) == (
            "[Hisaab] HIGH amount_mismatch: 1,500.00 KES, session 507f1f77bcf86cd799439011"
        )

    def test_a_subject_without_an_amount(self) -> None:
        alert = amount_mismatch(kind="callback_missing", amount_minor=None)
        assert email_subject(alert) == (
            "[Hisaab] HIGH callback_missing: session 507f1f77bcf86cd799439011"
        )

    def test_a_newline_in_a_session_id_cannot_add_a_header(self) -> None:
        alert = amount_mismatch(session_id="s1\r\nBcc: someone@example.com")
        assert "\n" not in email_subject(alert) and "\r" not in email_subject(alert)

    def test_the_body_carries_every_fact_with_the_phone_masked(self, alert: Alert) -> None:
        assert email_body(alert) == (
            "Hisaab found a high-severity discrepancy in a real-time M-Pesa payment.\n"
            "\n"
            "Session:   507f1f77bcf86cd799439011\n"
            "Type:      amount_mismatch\n"
            "Severity:  high\n"
            "Amount:    1,500.00 KES\n"
            "Receipt:   RKTQDM7W6S\n"
            "Phone:     2547****149\n"
            "Detected:  2024-12-14 10:30:00 UTC\n"
            "\n"
            "Issues:\n"
            "- amount_mismatch: M-Pesa paid 1,000.00 KES; the session's price is 1,500.00 KES\n"
            "\n"
            "Review the session in Hisaab. Phone numbers are masked in alerts; the full record is\n"
            "in Hisaab.\n"
        )

    def test_a_phone_number_inside_an_issue_is_masked_too(self) -> None:
        alert = amount_mismatch(
            issues=[("payer_mismatch", "paid from 254712345678, the session expects 0708374149")]
        )
        body = email_body(alert)
        assert "- payer_mismatch: paid from 2547****678, the session expects 07****149" in body
        assert "712345678" not in body and "708374149" not in body

    def test_every_issue_is_listed(self) -> None:
        alert = amount_mismatch(
            issues=[
                ("amount_mismatch", "paid 1,000.00 KES of 1,500.00 KES"),
                ("late_callback", "the callback came 14 minutes after the payment"),
            ]
        )
        body = email_body(alert)
        assert "- amount_mismatch: paid 1,000.00 KES of 1,500.00 KES\n" in body
        assert "- late_callback: the callback came 14 minutes after the payment\n" in body

    def test_detection_time_is_shown_in_utc(self) -> None:
        alert = amount_mismatch(detected_at=dt.datetime(2024, 12, 14, 13, 30, tzinfo=EAT))
        assert "Detected:  2024-12-14 10:30:00 UTC\n" in email_body(alert)

    def test_a_note_comes_before_the_facts(self, alert: Alert) -> None:
        body = email_body(alert, note="Storm: 6 such alerts in 1 min.")
        assert body.index("Storm: 6 such alerts in 1 min.") < body.index("Session:")


class TestAmounts:
    @pytest.mark.parametrize(
        ("minor", "currency", "shown"),
        [
            (150_000, "KES", "1,500.00 KES"),
            (1, "KES", "0.01 KES"),
            (-5_000, "KES", "-50.00 KES"),
            (123_456_789_012, "KES", "1,234,567,890.12 KES"),
            (1_500, "UGX", "1,500 UGX"),
            (1_005, "KWD", "1.005 KWD"),
            (11_804_375, "INR", "118,043.75 INR"),
        ],
    )
    def test_amounts_are_exact_from_minor_units(
        self, minor: int, currency: str, shown: str
    ) -> None:
        alert = amount_mismatch(amount_minor=minor, currency=currency)
        assert f"Amount:    {shown}\n" in email_body(alert)
        assert f" {shown}, " in sms_text(alert)

    def test_an_unknown_amount_says_so(self) -> None:
        assert "Amount:    not known\n" in email_body(amount_mismatch(amount_minor=None))


class TestSms:
    def test_the_worked_example_fits_one_segment_with_its_issue_shortened(
        self, alert: Alert
    ) -> None:
        text = sms_text(alert)
        assert text == (
            "Hisaab HIGH: amount_mismatch. 1,500.00 KES, receipt RKTQDM7W6S, 2547****149, "
            "session 507f1f77bcf86cd799439011, 10:30 UTC. M-Pesa paid 1,000.00 KES; the sessi..."
        )
        assert gsm7_length(text) == len(text) == SMS_LIMIT

    def test_a_long_issue_is_shortened_to_fit(self) -> None:
        alert = amount_mismatch(issues=[("amount_mismatch", "the payer paid less " * 20)])
        text = sms_text(alert)
        assert gsm7_length(text) == len(text) <= SMS_LIMIT
        assert text.endswith("...")
        assert "session 507f1f77bcf86cd799439011, 10:30 UTC." in text

    def test_more_issues_are_counted(self) -> None:
        alert = amount_mismatch(issues=[("a", "short"), ("b", "second"), ("c", "third")])
        assert sms_text(alert).endswith(". short (+2 more)")

    def test_a_long_session_id_is_shortened_before_the_note_is(self) -> None:
        alert = amount_mismatch(session_id="3f2b8c1e-5d4a-4b7e-9c0f-1a2b3c4d5e6f" * 2)
        text = sms_text(alert, note="Storm: 6 such alerts in 1 min; more on the dashboard only.")
        assert gsm7_length(text) <= SMS_LIMIT
        assert "Storm: 6 such alerts in 1 min; more on the dashboard only." in text
        assert "session 3f2b8c1e-5d4.." in text

    def test_characters_outside_gsm7_are_replaced(self) -> None:
        alert = amount_mismatch(issues=[("x", "“Paid” — Zoë’s shop ✓ ₹")])
        assert sms_text(alert).endswith('. "Paid" - Zoe\'s shop ? Rs')

    def test_extension_characters_count_twice(self) -> None:
        assert gsm7_length("{a}") == 5
        alert = amount_mismatch(issues=[("x", "[]{}" * 100)])
        text = sms_text(alert)
        assert "[]{}" in text
        assert len(text) < gsm7_length(text) <= SMS_LIMIT

    def test_the_phone_is_masked(self, alert: Alert) -> None:
        assert "2547****149" in sms_text(alert) and "708374" not in sms_text(alert)


gsm_or_not = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=0, max_size=300)


@settings(max_examples=200, deadline=None)
@given(
    session_id=gsm_or_not.filter(lambda s: s.strip() != ""),
    kind=gsm_or_not.filter(lambda s: s.strip() != ""),
    message=gsm_or_not,
    note=st.none() | gsm_or_not,
    receipt=st.none() | gsm_or_not,
    minor=st.none() | st.integers(min_value=-(10**15), max_value=10**15),
)
def test_any_alert_becomes_one_gsm7_segment(
    session_id: str,
    kind: str,
    message: str,
    note: str | None,
    receipt: str | None,
    minor: int | None,
) -> None:
    alert = amount_mismatch(
        session_id=session_id,
        kind=kind,
        issues=[("x", message)],
        receipt=receipt,
        amount_minor=minor,
    )
    text = sms_text(alert, note=note)
    assert gsm7_length(text) <= SMS_LIMIT
    assert to_gsm7(text) == text


class TestAlertValues:
    def test_issues_become_a_tuple_of_named_pairs(self, alert: Alert) -> None:
        assert alert.issues == (
            Issue(
                "amount_mismatch",
                "M-Pesa paid 1,000.00 KES; the session's price is 1,500.00 KES",
            ),
        )
        assert alert.issues[0].type == "amount_mismatch"

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"severity": "critical"}, "severity 'critical' is not known"),
            ({"amount_minor": 1500.0}, "amount_minor must be integer minor units"),
            ({"amount_minor": True}, "amount_minor must be integer minor units"),
            ({"currency": "KSH"}, "alert currency: unknown currency 'KSH'"),
            ({"detected_at": dt.datetime(2024, 12, 14, 10, 30)}, "timezone-aware"),
            ({"issues": [("only a type",)]}, "issue 1 must be a (type, message) pair"),
            ({"issues": "amount_mismatch"}, "sequence of (type, message) pairs"),
            ({"session_id": " "}, "session_id must be a non-empty string"),
        ],
    )
    def test_bad_values_are_refused_naming_the_field(
        self, changes: dict[str, object], message: str
    ) -> None:
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            amount_mismatch(**changes)

    def test_a_payload_reads_back_as_the_same_alert(self, alert: Alert) -> None:
        assert Alert.from_payload(alert.to_payload()) == alert

    def test_a_payload_without_its_time_is_refused(self, alert: Alert) -> None:
        payload = alert.to_payload()
        del payload["detected_at"]
        with pytest.raises(InputError, match="alert payload lacks detected_at"):
            Alert.from_payload(payload)
