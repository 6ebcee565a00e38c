"""Engine benchmark: `hisaab reconcile` on canonical CSVs of 1M and 10M rows per side.

Each measurement runs the real command in a child process; wall time comes from the parent's
clock and peak RSS from the child's own resource usage (os.wait4), so nothing of the harness is
counted. `make bench` passes the `hisaab` of a product-only install (no dev extras), so the
figures are what a user's install does.

Data shapes (`--shapes`, datagen.SHAPES): each shape's 1M + 1M files are reconciled by Hisaab
(CSV out) and by the Polars yardstick (benchmarks/polars_yardstick.py, run by this script's own
Python), one after the other in every round, so both see the same machine; the ratio of the
medians is the figure the target is about. Hisaab's automatic matches are checked against the
truth the generator wrote. Accuracy is measured on `hisaab simulate` data with `hisaab
evaluate`. Results are printed and, after a full run, written into docs/benchmarks.md.

    python benchmarks/bench_engine.py [--hisaab PATH] [--sizes 1000000,10000000] [--runs 5]
        [--shapes plain,quoted,...] [--shape-runs 5] [--no-accuracy] [--no-docs]
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
from datagen import PLAIN, SHAPES, Shape, generate

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
START, END = "<!-- bench:engine:start -->", "<!-- bench:engine:end -->"
HISAAB = [sys.executable, "-m", "hisaab.cli.main"]
YARDSTICK = [sys.executable, str(Path(__file__).parent / "polars_yardstick.py")]
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


def dataset(rows: int, shape: Shape = PLAIN) -> tuple[Path, Path]:
    """The shape's files of `rows` rows per side, generated once into bench-data/."""
    folder = DATA / (str(rows) if shape is PLAIN else f"{rows}-{shape.name}")
    pg, bank = folder / "pg.csv", folder / "bank.csv"
    if not all(p.exists() for p in (pg, bank, folder / "truth.parquet")):
        print(f"generating {rows:,} + {rows:,} rows ({shape.name}) in {folder} ...", flush=True)
        generate(rows, folder, shape=shape)
    return pg, bank


def reconcile_cmd(pg: Path, bank: Path, out: str, fmt: str = "csv") -> list[str]:
    return [
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


def bench_size(rows: int, runs: int, fmt: str) -> dict[str, object]:
    pg, bank = dataset(rows)
    walls, rss = [], []
    with tempfile.TemporaryDirectory() as out:
        cmd = reconcile_cmd(pg, bank, out, fmt)
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


def bench_shape(shape: Shape, rows: int, runs: int) -> dict[str, object]:
    """Hisaab and the Polars yardstick on one shape's files, alternating run by run."""
    pg, bank = dataset(rows, shape)
    times: dict[str, list[float]] = {"hisaab": [], "polars": []}
    rss: dict[str, list[float]] = {"hisaab": [], "polars": []}
    with tempfile.TemporaryDirectory() as tmp:
        out, yard_out = Path(tmp) / "hisaab", Path(tmp) / "polars"
        commands = {
            "hisaab": reconcile_cmd(pg, bank, str(out)),
            "polars": [*YARDSTICK, str(pg), str(bank), str(yard_out)],
        }
        for i in range(runs):
            for tool, cmd in commands.items():
                wall, peak = measure(cmd)
                times[tool].append(wall)
                rss[tool].append(peak)
            print(
                f"  {shape.name}, run {i + 1}: hisaab {times['hisaab'][-1]:.2f} s,"
                f" polars {times['polars'][-1]:.2f} s",
                flush=True,
            )
        summary = json.loads((out / "summary.json").read_text())
        wrong, right, expected = check_matches(out / "matches.csv", pg.parent / "truth.parquet")
    hisaab, polars = statistics.median(times["hisaab"]), statistics.median(times["polars"])
    return {
        "shape": shape.name,
        "about": shape.about,
        "runs": runs,
        "hisaab_s": round(hisaab, 2),
        "hisaab_min_s": round(min(times["hisaab"]), 2),
        "hisaab_max_s": round(max(times["hisaab"]), 2),
        "polars_s": round(polars, 2),
        "ratio": round(hisaab / polars, 2),
        "pg_match_rate": summary["totals"]["pg"]["INR"]["match_rate_by_count"],
        "wrong": wrong,
        "true_found": right / expected if expected else 0.0,
        "hisaab_rss_gib": round(max(rss["hisaab"]), 2),
        "polars_rss_gib": round(max(rss["polars"]), 2),
    }


def check_matches(matches: Path, truth: Path) -> tuple[int, int, int]:
    """Automatic matches outside the true pairs, inside them, and how many true pairs exist."""
    import duckdb  # here: only the shape benchmark needs it in this process

    con = duckdb.connect()
    try:
        auto = f"SELECT pg_record_id, bank_record_id FROM read_csv('{matches}', all_varchar=true)"
        row = con.execute(
            f"""
            WITH auto AS ({auto} WHERE status = 'auto'), truth AS (SELECT * FROM '{truth}')
            SELECT (SELECT count(*) FROM (SELECT * FROM auto EXCEPT ALL SELECT * FROM truth)),
                   (SELECT count(*) FROM (SELECT * FROM auto INTERSECT ALL SELECT * FROM truth)),
                   (SELECT count(*) FROM truth)
            """
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


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


def render_shapes(shapes: list[dict[str, object]], loads: tuple[float, float]) -> list[str]:
    lines = [
        "Data shapes, 1,000,000 + 1,000,000 rows, CSV out: Hisaab (all stages) against the"
        " Polars yardstick (`benchmarks/polars_yardstick.py`: read both files, exact UTR,"
        " settlement groups, write matches and unmatched), run by turns on the same files;"
        f" medians of {shapes[0]['runs']} runs each. Load average (1 min) at the start and end:"
        f" {loads[0]:.1f} and {loads[1]:.1f}.",
        "",
        "| shape | what is different | Hisaab | min - max | Polars | ratio | PG auto-matched"
        " | wrong auto-matches | peak RSS Hisaab / Polars |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in shapes:
        lines.append(
            f"| {r['shape']} | {r['about']} | {r['hisaab_s']} s"
            f" | {r['hisaab_min_s']} - {r['hisaab_max_s']} s | {r['polars_s']} s"
            f" | {r['ratio']:.2f} | {r['pg_match_rate']:.2%} | {r['wrong']}"
            f" | {r['hisaab_rss_gib']} / {r['polars_rss_gib']} GiB |"
        )
    return lines


def render(
    results: list[dict[str, object]],
    baseline: dict[str, object],
    shapes: list[dict[str, object]],
    loads: tuple[float, float],
    accuracy: list[dict[str, object]],
) -> str:
    one_m = next(r for r in results if r["rows"] == baseline["rows"] and r["format"] == "csv")
    ratio = float(baseline["median_s"]) / float(one_m["median_s"])
    lines = [
        START,
        f"Measured {dt.date.today().isoformat()} on {machine()} by `make bench`.",
        "",
        *render_shapes(shapes, loads),
        "",
        "The benchmark's own shape (`plain`) at two sizes, CSV and Parquet out:",
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
    parser.add_argument("--sizes", default="1000000,10000000", help="'' for none")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--large-runs", type=int, default=3)
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help=f"of {', '.join(SHAPES)}; '' for none"
    )
    parser.add_argument("--shape-runs", type=int, default=5)
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--hisaab", help="the hisaab executable to measure")
    args = parser.parse_args()
    if args.hisaab:
        HISAAB[:] = [args.hisaab]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    names = [s for s in args.shapes.split(",") if s]
    unknown = [s for s in names if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(SHAPES)}")
    shapes = []
    start_load = os.getloadavg()[0]
    for name in names:
        shapes.append(bench_shape(SHAPES[name], 1_000_000, args.shape_runs))
    loads = (start_load, os.getloadavg()[0])
    if shapes:
        print("\n".join(render_shapes(shapes, loads)), flush=True)
    results = []
    for rows in sizes:
        runs = args.runs if rows <= 1_000_000 else args.large_runs
        results.append(bench_size(rows, runs, "csv"))
        results.append(bench_size(rows, runs, "parquet"))
    baseline = bench_pandas(sizes[0], 3) if sizes else {}
    accuracy = [] if args.no_accuracy else bench_accuracy()
    if not (sizes and names == list(SHAPES) and accuracy):
        print("not a full run (all sizes' tables, every shape, accuracy): docs left as they are")
        return
    block = render(results, baseline, shapes, loads, accuracy)
    print(block)
    if not args.no_docs:
        write_block(block, START, END, "Batch engine")


if __name__ == "__main__":
    main()
