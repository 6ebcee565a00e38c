"""SMS alerts posted to a real local server speaking Africa's Talking's API, and its refusals."""

from __future__ import annotations

import time

import pytest

from hisaab.alerts.channels import DeliveryError, SmsChannel, international_phone
from hisaab.alerts.message import Alert, sms_text
from hisaab.errors import InputError
from sms_server import MESSAGING_PATH, SmsServer
from smtp_server import silent_listener

ADMIN = "+254712345678"
DEPUTY = "+254733000111"


def channel_to(server: SmsServer, *recipients: str, **options: object) -> SmsChannel:
    settings: dict[str, object] = {
        "base_url": server.base_url,
        "username": "hisaab",
        "api_key": "at-test-key",
        "recipients": list(recipients) or [ADMIN],
    }
    settings.update(options)
    return SmsChannel(**settings)  # type: ignore[arg-type]


class TestDelivered:
    def test_the_alert_is_posted_as_africas_talking_expects(
        self, sms_server: SmsServer, alert: Alert
    ) -> None:
        receipt = channel_to(sms_server, sender="HISAAB").send(alert)

        (request,) = sms_server.requests
        assert request.method == "POST" and request.path == MESSAGING_PATH
        assert request.headers["apikey"] == "at-test-key"
        assert request.headers["accept"] == "application/json"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.form == {
            "username": "hisaab",
            "to": ADMIN,
            "message": sms_text(alert),
            "from": "HISAAB",
        }
        assert request.answered == 201
        assert receipt.channel == "sms"
        assert receipt.recipients == ("2547****678",)
        assert receipt.message_id is not None and receipt.message_id.startswith("ATXid_")
        assert receipt.detail == "Sent to 1/1 Total Cost: KES 0.8000"

    def test_without_a_sender_id_no_from_is_sent(self, sms_server: SmsServer, alert: Alert) -> None:
        channel_to(sms_server).send(alert)
        assert "from" not in sms_server.requests[0].form

    def test_a_kenyan_local_number_is_sent_in_international_form(
        self, sms_server: SmsServer, alert: Alert
    ) -> None:
        channel_to(sms_server, "0712 345 678").send(alert)
        assert sms_server.requests[0].form["to"] == ADMIN

    def test_every_admin_is_in_one_request(self, sms_server: SmsServer, alert: Alert) -> None:
        receipt = channel_to(sms_server, ADMIN, DEPUTY).send(alert)
        assert sms_server.requests[0].form["to"] == f"{ADMIN},{DEPUTY}"
        assert receipt.recipients == ("2547****678", "2547****111")
        assert receipt.message_id is not None and receipt.message_id.count("ATXid_") == 2

    def test_one_refused_admin_does_not_fail_the_delivery(
        self, sms_server: SmsServer, alert: Alert
    ) -> None:
        sms_server.fail_recipients(406, "UserInBlacklist", numbers={DEPUTY})
        receipt = channel_to(sms_server, ADMIN, DEPUTY).send(alert)
        assert receipt.recipients == ("2547****678",)
        assert receipt.detail == "refused: 2547****111: 406 UserInBlacklist"

    def test_a_full_messaging_url_is_used_as_given(
        self, sms_server: SmsServer, alert: Alert
    ) -> None:
        channel_to(sms_server, base_url=sms_server.base_url + MESSAGING_PATH + "/").send(alert)
        assert sms_server.requests[0].path == MESSAGING_PATH


class TestRefused:
    @pytest.mark.parametrize(
        ("status_code", "status"),
        [
            (403, "InvalidPhoneNumber"),
            (405, "InsufficientBalance"),
            (406, "UserInBlacklist"),
            (401, "RiskHold"),
        ],
    )
    def test_a_refusal_a_person_must_fix_is_permanent(
        self, sms_server: SmsServer, alert: Alert, status_code: int, status: str
    ) -> None:
        sms_server.fail_recipients(status_code, status)
        with pytest.raises(DeliveryError) as caught:
            channel_to(sms_server).send(alert)
        assert caught.value.retryable is False
        assert caught.value.channel == "sms"
        assert f"2547****678: {status_code} {status}" in caught.value.reason
        assert "712345678" not in str(caught.value)

    @pytest.mark.parametrize(
        ("status_code", "status"), [(500, "InternalServerError"), (501, "GatewayError")]
    )
    def test_a_provider_side_failure_is_retryable(
        self, sms_server: SmsServer, alert: Alert, status_code: int, status: str
    ) -> None:
        sms_server.fail_recipients(status_code, status)
        with pytest.raises(DeliveryError) as caught:
            channel_to(sms_server).send(alert)
        assert caught.value.retryable is True

    def test_a_wrong_api_key_is_permanent_and_not_shown(
        self, sms_server: SmsServer, alert: Alert
    ) -> None:
        with pytest.raises(DeliveryError) as caught:
            channel_to(sms_server, api_key="at-wrong-key").send(alert)
        assert caught.value.retryable is False
        assert "refused the username or API key (HTTP 401)" in caught.value.reason
        assert "at-wrong-key" not in str(caught.value)
        assert sms_server.requests[0].answered == 401

    def test_a_wrong_username_is_permanent(self, sms_server: SmsServer, alert: Alert) -> None:
        with pytest.raises(DeliveryError) as caught:
            channel_to(sms_server, username="someone-else").send(alert)
        assert caught.value.retryable is False

    @pytest.mark.parametrize("http_status", [500, 502, 503, 429, 408])
    def test_an_http_failure_of_the_provider_is_retryable(
        self, sms_server: SmsServer, alert: Alert, http_status: int
    ) -> None:
        sms_server.fail_http(http_status, "try later")
        with pytest.raises(DeliveryError) as caught:
            channel_to(sms_server).send(alert)
        assert caught.value.retryable is True
        assert f"HTTP {http_status}: try later" in caught.value.reason

    def test_after_a_provider_outage_the_retry_is_delivered(
        self, sms_server: SmsServer, alert: Alert
    ) -> None:
        sms_server.fail_http(500, times=1)
        channel = channel_to(sms_server)
        with pytest.raises(DeliveryError):
            channel.send(alert)
        assert channel.send(alert).recipients == ("2547****678",)
        assert [r.answered for r in sms_server.requests] == [500, 201]

    def test_a_wrong_path_is_permanent(self, sms_server: SmsServer, alert: Alert) -> None:
        with pytest.raises(DeliveryError) as caught:
            channel_to(sms_server, base_url=sms_server.base_url + "/sms").send(alert)
        assert caught.value.retryable is False
        assert "HTTP 404" in caught.value.reason

    def test_an_unreadable_answer_is_not_retried_to_avoid_a_second_sms(
        self, sms_server: SmsServer, alert: Alert
    ) -> None:
        sms_server.fail_http(200, "<html>maintenance</html>")
        with pytest.raises(DeliveryError) as caught:
            channel_to(sms_server).send(alert)
        assert caught.value.retryable is False
        assert "unreadable answer" in caught.value.reason


class TestUnreachable:
    def test_a_provider_that_is_down_is_retryable(
        self, sms_server: SmsServer, alert: Alert
    ) -> None:
        channel = channel_to(sms_server)
        sms_server.stop()
        with pytest.raises(DeliveryError) as caught:
            channel.send(alert)
        assert caught.value.retryable is True
        assert "cannot reach http://127.0.0.1" in caught.value.reason

    def test_a_provider_that_holds_its_answer_times_out_and_is_retryable(
        self, sms_server: SmsServer, alert: Alert
    ) -> None:
        sms_server.hang(30)
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            channel_to(sms_server, timeout=0.5).send(alert)
        assert time.monotonic() - started < 5
        assert caught.value.retryable is True
        assert "within 0.5 s" in caught.value.reason

    def test_a_provider_that_never_answers_a_connection_times_out(self, alert: Alert) -> None:
        with silent_listener() as (host, port):
            channel = SmsChannel(
                base_url=f"http://{host}:{port}",
                username="hisaab",
                api_key="k",
                recipients=[ADMIN],
                timeout=0.5,
            )
            with pytest.raises(DeliveryError) as caught:
                channel.send(alert)
        assert caught.value.retryable is True

    def test_a_url_without_a_scheme_is_permanent(self, alert: Alert) -> None:
        channel = SmsChannel(
            base_url="api.africastalking.com", username="u", api_key="k", recipients=[ADMIN]
        )
        with pytest.raises(DeliveryError) as caught:
            channel.send(alert)
        assert caught.value.retryable is False


class TestPhoneNumbers:
    @pytest.mark.parametrize(
        "written",
        ["+254712345678", "254712345678", "00254712345678", "0712345678", "+254 712-345-678"],
    )
    def test_kenyan_numbers_become_e164(self, written: str) -> None:
        assert international_phone(written) == "+254712345678"

    def test_other_countries_need_their_code(self) -> None:
        assert international_phone("+91 98765 43210") == "+919876543210"

    @pytest.mark.parametrize("written", ["712345678", "919876543210", "0812345678", "+254-7x", ""])
    def test_a_number_without_its_country_is_refused(self, written: str) -> None:
        with pytest.raises(InputError, match="is not a phone number with its country code"):
            international_phone(written)

    def test_a_bad_recipient_is_refused_when_configured_naming_its_position(self) -> None:
        with pytest.raises(InputError, match=r"SMS recipient 2: .* is not a phone number"):
            SmsChannel(
                base_url="http://127.0.0.1:9",
                username="u",
                api_key="k",
                recipients=[ADMIN, "12345"],
            )
