"""`AsyncDarajaClient` (the API's, on aiohttp) against a real Daraja sandbox on a local port:
the same answers and the same failures as the synchronous client."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from mpesa_servers import serve
from mpesa_support import KEY, PASSKEY, SECRET, SHORTCODE, Daraja
from test_mpesa_client import PHONE, Misbehaving

from hisaab.mpesa.client import AsyncDarajaClient
from hisaab.mpesa.errors import DarajaAuthError, DarajaError
from hisaab.mpesa.payloads import QueryStatus

T = TypeVar("T")


def run(url: str, use: Callable[[AsyncDarajaClient], Awaitable[T]], **options: Any) -> T:
    """Make a client on a loop of its own, use it, close it."""

    async def main() -> T:
        client = AsyncDarajaClient(
            base_url=url,
            consumer_key=options.pop("consumer_key", KEY),
            consumer_secret=SECRET,
            shortcode=SHORTCODE,
            passkey=PASSKEY,
            **options,
        )
        try:
            return await use(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


async def push(client: AsyncDarajaClient, receiver_url: str) -> str:
    answer = await client.stk_push(
        250_000, PHONE, "INV-2024-001", "Consultation", receiver_url + "/cb"
    )
    return answer.checkout_request_id


def test_a_push_is_accepted_and_can_be_queried(daraja: Daraja, receiver_url: str) -> None:
    async def use(client: AsyncDarajaClient) -> tuple[str, Any]:
        checkout = await push(client, receiver_url)
        return checkout, await client.stk_query(checkout)

    checkout, answer = run(daraja.url, use)
    assert checkout.startswith("ws_CO_")
    assert answer.status in (QueryStatus.PROCESSING, QueryStatus.FINAL)


def test_many_pushes_at_once_share_one_token(daraja: Daraja, receiver_url: str) -> None:
    async def use(client: AsyncDarajaClient) -> list[str]:
        return list(await asyncio.gather(*(push(client, receiver_url) for _ in range(20))))

    checkouts = run(daraja.url, use)
    assert len(set(checkouts)) == 20
    assert daraja.stats() == {"oauth": 1, "stk_push": 20}


def test_a_revoked_token_is_replaced_once_and_the_push_succeeds(
    daraja: Daraja, receiver_url: str
) -> None:
    async def use(client: AsyncDarajaClient) -> str:
        await push(client, receiver_url)
        daraja.control.post("/sandbox/tokens/revoke").raise_for_status()
        return await push(client, receiver_url)

    assert run(daraja.url, use).startswith("ws_CO_")
    assert daraja.stats()["oauth"] == 2


def test_wrong_consumer_credentials_are_an_auth_error(daraja: Daraja, receiver_url: str) -> None:
    with pytest.raises(DarajaAuthError, match="consumer key and secret"):
        run(daraja.url, lambda c: push(c, receiver_url), consumer_key="not-the-key")


def test_a_read_timeout_may_have_reached_daraja(receiver_url: str) -> None:
    with serve(Misbehaving("slow")) as url:
        started = time.monotonic()
        with pytest.raises(DarajaError) as caught:
            run(url, lambda c: push(c, receiver_url), timeout=httpx.Timeout(0.5, connect=5.0))
        elapsed = time.monotonic() - started
    assert caught.value.may_have_reached and "query before retrying" in caught.value.message
    assert elapsed < 2.5


def test_an_html_error_page_is_an_upstream_error(receiver_url: str) -> None:
    with serve(Misbehaving("html")) as url, pytest.raises(DarajaError) as caught:
        run(url, lambda c: push(c, receiver_url))
    assert caught.value.upstream_status == 503
    assert "not JSON" in caught.value.message


def test_nobody_listening_never_reached_daraja(receiver_url: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DarajaError) as caught:
        run(f"http://127.0.0.1:{port}", lambda c: push(c, receiver_url))
    assert not caught.value.may_have_reached
    assert "cannot reach Daraja" in caught.value.message
