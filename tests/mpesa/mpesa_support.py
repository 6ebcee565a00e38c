"""What the M-Pesa tests share: the sandbox's credentials and a handle on a running sandbox."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from hisaab.mpesa.client import DarajaClient
from hisaab.mpesa.sandbox_state import SandboxConfig

KEY, SECRET, PASSKEY, SHORTCODE = "app-key", "app-secret", "test-passkey-0001", "174379"
DELAY_MS = 300


@dataclass
class Daraja:
    """A running sandbox: its base URL and a plain HTTP client for its control endpoints."""

    url: str
    control: httpx.Client

    def client(self, **overrides: Any) -> DarajaClient:
        arguments: dict[str, Any] = {
            "base_url": self.url,
            "consumer_key": KEY,
            "consumer_secret": SECRET,
            "shortcode": SHORTCODE,
            "passkey": PASSKEY,
            "initiator": "testapi",
            "security_credential": "encrypted-credential",
        }
        arguments.update(overrides)
        return DarajaClient(**arguments)

    def stats(self) -> dict[str, int]:
        return dict(self.control.get("/sandbox/stats").raise_for_status().json())

    def posted(self, **filters: str) -> list[dict[str, Any]]:
        response = self.control.get("/sandbox/callbacks", params=filters).raise_for_status()
        return list(response.json())

    def wait_posted(
        self, count: int, timeout: float = 10.0, **filters: str
    ) -> list[dict[str, Any]]:
        """The sandbox's log of posts, once it holds `count` entries matching `filters`."""
        deadline = time.monotonic() + timeout
        while True:
            posted = self.posted(**filters)
            if len(posted) >= count:
                return posted
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} logged post(s), got {posted!r}")
            time.sleep(0.02)

    def scenario(self, scenario: str | None, phone: str | None = None) -> None:
        body: dict[str, Any] = {"scenario": scenario}
        if phone is not None:
            body["phone"] = phone
        self.control.post("/sandbox/scenarios", json=body).raise_for_status()


def sandbox_config(**overrides: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "consumer_key": KEY,
        "consumer_secret": SECRET,
        "shortcode": SHORTCODE,
        "passkey": PASSKEY,
        "callback_delay_ms": DELAY_MS,
    }
    values.update(overrides)
    return SandboxConfig(**values)
