"""Where a large run's own process spends its time: py-spy over ``ldn-inbox import`` of the
IMAP benchmark's replies (the same pipeline as a first fetch, without the server), or with
``--imap`` over ``ldn-inbox fetch`` of them from a private Dovecot (tests/servers.py).

    .venv/bin/python bench/run_profile.py --messages 3000 --out docs/run-process-after
    .venv/bin/python bench/run_profile.py --imap --messages 10000 --out docs/fetch-process-after

Writes N seeded replies of 2-30 KB (``bench/imap_bench.py``'s generator) to an mbox, imports
it into an empty SQLite database twice under py-spy (the run's own process only, not its
coding workers; idle threads left out): once for the top entries (``OUT.txt``, by samples
with callees and by own samples), once for a flame graph (``OUT.svg``). Needs py-spy (the
``bench`` extra) and the right to trace a child process. ``--src DIR`` profiles another
checkout's ``src`` (e.g. the state before a change).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from imap_bench import PASSWORD, USER, load_folder, survey_message  # noqa: E402
from servers import DovecotServer  # noqa: E402


def write_mbox(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("wb") as out:
        for n in range(1, count + 1):
            data = survey_message(n, rng).replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From ")
            out.write(b"From bench@example.org Mon Jan  1 12:00:00 2024\n" + data + b"\n")


def top_entries(raw: Path, count: int = 40) -> str:
    """py-spy's collapsed stacks as two tables: with callees and own."""
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = stack.split(";")
        if any("_bootstrap" in frame for frame in frames[:2]):
            continue  # the pool's helper threads, mostly waiting
        total += int(samples)
        own[frames[-1]] += int(samples)
        for frame in set(frames):
            inclusive[frame] += int(samples)
    lines = [f"{total} samples of the run's own main thread", "", "with callees:"]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(count)]
    lines += ["", "own:"]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in own.most_common(count // 2)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--out", type=Path, required=True, help="prefix of OUT.txt and OUT.svg")
    parser.add_argument("--src", type=Path, default=None, help="another checkout's src/")
    parser.add_argument("--imap", action="store_true",
                        help="profile a first fetch from a private Dovecot instead of an import")
    args = parser.parse_args()
    spy = Path(sys.executable).with_name("py-spy")
    with tempfile.TemporaryDirectory(prefix="ldn-run-profile-") as tmp, \
            contextlib.ExitStack() as stack:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_INBOX_")}
        env.update(HOME=str(work / "home"), XDG_CACHE_HOME=str(work / "cache"),
                   LDN_INBOX_PRIVACY_KEY_FILE=str(work / "pseudonym.key"))
        if args.src is not None:
            env["PYTHONPATH"] = str(args.src.resolve())
        if args.imap:
            server = stack.enter_context(DovecotServer())
            folder, _ = load_folder(server, args.messages, args.seed)
            env["LDN_INBOX_IMAP_PASSWORD"] = PASSWORD
            source = ["fetch", "--host", "127.0.0.1", "--port", str(server.imaps_port),
                      "--ca-file", str(server.ca_file), "--username", USER, "--folder", folder]
        else:
            mbox = work / "bench.mbox"
            write_mbox(mbox, args.messages, args.seed)
            source = ["import", "-q", str(mbox)]
        for fmt, target in (("raw", work / "stacks.txt"),
                            ("flamegraph", args.out.with_suffix(".svg"))):
            database = work / f"{fmt}.sqlite"  # (each run reads the whole source anew)
            subprocess.run([str(spy), "record", "-r", "50", "-f", fmt, "-o", str(target), "--",
                            sys.executable, "-m", "ldn_inbox", "--db", f"sqlite:///{database}",
                            *source], env=env, check=True)
        args.out.with_suffix(".txt").write_text(top_entries(work / "stacks.txt"))
        svg = args.out.with_suffix(".svg")  # its title is the command line: no local paths
        svg.write_text(re.sub(r"/tmp/[^/\s\"<]+", "TMP", svg.read_text().replace(
            tmp, "TMP").replace(str(ROOT), ".")))
    print(f"wrote {args.out.with_suffix('.txt')} and {args.out.with_suffix('.svg')}")


if __name__ == "__main__":
    main()
