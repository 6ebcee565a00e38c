"""Engine benchmark: `hisaab reconcile` on canonical CSVs of 1M and 10M rows per side.

Each measurement runs the real command in a child process; wall time comes from the parent's
clock and peak RSS from the child's own resource usage (os.wait4), so nothing of the harness is
counted. `make bench` passes the `hisaab` of a product-only install (no dev extras), so the
figures are what a user's install does. Accuracy is measured on `hisaab simulate` data with
`hisaab evaluate`. Results are printed and written into docs/benchmarks.md between markers.

    python benchmarks/bench_engine.py [--hisaab PATH] [--sizes 1000000,10000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from benchdocs import machine, write_block
from datagen import generate

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
START, END = "<!-- bench:engine:start -->", "<!-- bench:engine:end -->"
HISAAB = [sys.executable, "-m", "hisaab.cli.main"]
ACCURACY_RUNS = ((200_000, 7, "hdfc"), (200_000, 11, "axis"), (200_000, 13, "icici"))


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


def bench_accuracy() -> list[dict[str, object]]:
    results = []
    for rows, seed, layout in ACCURACY_RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            data, out = Path(tmp) / "data", Path(tmp) / "results"
            subprocess.run(
                [
                    *HISAAB,
                    "simulate",
                    "--rows",
                    str(rows),
                    "--seed",
                    str(seed),
                    "--bank-format",
                    layout,
                    "--out",
                    str(data),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            subprocess.run(
                [
                    *HISAAB,
                    "reconcile",
                    "--pg",
                    str(data / "pg.csv"),
                    "--bank",
                    str(data / "bank.csv"),
                    "--out",
                    str(out),
                    "--quiet",
                ],
                check=True,
            )
            report = subprocess.run(
                [
                    *HISAAB,
                    "evaluate",
                    "--truth",
                    str(data / "truth.csv"),
                    "--results",
                    str(out),
                    "--json",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        scores = json.loads(report.stdout)
        matched = scores["auto_match"]
        results.append(
            {
                "rows": rows,
                "seed": seed,
                "layout": layout,
                "auto_precision": matched["precision"],
                "auto_recall": matched["recall"],
                "micro_f1": scores["micro_f1"],
                "macro_f1": scores["macro_f1"],
                "records": scores["records"]["truth"],
            }
        )
        print(f"  accuracy {rows:,} rows seed {seed} {layout}: {results[-1]}", flush=True)
    return results


def render(
    results: list[dict[str, object]],
    baseline: dict[str, object],
    accuracy: list[dict[str, object]],
) -> str:
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
        "",
        "Accuracy on simulated data with every exception category injected"
        " (`hisaab simulate` + `hisaab reconcile` with auto-detected templates +"
        " `hisaab evaluate`):",
        "",
        "| PG rows | seed | bank layout | records | auto-match precision | auto-match recall"
        " | micro F1 | macro F1 |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for a in accuracy:
        lines.append(
            f"| {int(a['rows']):,} | {a['seed']} | {a['layout']} | {int(a['records']):,}"
            f" | {a['auto_precision']:.4%}"
            f" | {a['auto_recall']:.4%} | {a['micro_f1']:.5f} | {a['macro_f1']:.5f} |"
        )
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--large-runs", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--hisaab", help="the hisaab executable to measure")
    args = parser.parse_args()
    if args.hisaab:
        HISAAB[:] = [args.hisaab]
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for rows in sizes:
        runs = args.runs if rows <= 1_000_000 else args.large_runs
        results.append(bench_size(rows, runs, "csv"))
        results.append(bench_size(rows, runs, "parquet"))
    baseline = bench_pandas(sizes[0], 3)
    accuracy = bench_accuracy()
    block = render(results, baseline, accuracy)
    print(block)
    if not args.no_docs:
        write_block(block, START, END, "Batch engine")


if __name__ == "__main__":
    main()
