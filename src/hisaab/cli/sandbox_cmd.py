"""`hisaab sandbox`: run the Daraja-compatible M-Pesa sandbox on its own port."""

from __future__ import annotations

from typing import Annotated

import typer


def sandbox_command(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8100,
    callback_delay_ms: Annotated[
        int,
        typer.Option(
            "--callback-delay-ms", min=0, help="How long the payer 'takes' before the callback."
        ),
    ] = 3000,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            help="Outcome of every STK Push (success, cancelled, timeout, wrong_pin, "
            "insufficient_funds, wrong_amount, duplicate, no_callback). "
            "Default: the payer phone's last digit decides.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same receipts.")] = 7,
) -> None:
    """Serve a Daraja sandbox: OAuth, STK Push and Query, Transaction Status, C2B.

    It accepts the credentials in HISAAB_MPESA_CONSUMER_KEY / _CONSUMER_SECRET / _PASSKEY /
    _SHORTCODE when they are set (else sandbox-key, sandbox-secret, sandbox-passkey, 174379),
    so Hisaab pointed at it with HISAAB_MPESA_BASE_URL=http://HOST:PORT works unchanged.
    """
    import uvicorn

    from hisaab.config import get_settings
    from hisaab.errors import InputError
    from hisaab.mpesa.sandbox import create_sandbox
    from hisaab.mpesa.sandbox_scenarios import Scenario
    from hisaab.mpesa.sandbox_state import SandboxConfig

    if scenario is not None and scenario not in {s.value for s in Scenario}:
        raise InputError(
            f"unknown scenario {scenario!r}",
            column="--scenario",
            expected=", ".join(s.value for s in Scenario),
        )
    settings = get_settings()
    defaults = SandboxConfig()

    def chosen(secret: object, fallback: str) -> str:
        value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
        return str(value) if value else fallback

    config = SandboxConfig(
        consumer_key=chosen(settings.mpesa_consumer_key, defaults.consumer_key),
        consumer_secret=chosen(settings.mpesa_consumer_secret, defaults.consumer_secret),
        shortcode=settings.mpesa_shortcode or defaults.shortcode,
        passkey=chosen(settings.mpesa_passkey, defaults.passkey),
        callback_delay_ms=callback_delay_ms,
        default_scenario=Scenario(scenario) if scenario else None,
        seed=seed,
    )
    typer.echo(
        f"Daraja sandbox on http://{host}:{port} (shortcode {config.shortcode}, "
        f"consumer key {config.consumer_key}, callbacks after {callback_delay_ms} ms). "
        "Scenario by the payer's last digit unless set: POST /sandbox/scenarios."
    )
    uvicorn.run(create_sandbox(config), host=host, port=port, log_level="info")
