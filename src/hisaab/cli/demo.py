"""`hisaab demo`: a reconciled demo deployment on SQLite, served with an in-process worker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo_command(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the demo's database and files.")
    ] = Path("demo-out/server"),
    rows: Annotated[int, typer.Option("--rows", help="Simulated PG transactions.")] = 20_000,
    port: Annotated[int, typer.Option("--port")] = 8000,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API after.")] = True,
    payments_every: Annotated[
        float,
        typer.Option(
            "--payments-every", min=0.2, help="Seconds between simulated M-Pesa payments."
        ),
    ] = 3.0,
) -> None:
    """Set up the demo (users, a reconciled job) and serve the API until Ctrl-C.

    While serving, a built-in Daraja sandbox (at /sandbox/daraja) plays M-Pesa and a trickle
    of simulated payments goes through the real API, so real-time results appear live.
    """
    import os
    import secrets

    # Imported here, not at the top: `hisaab --help` and other commands stay fast.
    from hisaab.demo import DEMO_PASSWORD, DEMO_USERS, prepare
    from hisaab.mpesa.sandbox_state import SandboxConfig

    base = f"http://127.0.0.1:{port}"
    sandbox = SandboxConfig(callback_delay_ms=1500)
    # Real-time M-Pesa settings of the demo deployment: Daraja is the in-process sandbox.
    os.environ.update(
        HISAAB_MPESA_BASE_URL=f"{base}/sandbox/daraja",
        HISAAB_MPESA_CONSUMER_KEY=sandbox.consumer_key,
        HISAAB_MPESA_CONSUMER_SECRET=sandbox.consumer_secret,
        HISAAB_MPESA_PASSKEY=sandbox.passkey,
        HISAAB_MPESA_SHORTCODE=sandbox.shortcode,
        HISAAB_MPESA_CALLBACK_URL=base,
        HISAAB_MPESA_CALLBACK_SECRET=os.environ.get("HISAAB_MPESA_CALLBACK_SECRET")
        or secrets.token_urlsafe(24),
    )

    demo = prepare(out, rows=rows)
    typer.echo(f"Database: {demo.settings.database_url}")
    typer.echo(f"Demo users (password {DEMO_PASSWORD!r}):")
    for email, role, merchant in DEMO_USERS:
        typer.echo(f"  {email:<26} {role}" + (f" (merchant {merchant})" if merchant else ""))
    totals = (demo.summary or {}).get("totals", {})
    typer.echo(f"Job {demo.job_id}: {demo.job_status}; totals {totals}")
    if not serve:
        demo.engine.dispose()
        return
    from hisaab.api.app import create_app
    from hisaab.api.embedded import serve as serve_app
    from hisaab.mpesa.sandbox import create_sandbox
    from hisaab.realtime.trickle import Trickle

    typer.echo(f"API: {base}   OpenAPI: {base}/docs   health: {base}/health")
    typer.echo(
        "Try:\n"
        f"  TOKEN=$(curl -s -X POST {base}/api/auth/login -H 'Content-Type: application/json' "
        f'-d \'{{"email": "ops@hisaab.demo", "password": "{DEMO_PASSWORD}"}}\' '
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n"
        f'  curl -s {base}/api/jobs/{demo.job_id}/exceptions -H "Authorization: Bearer $TOKEN"\n'
        f'  curl -s -X POST {base}/api/exceptions/1/resolve -H "Authorization: Bearer $TOKEN" '
        "-H 'Content-Type: application/json' "
        '-d \'{"resolution": "accept", "reason": "timing difference"}\''
    )
    typer.echo(
        "Real-time M-Pesa: a simulated payment every "
        f"{payments_every:g} s through the sandbox at {base}/sandbox/daraja. Watch live:\n"
        f"  ADMIN=$(curl -s -X POST {base}/api/auth/login -H 'Content-Type: application/json' "
        f'-d \'{{"email": "admin@hisaab.demo", "password": "{DEMO_PASSWORD}"}}\' '
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n"
        f'  python3 -m websockets "ws://127.0.0.1:{port}/ws/real-time-reconciliation?token=$ADMIN"\n'
        f'  curl -s {base}/api/real-time-reconciliation/stats -H "Authorization: Bearer $ADMIN"'
    )
    trickle = Trickle(base, "ops@hisaab.demo", DEMO_PASSWORD, every=payments_every)
    try:
        app = create_app(demo.settings, engine=demo.engine)
        app.mount("/sandbox/daraja", create_sandbox(sandbox))
        trickle.start()
        serve_app(app, host="127.0.0.1", port=port, with_worker=True)
    finally:
        trickle.stop()
        demo.engine.dispose()
