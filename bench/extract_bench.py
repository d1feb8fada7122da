"""Coding speed: parse to codebook record, per message, on one core.

Run: .venv/bin/python bench/extract_bench.py [--repeat 5] [--mailings]
Reads the project's golden messages (fixtures/emails/*.eml), warms the lexicons and the
language model once, then times parse + own text + classification + extraction for every
message, several rounds, and prints the median, 90th percentile and the slowest message,
in CPU time of this process (``time.process_time``: the machine may be shared).
``--mailings``: the labelled sets of fixtures/measure instead, each coded knowing the
mailings it answers (its ``mailings/`` folder), as after ``ldn-inbox mailing add``.
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
from ldn_inbox.parse.mailings import Mailing, MailingSet  # noqa: E402
from ldn_inbox.parse.mime import parse  # noqa: E402


def machine() -> str:
    info = describe()
    return (f"{info['nproc']} cores, {info['cpu']}, {info['ram']} RAM, "
            f"Python {info['python']}, load {info['load']}")


def labelled_sets() -> list[tuple[str, bytes, MailingSet]]:
    """The messages of every labelled set with the mailings it answers."""
    from ldn_inbox.store.mailing_store import read_mailing_file

    out = []
    for folder in sorted((ROOT / "fixtures" / "measure").iterdir()):
        if not (folder / "mailings").is_dir():
            continue
        known = MailingSet(Mailing(text, name=title) for text, title in (
            read_mailing_file(p) for p in sorted((folder / "mailings").iterdir())))
        out += [(f"{folder.name}/{f.name}", f.read_bytes(), known)
                for f in sorted((folder / "eml").glob("*.eml"))]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mailings", action="store_true",
                        help="the labelled sets of fixtures/measure, with their mailings")
    args = parser.parse_args()
    if args.mailings:
        messages = labelled_sets()
    else:
        files = sorted((ROOT / "fixtures" / "emails").glob("*.eml"))
        messages = [(f.name, f.read_bytes(), MailingSet()) for f in files]
    started = time.perf_counter()
    code(parse(messages[0][1]), messages[0][2])
    warm = time.perf_counter() - started
    for _, data, known in messages:
        code(parse(data), known)
    timings: list[tuple[float, str]] = []
    for _ in range(args.repeat):
        for name, data, known in messages:
            t0 = time.process_time()
            code(parse(data), known)
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
