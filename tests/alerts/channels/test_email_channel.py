"""Email alerts delivered to a real SMTP server (aiosmtpd), and every way delivery fails."""

from __future__ import annotations

import time

import pytest

from hisaab.alerts.channels import DeliveryError, EmailChannel
from hisaab.alerts.message import Alert, email_body
from hisaab.errors import InputError
from smtp_server import SmtpServer, silent_listener

OPS = "ops@smilingsteps.example"
FINANCE = "finance@smilingsteps.example"


def channel_to(server: SmtpServer, *recipients: str, **options: object) -> EmailChannel:
    return EmailChannel(
        host=server.host,
        port=server.port,
        recipients=list(recipients) or [OPS],
        sender="hisaab@smilingsteps.example",
        **options,  # type: ignore[arg-type]
    )


class TestDelivered:
    def test_the_alert_arrives_with_its_headers_and_plain_text_body(
        self, smtp_server: SmtpServer, alert: Alert
    ) -> None:
        receipt = channel_to(smtp_server).send(alert)

        (mail,) = smtp_server.messages
        assert mail.mail_from == "hisaab@smilingsteps.example"
        assert mail.rcpt_tos == (OPS,)
        message = mail.message
        assert message["From"] == "hisaab@smilingsteps.example"
        assert message["To"] == OPS
        assert message["Subject"] == (
            "[Hisaab] HIGH amount_mismatch: 1,500.00 KES, session 507f1f77bcf86cd799439011"
        )
        assert message["X-Hisaab-Session"] == "507f1f77bcf86cd799439011"
        assert message["X-Hisaab-Alert-Kind"] == "amount_mismatch"
        assert message["X-Hisaab-Severity"] == "high"
        assert message["Date"] is not None
        assert message.get_content_type() == "text/plain"
        assert message.get_content() == email_body(alert)
        assert receipt.channel == "email"
        assert receipt.message_id == message["Message-ID"]
        assert str(receipt.message_id).endswith("@smilingsteps.example>")
        assert receipt.recipients == ("o****@smilingsteps.example",)

    def test_the_full_phone_number_never_travels(
        self, smtp_server: SmtpServer, alert: Alert
    ) -> None:
        channel_to(smtp_server).send(alert)
        assert b"708374" not in smtp_server.messages[0].raw

    def test_every_admin_gets_one_copy(self, smtp_server: SmtpServer, alert: Alert) -> None:
        channel_to(smtp_server, OPS, FINANCE).send(alert)
        (mail,) = smtp_server.messages
        assert mail.rcpt_tos == (OPS, FINANCE)
        assert mail.message["To"] == f"{OPS}, {FINANCE}"

    def test_a_storm_note_is_in_the_body(self, smtp_server: SmtpServer, alert: Alert) -> None:
        channel_to(smtp_server).send(alert, note="Storm: 6 such alerts in 1 min.")
        assert "Storm: 6 such alerts in 1 min." in smtp_server.messages[0].message.get_content()

    def test_one_refused_admin_does_not_stop_the_others(
        self, smtp_server: SmtpServer, alert: Alert
    ) -> None:
        smtp_server.reject_recipients(addresses={FINANCE})
        receipt = channel_to(smtp_server, OPS, FINANCE).send(alert)
        assert smtp_server.messages[0].rcpt_tos == (OPS,)
        assert receipt.recipients == ("o****@smilingsteps.example",)
        assert "f****@smilingsteps.example refused: 550 5.1.1" in receipt.detail


class TestRefused:
    def test_a_refused_recipient_is_permanent(self, smtp_server: SmtpServer, alert: Alert) -> None:
        smtp_server.reject_recipients("550 5.1.1 Recipient address rejected: no such user")
        with pytest.raises(DeliveryError) as caught:
            channel_to(smtp_server).send(alert)
        assert caught.value.retryable is False
        assert caught.value.channel == "email"
        assert "550 5.1.1 Recipient address rejected: no such user" in caught.value.reason
        assert smtp_server.messages == []

    def test_a_greylisted_recipient_is_retried_and_then_delivered(
        self, smtp_server: SmtpServer, alert: Alert
    ) -> None:
        smtp_server.reject_recipients("451 4.7.1 Greylisted, try again later", times=1)
        with pytest.raises(DeliveryError) as caught:
            channel_to(smtp_server).send(alert)
        assert caught.value.retryable is True
        channel_to(smtp_server).send(alert)
        assert len(smtp_server.messages) == 1

    def test_a_refused_message_is_permanent(self, smtp_server: SmtpServer, alert: Alert) -> None:
        smtp_server.reject_messages("554 5.7.1 Message rejected as spam")
        with pytest.raises(DeliveryError) as caught:
            channel_to(smtp_server).send(alert)
        assert caught.value.retryable is False
        assert "refused the message: 554 5.7.1 Message rejected as spam" in caught.value.reason

    def test_a_message_deferred_for_lack_of_space_is_retryable(
        self, smtp_server: SmtpServer, alert: Alert
    ) -> None:
        smtp_server.reject_messages("452 4.3.1 Insufficient system storage")
        with pytest.raises(DeliveryError) as caught:
            channel_to(smtp_server).send(alert)
        assert caught.value.retryable is True


class TestUnreachable:
    def test_a_server_that_is_down_is_retryable_and_works_once_back(
        self, smtp_server: SmtpServer, alert: Alert
    ) -> None:
        channel = channel_to(smtp_server)
        with smtp_server.down(), pytest.raises(DeliveryError) as caught:
            channel.send(alert)
        assert caught.value.retryable is True
        assert "cannot reach 127.0.0.1" in caught.value.reason
        channel.send(alert)
        assert len(smtp_server.messages) == 1

    def test_a_server_that_never_answers_times_out_and_is_retryable(self, alert: Alert) -> None:
        with silent_listener() as (host, port):
            channel = EmailChannel(
                host=host, port=port, recipients=[OPS], sender="hisaab@x.example", timeout=0.5
            )
            started = time.monotonic()
            with pytest.raises(DeliveryError) as caught:
                channel.send(alert)
            elapsed = time.monotonic() - started
        assert caught.value.retryable is True
        assert "no answer from 127.0.0.1" in caught.value.reason
        assert elapsed < 5


class TestLoginAndTls:
    def test_a_login_with_the_right_password_delivers(self, alert: Alert) -> None:
        with SmtpServer(credentials=("hisaab", "s3cret")) as server:
            channel_to(server, username="hisaab", password="s3cret").send(alert)
            assert server.messages[0].login == "hisaab"

    def test_a_wrong_password_is_permanent_and_not_repeated(self, alert: Alert) -> None:
        with SmtpServer(credentials=("hisaab", "s3cret")) as server:
            with pytest.raises(DeliveryError) as caught:
                channel_to(server, username="hisaab", password="wrong").send(alert)
            assert caught.value.retryable is False
            assert "refused the username or password: 535" in caught.value.reason
            assert "wrong" not in str(caught.value)
            assert server.messages == []

    def test_starttls_with_a_trusted_certificate_delivers_encrypted(self, alert: Alert) -> None:
        with SmtpServer(require_starttls=True, credentials=("hisaab", "s3cret")) as server:
            channel = channel_to(
                server,
                starttls=True,
                ssl_context=server.client_context(),
                username="hisaab",
                password="s3cret",
            )
            channel.send(alert)
            (mail,) = server.messages
            assert mail.over_tls is True and mail.login == "hisaab"

    def test_a_server_requiring_starttls_refuses_a_plain_session(self, alert: Alert) -> None:
        with SmtpServer(require_starttls=True) as server:
            with pytest.raises(DeliveryError) as caught:
                channel_to(server).send(alert)
            assert caught.value.retryable is False
            assert "530" in caught.value.reason

    def test_an_untrusted_certificate_is_permanent(self, alert: Alert) -> None:
        with SmtpServer(tls=True) as server:
            with pytest.raises(DeliveryError) as caught:
                channel_to(server, starttls=True).send(alert)
            assert caught.value.retryable is False
            assert "certificate" in caught.value.reason
            assert server.messages == []

    def test_starttls_asked_of_a_server_without_it_is_permanent(
        self, smtp_server: SmtpServer, alert: Alert
    ) -> None:
        with pytest.raises(DeliveryError) as caught:
            channel_to(smtp_server, starttls=True).send(alert)
        assert caught.value.retryable is False
        assert "STARTTLS" in caught.value.reason


def test_a_recipient_that_is_not_an_address_is_refused_when_configured() -> None:
    with pytest.raises(InputError, match="email recipient 2 \\('finance'\\)"):
        EmailChannel(host="127.0.0.1", recipients=[OPS, "finance"], sender="h@x.example")
