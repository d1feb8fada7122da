"""Start-up: a run loads only what its command uses.

The nightly ``ldn-inbox fetch`` with nothing new is mostly interpreter start-up and imports,
so ``--help`` and a no-op fetch must not load the extractor, the review screen, the
spreadsheet readers or the migrations. What a process imported is read from
``python -X importtime`` (a property of the run, not a timing).
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from servers import DovecotServer
from test_imap import ALICE, ALICE_PW, fill, imap_env, imap_options, message, new_folder

from ldn_inbox import config
from ldn_inbox.flow.app import Context
from ldn_inbox.flow.coder import POOL_THRESHOLD, CoderTimes
from ldn_inbox.flow.fetch import FetchSummary, fetch
from ldn_inbox.flow.pipeline import Waits
from ldn_inbox.sources.imap import Credential, ImapMailbox, ImapSettings, hashed_ca_dir

__all__ = ["imap_env"]  # the fixture, shared with test_imap

#: Modules a no-op run never needs: coding, review, browse, spreadsheets, documents.
HEAVY = ("ldn_inbox.extract", "ldn_inbox.parse.mime", "ldn_inbox.parse.reply",
         "ldn_inbox.parse.mailing_learn", "ldn_inbox.review", "ldn_inbox.serve", "textual",
         "rapidfuzz", "mailparser", "openpyxl", "lxml", "inscriptis",
         "pypdf", "docx", "odf", "py3langid", "datasette", "pandas", "rich", "pydantic")


def imported(args: list[str], env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """The modules ``python -m ldn_inbox ARGS`` imported, and its stdout."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-P", "-m", "ldn_inbox", *args],
                          capture_output=True, text=True, timeout=120,
                          env=env if env is not None else dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    assert "ldn_inbox.cli" in modules, done.stderr[-3000:]
    return modules, done.stdout


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The modules of ``names`` (packages with their submodules) that were imported."""
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_cli_import_loads_no_database_layer() -> None:
    """Importing the command line (every command's start) loads neither SQLAlchemy nor the
    flow layer: ``--help`` is start-up only."""
    code = ("import sys, ldn_inbox.cli; print('\\n'.join(sys.modules))")
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    modules = set(done.stdout.split())
    assert "ldn_inbox.cli" in modules
    assert loaded(modules, ("sqlalchemy", "alembic", "ldn_inbox.flow", "ldn_inbox.store",
                            "imapclient", *HEAVY)) == []


def test_quick_fetch_loads_no_database_layer() -> None:
    """The fetch with nothing new looks at the database with the sqlite3 module alone."""
    code = ("import sys, ldn_inbox.cli, ldn_inbox.flow.quick; print('\\n'.join(sys.modules))")
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    modules = set(done.stdout.split())
    assert {"ldn_inbox.flow.quick", "ldn_inbox.store.glance", "sqlite3"} <= modules
    assert loaded(modules, ("sqlalchemy", "alembic", "ldn_inbox.store.models",
                            "ldn_inbox.store.db", "ldn_inbox.flow.fetch", *HEAVY)) == []


def test_help_loads_nothing_heavy() -> None:
    modules, out = imported(["--help"])
    assert "fetch" in out
    assert loaded(modules, ("sqlalchemy", "alembic", *HEAVY)) == []


@pytest.mark.imap
def test_noop_fetch_loads_nothing_heavy(dovecot: DovecotServer, tmp_path: Path) -> None:
    """The first fetch codes (and so loads the extractor and the migrations); the second,
    with nothing new, loads neither."""
    folder = new_folder(dovecot, "Startup")
    fill(dovecot, folder, [message(n, "startup") for n in range(1, 4)])
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("LDN_INBOX_", "XDG_"))}
    env.update(HOME=str(home), LDN_INBOX_IMAP_PASSWORD=ALICE_PW,
               LDN_INBOX_PRIVACY_KEY_FILE=str(tmp_path / "pseudonym.key"))
    args = ["--db", f"sqlite:///{tmp_path / 'startup.sqlite'}", "fetch", "--verbose",
            *imap_options(dovecot, folder)]

    first, out = imported(args, env)
    assert "3 new" in out
    # the probe sees what a coding run loads
    assert "ldn_inbox.extract" in first
    assert "alembic" in first

    second, out = imported(args, env)
    assert "0 fetched" in out
    assert loaded(second, ("alembic", "multiprocessing", "concurrent.futures.process",
                           *HEAVY)) == []
    # nothing to do: looked at with the sqlite3 module, no database layer loaded
    assert loaded(second, ("sqlalchemy", "ldn_inbox.store.models", "ldn_inbox.store.db",
                           "ldn_inbox.flow.fetch", "ldn_inbox.flow.pipeline")) == []
    assert "sqlite3" in second

    # a new message: the next run hands over to the full run, which fetches it
    fill(dovecot, folder, [message(4, "startup")])
    third, out = imported(args, env)
    assert "1 fetched, 1 new" in out
    assert "sqlalchemy" in third
    fourth, out = imported(args, env)
    assert "0 fetched" in out
    assert "sqlalchemy" not in fourth


@pytest.mark.imap
def test_fetch_says_where_it_waited(dovecot: DovecotServer, imap_env: Path,
                                    sqlite_url: str) -> None:
    """A first fetch with two coding workers accounts for its time: waiting for the server,
    storing, the workers' busy and idle time; a run with nothing new starts no worker and
    stores nothing."""
    folder = new_folder(dovecot, "Times")
    count = 3 * POOL_THRESHOLD
    fill(dovecot, folder, [message(n, "times") for n in range(1, count + 1)])
    values = {"host": "127.0.0.1", "port": dovecot.imaps_port, "ca_file": str(dovecot.ca_file),
              "username": ALICE, "folder": folder, "batch_size": POOL_THRESHOLD}
    cfg = config.load().with_overrides(
        {"db": sqlite_url, "run.workers": 2,
         **{f"imap.{key}": value for key, value in values.items()}})

    def run() -> FetchSummary:
        ctx = Context(cfg)
        try:
            return fetch(ctx)
        finally:
            ctx.close()

    first = run()
    assert first.new == count
    waits = first.waits
    assert first.imap_seconds > 0
    assert waits.storing > 0
    assert waits.coder.workers == 2
    assert waits.coder.busy > 0
    assert waits.coder.alive >= waits.coder.busy / 2  # two workers: alive counts both
    assert waits.coder.starting > 0  # the lexicons loaded before forking
    assert first.setup_seconds + first.imap_seconds + waits.accounted() <= first.seconds + 0.01
    assert "2 workers busy" in first.time_line()

    again = run()
    assert again.fetched == 0
    assert again.waits.coder.workers == 0
    assert again.waits.storing == again.waits.results == again.waits.coder.busy == 0
    assert "workers busy" not in again.time_line()


def test_time_line_names_every_part() -> None:
    waits = Waits(storing=1.5, results=2.0, writing=0.5, learning=0.25,
                  coder=CoderTimes(here=0.25, starting=0.5, busy=6.0, alive=8.0, workers=2))
    summary = FetchSummary(
        account="default", folder="INBOX", uidvalidity=1, fetched=10, new=10, known=0,
        forgotten=0, duplicate_id=0, coded=10, quarantined=0, too_big=0, failed=0,
        vanished=0, applied=0, recovered=0, uidvalidity_changed=False, reconnects=0,
        seconds=10.0, imap_seconds=3.0, setup_seconds=0.5, waits=waits)
    assert summary.time_line() == (
        "time 10.00 s: setup (credential, database) 0.50 s, waiting for the server 3.00 s, "
        "storing 1.50 s, coding in this process 0.25 s, starting coding workers 0.50 s, "
        "waiting for coding workers 2.00 s, writing records 0.50 s, learning mailings 0.25 s; "
        "2 workers busy 6.00 s, idle 2.00 s (summed), other 1.50 s")


def system_cas(tmp_path: Path, bundle: list[Path], directory: list[Path]
               ) -> ssl.DefaultVerifyPaths:
    """A stand-in for the system's CA paths: a bundle file and a hashed directory."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    cafile = tmp_path / "ca-bundle.crt"
    cafile.write_bytes(b"".join(cert.read_bytes() for cert in bundle))
    capath = tmp_path / "certs"
    capath.mkdir()
    for index, cert in enumerate(directory):
        shutil.copy(cert, capath / f"ca{index}.pem")
    subprocess.run(["openssl", "rehash", str(capath)], check=True, capture_output=True)
    return ssl.DefaultVerifyPaths(str(cafile), str(capath), "SSL_CERT_FILE", str(cafile),
                                  "SSL_CERT_DIR", str(capath))


@pytest.mark.imap
def test_system_cas_read_from_their_directory_only_when_it_holds_them(
        dovecot: DovecotServer, tmp_path: Path) -> None:
    both = [dovecot.ca_file, dovecot.wrong_ca_file]
    full = system_cas(tmp_path / "full", both, both)
    assert hashed_ca_dir(full) == full.capath
    short = system_cas(tmp_path / "short", both, both[:1])
    assert hashed_ca_dir(short) is None
    assert hashed_ca_dir(full._replace(capath=None)) is None


@pytest.mark.imap
@pytest.mark.parametrize("trusted", [True, False], ids=["server's CA", "another CA"])
def test_system_cas_from_their_directory_verify_a_real_server(
        dovecot: DovecotServer, tmp_path: Path, trusted: bool) -> None:
    """The directory is what verifies: a server signed by a CA in it is accepted, one
    signed by a CA that is not is refused (no imap.ca_file in either case)."""
    ca = dovecot.ca_file if trusted else dovecot.wrong_ca_file
    system = system_cas(tmp_path, [ca], [ca])
    assert hashed_ca_dir(system) == system.capath
    settings = ImapSettings.from_config(config.load().with_overrides(
        {"imap.host": "127.0.0.1", "imap.port": dovecot.imaps_port, "imap.username": ALICE}))
    assert not settings.ca_file
    context = ImapMailbox(settings, Credential("password", ALICE_PW, "test")
                          ).ssl_context(system)
    with socket.create_connection(("127.0.0.1", dovecot.imaps_port), timeout=10) as sock:
        if trusted:
            with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
                assert tls.version() is not None
        else:
            with pytest.raises(ssl.SSLCertVerificationError):
                context.wrap_socket(sock, server_hostname="127.0.0.1")
