"""Where a reconciliation's time goes: every SQL statement and phase of one in-process run.

Runs `run_batch` on the benchmark's canonical files (as `hisaab reconcile --pg-template
canonical --bank-template canonical` does) with the DuckDB backend's methods wrapped in timers,
and prints each statement that took longer than --over seconds: its wall time, the process
CPU time it used (all threads; more than the wall time means it ran in parallel) and the
process's page faults so far (fresh memory costs a page fault per 4 KiB, which is not free on
a virtual machine). Statement texts are shortened to one line.

    python benchmarks/profile_engine.py [--rows 1000000] [--shape plain] [--over 0.02]
        [--format csv]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_engine import dataset
from datagen import SHAPES

Timing = tuple[str, float, float, int, str]


def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def timed(label: str, fn: Callable[..., Any], timings: list[Timing]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            what = " ".join(str(args[1] if len(args) > 1 else "").split())
            timings.append(
                (
                    label,
                    time.perf_counter() - wall,
                    time.process_time() - cpu,
                    faults(),
                    what,
                )
            )

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--over", type=float, default=0.02, help="seconds; shorter are summed")
    parser.add_argument("--format", default="csv", choices=["csv", "parquet"])
    parser.add_argument("--shape", default="plain", choices=sorted(SHAPES))
    args = parser.parse_args()
    started = time.perf_counter()
    from hisaab.matching.backends.duckdb import DuckDBBackend
    from hisaab.matching.result import ReconResult
    from hisaab.recon import batch

    imports = time.perf_counter() - started
    timings: list[Timing] = []
    for name in ("execute", "rows", "arrow", "copy", "copy_many"):
        setattr(DuckDBBackend, name, timed(name, getattr(DuckDBBackend, name), timings))
    batch.read_side = timed("read", batch.read_side, timings)  # type: ignore[method-assign]
    ReconResult.summary = timed("summary", ReconResult.summary, timings)  # type: ignore[method-assign]
    pg, bank = dataset(args.rows, SHAPES[args.shape])
    with tempfile.TemporaryDirectory() as out:
        request = batch.BatchRequest(
            pg, bank, Path(out) / "results", "canonical", "canonical", fmt=args.format
        )
        wall, cpu = time.perf_counter(), time.process_time()
        batch.run_batch(request)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"imports {imports:.3f} s; run {wall:.3f} s wall, {cpu:.3f} s CPU")
    print("   wall     cpu  faults(MiB)  what")
    short = [t for t in timings if t[1] < args.over]
    for label, seconds, cpu_seconds, flt, what in timings:
        if seconds >= args.over:
            print(f"{seconds:7.3f} {cpu_seconds:7.3f} {flt * 4 >> 10:8d}     {label}: {what[:90]}")
    print(f"{sum(t[1] for t in short):7.3f} in {len(short)} shorter calls")


if __name__ == "__main__":
    main()
