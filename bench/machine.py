"""The machine a benchmark ran on, written next to every figure in docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import os
import platform


def describe() -> dict[str, str]:
    """Date, cores, CPU model, RAM, load, Python and ldn-inbox versions."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name")), cpu)
        with open("/proc/meminfo", encoding="utf-8") as handle:
            kib = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
        ram = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown"
    from ldn_inbox import __version__
    from ldn_inbox.extract import EXTRACTOR_VERSION

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()), "cpu": cpu, "ram": ram,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(), "ldn_inbox": __version__,
        "extractor": EXTRACTOR_VERSION,
    }
