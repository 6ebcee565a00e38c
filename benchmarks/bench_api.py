"""The API under concurrent load: many clients on every authenticated endpoint at once.

    python benchmarks/bench_api.py --hisaab .venv-bench/bin/hisaab [--db sqlite|postgresql]

For each database (both by default), all on this machine:
1. A fresh database (a SQLite file, or a throwaway PostgreSQL server with its default,
   crash-safe commit settings), migrated by `hisaab migrate`, with a user per role made by
   `hisaab users create` (the merchant admin with its merchant).
2. `hisaab sandbox` plays Daraja, so that STK pushes and queries reach a real HTTP server.
3. `hisaab serve` as a user runs it: the access log on; on SQLite the worker in the API
   process (`--with-worker`), on PostgreSQL a separate `hisaab worker` process.
4. This process logs every role in and makes a matched job through the API
   (tests/api/load_mix.py `prepare`), then `--clients` concurrent clients, each its own
   keep-alive connection, loop over the weighted mix of every authenticated endpoint for
   `--seconds` (`load_mix.run`, the mix the suite's tests/api/test_concurrency.py drives for a
   few seconds).
What counts: every answer's status and latency per operation, and every request that got no
answer at all. A 4xx can be the right answer (a 409 when two clients resolve one exception);
a 5xx or no answer never is: the script exits 1 if there was any, after writing its results,
and prints the end of the server's log.

With both databases run, the results go into docs/benchmarks.md between the bench:api
markers (`--no-docs` to only print them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "api"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import load_mix

from bench_realtime import (
    cpu_seconds,
    free_port,
    postgres_cpu_seconds,
    process,
    wait_for_log,
    wait_healthy,
)
from benchdocs import machine, write_block
from postgres_server import postgres_server

JWT = "bench-jwt-secret-0123456789abcdef0123456789"
DARAJA = {
    "HISAAB_MPESA_CONSUMER_KEY": "bench-key",
    "HISAAB_MPESA_CONSUMER_SECRET": "bench-secret",
    "HISAAB_MPESA_PASSKEY": "bench-passkey",
    # The sandbox posts each push's callback here: a closed port, so they go nowhere and the
    # API serves only the mix.
    "HISAAB_MPESA_CALLBACK_URL": "http://127.0.0.1:9",
    "HISAAB_MPESA_CALLBACK_SECRET": "bench-callback-secret",
}
START, END = "<!-- bench:api:start -->", "<!-- bench:api:end -->"
HEADING = "API under concurrent load"


def hisaab(args: argparse.Namespace, *command: str, env: dict[str, str]) -> None:
    done = subprocess.run([args.hisaab, *command], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"hisaab {' '.join(command[:2])} failed:\n{done.stdout}{done.stderr}")


def wait_listening(
    port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the sandbox exited ({proc.returncode}):\n{tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)  # any answer: it listens
            return
        time.sleep(0.2)
    raise SystemExit(f"the sandbox did not listen on port {port} within {seconds} s")


def tail(log: Path, lines: int = 40) -> str:
    """The end of a log, without the access log's lines for answers below 500."""
    if not log.exists():
        return ""
    kept = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if '"logger": "hisaab.access"' not in line or '"status": 5' in line
    ]
    return "\n".join(kept[-lines:])


def measure(args: argparse.Namespace, db: str, url: str, workdir: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("HISAAB_REDIS_URL", None)
    sandbox_port, port = free_port(), free_port()
    env.update(
        {
            "HISAAB_DATABASE_URL": url,
            "HISAAB_JWT_SECRET": JWT,
            "HISAAB_DATA_DIR": str(workdir / "data"),
            "HISAAB_MPESA_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
            **DARAJA,
        }
    )
    hisaab(args, "migrate", env=env)
    for role in load_mix.ROLES:
        user = ["--email", f"{role}@load.test", "--password", load_mix.PASSWORD, "--role", role]
        if role == "merchant-admin":
            user += ["--merchant", load_mix.MERCHANT]
        hisaab(args, "users", "create", *user, env=env)

    base = f"http://127.0.0.1:{port}"
    serve = [args.hisaab, "serve", "--port", str(port)]
    if db == "sqlite":
        serve.append("--with-worker")
    logs = {name: workdir / f"{name}.log" for name in ("sandbox", "serve", "worker")}
    cpu: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        sandbox = stack.enter_context(
            process([args.hisaab, "sandbox", "--port", str(sandbox_port)], env, logs["sandbox"])
        )
        wait_listening(sandbox_port, sandbox, logs["sandbox"])
        api = stack.enter_context(process(serve, env, logs["serve"]))
        wait_healthy(base)
        procs = {"api": api}
        if db == "postgresql":
            procs["worker"] = stack.enter_context(
                process([args.hisaab, "worker"], env, logs["worker"])
            )
            # As in service, the load meets a worker that is up and listens for new jobs.
            wait_for_log(logs["worker"], ["started (poll every", "listening on"], [procs["worker"]])

        async def load() -> load_mix.LoadResult:
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                world = await load_mix.prepare(client)
            before = {name: cpu_seconds(p.pid) for name, p in procs.items()}
            before["load"] = time.process_time()
            if db == "postgresql":
                before["postgresql"] = postgres_cpu_seconds(url)
            result = await load_mix.run(base, world, clients=args.clients, seconds=args.seconds)
            for name, p in procs.items():
                if p.poll() is not None:
                    raise SystemExit(f"{name} exited ({p.returncode}):\n{tail(logs['serve'])}")
                cpu[name] = cpu_seconds(p.pid) - before[name]
            cpu["load"] = time.process_time() - before["load"]
            if db == "postgresql":
                cpu["postgresql"] = postgres_cpu_seconds(url) - before["postgresql"]
            return result

        started = time.monotonic()
        result = asyncio.run(load())
        elapsed = time.monotonic() - started
    summary = summarise(db, result, cpu)
    summary["load_average"] = round(os.getloadavg()[0], 2)
    summary["wall_seconds_with_set_up"] = round(elapsed, 1)
    if summary["server_errors"] or summary["no_answer"]:
        for log in logs.values():
            if log.exists():
                print(f"--- {db}: end of {log.name}\n{tail(log)}", file=sys.stderr)
    return summary


def summarise(db: str, result: load_mix.LoadResult, cpu: dict[str, float]) -> dict[str, Any]:
    order = [name for name, _w, _op in load_mix.MIX]
    ops: dict[str, Any] = {}
    for name in sorted(result.ops, key=lambda n: order.index(n) if n in order else len(order)):
        stats = result.ops[name]
        ms = stats.latencies_ms
        ops[name] = {
            "requests": sum(stats.statuses.values()),
            "statuses": dict(sorted(stats.statuses.items())),
            "no_answer": dict(stats.failures),
            "p50_ms": round(load_mix.percentile(ms, 0.50), 1) if ms else None,
            "p99_ms": round(load_mix.percentile(ms, 0.99), 1) if ms else None,
            "max_ms": round(max(ms), 1) if ms else None,
        }
    statuses: Counter[int] = Counter()
    for stats in result.ops.values():
        statuses.update(stats.statuses)
    requests = result.requests
    return {
        "db": db,
        "worker": "in the API process" if db == "sqlite" else "separate process",
        "clients": result.clients,
        "seconds": result.seconds,
        "requests": requests,
        "requests_per_second": round(requests / result.seconds, 1),
        "statuses": dict(sorted(statuses.items())),
        "server_errors": sum(n for code, n in statuses.items() if code >= 500),
        "no_answer": sum(sum(s.failures.values()) for s in result.ops.values()),
        "operations_missing": sorted(set(order) - set(result.ops)),
        "cpu_seconds": {name: round(s, 2) for name, s in cpu.items()},
        "ops": ops,
    }


def slowest(r: dict[str, Any], n: int = 3) -> list[tuple[str, float]]:
    timed = [(name, op["p99_ms"]) for name, op in r["ops"].items() if op["p99_ms"] is not None]
    return sorted(timed, key=lambda item: -item[1])[:n]


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def statuses_cell(statuses: dict[int, int]) -> str:
    return ", ".join(f"{code}: {n:,}" for code, n in statuses.items())


def doc_block(results: list[dict[str, Any]]) -> str:
    first = results[0]
    lines = [
        START,
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, by `make bench-api` "
        f"(`benchmarks/bench_api.py`): {first['clients']} concurrent clients, each its own "
        f"keep-alive connection, for {first['seconds']:g} s on every authenticated endpoint "
        "of `hisaab serve` as a user runs it (access log on; on SQLite the worker in the API "
        "process, on PostgreSQL a separate `hisaab worker`), with `hisaab sandbox` playing "
        "Daraja. The mix (tests/api/load_mix.py) is weighted as an ops team, finance, the "
        "real-time dashboard and merchants would use the API at once: reads most, writes too "
        "(jobs, uploads, matching, the exception workflow, payment sessions, STK pushes). "
        "The clients run in one load process on the same machine. PostgreSQL runs with its "
        "default crash-safe commit settings; SQLite in WAL mode.",
    ]
    for r in results:
        name = "SQLite" if r["db"] == "sqlite" else "PostgreSQL"
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_seconds"].items())
        lines += [
            "",
            f"**{name}** (worker {r['worker']}): {r['requests']:,} requests, "
            f"{r['requests_per_second']:,.0f}/s; 5xx: {r['server_errors']}; "
            f"no answer: {r['no_answer']}; load average {r['load_average']:.1f} at the end; "
            f"CPU seconds over the run: {cpu}.",
            "",
            "| operation | p50 ms | p99 ms | max ms | requests | statuses | no answer |",
            "|---|---:|---:|---:|---:|---|---:|",
        ]
        for op, s in r["ops"].items():
            lines.append(
                f"| `{op}` | {ms(s['p50_ms'])} | {ms(s['p99_ms'])} | {ms(s['max_ms'])} "
                f"| {s['requests']:,} | {statuses_cell(s['statuses'])} "
                f"| {sum(s['no_answer'].values())} |"
            )
    lines += [
        "",
        "Target (issue): zero 5xx and zero dropped connections with 64 clients for 60 s on "
        "SQLite and on PostgreSQL. A 4xx can be the right answer under this mix: a 409 when "
        "two clients act on one exception at once or a match runs on a job already matching, "
        "a 404 for a session not made yet. Latency is each operation's own request, from "
        "sending it to its answer, queueing included; CPU seconds are user plus system time "
        "of each process during the run (`load` is the load process with all clients, "
        "`postgresql` the server's processes).",
        END,
    ]
    return "\n".join(lines)


def run_one(args: argparse.Namespace, db: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hisaab-api-bench-") as tmp:
        workdir = Path(tmp)
        with contextlib.ExitStack() as stack:
            if db == "postgresql":
                url = stack.enter_context(postgres_server(durable=True))
            else:
                url = f"sqlite:///{workdir / 'hisaab.db'}"
            return measure(args, db, url, workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hisaab", default=str(Path(sys.executable).parent / "hisaab"))
    parser.add_argument(
        "--db", choices=("sqlite", "postgresql"), help="one database (default: both)"
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the results into docs/benchmarks.md (only when both databases ran)",
    )
    parser.add_argument("--json", type=Path, help="append each result as a JSON line here")
    args = parser.parse_args()
    results = []
    for db in [args.db] if args.db else ["sqlite", "postgresql"]:
        print(f"--- {db}: {args.clients} clients for {args.seconds:g} s", flush=True)
        result = run_one(args, db)
        results.append(result)
        print(json.dumps(result, indent=2), flush=True)
        if args.json:
            with args.json.open("a") as out:
                out.write(json.dumps(result) + "\n")
    if args.docs and not args.db:
        block = doc_block(results)
        write_block(block, START, END, HEADING)
        print(block)
    failed = False
    for r in results:
        print(
            f"{r['db']}: {r['requests']:,} requests, {r['requests_per_second']:,.1f}/s, "
            f"5xx {r['server_errors']}, no answer {r['no_answer']}; slowest by p99: "
            + ", ".join(f"{name} {ms} ms" for name, ms in slowest(r))
        )
        failed = failed or bool(r["server_errors"] or r["no_answer"])
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
