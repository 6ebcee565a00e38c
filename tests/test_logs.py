"""Structured logs: customers' identifiers are masked, UTRs and RRNs stay searchable."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hisaab.api.app import create_app
from hisaab.config import Settings
from hisaab.logs import configure_logging, mask, request_id_var

ReadLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_lines() -> Iterator[ReadLines]:
    """Logging configured as in production, into a buffer; returns its parsed lines."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = configure_logging("INFO", json=True, stream=buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


class TestMaskPhones:
    def test_kenyan_msisdn_keeps_country_code_first_digit_and_last_three(self) -> None:
        assert mask("STK push to 254712345678 sent") == "STK push to 2547****678 sent"

    def test_kenyan_msisdn_with_plus(self) -> None:
        assert mask("payer +254722000431") == "payer +2547****431"

    def test_kenyan_airtel_01_range(self) -> None:
        assert mask("payer 254110987654") == "payer 2541****654"

    def test_kenyan_local_format(self) -> None:
        assert mask("callback for 0712345678") == "callback for 07****678"

    def test_indian_mobile_with_plus_91(self) -> None:
        assert mask("sms to +919876543210") == "sms to +919****210"

    def test_indian_mobile_with_spaced_country_code(self) -> None:
        assert mask("sms to +91 9876543210") == "sms to +91 9****210"

    def test_bare_indian_mobile(self) -> None:
        assert mask("mobile=9876543210;") == "mobile=9****210;"


class TestMaskVpasAndEmails:
    def test_upi_vpa_keeps_first_character_and_psp(self) -> None:
        assert mask("collect from ramesh.kumar@okhdfcbank") == "collect from r****@okhdfcbank"

    def test_vpa_made_of_a_phone_number(self) -> None:
        assert mask("payer 9876543210@ybl paid") == "payer 9****@ybl paid"

    def test_email_keeps_first_character_and_domain(self) -> None:
        assert mask("invite asha.rao@example.co.in") == "invite a****@example.co.in"


class TestMaskAccounts:
    def test_standalone_account_number_keeps_last_four(self) -> None:
        assert mask("credited to 50100234567891") == "credited to ****7891"

    def test_nine_digit_account(self) -> None:
        assert mask("beneficiary 123456789 added") == "beneficiary ****6789 added"

    def test_twelve_digit_account_after_a_keyword_is_masked(self) -> None:
        assert mask("acct no. 001234567890 frozen") == "acct no. ****7890 frozen"

    def test_account_after_a_slash_c_label(self) -> None:
        assert mask("A/C: 3312004567123") == "A/C: ****7123"


class TestKeptReadable:
    def test_twelve_digit_rrn(self) -> None:
        assert mask("UPI RRN 432109876543 unmatched") == "UPI RRN 432109876543 unmatched"

    def test_neft_utr(self) -> None:
        line = "NEFT UTR HDFCN52024112112345678 settled 37 payments"
        assert mask(line) == line

    def test_rtgs_utr(self) -> None:
        assert mask("utr=SBINR52024112100012345") == "utr=SBINR52024112100012345"

    def test_mpesa_receipt(self) -> None:
        assert mask("M-Pesa receipt QKJ4ABC123 for KES 1500") == (
            "M-Pesa receipt QKJ4ABC123 for KES 1500"
        )

    def test_amounts_dates_and_short_ids(self) -> None:
        line = "job 42 matched 150000 minor on 20241121 in 0.35 s"
        assert mask(line) == line

    def test_a_line_with_an_rrn_and_a_phone_masks_only_the_phone(self) -> None:
        assert mask("rrn 412345678901 payer 254712345678") == "rrn 412345678901 payer 2547****678"


class TestJsonLines:
    def test_each_record_is_one_json_object_with_the_standard_fields(
        self, json_lines: ReadLines
    ) -> None:
        logging.getLogger("hisaab.recon").info("matched %d of %d", 37, 40)
        [line] = json_lines()
        assert line["level"] == "INFO"
        assert line["logger"] == "hisaab.recon"
        assert line["message"] == "matched 37 of 40"
        assert line["timestamp"].endswith("Z")
        assert "request_id" not in line

    def test_message_arguments_are_masked(self, json_lines: ReadLines) -> None:
        logging.getLogger("hisaab.realtime").warning("timeout for %s", "254712345678")
        [line] = json_lines()
        assert line["message"] == "timeout for 2547****678"

    def test_extra_fields_are_kept_and_their_strings_masked(self, json_lines: ReadLines) -> None:
        logging.getLogger("hisaab.realtime").info(
            "callback",
            extra={"msisdn": "254712345678", "rrn": "412345678901", "attempt": 2,
                   "payer": {"vpa": "ramesh@okaxis"}},
        )  # fmt: skip
        [line] = json_lines()
        assert line["msisdn"] == "2547****678"
        assert line["rrn"] == "412345678901"
        assert line["attempt"] == 2
        assert line["payer"] == {"vpa": "r****@okaxis"}

    def test_exception_text_is_masked(self, json_lines: ReadLines) -> None:
        try:
            raise ValueError("no wallet for 254712345678")
        except ValueError:
            logging.getLogger("hisaab.realtime").exception("failed")
        [line] = json_lines()
        assert "ValueError: no wallet for 2547****678" in line["exception"]
        assert "254712345678" not in line["exception"]

    def test_request_id_comes_from_the_context_variable(self, json_lines: ReadLines) -> None:
        token = request_id_var.set("req_abc")
        try:
            logging.getLogger("hisaab.api").info("inside a request")
        finally:
            request_id_var.reset(token)
        [line] = json_lines()
        assert line["request_id"] == "req_abc"

    def test_configuring_twice_installs_one_handler(self, json_lines: ReadLines) -> None:
        second = configure_logging("INFO", json=True, stream=io.StringIO())
        try:
            handlers = logging.getLogger().handlers
            assert [h for h in handlers if type(h) is type(second)] == [second]
        finally:
            logging.getLogger().removeHandler(second)


def test_plain_text_format_is_masked_too() -> None:
    root = logging.getLogger()
    level, buffer = root.level, io.StringIO()
    handler = configure_logging("INFO", json=False, stream=buffer)
    try:
        logging.getLogger("hisaab").info("payer %s", "+919876543210")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert buffer.getvalue().rstrip().endswith("INFO hisaab: payer +919****210")


def test_api_request_id_reaches_log_lines(tmp_path: Path, json_lines: ReadLines) -> None:
    def probe() -> dict[str, str]:
        logging.getLogger("hisaab.api.probe").info("lookup for 254712345678")
        return {}

    # The probe touches no table, so the app needs no migrated database.
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'h.db'}", jwt_secret="s" * 40)
    app = create_app(settings)
    # A sync route runs in the thread pool, so this also checks the context is carried there.
    app.add_api_route("/probe-logging", probe, methods=["GET"])
    with TestClient(app) as client:
        response = client.get("/probe-logging", headers={"X-Request-ID": "req-ops-7f3a"})
    app.state.engine.dispose()
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-ops-7f3a"
    [line] = [entry for entry in json_lines() if entry["logger"] == "hisaab.api.probe"]
    assert line["request_id"] == "req-ops-7f3a"
    assert line["message"] == "lookup for 2547****678"
