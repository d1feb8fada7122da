"""Coding CPU a message on the IMAP benchmark's replies, on one core, with its profile.

    .venv/bin/python bench/coding_profile.py                  # 1,000 messages
    .venv/bin/python bench/coding_profile.py --messages 10000 --profile docs/coding-after

Generates N seeded replies of 2-30 KB with ``bench/imap_bench.py``'s generator and runs on
each what a fetch's coding workers run (``flow.coder.parse_and_code``: MIME parse, reply
isolation, classification, language, extraction; then ``Outcome.pack``, the texts packed
for the database), after one warm-up message that loads the lexicons and the language
model. Times are CPU time of this process (``time.process_time``), not wall time: the
machine is shared. Prints the median, 90th percentile and mean CPU ms a message, and the
packing's share.

``--src DIR`` measures the ``src/`` folder of another checkout instead of this one's (a
baseline, in turns: ``git archive REV src | tar -x -C /tmp/base``, then ``--src
/tmp/base/src``; a ``PYTHONPATH`` is not enough, this script puts a ``src`` first).

``--profile PREFIX`` also writes ``PREFIX.txt``, cProfile's top entries (by own time and by
cumulative time) over the same messages, and ``PREFIX.svg``, a py-spy flame graph of a
second run (``pip install py-spy``: the ``bench`` extra; needs the right to trace a child
process, e.g. root or ``kernel.yama.ptrace_scope = 0``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from imap_bench import survey_message  # noqa: E402
from machine import describe  # noqa: E402


def messages(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [survey_message(n, rng) for n in range(1, count + 1)]


def timed(payloads: list[bytes]) -> tuple[list[float], float]:
    """CPU ms of each message (after a warm-up message), and the ms spent packing, in all."""
    from ldn_inbox.flow.coder import parse_and_code

    parse_and_code(payloads[0], memory_bytes=0).pack()
    out = []
    packing = 0.0
    for data in payloads:
        started = time.process_time()
        outcome = parse_and_code(data, memory_bytes=0)
        coded = time.process_time()
        outcome.pack()
        ended = time.process_time()
        out.append((ended - started) * 1000)
        packing += (ended - coded) * 1000
        if outcome.error:
            raise SystemExit(f"coding failed: {outcome.error}")
    return out, packing


def profile(payloads: list[bytes], prefix: Path, top: int) -> None:
    from ldn_inbox.flow.coder import parse_and_code

    profiler = cProfile.Profile()
    profiler.enable()
    for data in payloads:
        parse_and_code(data, memory_bytes=0).pack()
    profiler.disable()
    text = io.StringIO()
    for order in ("tottime", "cumulative"):
        text.write(f"== top {top} by {order} ==\n")
        stats = pstats.Stats(profiler, stream=text)
        stats.strip_dirs().sort_stats(order).print_stats(top)
    prefix.with_suffix(".txt").write_text(text.getvalue())


def flame(args: argparse.Namespace, prefix: Path) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed (pip install py-spy, or the bench extra)")
    command = [spy, "record", "--nonblocking", "--rate", "200", "--format", "flamegraph",
               "-o", str(prefix.with_suffix(".svg")), "--", sys.executable, __file__,
               "--messages", str(args.messages), "--seed", str(args.seed), "--src", str(args.src)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    local_paths(prefix.with_suffix(".svg"))


def local_paths(svg: Path) -> None:
    """The command line in the graph's title without this machine's directories."""
    text = svg.read_text("utf-8")
    for local, shown in ((f"{sys.prefix}/", ".venv/"), (f"{ROOT}/", "")):
        text = text.replace(local, shown)
    svg.write_text(text, "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--profile", type=Path, default=None, metavar="PREFIX",
                        help="write PREFIX.txt (cProfile top entries) and PREFIX.svg "
                             "(py-spy flame graph)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--src", type=Path, default=ROOT / "src",
                        help="the src/ folder of the ldn-inbox to measure (default: this one)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    payloads = messages(args.messages, args.seed)
    info = describe()
    times, packing = timed(payloads)
    values = sorted(times)
    p90 = values[int(len(values) * 0.9)]
    print(f"{info['date']}; {info['nproc']} cores, {info['cpu']}, {info['ram']} RAM, "
          f"Python {info['python']}, load {info['load']}")
    print(f"extractor {info['extractor']}; {len(payloads)} messages of 2-30 KB, "
          f"{sum(map(len, payloads)) / 2**20:.1f} MiB")
    print(f"coding CPU a message: median {statistics.median(values):.2f} ms, "
          f"p90 {p90:.2f} ms, mean {statistics.fmean(values):.2f} ms, max {values[-1]:.1f} ms; "
          f"of which packing the texts {packing / len(values):.2f} ms a message")
    print(f"measured: {args.src.resolve()}")
    if args.profile is not None:
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        profile(payloads, args.profile, args.top)
        flame(args, args.profile)
        print(f"profile: {args.profile.with_suffix('.txt')}, "
              f"flame graph: {args.profile.with_suffix('.svg')}")


if __name__ == "__main__":
    main()
