"""The memory of the Daraja sandbox: its configuration, tokens, pushes, payments and log.

Pure Python, no I/O: `sandbox.py` turns HTTP requests into calls here and posts what this
decides. A push becomes final `callback_delay_ms` after it was accepted; before that, STK
Query answers "being processed", after it the scenario's result, whether or not the
callback was posted (or delivered).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from hisaab.mpesa.phones import normalise_phone
from hisaab.mpesa.protocol import KENYA_TZ
from hisaab.mpesa.sandbox_scenarios import (
    BEHAVIOURS,
    DIGIT_RULE,
    Behaviour,
    Paid,
    Scenario,
    new_receipt,
    paid_amount,
)


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """What the sandbox accepts. Credentials are the sandbox's own, for tests and demos."""

    consumer_key: str = "sandbox-key"
    consumer_secret: str = "sandbox-secret"
    shortcode: str = "174379"
    passkey: str = "sandbox-passkey"
    initiator: str | None = None  # None: any non-empty Initiator is accepted
    security_credential: str | None = None  # None: any non-empty credential is accepted
    callback_delay_ms: int = 1000
    token_ttl_seconds: int = 3599
    default_scenario: Scenario | None = None  # None: the phone's last digit decides
    c2b_external_validation: bool = False
    seed: int = 7
    post_timeout_seconds: float = 8.0


@dataclass
class Push:
    """One accepted STK Push and what the sandbox decided for it."""

    merchant_request_id: str
    checkout_request_id: str
    phone: str
    amount_shillings: int
    callback_url: str
    account_reference: str
    transaction_type: str
    scenario: Scenario
    behaviour: Behaviour
    final_at: float  # time.monotonic() when the result becomes known
    receipt: str | None
    paid_shillings: int
    paid_at: dt.datetime
    rng: random.Random


@dataclass
class C2BUrls:
    confirmation_url: str
    validation_url: str
    response_type: str


@dataclass
class SandboxState:
    config: SandboxConfig
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    pushes: dict[str, Push] = field(default_factory=dict)
    paid: dict[str, Paid] = field(default_factory=dict)  # receipt -> payment
    c2b_urls: dict[str, C2BUrls] = field(default_factory=dict)
    org_balance_minor: dict[str, int] = field(default_factory=dict)
    scenarios_by_phone: dict[str, Scenario] = field(default_factory=dict)
    default_scenario: Scenario | None = None
    posted: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    sequence: int = 0
    pushes_ever: int = 0  # never reset: CheckoutRequestIDs stay unique across resets

    def __post_init__(self) -> None:
        self.default_scenario = self.config.default_scenario

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def rng(self, purpose: str) -> random.Random:
        """A fresh generator per event, seeded by the sandbox seed and the event's number."""
        self.sequence += 1
        return random.Random(f"{self.config.seed}:{purpose}:{self.sequence}")

    def reset(self) -> None:
        """Forget pushes, payments, scenarios, the log and the counters (tokens stay valid)."""
        self.pushes.clear()
        self.paid.clear()
        self.c2b_urls.clear()
        self.org_balance_minor.clear()
        self.scenarios_by_phone.clear()
        self.default_scenario = self.config.default_scenario
        self.posted.clear()
        self.counts.clear()
        self.sequence = 0

    # --- tokens ------------------------------------------------------------------------

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(21)
        self.tokens[token] = time.monotonic() + self.config.token_ttl_seconds
        return token

    def token_valid(self, token: str) -> bool:
        expiry = self.tokens.get(token)
        if expiry is None:
            return False
        if time.monotonic() >= expiry:
            del self.tokens[token]
            return False
        return True

    # --- scenarios -----------------------------------------------------------------------

    def scenario_for(self, phone: str) -> Scenario:
        chosen = self.scenarios_by_phone.get(phone)
        if chosen is not None:
            return chosen
        if self.default_scenario is not None:
            return self.default_scenario
        return DIGIT_RULE[phone[-1]]

    def set_scenario(self, phone: str | None, scenario: Scenario | None) -> None:
        if phone is None:
            self.default_scenario = scenario
        elif scenario is None:
            self.scenarios_by_phone.pop(normalise_phone(phone), None)
        else:
            self.scenarios_by_phone[normalise_phone(phone)] = scenario

    # --- STK Push ----------------------------------------------------------------------

    def accept_push(
        self,
        *,
        phone: str,
        amount_shillings: int,
        callback_url: str,
        account_reference: str,
        transaction_type: str,
        now: dt.datetime,
    ) -> Push:
        rng = self.rng("stk")
        scenario = self.scenario_for(phone)
        behaviour = BEHAVIOURS[scenario]
        local = now.astimezone(KENYA_TZ)
        self.pushes_ever += 1
        checkout_id = f"ws_CO_{local:%d%m%Y%H%M%S}{self.pushes_ever % 1000:03d}{phone}"
        merchant_id = f"{rng.randint(1000, 99999)}-{rng.randint(10**7, 10**8 - 1)}-1"
        delay = self.config.callback_delay_ms / 1000
        push = Push(
            merchant_request_id=merchant_id,
            checkout_request_id=checkout_id,
            phone=phone,
            amount_shillings=amount_shillings,
            callback_url=callback_url,
            account_reference=account_reference,
            transaction_type=transaction_type,
            scenario=scenario,
            behaviour=behaviour,
            final_at=time.monotonic() + delay,
            receipt=new_receipt(rng) if behaviour.paid else None,
            paid_shillings=paid_amount(amount_shillings, behaviour),
            paid_at=now + dt.timedelta(seconds=delay),
            rng=rng,
        )
        self.pushes[checkout_id] = push
        if push.receipt is not None:
            reason = (
                "Pay Bill Online"
                if transaction_type == "CustomerPayBillOnline"
                else "Pay Merchant Online"
            )
            self.paid[push.receipt] = Paid(
                push.receipt, push.paid_shillings, phone, push.paid_at, reason
            )
        return push

    def is_final(self, push: Push) -> bool:
        return time.monotonic() >= push.final_at

    # --- log ---------------------------------------------------------------------------

    def log_post(
        self,
        *,
        kind: str,
        reference: str,
        url: str,
        body: dict[str, Any],
        status_code: int | None,
        answer: Any,
        error: str | None,
    ) -> None:
        self.posted.append(
            {
                "seq": len(self.posted) + 1,
                "kind": kind,
                "reference": reference,
                "url": url,
                "body": body,
                "status_code": status_code,
                "answer": answer,
                "error": error,
                "posted_at": dt.datetime.now(dt.UTC).isoformat(),
            }
        )
