"""Coding speed: parse to codebook record, per message, on one core.

Run: .venv/bin/python bench/extract_bench.py [--repeat 5]
Reads the project's golden messages (fixtures/emails/*.eml), warms the lexicons and the
language model once, then times parse + own text + classification + extraction for every
message, several rounds, and prints the median, 90th percentile and the slowest message,
in CPU time of this process (``time.process_time``: the machine may be shared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from machine import describe  # noqa: E402

from ldn_inbox.extract import EXTRACTOR_VERSION  # noqa: E402
from ldn_inbox.extract.coding import code  # noqa: E402
from ldn_inbox.parse.mime import parse  # noqa: E402


def machine() -> str:
    info = describe()
    return (f"{info['nproc']} cores, {info['cpu']}, {info['ram']} RAM, "
            f"Python {info['python']}, load {info['load']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    files = sorted((ROOT / "fixtures" / "emails").glob("*.eml"))
    messages = [(f.name, f.read_bytes()) for f in files]
    started = time.perf_counter()
    code(parse(messages[0][1]))
    warm = time.perf_counter() - started
    for _, data in messages:
        code(parse(data))
    timings: list[tuple[float, str]] = []
    for _ in range(args.repeat):
        for name, data in messages:
            t0 = time.process_time()
            code(parse(data))
            timings.append(((time.process_time() - t0) * 1000, name))
    values = sorted(t for t, _ in timings)
    slowest = max(timings)
    print(f"date: {datetime.now(UTC).date()}  machine: {machine()}")
    print(f"extractor {EXTRACTOR_VERSION}; {len(messages)} messages x {args.repeat} rounds")
    print(f"first message incl. loading lexicons and language model: {warm * 1000:.0f} ms")
    p90 = values[int(len(values) * 0.9)]
    print(f"CPU a message: median {statistics.median(values):.2f} ms, p90 {p90:.2f} ms, "
          f"max {slowest[0]:.1f} ms ({slowest[1]})")


if __name__ == "__main__":
    main()
