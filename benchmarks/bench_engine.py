"""Engine benchmark: `hisaab reconcile` on canonical CSVs of 1M and 10M rows per side.

Each measurement runs the real command in a child process; wall time comes from the parent's
clock and peak RSS from the child's own resource usage (os.wait4), so nothing of the harness is
counted. Results are printed and written into docs/benchmarks.md between its markers.

    python benchmarks/bench_engine.py [--sizes 1000000,10000000] [--runs 5] [--no-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from datagen import generate

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:engine:start -->", "<!-- bench:engine:end -->"
HISAAB = [sys.executable, "-m", "hisaab.cli.main"]


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{stderr}")
    return wall, usage.ru_maxrss / (1 << 20)


def dataset(rows: int) -> tuple[Path, Path]:
    folder = DATA / str(rows)
    pg, bank = folder / "pg.csv", folder / "bank.csv"
    if not (pg.exists() and bank.exists()):
        print(f"generating {rows:,} + {rows:,} rows in {folder} ...", flush=True)
        generate(rows, folder)
    return pg, bank


def bench_size(rows: int, runs: int, fmt: str) -> dict[str, object]:
    pg, bank = dataset(rows)
    walls, rss = [], []
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            *HISAAB,
            "reconcile",
            "--pg",
            str(pg),
            "--bank",
            str(bank),
            "--pg-template",
            "canonical",
            "--bank-template",
            "canonical",
            "--format",
            fmt,
            "--out",
            out,
            "--quiet",
        ]
        for i in range(runs):
            wall, peak = measure(cmd)
            walls.append(wall)
            rss.append(peak)
            print(
                f"  {rows:>10,} rows, {fmt}, run {i + 1}: {wall:.2f} s, {peak:.2f} GiB", flush=True
            )
        summary = json.loads((Path(out) / "summary.json").read_text())
    return {
        "rows": rows,
        "format": fmt,
        "runs": runs,
        "median_s": round(statistics.median(walls), 2),
        "min_s": round(min(walls), 2),
        "max_s": round(max(walls), 2),
        "peak_rss_gib": round(max(rss), 2),
        "pg_match_rate": summary["totals"]["pg"]["INR"]["match_rate_by_count"],
    }


def bench_pandas(rows: int, runs: int) -> dict[str, object]:
    pg, bank = dataset(rows)
    walls, rss = [], []
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            str(Path(__file__).parent / "pandas_baseline.py"),
            str(pg),
            str(bank),
            out,
        ]
        for i in range(runs):
            wall, peak = measure(cmd)
            walls.append(wall)
            rss.append(peak)
            print(f"  pandas baseline {rows:,} rows, run {i + 1}: {wall:.2f} s", flush=True)
    return {
        "rows": rows,
        "median_s": round(statistics.median(walls), 2),
        "peak_rss_gib": round(max(rss), 2),
        "runs": runs,
    }


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / (1 << 20)
    except OSError:
        mem = 0.0
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def render(results: list[dict[str, object]], baseline: dict[str, object]) -> str:
    one_m = next(r for r in results if r["rows"] == baseline["rows"] and r["format"] == "csv")
    ratio = float(baseline["median_s"]) / float(one_m["median_s"])
    lines = [
        START,
        f"Measured {dt.date.today().isoformat()} on {machine()} by `make bench`.",
        "",
        "| rows per side | output | runs | median wall | min - max | peak RSS | PG auto-matched |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {int(r['rows']):,} | {r['format']} | {r['runs']} | {r['median_s']} s "
            f"| {r['min_s']} - {r['max_s']} s | {r['peak_rss_gib']} GiB "
            f"| {r['pg_match_rate']:.2%} |"
        )
    lines += [
        "",
        f"Baseline, plain pandas doing only the first two stages on the {int(baseline['rows']):,}"
        f"-row files: median {baseline['median_s']} s over {baseline['runs']} runs, peak RSS"
        f" {baseline['peak_rss_gib']} GiB. Hisaab with all stages, CSV out, is"
        f" **{ratio:.1f}x** faster.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--large-runs", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for rows in sizes:
        runs = args.runs if rows <= 1_000_000 else args.large_runs
        results.append(bench_size(rows, runs, "csv"))
        results.append(bench_size(rows, runs, "parquet"))
    baseline = bench_pandas(sizes[0], 3)
    block = render(results, baseline)
    print(block)
    if not args.no_docs:
        text = DOCS.read_text() if DOCS.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        DOCS.write_text(head + block + tail)
        print(f"updated {DOCS}")


if __name__ == "__main__":
    main()
