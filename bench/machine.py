"""The machine a benchmark ran on, written next to every figure in docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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


@dataclass
class Sampled:
    """One benchmarked process: exit code, wall seconds, ``wait4`` usage, its output, and
    ``(seconds since start, value)`` samples taken while it ran."""

    code: int
    seconds: float
    usage: Any
    output: str
    errors: str
    samples: list[tuple[float, float]] = field(default_factory=list)


def run_sampled(command: list[str], env: dict[str, str], sample: Callable[[int], float | None],
                *, interval: float, cwd: Path | None = None) -> Sampled:
    """Run ``command``; every ``interval`` seconds record ``sample(pid)`` (memory, say)."""
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err, cwd=cwd)
        done = threading.Event()

        def take() -> None:
            while not done.wait(interval):
                value = sample(proc.pid)
                if value:
                    samples.append((time.monotonic() - started, value))

        sampler = threading.Thread(target=take, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Sampled(os.waitstatus_to_exitcode(status), seconds, usage,
                       out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                       samples)
