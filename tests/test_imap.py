"""``ldn-inbox check`` and ``fetch`` against a real Dovecot (tests/servers.py), never a mock.

Each test reads its own fresh folder of the session's Dovecot into its own database. The
fault tests break things for real: SIGKILL of a running ``ldn-inbox fetch``, a Dovecot
restart, a folder recreated under the run (new UIDVALIDITY), a message expunged by another
session, a message file the server cannot read.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import os
import pty
import random
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import run_cli
from servers import DovecotServer
from typer.testing import CliRunner

from ldn_inbox import config
from ldn_inbox.flow.app import Context
from ldn_inbox.flow.fetch import FetchSummary, fetch
from ldn_inbox.store.packing import unpack

pytestmark = pytest.mark.imap

ALICE, ALICE_PW = "alice", "alice-pw"
BIG_COUNT = 2000
#: Pauses between reconnect attempts in the in-process fault tests (keeps them quick).
FAST_BACKOFF = (0.3, 0.6, 1.2, 2.4)


def message(n: int, tag: str, *, size: int = 0, message_id: str | None = None,
            extra_header: str = "") -> bytes:
    """A distinct survey-like reply (CRLF, so its IMAP bytes equal what was appended)."""
    mid = message_id or f"{tag}-{n}@test.invalid"
    body = (f"Beste,\r\n\r\n1. Ja, ik gebruik LDN sinds {2010 + n % 15}.\r\n"
            f"2. Mijn huisarts schreef het voor.\r\n3. Minder pijn ({tag} {n}).\r\n"
            "4. Geen bijwerkingen.\r\n\r\nGroeten\r\n")
    if size > len(body):
        body += ("x" * 76 + "\r\n") * ((size - len(body)) // 78 + 1)
    return (f"From: Respondent {n} <resp{n}.{tag}@example.org>\r\n"
            f"To: info@example.org\r\nSubject: Re: Vragen over LDN ({n})\r\n"
            f"Message-ID: <{mid}>\r\nDate: Mon, 1 Jan 2024 12:00:00 +0000\r\n{extra_header}"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"\r\n{body}").encode()


def short_message(n: int, tag: str) -> bytes:
    """A minimal distinct message: cheap to code, for the 2,000-message runs."""
    return (f"From: r{n}@example.org\r\nSubject: {tag} {n}\r\n"
            f"Message-ID: <{tag}-{n}@test.invalid>\r\nDate: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
            f"\r\nJa, LDN sinds {n}.\r\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_folder(dovecot: DovecotServer, prefix: str = "T") -> str:
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    dovecot.create_folder(ALICE, name)
    return name


def fill(dovecot: DovecotServer, folder: str, messages: list[bytes]) -> None:
    for data in messages:
        dovecot.append(ALICE, folder, data)


@dataclass(frozen=True)
class Contents:
    """What a database holds after fetching."""

    raw: int
    messages: int
    sources: int
    sha256s: frozenset[str]
    ledger: dict[str, int]
    pending: int


def contents(db_url: str) -> Contents:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            def scalar(sql: str) -> int:
                return int(conn.execute(sa.text(sql)).scalar_one())

            ledger = dict(conn.execute(sa.text(
                "SELECT status, count(*) FROM imap_ledger GROUP BY status")).all())
            return Contents(
                raw=scalar("SELECT count(*) FROM raw_messages"),
                messages=scalar("SELECT count(*) FROM messages"),
                sources=scalar("SELECT count(*) FROM raw_sources"),
                sha256s=frozenset(conn.execute(
                    sa.text("SELECT sha256 FROM raw_messages")).scalars()),
                ledger={str(k): int(v) for k, v in ledger.items()},
                pending=scalar("SELECT count(*) FROM imap_ledger "
                               "WHERE pending_action IS NOT NULL"))
    finally:
        engine.dispose()


def stored_count(db_url: str) -> int:
    """Ledgered messages, or -1 while the schema is not there yet (read during a run)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM imap_ledger")).scalar_one())
    except sa.exc.OperationalError:
        return -1
    finally:
        engine.dispose()


def imap_options(dovecot: DovecotServer, folder: str, **extra: object) -> list[str]:
    values: dict[str, object] = {"host": "127.0.0.1", "port": dovecot.imaps_port,
                                 "ca_file": dovecot.ca_file, "username": ALICE,
                                 "folder": folder, **extra}
    args: list[str] = []
    for key, value in values.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


@pytest.fixture
def imap_env(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The isolated ``env`` plus the IMAP password in the environment."""
    monkeypatch.setenv("LDN_INBOX_IMAP_PASSWORD", ALICE_PW)
    return env


def invoke(runner: CliRunner, url: str, *args: str, code: int = 0) -> Any:
    """Run ``ldn-inbox --db url ARGS`` in-process and check the exit code."""
    return run_cli(runner, args, db=url, code=code)


def run_fetch(db_url: str, dovecot: DovecotServer, folder: str, *,
              progress: Any = None, **imap: object) -> FetchSummary:
    """The core ``fetch`` in-process (for tests that act on the server mid-run)."""
    values: dict[str, object] = {"host": "127.0.0.1", "port": dovecot.imaps_port,
                                 "ca_file": str(dovecot.ca_file), "username": ALICE,
                                 "folder": folder, **imap}
    cfg = config.load().with_overrides(
        {"db": db_url, **{f"imap.{key}": value for key, value in values.items()}})
    ctx = Context(cfg)
    try:
        return fetch(ctx, progress=progress, backoff=FAST_BACKOFF)
    finally:
        ctx.close()


def fetch_args(db_url: str, dovecot: DovecotServer, folder: str, *extra: str) -> list[str]:
    """``ldn-inbox fetch ...``: the installed console script, as cron runs it."""
    script = Path(sys.executable).with_name("ldn-inbox")
    command = [str(script)] if script.exists() else [sys.executable, "-P", "-m", "ldn_inbox"]
    return [*command, "--db", db_url, "fetch", *imap_options(dovecot, folder), *extra]


def cli_process(db_url: str, dovecot: DovecotServer, folder: str, *extra: str
                ) -> subprocess.Popen[bytes]:
    """A real ``ldn-inbox fetch`` process."""
    return subprocess.Popen(fetch_args(db_url, dovecot, folder, *extra), env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="session")
def big_folder(dovecot: DovecotServer) -> tuple[str, frozenset[str]]:
    """A folder of 2,000 small messages (made once; only read, never changed)."""
    messages = [short_message(n, "big") for n in range(1, BIG_COUNT + 1)]
    folder = new_folder(dovecot, "Big")
    assert dovecot.bulk_load(ALICE, folder, messages) == BIG_COUNT
    return folder, frozenset(sha256(m) for m in messages)


@pytest.fixture(scope="module")
def mismatch_dovecot(dovecot: DovecotServer) -> Iterator[DovecotServer]:
    """A second Dovecot whose certificate is for another host name (same test CA)."""
    with DovecotServer(tls=dovecot.tls, server_cert="other_host") as server:
        yield server


@pytest.fixture(scope="module")
def nomove_dovecot(dovecot: DovecotServer) -> Iterator[DovecotServer]:
    """A Dovecot that does not advertise MOVE (fetch falls back to COPY + UID EXPUNGE)."""
    extra = "protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID UIDPLUS\n}\n"
    with DovecotServer(tls=dovecot.tls, extra_config=extra) as server:
        yield server


# --------------------------------------------------------------------------- check: TLS, login
@pytest.mark.parametrize("tls", ["implicit", "starttls", "none"])
def test_check_logs_in_and_opens_the_folder(dovecot, imap_env, runner, sqlite_url, tls):
    folder = new_folder(dovecot)
    fill(dovecot, folder, [message(1, "chk"), message(2, "chk")])
    port = dovecot.imaps_port if tls == "implicit" else dovecot.imap_port
    result = invoke(runner, sqlite_url, "check",
                    *imap_options(dovecot, folder, tls=tls, port=port))
    out = result.stdout
    assert f"{folder!r} has 2 messages" in out
    assert "logged in as alice (password from LDN_INBOX_IMAP_PASSWORD)" in out
    expected = {"implicit": "implicit TLS (TLSv1", "starttls": "STARTTLS (TLSv1",
                "none": "no TLS (loopback host)"}[tls]
    assert expected in out
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists(), "check opened the db"


def test_check_names_a_missing_folder(dovecot, imap_env, runner, sqlite_url):
    result = invoke(runner, sqlite_url, "check", *imap_options(dovecot, "NoSuchFolder"),
                    code=4)
    assert "cannot open folder 'NoSuchFolder'" in result.stderr
    assert "'INBOX'" in result.stderr, "the existing folders are listed"


def test_check_names_a_missing_move_target(dovecot, imap_env, runner, sqlite_url):
    folder = new_folder(dovecot)
    result = invoke(runner, sqlite_url, "check",
                    *imap_options(dovecot, folder, after="move:Nowhere"), code=4)
    assert "folder 'Nowhere' does not exist" in result.stderr


@pytest.mark.parametrize(
    ("source", "password", "code"),
    [
        ("environment", ALICE_PW, 0), ("environment", "wrong-pw-1", 4),
        ("password_file", ALICE_PW, 0), ("password_file", "wrong-pw-2", 4),
        ("password_command", ALICE_PW, 0), ("password_command", "wrong-pw-3", 4),
    ],
)
def test_login_with_each_password_source(dovecot, env, runner, sqlite_url, tmp_path,
                                         monkeypatch, source, password, code):
    folder = new_folder(dovecot)
    extra: dict[str, object] = {}
    if source == "environment":
        monkeypatch.setenv("LDN_INBOX_IMAP_PASSWORD", password)
    else:
        secret = tmp_path / "imap-password"
        secret.write_text(password + "\n")
        secret.chmod(0o600)
        extra = ({"password_file": secret} if source == "password_file"
                 else {"password_command": f"cat {secret}"})
    result = invoke(runner, sqlite_url, "check", *imap_options(dovecot, folder, **extra),
                    code=code)
    output = result.stdout + result.stderr
    assert password not in output, "the password was printed"
    if code:
        assert "refused the login of 'alice'" in result.stderr
        assert "AUTHENTICATIONFAILED" in result.stderr
        hint = {"environment": "update LDN_INBOX_IMAP_PASSWORD",
                "password_file": "update imap.password_file",
                "password_command": "update imap.password_command"}[source]
        assert hint in result.stderr


def tls_case(request: pytest.FixtureRequest, dovecot: DovecotServer, case: str
             ) -> tuple[DovecotServer, dict[str, object]]:
    if case == "wrong-ca":
        return dovecot, {"ca_file": dovecot.wrong_ca_file}
    if case == "system-store-only":
        return dovecot, {"ca_file": ""}
    if case == "host-name-mismatch":
        return request.getfixturevalue("mismatch_dovecot"), {}
    if case == "starttls-on-imaps-port":
        return dovecot, {"tls": "starttls", "timeout": 1}
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong-ca", "cannot be verified (unable to get local issuer certificate) with the "
                     "system's CAs nor imap.ca_file ("),
        ("system-store-only", "cannot be verified (unable to get local issuer certificate)"),
        ("host-name-mismatch", "is not valid for the name '127.0.0.1'"),
        ("starttls-on-imaps-port", "stays silent too: then set imap.tls = implicit"),
    ],
)
def test_untrusted_server_is_refused(request, dovecot, imap_env, runner, sqlite_url, case,
                                     message):
    server, extra = tls_case(request, dovecot, case)
    result = invoke(runner, sqlite_url, "fetch", *imap_options(server, "INBOX", **extra),
                    code=4)
    assert message in result.stderr
    assert ALICE_PW not in result.stderr
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists() or \
        contents(sqlite_url).raw == 0


@pytest.mark.parametrize("host", ["192.0.2.10", "imap.example.org", "mismatch.invalid"])
def test_plain_imap_is_refused_off_loopback(dovecot, imap_env, runner, sqlite_url, host):
    started = time.monotonic()
    result = invoke(runner, sqlite_url, "fetch",
                    *imap_options(dovecot, "INBOX", tls="none", host=host,
                                  port=dovecot.imap_port), code=3)
    assert f"imap.tls = none is refused for {host}" in result.stderr
    assert time.monotonic() - started < 5, "it must refuse before trying to connect"


def test_silent_server_times_out(imap_env, runner, sqlite_url):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        started = time.monotonic()
        result = invoke(runner, sqlite_url, "check", "--host", "127.0.0.1", "--port",
                        str(port), "--tls", "none", "--username", ALICE, "--timeout", "1",
                        code=4)
    assert "no answer from 127.0.0.1" in result.stderr
    assert "within 1 s" in result.stderr
    assert time.monotonic() - started < 10


def test_xoauth2_login_with_a_token_command(dovecot, env, runner, sqlite_url, tmp_path):
    folder = new_folder(dovecot)
    fill(dovecot, folder, [message(1, "oauth")])
    token = dovecot.add_oauth_token(ALICE)
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    options = imap_options(dovecot, folder, auth="xoauth2",
                           token_command=f"cat {token_file}")
    result = invoke(runner, sqlite_url, "fetch", "--verbose", *options)
    assert "1 new" in result.stdout
    assert token in dovecot.oauth.requests, "Dovecot did not introspect the token"
    assert token not in result.stdout + result.stderr

    dovecot.revoke_oauth_token(token)
    result = invoke(runner, sqlite_url, "fetch", *options, code=4)
    assert "access token from imap.token_command was refused" in result.stderr
    assert token not in result.stdout + result.stderr


# --------------------------------------------------------------------------- fetch: runs
def test_first_run_new_mail_and_nothing_new(dovecot, imap_env, runner, db_url):
    folder = new_folder(dovecot)
    first = [message(n, "first") for n in range(1, 6)]
    fill(dovecot, folder, first)
    options = imap_options(dovecot, folder)

    result = invoke(runner, db_url, "fetch", *options)
    assert (result.stdout, result.stderr) == ("", ""), "not silent under cron"
    got = contents(db_url)
    assert (got.raw, got.messages, got.sources) == (5, 5, 5)
    assert got.ledger == {"stored": 5}
    assert got.sha256s == {sha256(m) for m in first}
    status = dovecot.status(ALICE, folder)
    assert (status["messages"], status["unseen"]) == (5, 5), "after = none changed the folder"

    second = [message(n, "second") for n in range(1, 3)]
    fill(dovecot, folder, second)
    result = invoke(runner, db_url, "fetch", "--verbose", *options)
    assert f"default/{folder}: 2 fetched, 2 new, 0 already stored" in result.stdout
    got = contents(db_url)
    assert (got.raw, got.messages, got.ledger) == (7, 7, {"stored": 7})

    # UID SEARCH UID 8:* still matches UID 7 (the n:* rule): it must not be fetched again.
    result = invoke(runner, db_url, "fetch", "--verbose", *options)
    assert "0 fetched, 0 new" in result.stdout
    assert contents(db_url) == got


def test_logs_hold_no_bodies_addresses_or_secrets(dovecot, imap_env, runner, sqlite_url):
    folder = new_folder(dovecot)
    data = message(1, "privacy")
    fill(dovecot, folder, [data])
    result = invoke(runner, sqlite_url, "--verbose", "fetch", "--verbose",
                    *imap_options(dovecot, folder))
    output = result.stdout + result.stderr
    assert "1 new" in result.stdout
    for secret in (ALICE_PW, "resp1.privacy@example.org", "Minder pijn", "Vragen over LDN"):
        assert secret not in output, f"{secret!r} appears in the output"


def test_debug_logging_holds_no_bodies(dovecot, imap_env, sqlite_url, caplog):
    # IMAPClient passes every line imaplib reads to its "imapclient.imaplib" logger: with
    # that logger at DEBUG (someone looking into a server problem), the mail (health data)
    # would be in the log, after a reconnect too
    folder = new_folder(dovecot)
    fill(dovecot, folder, [message(n, "debuglog") for n in range(1, 41)])
    kicked: list[int] = []

    def progress(done: int, total: int) -> None:
        if done == 20 and not kicked:
            dovecot.kick(ALICE)  # the next command reconnects
            kicked.append(done)

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="imapclient")
    result = run_fetch(sqlite_url, dovecot, folder, progress=progress, batch_size=10)
    assert (result.new, result.reconnects) == (40, 1)
    assert "FETCH" not in caplog.text
    for n in (1, 40):
        assert f"debuglog {n})" not in caplog.text, "a body is in the log"
        assert f"resp{n}.debuglog@example.org" not in caplog.text, "an address is in the log"


def test_progress_bar_and_summary_on_a_terminal(dovecot, imap_env, sqlite_url):
    folder = new_folder(dovecot)
    fill(dovecot, folder, [message(n, "tty") for n in range(1, 4)])
    leader, follower = pty.openpty()
    proc = subprocess.Popen(fetch_args(sqlite_url, dovecot, folder), env=dict(os.environ),
                            stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert proc.wait(30) == 0, output
    assert b"3 fetched, 3 new" in output, output


def test_after_seen_marks_only_stored_messages(dovecot, imap_env, runner, sqlite_url):
    folder = new_folder(dovecot)
    fill(dovecot, folder, [message(n, "seen") for n in range(1, 5)])
    result = invoke(runner, sqlite_url, "fetch", "--verbose",
                    *imap_options(dovecot, folder, after="seen"))
    assert "4 marked seen" in result.stdout
    assert dovecot.status(ALICE, folder)["unseen"] == 0
    got = contents(sqlite_url)
    assert (got.raw, got.pending) == (4, 0)


@pytest.mark.parametrize("server_name", ["dovecot", "nomove_dovecot"])
def test_after_move_to_processed(request, imap_env, runner, db_url, server_name):
    server: DovecotServer = request.getfixturevalue(server_name)
    folder = new_folder(server)
    if "Processed" not in server.folders(ALICE):
        server.create_folder(ALICE, "Processed")
    before = server.count(ALICE, "Processed")
    fill(server, folder, [message(n, "move") for n in range(1, 6)])
    options = imap_options(server, folder, after="move:Processed")
    result = invoke(runner, db_url, "fetch", "--verbose", *options)
    assert "5 moved to Processed" in result.stdout
    assert server.count(ALICE, folder) == 0
    assert server.count(ALICE, "Processed") == before + 5

    fill(server, folder, [message(6, "move")])
    result = invoke(runner, db_url, "fetch", "--verbose", *options)
    assert "1 fetched, 1 new" in result.stdout
    assert "1 moved to Processed" in result.stdout
    got = contents(db_url)
    assert (got.raw, got.messages, got.pending, got.ledger) == (6, 6, 0, {"stored": 6})
    assert server.count(ALICE, folder) == 0
    assert server.count(ALICE, "Processed") == before + 6


def test_non_ascii_folders_in_modified_utf7(dovecot, imap_env, runner, sqlite_url):
    folder = f"Enquête/Réponses – {uuid.uuid4().hex[:6]} ✓"
    target = f"Verwerkt/Überprüft {uuid.uuid4().hex[:6]}"
    dovecot.create_folder(ALICE, folder)
    dovecot.create_folder(ALICE, target)
    fill(dovecot, folder, [message(n, "utf7") for n in range(1, 4)])

    # On the wire the names are modified UTF-7 (RFC 3501 5.1.3), not UTF-8.
    with imaplib.IMAP4_SSL("127.0.0.1", dovecot.imaps_port,
                           ssl_context=ssl.create_default_context(
                               cafile=str(dovecot.ca_file))) as raw:
        raw.login(ALICE, ALICE_PW)
        listed = b"".join(raw.list()[1])
    assert b"Enqu&AOo-te/R&AOk-ponses &IBM-" in listed

    options = imap_options(dovecot, folder, after=f"move:{target}")
    assert f"{folder!r} has 3 messages" in invoke(runner, sqlite_url, "check",
                                                   *options).stdout
    result = invoke(runner, sqlite_url, "fetch", "--verbose", *options)
    assert f"3 moved to {target}" in result.stdout
    assert (dovecot.count(ALICE, folder), dovecot.count(ALICE, target)) == (0, 3)
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        folders = set(conn.execute(sa.text("SELECT folder FROM imap_ledger")).scalars())
        locations = set(conn.execute(sa.text("SELECT location FROM raw_sources")).scalars())
    engine.dispose()
    assert folders == {folder}
    assert locations == {f"default/{folder}"}


def test_too_big_message_is_kept_as_header(dovecot, imap_env, runner, sqlite_url):
    folder = new_folder(dovecot)
    small, big = message(1, "size"), message(2, "size", size=20_000)
    fill(dovecot, folder, [small, big])
    result = invoke(runner, sqlite_url, "fetch",
                    *imap_options(dovecot, folder, max_message_bytes=5000), code=6)
    assert "1 too big (only the header was stored)" in result.stderr
    got = contents(sqlite_url)
    assert got.ledger == {"stored": 1, "too_big": 1}
    assert sha256(small) in got.sha256s
    assert sha256(big) not in got.sha256s
    errors = invoke(runner, sqlite_url, "errors").stdout
    assert "size-2@test.invalid" in errors
    assert "imap.max_message_bytes = 5000" in errors
    header = big.split(b"\r\n\r\n", 1)[0]
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        stored, codec = conn.execute(sa.text(
            "SELECT data, codec FROM raw_messages WHERE message_id = "
            "'size-2@test.invalid'")).one()
    engine.dispose()
    data = unpack(bytes(stored), codec)
    assert data is not None
    assert data.startswith(header)
    assert len(data) < 1000


def maildir_file(dovecot: DovecotServer, folder: str, uid: int) -> Path:
    base = dovecot.doveadm("fetch", "-u", ALICE, "guid", "mailbox", folder, "uid",
                           str(uid)).split(":", 1)[1].strip()
    root = dovecot.folder_path(ALICE, folder)
    (path,) = [p for sub in ("new", "cur") for p in (root / sub).iterdir()
               if p.name.startswith(base)]
    return path


def test_message_the_server_cannot_deliver_is_retried(dovecot, imap_env, runner, sqlite_url):
    folder = new_folder(dovecot)
    messages = [message(n, "broken") for n in range(1, 7)]
    fill(dovecot, folder, messages)
    broken = maildir_file(dovecot, folder, 3)
    broken.chmod(0)  # Dovecot (as the mail user) cannot read it: "Internal error", BYE
    try:
        result = invoke(runner, sqlite_url, "fetch", *imap_options(dovecot, folder), code=6)
    finally:
        broken.chmod(0o600)
    assert "1 not delivered by the server (retried by the next run)" in result.stderr
    assert "1 failed (retried next run)" in result.stdout
    got = contents(sqlite_url)
    assert got.ledger == {"stored": 5, "failed": 1}
    assert sha256(messages[2]) not in got.sha256s

    result = invoke(runner, sqlite_url, "fetch", "--verbose", *imap_options(dovecot, folder))
    assert "1 fetched, 1 new" in result.stdout
    got = contents(sqlite_url)
    assert got.ledger == {"stored": 6}
    assert got.sha256s == {sha256(m) for m in messages}


def test_uidvalidity_reset_rescans_and_dedupes(dovecot, imap_env, runner, db_url):
    folder = new_folder(dovecot)
    old = [message(n, "uv") for n in range(1, 5)]
    fill(dovecot, folder, old)
    options = imap_options(dovecot, folder)
    invoke(runner, db_url, "fetch", *options)
    before = dovecot.uidvalidity(ALICE, folder)

    assert dovecot.recreate_folder(ALICE, folder) != before
    rewritten = message(1, "uv", extra_header="X-Spam-Score: 0.1\r\n")  # same Message-ID
    fresh = message(5, "uv")
    fill(dovecot, folder, [*old, rewritten, fresh])
    result = invoke(runner, db_url, "fetch", "--verbose", *options)
    line = result.stdout
    assert "6 fetched, 2 new, 4 already stored" in line, line
    assert "1 same Message-ID, other bytes" in line, line
    assert "UIDVALIDITY changed" in line, line
    got = contents(db_url)
    assert got.raw == 6, "known bytes stored again"
    assert got.messages == 5, "one coded record per Message-ID"
    assert got.ledger == {"stored": 6, "duplicate": 4}

    result = invoke(runner, db_url, "fetch", "--verbose", *options)
    assert "0 fetched" in result.stdout
    assert "UIDVALIDITY" not in result.stdout


# --------------------------------------------------------------------------- faults mid-run
def test_message_expunged_by_someone_else_mid_run(dovecot, imap_env, sqlite_url):
    folder = new_folder(dovecot)
    messages = [message(n, "gone") for n in range(1, 31)]
    fill(dovecot, folder, messages)
    uids = dovecot.uids(ALICE, folder)
    victims = [uids[16], uids[24]]  # in later batches than the first

    expunged: list[int] = []

    def progress(done: int, total: int) -> None:
        if done and not expunged:  # after the first batch is stored
            for uid in victims:
                dovecot.expunge(ALICE, folder, uid)
            expunged.extend(victims)

    result = run_fetch(sqlite_url, dovecot, folder, progress=progress, batch_size=5)
    assert (result.vanished, result.failed, result.new) == (2, 0, 28)
    got = contents(sqlite_url)
    assert got.raw == 28
    assert got.ledger == {"stored": 28, "vanished": 2}
    assert got.sha256s == {sha256(m) for i, m in enumerate(messages) if i not in (16, 24)}


def test_dovecot_restarted_mid_run(dovecot, imap_env, sqlite_url):
    folder = new_folder(dovecot)
    messages = [message(n, "restart") for n in range(1, 61)]
    fill(dovecot, folder, messages)
    restarted: list[threading.Timer] = []

    def progress(done: int, total: int) -> None:
        if done == 15 and not restarted:
            dovecot.kick(ALICE)  # lets the stop finish at once instead of waiting for us
            dovecot.stop()  # the next command finds the connection gone
            timer = threading.Timer(1.0, dovecot.start)
            timer.start()
            restarted.append(timer)

    try:
        result = run_fetch(sqlite_url, dovecot, folder, progress=progress, batch_size=10)
    finally:
        for timer in restarted:
            timer.join()
        dovecot.start()
    assert restarted
    assert result.reconnects >= 1
    assert (result.new, result.problems) == (60, 0)
    got = contents(sqlite_url)
    assert (got.raw, got.messages, got.ledger) == (60, 60, {"stored": 60})
    assert got.sha256s == {sha256(m) for m in messages}


def test_folder_recreated_mid_run(dovecot, imap_env, sqlite_url):
    folder = new_folder(dovecot)
    messages = [message(n, "reset") for n in range(1, 21)]
    fill(dovecot, folder, messages)
    recreated: list[int] = []

    def progress(done: int, total: int) -> None:
        if done == 5 and not recreated:
            # Dovecot ends our session (its selected folder is gone); the reconnect then
            # finds another UIDVALIDITY and the run reads the new folder from the start.
            recreated.append(dovecot.recreate_folder(ALICE, folder))
            dovecot.bulk_load(ALICE, folder, messages)

    result = run_fetch(sqlite_url, dovecot, folder, progress=progress, batch_size=5)
    assert recreated
    assert result.uidvalidity == recreated[0]
    assert result.uidvalidity_changed
    assert (result.new, result.known, result.problems) == (20, 5, 0)
    got = contents(sqlite_url)
    assert (got.raw, got.messages) == (20, 20)
    # 5 stored under the old UIDVALIDITY; under the new one 5 known bytes and 15 new.
    assert got.ledger == {"stored": 20, "duplicate": 5}
    assert got.sha256s == {sha256(m) for m in messages}


def test_two_runs_at_once(dovecot, big_folder, imap_env, sqlite_url):
    folder, _ = big_folder
    first = cli_process(sqlite_url, dovecot, folder)
    try:
        deadline = time.monotonic() + 60
        while stored_count(sqlite_url) <= 0:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never started storing"
            time.sleep(0.1)
        second = cli_process(sqlite_url, dovecot, folder)
        _out, err = second.communicate(timeout=60)
        assert second.returncode == 7, err
        assert b"another ldn-inbox run holds the lock" in err
        assert first.poll() is None, "the first run should still be going"
    finally:
        first.kill()
        first.communicate()


def kill_when(proc: subprocess.Popen[bytes], db_url: str, threshold: int,
              rng: random.Random) -> int:
    """SIGKILL ``proc`` once ``threshold`` messages are ledgered (at once for 0), a random
    few milliseconds later so that the kill lands anywhere in a message's store-and-code
    cycle; returns the ledger count after the kill."""
    deadline = time.monotonic() + 120
    while threshold and stored_count(db_url) < threshold and proc.poll() is None:
        assert time.monotonic() < deadline, f"no progress to {threshold}"
        time.sleep(0.02)
    time.sleep(rng.uniform(0, 0.05))
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return stored_count(db_url)


def test_sigkill_at_random_points_stores_each_message_once(dovecot, big_folder, imap_env,
                                                            sqlite_url):
    folder, appended = big_folder
    seed = int(os.environ.get("LDN_TEST_SEED", time.time()))
    rng = random.Random(seed)
    # One kill during start-up (imports, migration, login), then three at random places
    # in the fetch: thresholds are ledgered-message counts, each above the last.
    thresholds = [0, *sorted(rng.sample(range(1, BIG_COUNT - 100), 3))]
    counts: list[int] = []
    for threshold in thresholds:
        proc = cli_process(sqlite_url, dovecot, folder)
        if threshold == 0:
            time.sleep(rng.uniform(0.1, 1.0))
        counts.append(kill_when(proc, sqlite_url, threshold, rng))
    context = f"seed {seed}, thresholds {thresholds}, ledger after each kill {counts}"
    assert any(0 < c < BIG_COUNT for c in counts), context
    final = cli_process(sqlite_url, dovecot, folder, "--verbose")
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert b"0 quarantined" in out, out
    got = contents(sqlite_url)
    assert got.raw == BIG_COUNT, context
    assert got.messages == BIG_COUNT, context
    assert got.sources == BIG_COUNT, context
    assert got.ledger == {"stored": BIG_COUNT}, context
    assert got.sha256s == appended, context


def test_sigkill_with_after_move_finishes_the_moves(dovecot, imap_env, sqlite_url):
    folder = new_folder(dovecot)
    target = new_folder(dovecot, "Done")
    messages = [short_message(n, "killmove") for n in range(1, 201)]
    dovecot.bulk_load(ALICE, folder, messages)
    seed = int(os.environ.get("LDN_TEST_SEED", time.time()))
    rng = random.Random(seed)
    # Batches of 25: a kill near a multiple of 25 often lands between commit and MOVE.
    for threshold in sorted(rng.sample(range(20, 180), 2)):
        proc = cli_process(sqlite_url, dovecot, folder, "--after", f"move:{target}",
                           "--batch-size", "25")
        kill_when(proc, sqlite_url, threshold, rng)
    final = cli_process(sqlite_url, dovecot, folder, "--after", f"move:{target}")
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    got = contents(sqlite_url)
    assert (got.raw, got.messages, got.pending) == (200, 200, 0), f"seed {seed}"
    assert got.sha256s == {sha256(m) for m in messages}
    assert (dovecot.count(ALICE, folder), dovecot.count(ALICE, target)) == (0, 200)


def test_errors_names_the_imap_folder_and_uid(dovecot, imap_env, runner, sqlite_url):
    folder = new_folder(dovecot)
    fill(dovecot, folder, [message(1, "where"), message(2, "where", size=20_000)])
    invoke(runner, sqlite_url, "fetch", *imap_options(dovecot, folder, max_message_bytes=5000),
           code=6)
    errors = invoke(runner, sqlite_url, "errors").stdout
    line = next(line for line in errors.splitlines() if "where-2@test.invalid" in line)
    assert f"imap:default/{folder} UID 2 (UIDVALIDITY " in line


def test_a_wrong_ca_file_is_named(dovecot, imap_env, runner, sqlite_url):
    """With imap.ca_file set, the message says that file is the wrong CA, not to set it."""
    result = invoke(runner, sqlite_url, "fetch", *imap_options(
        dovecot, "INBOX", ca_file=dovecot.wrong_ca_file), code=4)
    assert f"imap.ca_file ({dovecot.wrong_ca_file})" in result.stderr
    assert "does not hold the CA" in result.stderr
    assert "set imap.ca_file" not in result.stderr


@pytest.mark.parametrize("verbose", [[], ["--verbose"]], ids=["quiet", "verbose"])
def test_cron_output_holds_no_library_info(dovecot, imap_env, sqlite_url, verbose):
    """A failing nightly run (missing folder) writes its error line and nothing from the
    libraries (imapclient's INFO "Connection closed", alembic's migration steps)."""
    script = Path(sys.executable).with_name("ldn-inbox")
    command = [str(script)] if script.exists() else [sys.executable, "-P", "-m", "ldn_inbox"]
    done = subprocess.run(
        [*command, *verbose, "--db", sqlite_url, "fetch",
         *imap_options(dovecot, "NoSuchFolder")],
        capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 4, done.stderr
    lines = done.stderr.splitlines()
    assert [line for line in lines if line.startswith("error: ")], done.stderr
    strangers = [line for line in lines if line.startswith("INFO ")
                 and not line.startswith("INFO ldn_inbox")]
    assert not strangers, done.stderr
    if not verbose:
        assert all(line.startswith("error: ") for line in lines), done.stderr
