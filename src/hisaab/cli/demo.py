"""`hisaab demo`: a reconciled demo deployment on SQLite, served with an in-process worker."""

from __future__ import annotations

import threading
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
) -> None:
    """Set up the demo (users, a reconciled job) and serve the API until Ctrl-C."""
    # Imported here, not at the top: `hisaab --help` and other commands stay fast.
    from hisaab.demo import DEMO_PASSWORD, DEMO_USERS, prepare

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
    import uvicorn

    from hisaab.api.app import create_app
    from hisaab.queue.worker import Worker

    base = f"http://127.0.0.1:{port}"
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
    worker = Worker(demo.sessions, poll_seconds=0.5)
    thread = threading.Thread(target=worker.run, name="hisaab-worker", daemon=True)
    thread.start()
    try:
        uvicorn.run(create_app(demo.settings, engine=demo.engine), host="127.0.0.1", port=port)
    finally:
        worker.stop()
        thread.join(timeout=10)
        demo.engine.dispose()
