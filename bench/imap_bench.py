"""IMAP fetch benchmark: ``ldn-inbox fetch`` against a private Dovecot, next to mbsync.

    .venv/bin/python -P bench/imap_bench.py                 # 10,000 messages of 2-30 KB
    .venv/bin/python -P bench/imap_bench.py --messages 2000 --small 500
    .venv/bin/python -P bench/imap_bench.py --messages 2000 --small 0 --no-mbsync  # start-up

Starts a private Dovecot (tests/servers.py), loads a folder of N seeded survey-like replies of
2-30 KB, then measures, each as a separate process:

1. ``ldn-inbox fetch`` into a fresh SQLite database (store raw + code): wall time, msgs/s,
   peak RSS (``wait4`` of that process), and where it waited (its ``-v`` time line: the
   server, storing, coding in the run's process, waiting for the coding workers, writing
   records, the workers' busy and idle time), and the database's size (file and write-ahead
   log) beside the mailbox's;
2. ``ldn-inbox fetch`` again with nothing new, ``--noop-runs`` times: wall and CPU time
   (median and best), the fetch's own time from its ``--verbose`` line (the rest is
   interpreter start-up and imports), and once under ``python -X importtime``: the total
   import time and the packages that take most of it;
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
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from machine import describe, from_small_parent, read_usage  # noqa: E402
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
    """One process: wall seconds, peak RSS in MiB, exit code, its output, CPU seconds."""

    seconds: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0


def run_child(args: list[str], env: dict[str, str]) -> Measured:
    """Run ``args`` from a small parent process (:func:`machine.from_small_parent`) that
    reads its own peak RSS and CPU time with ``wait4``."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "usage.json"
        proc = subprocess.Popen(from_small_parent(args, report), env=env, stdout=out,
                                stderr=err)
        proc.wait()
        seconds = time.monotonic() - started
        usage = read_usage(report)
        out.seek(0)
        err.seek(0)
        return Measured(seconds, usage.ru_maxrss / 1024, proc.returncode,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                        usage.cpu_seconds)


def ldn_fetch(db: Path, server: DovecotServer, folder: str, env: dict[str, str], *,
              importtime: bool = False) -> Measured:
    """``ldn-inbox -v fetch --verbose``: its summary on stdout, its time line on stderr."""
    script = Path(sys.executable).with_name("ldn-inbox")
    command = [str(script)] if script.exists() else [sys.executable, "-P", "-m", "ldn_inbox"]
    if importtime:
        command = [sys.executable, "-X", "importtime", "-P", "-m", "ldn_inbox"]
    result = run_child([*command, "-v", "--db", f"sqlite:///{db}", "fetch", "--verbose",
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


#: The parts of the ``-v`` time line (flow/fetch.py ``FetchSummary.time_line``), by JSON key.
_TIME_PARTS = {
    "total": r"time ([0-9.]+) s:", "setup": r"setup \(credential, database\) ([0-9.]+) s",
    "server": r"waiting for the server ([0-9.]+) s", "storing": r"storing ([0-9.]+) s",
    "coding_here": r"coding in this process ([0-9.]+) s",
    "starting_workers": r"starting coding workers ([0-9.]+) s",
    "waiting_for_workers": r"waiting for coding workers ([0-9.]+) s",
    "writing": r"writing records ([0-9.]+) s",
    "learning": r"learning mailings ([0-9.]+) s", "workers_busy": r"workers busy ([0-9.]+) s",
    "workers_idle": r"idle ([0-9.]+) s", "other": r"other ([0-9.]+) s",
}


def time_parts(stderr: str) -> dict[str, float]:
    """Where a fetch waited, from its ``-v`` time line (absent parts left out)."""
    line = next((x for x in stderr.splitlines() if ": time " in x), "")
    found = {key: re.search(pattern, line) for key, pattern in _TIME_PARTS.items()}
    return {key: float(match.group(1)) for key, match in found.items() if match}


def import_costs(stderr: str, top: int = 8) -> tuple[float, list[tuple[str, float]]]:
    """From ``-X importtime`` output: the total import time (sum of each module's own
    time) and the top-level packages that take most of it, in seconds."""
    by_package: dict[str, float] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            package = match.group(2).split(".")[0]
            by_package[package] = by_package.get(package, 0.0) + int(match.group(1)) / 1e6
    ranked = sorted(by_package.items(), key=lambda item: -item[1])[:top]
    return round(sum(by_package.values()), 3), [(name, round(s, 3)) for name, s in ranked]


def noop_runs(db: Path, server: DovecotServer, folder: str, envs: dict[str, dict[str, str]],
              runs: int) -> dict[str, object]:
    """``runs`` fetches with nothing new per environment (taking turns, so a change in the
    machine's load touches each alike), then one each under ``-X importtime``. Keys of the
    first environment are ``noop_*``, of the others ``<name>_noop_*``."""
    measured: dict[str, list[Measured]] = {name: [] for name in envs}
    for _ in range(max(1, runs)):
        for name, env in envs.items():
            measured[name].append(ldn_fetch(db, server, folder, env))
    out: dict[str, object] = {}
    for index, (name, env) in enumerate(envs.items()):
        prefix = "noop" if index == 0 else f"{name}_noop"
        walls = [m.seconds for m in measured[name]]
        cpus = [m.cpu_seconds for m in measured[name]]
        own = [s for m in measured[name] if (s := own_seconds(m.stdout)) is not None]
        total, packages = import_costs(
            ldn_fetch(db, server, folder, env, importtime=True).stderr)
        out.update({
            f"{prefix}_runs": len(walls), f"{prefix}_wall_s": round(statistics.median(walls), 2),
            f"{prefix}_wall_best_s": round(min(walls), 2),
            f"{prefix}_cpu_s": round(statistics.median(cpus), 2),
            f"{prefix}_own_s": round(statistics.median(own), 2) if own else None,
            f"{prefix}_times": time_parts(measured[name][-1].stderr),
            f"{prefix}_import_s": total, f"{prefix}_import_top": packages})
    return out


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
    parser.add_argument("--noop-runs", type=int, default=5,
                        help="fetches with nothing new to time (median and best)")
    parser.add_argument("--no-mbsync", action="store_true",
                        help="skip the mbsync comparison (start-up figures only)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="the src/ folder of another ldn-inbox checkout (`git archive main "
                             "src alembic | tar -x -C /tmp/base`, then /tmp/base/src): its no-op "
                             "runs take turns with this one's on the same database")
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
        envs = {"this": env}
        if args.baseline is not None:
            envs["baseline"] = {**env, "PYTHONPATH": str(args.baseline.resolve())}
        noop = noop_runs(work / "bench.sqlite", server, folder, envs, args.noop_runs)
        results: dict[str, object] = {
            **info, "messages": args.messages, "mailbox_mib": round(size / 2**20, 1),
            "first_fetch_s": round(first.seconds, 1),
            "first_fetch_msgs_per_s": round(args.messages / first.seconds, 1),
            "first_fetch_server_s": _server_seconds(first.stdout),
            "first_fetch_peak_rss_mib": round(first.peak_rss_mib, 1),
            "first_fetch_cpu_s": round(first.cpu_seconds, 1),
            "first_fetch_times": time_parts(first.stderr),
            **noop,
            "database_mib": round(database_bytes(work / "bench.sqlite") / 2**20, 1),
            "database_to_mailbox": round(database_bytes(work / "bench.sqlite") / size, 2),
            "summary_line": first.stdout.strip(),
        }
        if not args.no_mbsync:
            mirror = mbsync(work, server, folder, env)
            results.update({
                "mbsync_s": round(mirror.seconds, 1),
                "mbsync_peak_rss_mib": round(mirror.peak_rss_mib, 1),
                "ratio_first_fetch_to_mbsync": round(first.seconds / mirror.seconds, 1)})
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


def _times(parts: object) -> str:
    names = {"setup": "setup", "server": "server", "storing": "storing",
             "coding_here": "coding in the run's process",
             "starting_workers": "starting the coding workers",
             "waiting_for_workers": "waiting for the coding workers", "writing": "writing",
             "learning": "learning mailings",
             "workers_busy": "workers busy (summed)", "workers_idle": "workers idle (summed)",
             "other": "other"}
    found = parts if isinstance(parts, dict) else {}
    return ", ".join(f"{label} {found[key]} s" for key, label in names.items() if key in found)


def report(r: dict[str, object]) -> str:
    top = r.get("noop_import_top")
    packages = ", ".join(f"{name} {s} s" for name, s in top) if isinstance(top, list) else ""
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
        f"| where that run's time went | {_times(r.get('first_fetch_times'))} |",
        f"| peak RSS of that run | {r['first_fetch_peak_rss_mib']} MiB |",
    ]
    if "mbsync_s" in r:
        lines += [
            f"| `mbsync` download of the same folder | {r['mbsync_s']} s, peak RSS "
            f"{r['mbsync_peak_rss_mib']} MiB |",
            f"| ratio first fetch / mbsync | {r['ratio_first_fetch_to_mbsync']}x |"]
    lines += [
        f"| no-op `ldn-inbox fetch` (nothing new), median of {r['noop_runs']} | "
        f"{r['noop_wall_s']} s wall (best {r['noop_wall_best_s']} s), {r['noop_cpu_s']} s "
        f"CPU, of which the fetch itself {r['noop_own_s']} s |",
        f"| no-op imports (`-X importtime`) | {r['noop_import_s']} s: {packages} |",
        f"| where the no-op's time went | {_times(r.get('noop_times'))} |",
    ]
    if "baseline_noop_wall_s" in r:
        base = r.get("baseline_noop_import_top")
        base_packages = (", ".join(f"{name} {s} s" for name, s in base)
                         if isinstance(base, list) else "")
        lines += [
            f"| baseline: no-op `ldn-inbox fetch`, median of {r['baseline_noop_runs']} | "
            f"{r['baseline_noop_wall_s']} s wall (best {r['baseline_noop_wall_best_s']} s), "
            f"{r['baseline_noop_cpu_s']} s CPU, of which the fetch itself "
            f"{r['baseline_noop_own_s']} s |",
            f"| baseline: no-op imports | {r['baseline_noop_import_s']} s: {base_packages} |"]
    lines.append(f"| database after the first fetch | {r['database_mib']} MiB "
                 f"({r.get('database_to_mailbox', '?')}x the mailbox) |")
    if "small_messages" in r:
        lines.append(f"| peak RSS, first fetch of {r['small_messages']:,} messages | "
                     f"{r['small_first_fetch_peak_rss_mib']} MiB "
                     f"({r['small_first_fetch_msgs_per_s']} msgs/s) |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
