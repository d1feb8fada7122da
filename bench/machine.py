"""The machine a benchmark ran on, written next to every figure in docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
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


#: Forks and runs a command, then writes its ``wait4`` usage as JSON. A process's peak RSS
#: (``ru_maxrss``) starts at the RSS of the process that forked it, since the pages of a
#: fork (or vfork) are its own until it execs: a command started by the benchmark itself,
#: which holds a generated mailbox, would report the benchmark's memory. Started from this
#: small interpreter instead (about 8 MiB), it reports its own.
_SMALL_PARENT = """
import json, os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    json.dump({"pid": pid, "status": status, "maxrss_kib": usage.ru_maxrss,
               "cpu_s": usage.ru_utime + usage.ru_stime}, report)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


@dataclass(frozen=True)
class Usage:
    """What ``wait4`` said of the measured command: peak RSS in KiB, CPU seconds."""

    ru_maxrss: int
    cpu_seconds: float


def from_small_parent(command: list[str], report: Path) -> list[str]:
    """``command`` started from a small process that writes its usage to ``report``."""
    return [sys.executable, "-S", "-c", _SMALL_PARENT, str(report), *command]


def read_usage(report: Path) -> Usage:
    data = json.loads(report.read_text())
    return Usage(int(data["maxrss_kib"]), float(data["cpu_s"]))


def command_pid(wrapper: int) -> int | None:
    """The measured command's pid: the small parent's one child."""
    try:
        children = Path(f"/proc/{wrapper}/task/{wrapper}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


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
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "usage.json"
        proc = subprocess.Popen(from_small_parent(command, report), env=env, stdout=out,
                                stderr=err, cwd=cwd)
        done = threading.Event()

        def take() -> None:
            pid = None
            while not done.wait(interval):
                pid = pid or command_pid(proc.pid)
                value = sample(pid) if pid else None
                if value:
                    samples.append((time.monotonic() - started, value))

        sampler = threading.Thread(target=take, daemon=True)
        sampler.start()
        code = proc.wait()
        done.set()
        sampler.join()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Sampled(code, seconds, read_usage(report),
                       out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                       samples)
