"""A Daraja sandbox and a merchant's receiver, both real uvicorn servers, and clients of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from mpesa_servers import Receiver, serve
from mpesa_support import Daraja, sandbox_config

from hisaab.mpesa.client import DarajaClient
from hisaab.mpesa.sandbox import create_sandbox


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with serve(receiver) as url:
        yield receiver, url


@pytest.fixture
def receiver(receiver_server: tuple[Receiver, str]) -> Receiver:
    receiver_server[0].clear()
    return receiver_server[0]


@pytest.fixture
def receiver_url(receiver_server: tuple[Receiver, str]) -> str:
    return receiver_server[1]


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[Daraja]:
    with serve(create_sandbox(sandbox_config())) as url, httpx.Client(base_url=url) as control:
        yield Daraja(url, control)


@pytest.fixture
def daraja(shared_sandbox: Daraja) -> Daraja:
    """The shared sandbox, reset: no pushes, no scenarios chosen, an empty log."""
    shared_sandbox.control.post("/sandbox/reset").raise_for_status()
    return shared_sandbox


@pytest.fixture
def make_daraja() -> Iterator[Callable[..., Daraja]]:
    """Start a sandbox of its own with other settings (stopped at the end of the test)."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> Daraja:
            url = stack.enter_context(serve(create_sandbox(sandbox_config(**overrides))))
            control = stack.enter_context(httpx.Client(base_url=url))
            return Daraja(url, control)

        yield start


@pytest.fixture
def client(daraja: Daraja) -> Iterator[DarajaClient]:
    with daraja.client() as c:
        yield c
