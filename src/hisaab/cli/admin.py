"""`hisaab migrate` and `hisaab config show`: running a deployment's database and settings."""

from __future__ import annotations

from typing import Annotated

import typer

config_app = typer.Typer(help="Show the effective settings.", no_args_is_help=True)
users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)


def migrate_command(
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Overrides HISAAB_DATABASE_URL for this run."),
    ] = None,
) -> None:
    """Create or upgrade the application database to the current schema."""
    # Imported here, not at the top: `hisaab --help` and other commands stay fast.
    from hisaab.config import get_settings, mask_url
    from hisaab.storage.migrate import current_revision, upgrade

    url = database_url or get_settings().database_url
    before = current_revision(url)
    upgrade(url)
    after = current_revision(url)
    state = "already at" if before == after else f"migrated from {before or 'empty'} to"
    typer.echo(f"{mask_url(url)}: {state} revision {after}")


@config_app.command("show")
def show_command() -> None:
    """Print the effective settings (environment and .env), secrets masked."""
    from hisaab.config import get_settings

    # Plain `NAME = value` lines: never wrapped or cut, whatever the terminal, and easy to grep.
    shown = get_settings().shown()
    width = max(len(name) for name in shown)
    for name, value in shown.items():
        typer.echo(f"{name:<{width}} = {'' if value is None else value}")


def serve_command(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log every request (one JSON line on standard error; HISAAB_ACCESS_LOG).",
        ),
    ] = True,
    with_worker: Annotated[
        bool,
        typer.Option(
            "--with-worker/--no-worker",
            help="Also run background jobs in this process (the embedded, SQLite deployment).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="API processes sharing the port (PostgreSQL only; run `hisaab worker` beside "
            "them for background jobs).",
        ),
    ] = 1,
) -> None:
    """Migrate the database, then serve the API (OpenAPI at /docs)."""
    import os

    from hisaab.api.app import create_app
    from hisaab.api.embedded import serve, serve_processes
    from hisaab.config import get_settings
    from hisaab.errors import InputError
    from hisaab.logs import configure_logging
    from hisaab.storage.migrate import upgrade

    if not access_log:
        os.environ["HISAAB_ACCESS_LOG"] = "false"  # for the processes --workers starts too
        get_settings.cache_clear()
    settings = get_settings()
    if workers > 1:
        if not settings.database_url.startswith("postgresql"):
            raise InputError(
                "--workers needs PostgreSQL: SQLite has one writer at a time, so more API "
                "processes would only wait for each other",
                column="--workers",
                expected="HISAAB_DATABASE_URL=postgresql://..., or one process (the default)",
            )
        if with_worker:
            raise InputError(
                "--with-worker runs jobs inside the one API process; with --workers, run "
                "`hisaab worker` beside the API processes instead",
                column="--with-worker",
            )
    app = create_app(settings)  # refuses to start without HISAAB_JWT_SECRET
    upgrade(settings.database_url)
    typer.echo(
        f"Hisaab API on http://{host}:{port} (docs at http://{host}:{port}/docs)"
        + (f", {workers} processes" if workers > 1 else "")
    )
    # One log format for everything: uvicorn's loggers propagate to the masked JSON handler.
    configure_logging("INFO")
    if workers > 1:
        serve_processes(host=host, port=port, workers=workers, settings=settings)
    else:
        serve(app, host=host, port=port, with_worker=with_worker)


@users_app.command("create")
def create_user_command(
    email: Annotated[str, typer.Option("--email")],
    password: Annotated[str, typer.Option("--password", prompt=True, hide_input=True)],
    role: Annotated[str, typer.Option("--role", help="admin, sp-ops, sp-finance, ...")],
    merchant: Annotated[str | None, typer.Option("--merchant")] = None,
) -> None:
    """Create a user who can log in to the API."""
    from sqlalchemy.orm import Session

    from hisaab.auth.users import create_user
    from hisaab.config import get_settings
    from hisaab.storage.engine import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        with Session(engine) as session, session.begin():
            user = create_user(
                session, email=email, password=password, role=role, merchant_id=merchant
            )
            typer.echo(f"created user {user.id}: {user.email} ({user.role})")
    finally:
        engine.dispose()


@audit_app.command("verify")
def audit_verify_command() -> None:
    """Check the whole audit chain; exit 1 and name the first tampered entry if any."""
    from sqlalchemy.orm import Session

    from hisaab.audit.log import verify
    from hisaab.config import get_settings
    from hisaab.storage.engine import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        with Session(engine) as session:
            result = verify(session)
    finally:
        engine.dispose()
    if result.ok:
        typer.echo(f"audit trail intact: {result.entries} entries")
        return
    typer.echo(f"audit entry {result.first_bad_id} was tampered with: {result.problem}", err=True)
    raise typer.Exit(1)


def worker_command(
    once: Annotated[bool, typer.Option("--once", help="Run what is due, then exit.")] = False,
    poll_seconds: Annotated[
        float, typer.Option("--poll-seconds", min=0.01, help="How long to wait when idle.")
    ] = 1.0,
    visibility_timeout: Annotated[
        float,
        typer.Option(
            "--visibility-timeout",
            min=0.1,
            help="Seconds after which a running job whose worker is gone runs again;"
            " must exceed the longest job.",
        ),
    ] = 900.0,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", min=1, help="Attempts before a job fails.")
    ] = 5,
    handler_modules: Annotated[
        list[str] | None,
        typer.Option(
            "--handler-module", help="Also import this module, which registers job handlers."
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Overrides HISAAB_DATABASE_URL for this run."),
    ] = None,
    kinds: Annotated[
        str | None,
        typer.Option(
            "--kinds",
            help="Comma-separated job kinds this worker runs (default: all), e.g. a worker for"
            " real-time reconciliation: realtime.reconcile,mpesa.query,realtime.stuck_check,"
            "realtime.alert",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=5000, help="Jobs per batch, where batched.")
    ] = 200,
) -> None:
    """Run background jobs (reconciliation matches, real-time reconciliation) from the queue."""
    import datetime as dt
    import logging

    from sqlalchemy.orm import sessionmaker

    from hisaab.config import get_settings, mask_url
    from hisaab.errors import InputError
    from hisaab.logs import configure_logging
    from hisaab.queue.jobs import BATCH_HANDLERS, arm, handler_modules_for
    from hisaab.queue.retention import PRUNE_JOB
    from hisaab.queue.retry import RetryPolicy
    from hisaab.queue.wakeup import WakeupListener
    from hisaab.queue.worker import Worker, load_handlers
    from hisaab.realtime.jobs import STUCK_CHECK_JOB
    from hisaab.storage.engine import make_engine
    from hisaab.storage.migrate import current_revision, head_revision

    url = database_url or get_settings().database_url
    current, head = current_revision(url), head_revision(url)
    if current != head:
        raise InputError(
            f"{mask_url(url)} is at schema revision {current or 'empty'}, not {head}",
            expected="the database migrated first: run `hisaab migrate`",
        )
    try:
        load_handlers(optional=(), required=handler_modules or ())
    except ModuleNotFoundError as exc:
        raise InputError(f"--handler-module: {exc}") from None
    # Hisaab's own lines from INFO up, other libraries' from WARNING: masked JSON on stderr.
    configure_logging(logging.WARNING)
    logging.getLogger("hisaab").setLevel(logging.INFO)
    chosen = None if kinds is None else [k.strip() for k in kinds.split(",") if k.strip()]
    handlers = load_handlers(optional=handler_modules_for(chosen))
    unknown = sorted(set(chosen or ()) - set(handlers))
    if unknown:
        raise InputError(
            f"--kinds: no handler for {', '.join(unknown)}",
            expected="some of " + ", ".join(sorted(handlers)),
        )
    engine = make_engine(url)
    listener: WakeupListener | None = None
    try:
        sessions = sessionmaker(engine)
        worker = Worker(
            sessions,
            poll_seconds=poll_seconds,
            visibility_timeout=dt.timedelta(seconds=visibility_timeout),
            policy=RetryPolicy(max_attempts=max_attempts),
            handlers=handlers,
            batch_handlers=BATCH_HANDLERS,
            kinds=chosen,
            batch_size=batch_size,
        )
        # Periodic jobs re-enqueue themselves; a worker that runs them arms any not yet armed.
        periodic = [k for k in (STUCK_CHECK_JOB, PRUNE_JOB) if chosen is None or k in chosen]
        with sessions.begin() as session:
            for kind in periodic:
                arm(session, kind)
        if engine.dialect.name == "postgresql" and not once:
            # Jobs enqueued on PostgreSQL NOTIFY at commit: wake at once instead of polling.
            listener = WakeupListener(
                url, worker.wake, kinds=worker.kinds, on_live=worker.set_listening
            )
            listener.start()
        worker.handle_signals()
        worker.run(once=once)
    finally:
        if listener is not None:
            listener.stop()
        engine.dispose()
