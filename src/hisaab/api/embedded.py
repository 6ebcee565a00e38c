"""Serving the API with its worker in the same process: the embedded, single-box deployment.

With SQLite there is one writer at a time, and the real-time fan-out is in-process (unless
HISAAB_REDIS_URL is set), so the simplest sound deployment runs the worker as a thread of the
API process (`hisaab serve --with-worker`, and `hisaab demo`). The group commit that stores
callbacks wakes the worker as soon as they are committed, so nothing waits for a poll.
"""

from __future__ import annotations

import sys
import threading

import uvicorn
from fastapi import FastAPI

from hisaab.config import Settings
from hisaab.queue.jobs import BATCH_HANDLERS, arm
from hisaab.queue.retention import PRUNE_JOB
from hisaab.queue.worker import Worker, load_handlers
from hisaab.realtime.jobs import STUCK_CHECK_JOB

# The API process runs the event loop (HTTP, WebSockets) and the group commit's writer thread.
# When both want the interpreter, CPython hands it over only every 5 ms by default, so a
# callback's answer and its live message could wait up to 5 ms behind a batch being written.
# 1 ms took the end-to-end median from 16 to 12 ms at 1,000 callbacks/s (docs/benchmarks.md).
GIL_SWITCH_SECONDS = 0.001


def start_worker(app: FastAPI, *, poll_seconds: float = 0.5) -> tuple[Worker, threading.Thread]:
    """Start a worker thread on the app's database; the app wakes it after each group commit."""
    handlers = load_handlers()
    worker = Worker(
        app.state.sessions,
        poll_seconds=poll_seconds,
        handlers=handlers,
        batch_handlers=BATCH_HANDLERS,
    )
    with app.state.sessions.begin() as session:
        for kind in (STUCK_CHECK_JOB, PRUNE_JOB):
            arm(session, kind)
    app.state.wake_worker = worker.wake
    thread = threading.Thread(target=worker.run, name="hisaab-worker", daemon=True)
    thread.start()
    return worker, thread


def serve(app: FastAPI, *, host: str, port: int, with_worker: bool) -> None:
    """Serve `app` until interrupted; with `with_worker`, run a worker thread alongside.

    uvicorn's own access log stays off: the app writes its own (hisaab.api.access).
    """
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    worker = thread = None
    if with_worker:
        worker, thread = start_worker(app)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_config=None,
            log_level="info",
            access_log=False,
            ws_per_message_deflate=app.state.settings.ws_compression,
        )
    finally:
        if worker is not None and thread is not None:
            worker.stop()
            thread.join(timeout=10)


def serve_processes(*, host: str, port: int, workers: int, settings: Settings) -> None:
    """Serve the API from `workers` processes on one port (uvicorn's supervisor: it restarts
    a process that dies). Each process builds its app from the environment's settings; the
    fan-out (PostgreSQL NOTIFY, or Redis) reaches every process's WebSocket clients."""
    uvicorn.run(
        "hisaab.api.embedded:process_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        log_level="info",
        access_log=False,
        ws_per_message_deflate=settings.ws_compression,
    )


def process_app() -> FastAPI:
    """The app of one of `hisaab serve --workers N`'s processes."""
    from hisaab.api.app import create_app
    from hisaab.config import get_settings
    from hisaab.logs import configure_logging

    configure_logging("INFO")
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    return create_app(get_settings())
