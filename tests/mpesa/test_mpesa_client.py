"""`DarajaClient` against a real Daraja sandbox on a local port: tokens, requests, refusals."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from mpesa_servers import Receiver, Recording, Scope, serve
from mpesa_support import KEY, PASSKEY, SECRET, SHORTCODE, Daraja, sandbox_config

from hisaab.config import Settings
from hisaab.errors import AmountError, InputError
from hisaab.mpesa.client import DarajaClient
from hisaab.mpesa.errors import DarajaAuthError, DarajaError, MpesaNotConfigured
from hisaab.mpesa.payloads import QueryStatus
from hisaab.mpesa.protocol import STK_PUSH_PATH, stk_password
from hisaab.mpesa.sandbox import create_sandbox
from hisaab.mpesa.session import DEFAULT_TIMEOUT

PHONE = "254708374149"  # ends in 9: the sandbox's digit rule says "success"


def push(client: DarajaClient, receiver_url: str, amount_minor: int = 250_000) -> str:
    answer = client.stk_push(
        amount_minor, PHONE, "INV-2024-001", "Consultation", receiver_url + "/cb"
    )
    return answer.checkout_request_id


class TestTokens:
    def test_one_token_serves_many_calls(
        self, daraja: Daraja, client: DarajaClient, receiver_url: str
    ) -> None:
        checkout = push(client, receiver_url)
        client.stk_query(checkout)
        client.stk_query(checkout)
        assert daraja.stats() == {"oauth": 1, "stk_push": 1, "stk_query": 2}

    def test_threads_asking_at_once_share_one_oauth_call(
        self, daraja: Daraja, client: DarajaClient
    ) -> None:
        tokens: list[str] = []
        start = threading.Barrier(8)

        def ask() -> None:
            start.wait()
            tokens.append(client.access_token())

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(tokens) == 8 and len(set(tokens)) == 1
        assert daraja.stats()["oauth"] == 1

    def test_a_token_is_renewed_shortly_before_it_expires(
        self, make_daraja: Callable[..., Daraja]
    ) -> None:
        daraja = make_daraja(token_ttl_seconds=1)
        with daraja.client() as client:
            first = client.access_token()
            assert client.access_token() == first
            time.sleep(1.0)  # a 1 s token is renewed after 0.9 s
            assert client.access_token() != first
        assert daraja.stats()["oauth"] == 2

    def test_a_rejected_token_is_replaced_once_and_the_call_succeeds(
        self, daraja: Daraja, client: DarajaClient, receiver_url: str
    ) -> None:
        client.access_token()
        daraja.control.post("/sandbox/tokens/revoke").raise_for_status()
        assert push(client, receiver_url).startswith("ws_CO_")
        assert daraja.stats() == {"oauth": 2, "stk_push": 2}

    def test_a_token_rejected_twice_is_an_auth_error(
        self, make_daraja: Callable[..., Daraja], receiver_url: str
    ) -> None:
        daraja = make_daraja(token_ttl_seconds=0)  # every token is already expired
        with daraja.client() as client, pytest.raises(DarajaAuthError) as caught:
            push(client, receiver_url)
        assert "freshly issued access token" in caught.value.message
        assert daraja.stats() == {"oauth": 2, "stk_push": 2}

    def test_wrong_consumer_credentials(self, daraja: Daraja, receiver_url: str) -> None:
        with (
            daraja.client(consumer_secret="not-the-secret") as client,
            pytest.raises(DarajaAuthError) as caught,
        ):
            push(client, receiver_url)
        error = caught.value
        assert (error.code, error.http_status) == ("MPESA_AUTH_FAILED", 502)
        assert (error.error_code, error.error_message) == (
            "400.008.01",
            "Invalid Authentication passed",
        )
        assert "HISAAB_MPESA_CONSUMER_SECRET" in error.message
        assert daraja.stats() == {"oauth": 1}  # nothing was pushed


@pytest.fixture
def recorded() -> Iterator[tuple[Recording, str]]:
    recording = Recording(create_sandbox(sandbox_config()))
    with serve(recording) as url:
        yield recording, url


class TestWhatIsSent:
    NAIROBI_NIGHT = dt.datetime(2024, 1, 15, 21, 30, 5, tzinfo=dt.UTC)  # 00:30:05 on the 16th

    def client(self, url: str) -> DarajaClient:
        return DarajaClient(
            base_url=url,
            consumer_key=KEY,
            consumer_secret=SECRET,
            shortcode=SHORTCODE,
            passkey=PASSKEY,
            clock=lambda: self.NAIROBI_NIGHT,
        )

    def test_the_stk_push_request_follows_daraja(
        self, recorded: tuple[Recording, str], receiver_url: str
    ) -> None:
        recording, url = recorded
        with self.client(url) as client:
            client.stk_push(
                150_000,
                "0708374149",
                "INV-2024-001",
                "Therapy session fee",
                receiver_url + "/cb?s=1",
            )
        oauth, sent = recording.requests
        assert oauth.method == "GET" and oauth.path == "/oauth/v1/generate"
        assert (
            oauth.headers["authorization"]
            == "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
        )
        assert sent.path == STK_PUSH_PATH and sent.headers["authorization"].startswith("Bearer ")
        assert sent.body == {
            "BusinessShortCode": SHORTCODE,
            "Password": stk_password(SHORTCODE, PASSKEY, "20240116003005"),
            "Timestamp": "20240116003005",  # Kenya time, UTC+3
            "TransactionType": "CustomerPayBillOnline",
            "Amount": 1500,  # whole shillings
            "PartyA": PHONE,
            "PartyB": SHORTCODE,
            "PhoneNumber": PHONE,
            "CallBackURL": receiver_url + "/cb?s=1",
            "AccountReference": "INV-2024-001",
            "TransactionDesc": "Therapy sessi",  # truncated to 13 characters
        }

    def test_the_password_is_base64_of_shortcode_passkey_timestamp(self) -> None:
        assert base64.b64decode(stk_password("174379", "pk", "20240116003005")) == (
            b"174379pk20240116003005"
        )

    def test_the_query_request(self, recorded: tuple[Recording, str], receiver_url: str) -> None:
        recording, url = recorded
        with self.client(url) as client:
            checkout = push(client, receiver_url)
            client.stk_query(checkout)
        assert recording.requests[-1].body == {
            "BusinessShortCode": SHORTCODE,
            "Password": stk_password(SHORTCODE, PASSKEY, "20240116003005"),
            "Timestamp": "20240116003005",
            "CheckoutRequestID": checkout,
        }


class TestRefusedBeforeSending:
    def test_cents_are_refused(
        self, daraja: Daraja, client: DarajaClient, receiver_url: str
    ) -> None:
        with pytest.raises(AmountError) as caught:
            push(client, receiver_url, amount_minor=150_050)
        assert "whole shillings" in caught.value.message and "KES 1500.50" in caught.value.message
        assert daraja.stats() == {}

    @pytest.mark.parametrize("amount", [0, -100])
    def test_nothing_or_less_is_refused(
        self, client: DarajaClient, receiver_url: str, amount: int
    ) -> None:
        with pytest.raises(AmountError):
            push(client, receiver_url, amount_minor=amount)

    def test_a_long_account_reference_is_refused_not_cut(
        self, daraja: Daraja, client: DarajaClient, receiver_url: str
    ) -> None:
        with pytest.raises(InputError) as caught:
            client.stk_push(100, PHONE, "INVOICE-2024-0001", "Fee", receiver_url)
        assert caught.value.column == "account_reference"
        assert "1 to 12 characters" in caught.value.describe()
        assert daraja.stats() == {}

    def test_a_phone_that_is_not_kenyan_is_refused(
        self, client: DarajaClient, receiver_url: str
    ) -> None:
        with pytest.raises(InputError) as caught:
            client.stk_push(100, "+919876543210", "INV-1", "Fee", receiver_url)
        assert "phone: " in caught.value.describe()

    def test_a_callback_that_is_not_a_url_is_refused(self, client: DarajaClient) -> None:
        with pytest.raises(InputError):
            client.stk_push(100, PHONE, "INV-1", "Fee", "callback")

    def test_an_unknown_transaction_type_is_refused(self, daraja: Daraja) -> None:
        with pytest.raises(InputError) as caught:
            daraja.client(transaction_type="CustomerPayBill")
        assert caught.value.column == "HISAAB_MPESA_TRANSACTION_TYPE"


class TestDarajaRefusals:
    def test_a_wrong_passkey_is_wrong_credentials_not_processing(
        self, daraja: Daraja, receiver_url: str
    ) -> None:
        with (
            daraja.client(passkey="not-the-passkey") as client,
            pytest.raises(DarajaError) as caught,
        ):
            push(client, receiver_url)
        error = caught.value
        assert (error.error_code, error.error_message) == ("500.001.1001", "Wrong credentials")
        assert (error.code, error.http_status, error.upstream_status) == (
            "MPESA_UPSTREAM_ERROR",
            502,
            500,
        )
        assert not isinstance(error, DarajaAuthError)
        assert daraja.posted() == []

    def test_a_query_with_a_wrong_passkey_raises_too(
        self, daraja: Daraja, client: DarajaClient, receiver_url: str
    ) -> None:
        checkout = push(client, receiver_url)
        with (
            daraja.client(passkey="not-the-passkey") as other,
            pytest.raises(DarajaError) as caught,
        ):
            other.stk_query(checkout)
        assert caught.value.error_message == "Wrong credentials"

    def test_querying_an_unknown_checkout(self, client: DarajaClient) -> None:
        with pytest.raises(DarajaError) as caught:
            client.stk_query("ws_CO_00000000000000000000")
        assert caught.value.error_code == "400.002.02"
        assert caught.value.error_message == "Bad Request - Invalid CheckoutRequestID"

    def test_still_processing_is_an_answer_not_an_error(
        self, client: DarajaClient, receiver_url: str
    ) -> None:
        answer = client.stk_query(push(client, receiver_url))
        assert answer.status is QueryStatus.PROCESSING and answer.result is None


class TestConfiguration:
    def settings(self, **values: Any) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def test_nothing_configured_names_every_missing_setting(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in ("BASE_URL", "CONSUMER_KEY", "CONSUMER_SECRET", "PASSKEY"):
            monkeypatch.delenv(f"HISAAB_MPESA_{name}", raising=False)
        with pytest.raises(MpesaNotConfigured) as caught:
            DarajaClient.from_settings(self.settings())
        assert caught.value.message == (
            "M-Pesa is not configured: set HISAAB_MPESA_BASE_URL, HISAAB_MPESA_CONSUMER_KEY, "
            "HISAAB_MPESA_CONSUMER_SECRET, HISAAB_MPESA_PASSKEY"
        )
        assert caught.value.http_status == 501

    def test_only_what_is_missing_is_named(self) -> None:
        settings = self.settings(
            mpesa_base_url="http://127.0.0.1:1", mpesa_consumer_key=KEY, mpesa_passkey=PASSKEY
        )
        with pytest.raises(MpesaNotConfigured) as caught:
            DarajaClient.from_settings(settings)
        assert caught.value.missing == ("HISAAB_MPESA_CONSUMER_SECRET",)

    def test_configured_settings_reach_the_sandbox(self, daraja: Daraja, receiver_url: str) -> None:
        settings = self.settings(
            mpesa_base_url=daraja.url,
            mpesa_consumer_key=KEY,
            mpesa_consumer_secret=SECRET,
            mpesa_passkey=PASSKEY,
            mpesa_shortcode=SHORTCODE,
        )
        with DarajaClient.from_settings(settings) as client:
            assert push(client, receiver_url).startswith("ws_CO_")

    def test_transaction_status_needs_an_initiator(self, daraja: Daraja, receiver_url: str) -> None:
        with (
            daraja.client(initiator=None, security_credential=None) as client,
            pytest.raises(MpesaNotConfigured) as caught,
        ):
            client.transaction_status("NLJ7RT61SV", receiver_url + "/r", receiver_url + "/t")
        assert caught.value.missing == (
            "HISAAB_MPESA_INITIATOR",
            "HISAAB_MPESA_SECURITY_CREDENTIAL",
        )

    def test_default_timeouts(self) -> None:
        assert (DEFAULT_TIMEOUT.connect, DEFAULT_TIMEOUT.read) == (5.0, 30.0)


class Misbehaving:
    """A Daraja lookalike that issues tokens, then answers too slowly or with an HTML page."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await Receiver()(scope, receive, send)
            return
        if scope["path"].startswith("/oauth"):
            status, kind, body = (
                200,
                b"application/json",
                b'{"access_token":"t","expires_in":"3599"}',
            )
        elif self.mode == "slow":
            await asyncio.sleep(3)
            status, kind, body = 200, b"application/json", b"{}"
        else:
            status, kind, body = 503, b"text/html", b"<html><body>Service Unavailable</body></html>"
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]}
        )
        await send({"type": "http.response.body", "body": body})


class TestTransport:
    def test_a_read_timeout_may_have_reached_daraja(self, receiver_url: str) -> None:
        with serve(Misbehaving("slow")) as url:
            client = DarajaClient(
                base_url=url,
                consumer_key=KEY,
                consumer_secret=SECRET,
                shortcode=SHORTCODE,
                passkey=PASSKEY,
                timeout=httpx.Timeout(0.5, connect=5.0),
            )
            started = time.monotonic()
            with client, pytest.raises(DarajaError) as caught:
                push(client, receiver_url)
            elapsed = time.monotonic() - started
        assert caught.value.may_have_reached and "query before retrying" in caught.value.message
        assert elapsed < 2.5

    def test_an_html_error_page_is_an_upstream_error(self, receiver_url: str) -> None:
        with serve(Misbehaving("html")) as url:
            client = DarajaClient(
                base_url=url,
                consumer_key=KEY,
                consumer_secret=SECRET,
                shortcode=SHORTCODE,
                passkey=PASSKEY,
            )
            with client, pytest.raises(DarajaError) as caught:
                push(client, receiver_url)
        assert caught.value.upstream_status == 503
        assert "not JSON" in caught.value.message

    def test_nobody_listening_never_reached_daraja(self, receiver_url: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        client = DarajaClient(
            base_url=f"http://127.0.0.1:{port}",
            consumer_key=KEY,
            consumer_secret=SECRET,
            shortcode=SHORTCODE,
            passkey=PASSKEY,
        )
        with client, pytest.raises(DarajaError) as caught:
            push(client, receiver_url)
        assert not caught.value.may_have_reached
        assert "cannot reach Daraja" in caught.value.message
