"""What every benchmark script shares: the machine it ran on, and writing its block of results
into docs/benchmarks.md between its own start and end markers (other blocks stay as they are)."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine() -> str:
    """Cores, CPU model, memory and Python, as the docs quote them."""
    cpu, mem = "unknown CPU", 0.0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / (1 << 20)
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def write_block(block: str, start: str, end: str, heading: str) -> None:
    """Replace what lies between `start` and `end` with `block` (which carries both markers);
    without them yet, append the block under a new `heading`."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if start in text:
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        DOCS.write_text(head + block + tail)
    else:
        DOCS.write_text(text.rstrip("\n") + f"\n\n## {heading}\n\n" + block + "\n")
    print(f"updated {DOCS}")
