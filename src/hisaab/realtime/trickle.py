"""A trickle of simulated M-Pesa payments through the real API, for the demo.

Every few seconds a payment session is created and an STK Push sent, over HTTP, exactly as a
merchant's system would; the Daraja sandbox then answers with the scenario the payer phone's
last digit picks (hisaab.mpesa.sandbox_scenarios: mostly successes, and now and then a
cancellation, a timeout, a wrong amount or a duplicate callback), so the WebSocket shows live
results and discrepancy alerts.
"""

from __future__ import annotations

import logging
import random
import threading

import httpx

logger = logging.getLogger("hisaab.demo.trickle")

# Last digits of the payer's phone, weighted towards successes (0, 8, 9) like real traffic.
DIGITS = "000000008899" + "123456"


class Trickle:
    def __init__(
        self, base_url: str, email: str, password: str, *, every: float = 3.0, seed: int = 7
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.email = email
        self.password = password
        self.every = every
        self.random = random.Random(seed)
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hisaab-trickle", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            token = None
            while not self._stop.wait(self.every):
                try:
                    if token is None:
                        token = self._login(client)
                    self._pay(client, token)
                except httpx.HTTPError as exc:
                    logger.warning("simulated payment not sent: %s", exc)
                    token = None

    def _login(self, client: httpx.Client) -> str:
        answer = client.post(
            "/api/auth/login", json={"email": self.email, "password": self.password}
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def _pay(self, client: httpx.Client, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        n = self.sent + 1
        phone = (
            f"07{self.random.randrange(10_000_000, 99_999_999) // 10}{self.random.choice(DIGITS)}"
        )
        amount = self.random.choice((50, 100, 250, 500, 1_000, 1_500, 2_500, 10_000))
        created = client.post(
            "/api/sessions",
            headers=headers,
            json={
                "merchantId": self.random.choice(("M0001234", "M0005678", "M0009012")),
                "amount": amount,
                "phone": phone,
                "accountReference": f"DEMO{n:06d}",
            },
        )
        created.raise_for_status()
        session_id = created.json()["sessionId"]
        pushed = client.post("/api/mpesa/stkpush", headers=headers, json={"sessionId": session_id})
        pushed.raise_for_status()
        self.sent = n
