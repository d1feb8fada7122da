"""IMAP fetch benchmark: ``ldn-inbox fetch`` against a private Dovecot, next to mbsync.

    .venv/bin/python -P bench/imap_bench.py                 # 10,000 messages of 2-30 KB
    .venv/bin/python -P bench/imap_bench.py --messages 2000 --small 500

Starts a private Dovecot (tests/servers.py), loads a folder of N seeded survey-like replies of
2-30 KB, then measures, each as a separate process:

1. ``ldn-inbox fetch`` into a fresh SQLite database (store raw + code): wall time, msgs/s,
   peak RSS (``wait4`` of that process), and the database's size (file and write-ahead
   log) beside the mailbox's;
2. ``ldn-inbox fetch`` again with nothing new: wall time, and the fetch's own time from its
   ``--verbose`` line (the rest is interpreter start-up and imports);
3. ``mbsync`` (isync) pulling the same folder into an empty Maildir over IMAPS with the test
   CA: wall time and peak RSS; the ratio is (1) / (3);
4. with ``--small M`` (default N/4), (1) again on an M-message folder: peak RSS should not
   grow with the mailbox.

Prints a Markdown report (machine, versions, figures) and writes JSON to
``bench/results/imap-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from machine import describe  # noqa: E402
from servers import DovecotServer  # noqa: E402

USER, PASSWORD = "alice", "alice-pw"
WORDS = ("ik gebruik LDN sinds twee jaar en de pijn is minder geworden maar ik slaap slecht "
         "mijn huisarts wou het eerst niet voorschrijven de neuroloog wel dosis 4,5 mg "
         "je prends du naltrexone à faible dose depuis un an moins de fatigue "
         "geen bijwerkingen behalve levendige dromen in het begin").split()


def survey_message(n: int, rng: random.Random) -> bytes:
    """A reply of 2-30 KB: own words, then the quoted questionnaire and padding lines."""
    target = rng.randint(2_000, 30_000)
    answers = [f"{q}. " + " ".join(rng.choices(WORDS, k=k))
               for q, k in enumerate((12, 8, 15, 6), 1)]
    lines = [*answers, "", "Groeten,", f"Respondent {n}", "", "> Beste lid, vier vragen over LDN:"]
    body = "\r\n".join(lines) + "\r\n"
    while len(body) < target:
        body += "> " + " ".join(rng.choices(WORDS, k=11)) + "\r\n"
    return (f"From: Respondent {n} <r{n}@example.org>\r\nTo: info@example.org\r\n"
            f"Subject: Re: Vragen over LDN\r\nMessage-ID: <bench-{n}@example.org>\r\n"
            f"Date: Mon, 1 Jan 2024 12:{n % 60:02d}:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            f"\r\n{body}").encode()


@dataclass(frozen=True)
class Measured:
    """One process: wall seconds, peak RSS in MiB, exit code, its output."""

    seconds: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str


def run_child(args: list[str], env: dict[str, str]) -> Measured:
    """Run ``args`` and reap it with ``wait4`` to read its own peak RSS."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(seconds, usage.ru_maxrss / 1024, proc.returncode,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def ldn_fetch(db: Path, server: DovecotServer, folder: str, env: dict[str, str]) -> Measured:
    script = Path(sys.executable).with_name("ldn-inbox")
    command = [str(script)] if script.exists() else [sys.executable, "-P", "-m", "ldn_inbox"]
    result = run_child([*command, "--db", f"sqlite:///{db}", "fetch", "--verbose",
                        "--host", "127.0.0.1", "--port", str(server.imaps_port),
                        "--ca-file", str(server.ca_file), "--username", USER,
                        "--folder", folder], env)
    if result.returncode != 0:
        raise SystemExit(f"ldn-inbox fetch failed ({result.returncode}):\n{result.stderr}")
    return result


def mbsync(workdir: Path, server: DovecotServer, folder: str, env: dict[str, str]) -> Measured:
    maildir = workdir / "mbsync-maildir"
    maildir.mkdir()
    config = workdir / "mbsyncrc"
    # "localhost": mbsync 1.4 matches the certificate by DNS name only, not by IP address.
    config.write_text(f"""\
IMAPAccount bench
Host localhost
Port {server.imaps_port}
User {USER}
Pass {PASSWORD}
SSLType IMAPS
CertificateFile {server.ca_file}

IMAPStore bench-far
Account bench

MaildirStore bench-near
Path {maildir}/
Inbox {maildir}/INBOX

Channel bench
Far :bench-far:
Near :bench-near:
Patterns {folder}
Create Near
Sync Pull
SyncState *
""")
    result = run_child(["mbsync", "-q", "-c", str(config), "bench"], env)
    if result.returncode != 0:
        raise SystemExit(f"mbsync failed ({result.returncode}):\n{result.stderr}")
    copied = sum(1 for sub in ("cur", "new") for _ in (maildir / folder / sub).iterdir())
    if copied == 0:
        raise SystemExit(f"mbsync copied nothing:\n{result.stderr}")
    return result


def own_seconds(verbose_line: str) -> float | None:
    """The fetch's own time from its ``--verbose`` summary (``... in 0.1 s (server ...)``)."""
    match = re.search(r" in ([0-9.]+) s \(server", verbose_line)
    return float(match.group(1)) if match else None


def machine() -> dict[str, str]:
    info = describe()
    info["load_before"] = info.pop("load")
    info["extractor_version"] = info.pop("extractor")
    info["date"] = info["date"][:10]

    def version(args: list[str]) -> str:
        try:
            out = subprocess.run(args, capture_output=True, text=True, check=False)
        except OSError:
            return "absent"
        return (out.stdout or out.stderr).strip().splitlines()[0]

    return {**info, "dovecot": version(["dovecot", "--version"]),
            "mbsync": version(["mbsync", "--version"])}


def load_folder(server: DovecotServer, count: int, seed: int) -> tuple[str, int]:
    rng = random.Random(seed)
    folder = f"Bench{count}"
    server.create_folder(USER, folder)
    messages = [survey_message(n, rng) for n in range(1, count + 1)]
    size = sum(len(m) for m in messages)
    server.bulk_load(USER, folder, messages)
    return folder, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=None,
                        help="second, smaller mailbox for the memory comparison "
                             "(default: a quarter; 0 to skip)")
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    small = args.messages // 4 if args.small is None else args.small
    info = machine()
    with tempfile.TemporaryDirectory(prefix="ldn-imap-bench-") as tmp, DovecotServer() as server:
        work = Path(tmp)
        env = {**os.environ, "HOME": str(work / "home"), "LDN_INBOX_IMAP_PASSWORD": PASSWORD,
               "LDN_INBOX_PRIVACY_KEY_FILE": str(work / "pseudonym.key")}
        env = {k: v for k, v in env.items()
               if not k.startswith("LDN_INBOX_") or k in ("LDN_INBOX_IMAP_PASSWORD",
                                                         "LDN_INBOX_PRIVACY_KEY_FILE")}
        # bytecode cached as in an installed package (the first run writes it)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        folder, size = load_folder(server, args.messages, args.seed)
        first = ldn_fetch(work / "bench.sqlite", server, folder, env)
        noop = ldn_fetch(work / "bench.sqlite", server, folder, env)
        mirror = mbsync(work, server, folder, env)
        results: dict[str, object] = {
            **info, "messages": args.messages, "mailbox_mib": round(size / 2**20, 1),
            "first_fetch_s": round(first.seconds, 1),
            "first_fetch_msgs_per_s": round(args.messages / first.seconds, 1),
            "first_fetch_server_s": _server_seconds(first.stdout),
            "first_fetch_peak_rss_mib": round(first.peak_rss_mib, 1),
            "noop_wall_s": round(noop.seconds, 2), "noop_own_s": own_seconds(noop.stdout),
            "mbsync_s": round(mirror.seconds, 1),
            "mbsync_peak_rss_mib": round(mirror.peak_rss_mib, 1),
            "ratio_first_fetch_to_mbsync": round(first.seconds / mirror.seconds, 1),
            "database_mib": round(database_bytes(work / "bench.sqlite") / 2**20, 1),
            "database_to_mailbox": round(database_bytes(work / "bench.sqlite") / size, 2),
            "summary_line": first.stdout.strip(),
        }
        if small:
            small_folder, _ = load_folder(server, small, args.seed + 1)
            other = ldn_fetch(work / "small.sqlite", server, small_folder, env)
            results.update({"small_messages": small,
                            "small_first_fetch_peak_rss_mib": round(other.peak_rss_mib, 1),
                            "small_first_fetch_msgs_per_s": round(small / other.seconds, 1)})
    out = args.json or ROOT / "bench" / "results" / f"imap-{info['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(report(results))
    print(f"\n(JSON: {out})")


def database_bytes(path: Path) -> int:
    """The SQLite database on disk: the file and its write-ahead log, if any."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")
               if not p.name.endswith("-shm"))


def _server_seconds(verbose_line: str) -> float | None:
    match = re.search(r"\(server ([0-9.]+) s\)", verbose_line)
    return float(match.group(1)) if match else None


def report(r: dict[str, object]) -> str:
    lines = [
        f"Machine: {r['nproc']} CPUs ({r['cpu']}), {r['ram']} RAM; load average before the "
        f"run {r['load_before']}; {r['date']}.",
        f"Versions: ldn-inbox {r['ldn_inbox']} (extractor {r['extractor_version']}), Python "
        f"{r['python']}, Dovecot {r['dovecot']}, {r['mbsync']}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| mailbox | {r['messages']:,} messages of 2-30 KB, {r['mailbox_mib']} MiB |",
        f"| first `ldn-inbox fetch` (store raw + code) | {r['first_fetch_s']} s, "
        f"{r['first_fetch_msgs_per_s']} msgs/s, of which waiting for the server "
        f"{r['first_fetch_server_s']} s |",
        f"| peak RSS of that run | {r['first_fetch_peak_rss_mib']} MiB |",
        f"| `mbsync` download of the same folder | {r['mbsync_s']} s, peak RSS "
        f"{r['mbsync_peak_rss_mib']} MiB |",
        f"| ratio first fetch / mbsync | {r['ratio_first_fetch_to_mbsync']}x |",
        f"| no-op `ldn-inbox fetch` (nothing new) | {r['noop_wall_s']} s wall, of which the "
        f"fetch itself {r['noop_own_s']} s |",
        f"| database after the first fetch | {r['database_mib']} MiB "
        f"({r.get('database_to_mailbox', '?')}x the mailbox) |",
    ]
    if "small_messages" in r:
        lines.append(f"| peak RSS, first fetch of {r['small_messages']:,} messages | "
                     f"{r['small_first_fetch_peak_rss_mib']} MiB "
                     f"({r['small_first_fetch_msgs_per_s']} msgs/s) |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
