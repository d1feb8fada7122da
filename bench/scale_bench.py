"""Scale benchmark: 50,000 messages from a private Dovecot and from a maildir.

    .venv/bin/python -P bench/scale_bench.py                      # 50,000 (about 30 min)
    .venv/bin/python -P bench/scale_bench.py --messages 2000      # a quick try

The same N seeded survey-like replies of 2-30 KB (bench/imap_bench.py's generator) go into a
Dovecot folder and into a maildir; then, each as its own process into a fresh SQLite file:

1. ``ldn-inbox fetch`` of the folder; 2. ``ldn-inbox import`` of the maildir.

For each: wall time, msgs/s, the peak RSS of the run and of its worker processes together
(their proportional set size, PSS, from ``/proc`` every 0.5 s: pages the forked workers
share with the run count once; memory must not grow with the mailbox: the highest sample
of the last quarter of the run is compared with that of the first quarter), the database
size against the documented bound (``BOUND_*`` below, see docs/benchmarks.md), and that
every message was stored and coded once. Exit code 1 when a check fails. Prints a Markdown
report and writes JSON to ``bench/results/scale-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import random
import sqlite3
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from imap_bench import PASSWORD, USER, survey_message  # noqa: E402
from machine import describe, run_sampled  # noqa: E402
from servers import DovecotServer  # noqa: E402

#: The documented database bound: the raw bytes are kept once, the reply isolation keeps
#: the quoted text beside the own words, plus records and indexes per message.
BOUND_FACTOR = 2.5
BOUND_PER_MESSAGE = 8 * 1024
#: Memory may not grow with the mailbox: last quarter's peak within this of the first's.
GROWTH_TOLERANCE = 1.15


@dataclass
class Run:
    source: str
    messages: int
    seconds: float
    msgs_per_s: float
    peak_rss_mib: float
    rss_first_quarter_mib: float
    rss_last_quarter_mib: float
    database_mib: float
    bound_mib: float
    raw_rows: int
    records: int
    quarantined: int


def _pss_kib(pid: int) -> int:
    """Proportional set size: pages the forked workers share with the run count once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _family(pid: int) -> list[int]:
    """``pid`` and its descendants (the coding workers)."""
    found = [pid]
    for member in found:
        try:
            tasks = os.listdir(f"/proc/{member}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{member}/task/{task}/children", encoding="ascii") as handle:
                    found.extend(int(child) for child in handle.read().split())
            except OSError:
                continue
    return found


def measured(command: list[str], env: dict[str, str], database: Path, source: str,
             messages: int, mailbox_bytes: int) -> Run:
    run = run_sampled(command, env,
                      lambda pid: sum(_pss_kib(member) for member in _family(pid)),
                      interval=0.5)
    if run.code not in (0, 6):
        raise SystemExit(f"{' '.join(command[:4])} ... exited {run.code}:\n"
                         f"{(run.output + run.errors)[-3000:]}")
    seconds, samples = run.seconds, run.samples
    quarter = seconds / 4
    first = max((kib for at, kib in samples if at <= quarter), default=0) / 1024
    last = max((kib for at, kib in samples if at >= 3 * quarter), default=0) / 1024
    peak = max((kib for _, kib in samples), default=0) / 1024
    with sqlite3.connect(database) as conn:
        raw_rows = conn.execute("SELECT count(*) FROM raw_messages").fetchone()[0]
        records = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        quarantined = conn.execute(
            "SELECT count(*) FROM messages WHERE parse_status = 'parse_error'").fetchone()[0]
    size = sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))
    bound = BOUND_FACTOR * mailbox_bytes + BOUND_PER_MESSAGE * messages
    return Run(source, messages, round(seconds, 1), round(messages / seconds, 1),
               round(peak, 1), round(first, 1), round(last, 1), round(size / 2**20, 1),
               round(bound / 2**20, 1), raw_rows, records, quarantined)


def write_maildir(directory: Path, messages: list[bytes]) -> Path:
    box = mailbox.Maildir(directory / "Maildir", create=True)
    for data in messages:
        box.add(data)
    box.close()
    return directory / "Maildir"


def checks(run: Run) -> list[str]:
    failed = []
    if run.raw_rows != run.messages or run.records != run.messages:
        failed.append(f"{run.source}: {run.raw_rows} raw / {run.records} records for "
                      f"{run.messages} messages")
    if run.database_mib > run.bound_mib:
        failed.append(f"{run.source}: database {run.database_mib} MiB over the bound "
                      f"{run.bound_mib} MiB")
    # below a few thousand messages the first quarter is mostly start-up: no comparison
    if run.messages >= 5000 and \
            run.rss_last_quarter_mib > GROWTH_TOLERANCE * run.rss_first_quarter_mib:
        failed.append(f"{run.source}: memory grew from {run.rss_first_quarter_mib} to "
                      f"{run.rss_last_quarter_mib} MiB")
    return failed


def report(info: dict[str, str], mailbox_mib: float, runs: list[Run],
           failed: list[str]) -> str:
    lines = [
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['ram']} RAM; load average "
        f"before the run {info['load']}; {info['date']}. ldn-inbox {info['ldn_inbox']}, "
        f"Python {info['python']}.",
        "",
        f"Mailbox: {runs[0].messages:,} messages of 2-30 KB, {mailbox_mib:,.1f} MiB.",
        "",
        "| source | time | msgs/s | peak memory (PSS, run + workers) | 1st / last quarter | "
        "database | bound | raw / records / quarantined |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run.source} | {run.seconds:,.0f} s | {run.msgs_per_s} | "
            f"{run.peak_rss_mib} MiB | {run.rss_first_quarter_mib} / "
            f"{run.rss_last_quarter_mib} MiB | {run.database_mib:,.1f} MiB | "
            f"{run.bound_mib:,.1f} MiB | {run.raw_rows:,} / {run.records:,} / "
            f"{run.quarantined} |")
    lines += ["", "Checks: " + ("all passed" if not failed else "; ".join(failed))]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=20240150)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    info = describe()
    rng = random.Random(args.seed)
    messages = [survey_message(n, rng) for n in range(1, args.messages + 1)]
    size = sum(len(m) for m in messages)
    script = Path(sys.executable).with_name("ldn-inbox")
    command = [str(script)] if script.exists() else [sys.executable, "-P", "-m", "ldn_inbox"]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="ldn-scale-bench-") as tmp, \
            DovecotServer() as server:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_INBOX_")
               and k != "PYTHONDONTWRITEBYTECODE"}  # bytecode cached, as when installed
        env.update({"HOME": str(work / "home"), "LDN_INBOX_IMAP_PASSWORD": PASSWORD,
                    "LDN_INBOX_PRIVACY_KEY_FILE": str(work / "pseudonym.key")})
        folder = f"Scale{args.messages}"
        server.create_folder(USER, folder)
        for start in range(0, len(messages), 5000):
            server.bulk_load(USER, folder, messages[start:start + 5000])
        maildir = write_maildir(work, messages)
        del messages
        imap_db = work / "imap.sqlite"
        runs.append(measured(
            [*command, "--db", f"sqlite:///{imap_db}", "fetch", "--host", "127.0.0.1",
             "--port", str(server.imaps_port), "--ca-file", str(server.ca_file),
             "--username", USER, "--folder", folder], env, imap_db, "Dovecot (fetch)",
            args.messages, size))
        maildir_db = work / "maildir.sqlite"
        runs.append(measured(
            [*command, "--db", f"sqlite:///{maildir_db}", "import", "--quiet", str(maildir)],
            env, maildir_db, "maildir (import)", args.messages, size))
    failed = [problem for run in runs for problem in checks(run)]
    print(report(info, size / 2**20, runs, failed))
    out = args.json or ROOT / "bench" / "results" / f"scale-{info['date'][:10]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**info, "mailbox_mib": round(size / 2**20, 1),
                               "runs": [asdict(r) for r in runs], "failed": failed},
                              indent=2) + "\n", "utf-8")
    print(f"\n(JSON: {out})")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
