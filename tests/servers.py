"""Private, throw-away IMAP (Dovecot) and PostgreSQL servers for the test suite.

This is a plain helper module: it defines no pytest fixtures.  ``tests/conftest.py``
wraps the classes below in fixtures, e.g.::

    @pytest.fixture(scope="session")
    def dovecot() -> Iterator[DovecotServer]:
        if (reason := dovecot_available()) is not None:
            pytest.skip(reason)
        with DovecotServer() as server:
            yield server

Both servers run from a private directory created under ``/tmp`` (or a directory
you pass in), listen on ``127.0.0.1`` on free ports chosen at start, and never
touch the system instances, their ports or their files.  Everything is stopped
and removed by ``close()`` / the context manager, and, as a safety net, at
interpreter exit.

Dovecot (2.3, Debian 12 ``dovecot-imapd``)
    * passwd-file users (password scheme ``PLAIN`` or ``SHA512-CRYPT``) whose mail
      is a Maildir under the base dir, hierarchy separator ``/``;
    * TLS with a private CA (see :class:`TLSFiles`): ``imap`` (plain, STARTTLS)
      and ``imaps`` listeners;
    * SASL ``PLAIN LOGIN OAUTHBEARER XOAUTH2``.  OAuth2 tokens are validated by
      Dovecot's real ``oauth2`` passdb against a tiny in-process introspection
      endpoint (:class:`OAuth2Introspection`); register tokens with
      :meth:`DovecotServer.add_oauth_token`.

PostgreSQL (Debian's ``/usr/lib/postgresql/<ver>/bin``)
    * a fresh cluster per :class:`PostgresServer`, run as the ``postgres`` OS user
      when the tests run as root, otherwise as the current user;
    * superuser role with a password (``scram-sha-256`` over TCP, ``trust`` over
      the private Unix socket), ``fsync=off``.
"""

from __future__ import annotations

import atexit
import contextlib
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol
from urllib.parse import parse_qs, quote

__all__ = [
    "OTHER_HOST_NAME",
    "DovecotServer",
    "OAuth2Introspection",
    "PostgresServer",
    "ServerError",
    "TLSFiles",
    "dovecot_available",
    "find_postgres_bindir",
    "free_port",
    "iter_test_messages",
    "make_tls_files",
    "postgres_available",
]

DOVECOT_BIN = Path("/usr/sbin/dovecot")
DOVEADM_BIN = Path("/usr/bin/doveadm")
DOVECOT_IMAP_BIN = Path("/usr/lib/dovecot/imap")
LOCALHOST = "127.0.0.1"
#: Host name in the certificate made for "host name mismatch" tests.
OTHER_HOST_NAME = "mismatch.invalid"
#: uid/gid Dovecot uses for mail access when we run as root (Debian's ``mail``).
MAIL_UID = 8
MAIL_GID = 8

ServerCert = Literal["localhost", "other_host", "untrusted"]
PasswordScheme = Literal["PLAIN", "SHA512-CRYPT"]


class ServerError(RuntimeError):
    """A private test server failed to start, stop or run a command."""


# --------------------------------------------------------------------------- #
# small helpers
# --------------------------------------------------------------------------- #


def free_port(host: str = LOCALHOST) -> int:
    """Return a TCP port on *host* that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _is_root() -> bool:
    return os.geteuid() == 0


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"<{path} unreadable>"
    return "\n".join(text.splitlines()[-lines:])


def _run(
    cmd: Sequence[str | Path],
    *,
    input: bytes | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    args = [str(c) for c in cmd]
    proc = subprocess.run(
        args,
        input=input,
        capture_output=True,
        cwd=cwd,
        env=None if env is None else dict(env),
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise ServerError(
            f"command failed ({proc.returncode}): {' '.join(args)}\n"
            f"stdout: {proc.stdout.decode(errors='replace').strip()}\n"
            f"stderr: {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc


def _make_base_dir(base_dir: Path | str | None, prefix: str) -> tuple[Path, bool]:
    """Return (directory, created_by_us).  A new directory is made under /tmp
    (or ``$LDN_TEST_SERVER_TMPDIR``, e.g. ``/dev/shm`` for fast bulk loads).

    pytest's ``tmp_path`` lives below 0700 directories, which the unprivileged
    users Dovecot/PostgreSQL switch to cannot traverse, hence the short /tmp path
    (which also keeps Dovecot's UNIX socket paths below the 108 byte limit).
    """
    if base_dir is None:
        parent = os.environ.get("LDN_TEST_SERVER_TMPDIR", "/tmp")
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        path.chmod(0o755)
        return path, True
    path = Path(base_dir).absolute()
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path, False


def _check_traversable(path: Path, uid: int, gid: int) -> None:
    """Raise if a process running as uid/gid could not reach *path*."""
    if uid == 0:
        return
    for parent in [path, *path.parents]:
        st = parent.stat()
        if st.st_uid == uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid == gid:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            raise ServerError(
                f"{parent} is not traversable by uid {uid}; use a base dir below /tmp "
                "(the default) or chmod its parents 0755"
            )


def _process_group(pgid: int) -> dict[int, str]:
    """Live (non-zombie) processes of a process group: pid -> command line (Linux)."""
    members: dict[int, str] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                if fields[0] == "Z" or int(fields[2]) != pgid:
                    continue
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            members[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return members


def _stop_dovecot(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM the Dovecot master, then SIGKILL its whole process group.

    After SIGTERM the master lingers 1-5 s: idle ``imap-login`` processes take
    up to 5 s to exit and the master then waits for its ``log`` process.  Once
    only master, log and login processes are left (mail processes have finished
    writing) we kill the group, which makes restarts take ~0.1 s.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        deadline = time.monotonic() + timeout
        can_list = Path("/proc/self/stat").exists()
        while proc.poll() is None and time.monotonic() < deadline:
            if can_list:
                busy = [
                    cmd
                    for pid, cmd in _process_group(proc.pid).items()
                    if pid != proc.pid and not cmd.rstrip().endswith(("/log", "-login"))
                ]
                if not busy:
                    break
            time.sleep(0.02)
    # Children (log/login/auth/imap processes) share the group: none may survive.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


class _Stoppable(Protocol):
    def stop(self) -> None: ...
    def close(self) -> None: ...


_LIVE: set[_Stoppable] = set()
_LIVE_LOCK = threading.Lock()


def _register(server: _Stoppable) -> None:
    with _LIVE_LOCK:
        _LIVE.add(server)


def _unregister(server: _Stoppable) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(server)


@atexit.register
def _stop_all() -> None:  # pragma: no cover - safety net
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        with contextlib.suppress(Exception):
            server.close()


# --------------------------------------------------------------------------- #
# availability checks
# --------------------------------------------------------------------------- #


def dovecot_available() -> str | None:
    """None if a private Dovecot can be started here, else the reason it cannot."""
    for binary, package in (
        (DOVECOT_BIN, "dovecot-core"),
        (DOVEADM_BIN, "dovecot-core"),
        (DOVECOT_IMAP_BIN, "dovecot-imapd"),
    ):
        if not binary.exists():
            return f"{binary} not found (install {package}; see .ci/system-deps.sh)"
    if shutil.which("openssl") is None:
        return "openssl command not found (install openssl; see .ci/system-deps.sh)"
    if _is_root():
        for user in ("dovecot", "dovenull"):
            if not _user_exists(user):
                return f"OS user {user!r} missing (reinstall dovecot-core)"
        try:
            pwd.getpwuid(MAIL_UID)
        except KeyError:
            return f"no OS user with uid {MAIL_UID} ('mail') for mail access"
    return None


def find_postgres_bindir() -> Path | None:
    """Directory with initdb/pg_ctl: $PG_BINDIR, newest /usr/lib/postgresql/N/bin, or PATH."""
    env = os.environ.get("PG_BINDIR")
    if env and (Path(env) / "initdb").exists():
        return Path(env)
    candidates: list[tuple[int, Path]] = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        version = initdb.parent.parent.name
        if version.isdigit():
            candidates.append((int(version), initdb.parent))
    if candidates:
        return max(candidates)[1]
    which = shutil.which("initdb")
    if which and shutil.which("pg_ctl"):
        return Path(which).parent
    return None


def postgres_available() -> str | None:
    """None if a private PostgreSQL can be started here, else the reason it cannot."""
    bindir = find_postgres_bindir()
    if bindir is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl) not found "
            "(install postgresql; see .ci/system-deps.sh)"
        )
    for name in ("initdb", "pg_ctl", "psql"):
        if not (bindir / name).exists():
            return f"{bindir / name} not found"
    if _is_root():
        if not _user_exists("postgres"):
            return "running as root but OS user 'postgres' does not exist"
        if shutil.which("runuser") is None and shutil.which("su") is None:
            return "running as root but neither runuser nor su is available"
    return None


# --------------------------------------------------------------------------- #
# TLS material
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class TLSFiles:
    """PEM files made by :func:`make_tls_files`.

    * ``ca_file`` signs ``cert_file`` (CN/SAN ``localhost`` + IP ``127.0.0.1``) and
      ``other_host_cert_file`` (CN/SAN :data:`OTHER_HOST_NAME` only).
    * ``wrong_ca_file`` is an unrelated CA; it signs ``untrusted_cert_file`` (a
      ``localhost``/``127.0.0.1`` certificate nobody trusts).
    """

    directory: Path
    ca_file: Path
    ca_key_file: Path
    cert_file: Path
    key_file: Path
    other_host_cert_file: Path
    other_host_key_file: Path
    wrong_ca_file: Path
    wrong_ca_key_file: Path
    untrusted_cert_file: Path
    untrusted_key_file: Path
    other_host_name: str = OTHER_HOST_NAME

    def server_pair(self, kind: ServerCert) -> tuple[Path, Path]:
        """(cert, key) for a server certificate variant."""
        if kind == "localhost":
            return self.cert_file, self.key_file
        if kind == "other_host":
            return self.other_host_cert_file, self.other_host_key_file
        if kind == "untrusted":
            return self.untrusted_cert_file, self.untrusted_key_file
        raise ValueError(f"unknown server certificate {kind!r}")


_CA_EXT = """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

_LEAF_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {san}
"""


def _openssl(*args: str | Path) -> None:
    _run(["openssl", *args])


def _make_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    path.chmod(0o600)


def _make_ca(directory: Path, stem: str, cn: str) -> tuple[Path, Path]:
    key, csr, crt, ext = (directory / f"{stem}{s}" for s in (".key", ".csr", ".crt", ".ext"))
    _make_key(key)
    ext.write_text(_CA_EXT)
    _openssl("req", "-new", "-key", key, "-subj", f"/O=ldn-inbox tests/CN={cn}", "-out", csr)
    _openssl(
        "x509", "-req", "-in", csr, "-signkey", key, "-days", "3650",
        "-sha256", "-extfile", ext, "-out", crt,
    )  # fmt: skip
    csr.unlink()
    return crt, key


def _make_leaf(
    directory: Path, stem: str, cn: str, san: str, ca: tuple[Path, Path], serial: int
) -> tuple[Path, Path]:
    key, csr, crt, ext = (directory / f"{stem}{s}" for s in (".key", ".csr", ".crt", ".ext"))
    _make_key(key)
    ext.write_text(_LEAF_EXT.format(san=san))
    _openssl("req", "-new", "-key", key, "-subj", f"/O=ldn-inbox tests/CN={cn}", "-out", csr)
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial", str(serial),
        "-days", "3650", "-sha256", "-extfile", ext, "-out", crt,
    )  # fmt: skip
    csr.unlink()
    return crt, key


def make_tls_files(directory: Path | str) -> TLSFiles:
    """Create two CAs and three server certificates (EC P-256) with ``openssl``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    ca = _make_ca(directory, "ca", "ldn-inbox test CA")
    wrong_ca = _make_ca(directory, "wrong-ca", "ldn-inbox unrelated CA")
    server = _make_leaf(
        directory, "localhost", "localhost", "DNS:localhost, IP:127.0.0.1", ca, 1001
    )
    other = _make_leaf(directory, "other-host", OTHER_HOST_NAME, f"DNS:{OTHER_HOST_NAME}", ca, 1002)
    untrusted = _make_leaf(
        directory, "untrusted", "localhost", "DNS:localhost, IP:127.0.0.1", wrong_ca, 2001
    )
    return TLSFiles(
        directory=directory,
        ca_file=ca[0],
        ca_key_file=ca[1],
        cert_file=server[0],
        key_file=server[1],
        other_host_cert_file=other[0],
        other_host_key_file=other[1],
        wrong_ca_file=wrong_ca[0],
        wrong_ca_key_file=wrong_ca[1],
        untrusted_cert_file=untrusted[0],
        untrusted_key_file=untrusted[1],
    )


# --------------------------------------------------------------------------- #
# OAuth2 token introspection endpoint (for Dovecot's oauth2 passdb)
# --------------------------------------------------------------------------- #


class OAuth2Introspection:
    """Minimal RFC 7662 token introspection endpoint in a background thread.

    Dovecot POSTs ``token=<bearer token>``; we answer
    ``{"active": true, "username": USER}`` for registered tokens and
    ``{"active": false}`` otherwise.  ``requests`` records the tokens asked about.
    """

    def __init__(self, host: str = LOCALHOST) -> None:
        self.host = host
        self.tokens: dict[str, str] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise ServerError("introspection endpoint not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/introspect"

    def add_token(self, user: str, token: str | None = None) -> str:
        token = token or f"tok-{user}-{os.urandom(12).hex()}"
        with self._lock:
            self.tokens[token] = user
        return token

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)

    def _lookup(self, token: str) -> dict[str, object]:
        with self._lock:
            self.requests.append(token)
            user = self.tokens.get(token)
        if user is None:
            return {"active": False}
        return {"active": True, "username": user, "scope": "imap"}

    def start(self) -> None:
        if self._httpd is not None:
            return
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, token: str) -> None:
                body = json.dumps(outer._lookup(token)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                self._reply(form.get("token", [""])[0])

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.lower().startswith("bearer ") else ""
                if not token and "?" in self.path:
                    query = parse_qs(self.path.split("?", 1)[1])
                    token = (query.get("token") or query.get("access_token") or [""])[0]
                self._reply(token)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer((self.host, 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="oauth2-introspection", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


# --------------------------------------------------------------------------- #
# Dovecot
# --------------------------------------------------------------------------- #


@dataclass
class MailUser:
    name: str
    password: str
    scheme: PasswordScheme = "PLAIN"


_MAILDIR_FLAGS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}


class DovecotServer:
    """A private Dovecot 2.3 IMAP server for one test session/module.

    ``DovecotServer()`` creates ``/tmp/dc-XXXX`` (removed again by :meth:`close`),
    makes TLS files there (unless ``tls`` is given) and one user ``alice`` with
    password ``alice-pw`` (unless ``users`` is given).  Call :meth:`start` or use
    it as a context manager.  Ports: :attr:`imap_port` (plain, STARTTLS
    available) and :attr:`imaps_port` (implicit TLS), both on :attr:`host`.

    Notes / quirks (Dovecot 2.3.19):

    * Connections from 127.0.0.1 to 127.0.0.1 count as "secured", so LOGIN works
      on the plain port even with ``disable_plaintext_auth = yes`` and no
      ``LOGINDISABLED`` is advertised there.
    * Dovecot refuses mail access as uid 0: as root, mail is owned by uid/gid 8
      (``mail``) and ``first_valid_uid``/``first_valid_gid`` are lowered to 8.
    * ``EXAMINE`` does not move ``new/`` to ``cur/``; only a read-write SELECT does.
    * Failed logins: anvil's auth penalty (2-15 s delay for the next login from
      the IP) is disabled in the config; Dovecot still batches failure replies,
      so a wrong password takes ~0.5 s to be rejected.
    * Stopping: after SIGTERM the master lingers 1-5 s (idle login processes,
      log process), so :meth:`stop` kills the process group once no mail
      process is left; a restart takes ~0.1 s (~1 s with an open IMAP session).
    * Use ``/tmp`` (or ``$LDN_TEST_SERVER_TMPDIR``) for the base dir: the mail
      uid must be able to traverse every parent, and ``run/`` holds UNIX sockets
      (108-byte path limit).
    * OAUTHBEARER/XOAUTH2 tokens are checked by the ``oauth2`` passdb against
      :class:`OAuth2Introspection` (see :meth:`add_oauth_token`); the user in the
      SASL message must equal the token's user.  On failure Dovecot sends a JSON
      error challenge which the client must answer with an empty response.
    """

    def __init__(
        self,
        base_dir: Path | str | None = None,
        users: Mapping[str, str] | None = None,
        *,
        scheme: PasswordScheme = "PLAIN",
        tls: TLSFiles | None = None,
        server_cert: ServerCert = "localhost",
        separator: str = "/",
        disable_plaintext_auth: bool = True,
        extra_config: str = "",
        host: str = LOCALHOST,
    ) -> None:
        self.base_dir, self._owns_dir = _make_base_dir(base_dir, "dc-")
        self.host = host
        self.separator = separator
        self.disable_plaintext_auth = disable_plaintext_auth
        self.extra_config = extra_config
        self.server_cert: ServerCert = server_cert
        self.config_file = self.base_dir / "dovecot.conf"
        self.passwd_file = self.base_dir / "passwd"
        self.oauth2_config_file = self.base_dir / "oauth2.conf"
        self.run_dir = self.base_dir / "run"
        self.state_dir = self.base_dir / "state"
        self.log_dir = self.base_dir / "log"
        self.log_file = self.log_dir / "dovecot.log"
        self.stderr_file = self.log_dir / "stderr.log"
        self.home_root = self.base_dir / "home"
        self.users: dict[str, MailUser] = {}
        self.oauth = OAuth2Introspection(host)
        self.imap_port = 0
        self.imaps_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._maildir_clock = (0, 0)
        self._maildir_seq = 0

        if _is_root():
            self.mail_uid, self.mail_gid = MAIL_UID, MAIL_GID
            self._login_user, self._internal_user = "dovenull", "dovecot"
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            me = pwd.getpwuid(self.mail_uid).pw_name
            self._login_user = self._internal_user = me
        try:
            _check_traversable(self.base_dir, self.mail_uid, self.mail_gid)
            for directory in (self.state_dir, self.log_dir, self.home_root):
                directory.mkdir(exist_ok=True)
                directory.chmod(0o755)
            self.tls = tls if tls is not None else make_tls_files(self.base_dir / "tls")
            for name, password in (users if users is not None else {"alice": "alice-pw"}).items():
                self.add_user(name, password, scheme)
        except BaseException:
            if self._owns_dir:
                shutil.rmtree(self.base_dir, ignore_errors=True)
            raise

    # ---- properties ------------------------------------------------------- #

    @property
    def ca_file(self) -> Path:
        return self.tls.ca_file

    @property
    def wrong_ca_file(self) -> Path:
        return self.tls.wrong_ca_file

    @property
    def cert_file(self) -> Path:
        return self.tls.cert_file

    @property
    def other_host_cert_file(self) -> Path:
        return self.tls.other_host_cert_file

    @property
    def other_host_name(self) -> str:
        return self.tls.other_host_name

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def password(self, user: str) -> str:
        return self.users[user].password

    def maildir(self, user: str) -> Path:
        """Root Maildir (INBOX) of *user*."""
        return self.home_root / user / "Maildir"

    # ---- users and tokens ----------------------------------------------- #

    def add_user(self, name: str, password: str, scheme: PasswordScheme | None = None) -> None:
        """Add or replace a user; Dovecot re-reads the passwd-file while running."""
        if not re.fullmatch(r"[A-Za-z0-9._@+-]+", name):
            raise ValueError(f"unsupported user name {name!r}")
        if any(c in password for c in ":\n\r"):
            raise ValueError("passwords must not contain ':' or newlines (passwd-file)")
        self.users[name] = MailUser(name, password, scheme or "PLAIN")
        home = self.home_root / name
        home.mkdir(exist_ok=True)
        os.chown(home, self.mail_uid, self.mail_gid)
        self._write_passwd()

    def _write_passwd(self) -> None:
        lines = []
        for user in self.users.values():
            if user.scheme == "PLAIN":
                hashed = f"{{PLAIN}}{user.password}"
            else:
                out = _run(["openssl", "passwd", "-6", "-stdin"], input=user.password.encode())
                hashed = "{SHA512-CRYPT}" + out.stdout.decode().strip()
            home = self.home_root / user.name
            lines.append(f"{user.name}:{hashed}:{self.mail_uid}:{self.mail_gid}::{home}::\n")
        tmp = self.passwd_file.with_suffix(".tmp")
        tmp.write_text("".join(lines))
        tmp.chmod(0o644)
        tmp.replace(self.passwd_file)

    def add_oauth_token(self, user: str, token: str | None = None) -> str:
        """Register (and return) a bearer token that authenticates *user*."""
        return self.oauth.add_token(user, token)

    def revoke_oauth_token(self, token: str) -> None:
        self.oauth.revoke_token(token)

    # ---- configuration ---------------------------------------------------- #

    def _render_config(self) -> str:
        cert, key = self.tls.server_pair(self.server_cert)
        non_root = "" if _is_root() else "  chroot =\n"
        return f"""\
# Generated by tests/servers.py -- private test instance, do not edit.
base_dir = {self.run_dir}
state_dir = {self.state_dir}
instance_name = ldn-test-{self.base_dir.name}
protocols = imap
listen = {self.host}
log_path = {self.log_file}
info_log_path = {self.log_file}
debug_log_path = {self.log_file}
log_timestamp = "%Y-%m-%d %H:%M:%S "
auth_verbose = yes
auth_failure_delay = 0
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = {"yes" if self.disable_plaintext_auth else "no"}
auth_mechanisms = plain login oauthbearer xoauth2
default_login_user = {self._login_user}
default_internal_user = {self._internal_user}
{"" if _is_root() else f"default_internal_group = {grp.getgrgid(os.getgid()).gr_name}"}
first_valid_uid = {self.mail_uid}
last_valid_uid = 0
first_valid_gid = {self.mail_gid}
mail_location = maildir:~/Maildir
mail_fsync = never
mailbox_idle_check_interval = 1 secs
mail_max_userip_connections = 1000
namespace inbox {{
  inbox = yes
  separator = {self.separator}
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {self.passwd_file}
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {self.oauth2_config_file}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.passwd_file}
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.imaps_port}
    ssl = yes
  }}
{non_root}}}
# No auth penalty: after a failed login anvil would delay the next auth from
# 127.0.0.1 by 2-15 s (auth_failure_delay = 0 alone does not prevent that).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
{non_root}}}
service auth-worker {{
  user = {"root" if _is_root() else self._internal_user}
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
{self.extra_config}
"""

    def _write_config(self) -> None:
        self.oauth2_config_file.write_text(
            f"""\
introspection_url = {self.oauth.url}
introspection_mode = post
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 10000
"""
        )
        self.config_file.write_text(self._render_config())

    # ---- lifecycle -------------------------------------------------------- #

    def start(self, timeout: float = 20) -> None:
        """Start Dovecot (ports are chosen on the first start and then kept)."""
        if self.running:
            return
        self.oauth.start()
        if not self.imap_port:
            self.imap_port = free_port(self.host)
            self.imaps_port = free_port(self.host)
            while self.imaps_port == self.imap_port:
                self.imaps_port = free_port(self.host)
        self._write_config()
        with self.stderr_file.open("ab") as err:
            self._proc = subprocess.Popen(
                [str(DOVECOT_BIN), "-F", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,
            )
        _register(self)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 20) -> None:
        """Wait until both listeners accept and the plain port sends its greeting."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise ServerError(f"dovecot is not running (exit code {code})\n{self.logs()}")
            try:
                with socket.create_connection((self.host, self.imap_port), timeout=2) as sock:
                    greeting = sock.recv(1024)
                with socket.create_connection((self.host, self.imaps_port), timeout=2):
                    pass
                if greeting.startswith(b"* OK"):
                    return
                last_error = ServerError(f"unexpected greeting {greeting!r}")
            except OSError as exc:
                last_error = exc
            time.sleep(0.02)
        raise ServerError(f"dovecot not ready after {timeout}s ({last_error})\n{self.logs()}")

    def logs(self, lines: int = 40) -> str:
        return (
            f"--- {self.log_file} ---\n{_tail(self.log_file, lines)}\n"
            f"--- {self.stderr_file} ---\n{_tail(self.stderr_file, lines)}"
        )

    def stop(self) -> None:
        """Stop Dovecot (SIGTERM, then SIGKILL of its process group)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop_dovecot(proc)
        _unregister(self)

    def restart(self) -> None:
        """Stop and start again on the same ports with the same data."""
        self.stop()
        self.start()

    def use_server_cert(self, kind: ServerCert) -> None:
        """Present another certificate (``other_host`` / ``untrusted``); restarts."""
        self.tls.server_pair(kind)  # validate
        self.server_cert = kind
        if self.running:
            self.restart()

    def close(self) -> None:
        """Stop the server and the token endpoint; remove the base dir if we made it."""
        self.stop()
        self.oauth.stop()
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- doveadm ---------------------------------------------------------- #

    def doveadm(self, *args: str, input: bytes | None = None) -> str:
        """Run ``doveadm -c CONF ARGS`` and return its stdout."""
        if not self.running:
            raise ServerError("dovecot is not running (doveadm needs its auth socket)")
        out = _run([DOVEADM_BIN, "-c", self.config_file, *args], input=input)
        return out.stdout.decode()

    def status(self, user: str, folder: str, *fields: str) -> dict[str, int]:
        """``doveadm mailbox status`` as ints, e.g. messages/uidnext/uidvalidity/unseen."""
        names = fields or ("messages", "uidnext", "uidvalidity", "unseen")
        out = self.doveadm("-f", "tab", "mailbox", "status", "-u", user, " ".join(names), folder)
        header, values = (line.split("\t") for line in out.splitlines()[:2])
        return {k: int(v) for k, v in zip(header, values, strict=True) if k in names}

    def count(self, user: str, folder: str = "INBOX") -> int:
        return self.status(user, folder, "messages")["messages"]

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        return self.status(user, folder, "uidvalidity")["uidvalidity"]

    def uidnext(self, user: str, folder: str = "INBOX") -> int:
        return self.status(user, folder, "uidnext")["uidnext"]

    def uids(self, user: str, folder: str = "INBOX") -> list[int]:
        out = self.doveadm("search", "-u", user, "mailbox", folder, "all")
        return sorted(int(line.split()[1]) for line in out.splitlines() if line.strip())

    def folders(self, user: str) -> list[str]:
        return self.doveadm("mailbox", "list", "-u", user).splitlines()

    def create_folder(self, user: str, folder: str, *, subscribe: bool = True) -> None:
        self.doveadm("mailbox", "create", "-u", user, *(["-s"] if subscribe else []), folder)

    def delete_folder(self, user: str, folder: str) -> None:
        """Delete a folder and its messages (not INBOX; see :meth:`set_uidvalidity`)."""
        self.doveadm("mailbox", "delete", "-u", user, "-s", folder)

    def recreate_folder(self, user: str, folder: str) -> int:
        """Delete and create *folder* again; returns the new (different) UIDVALIDITY."""
        self.delete_folder(user, folder)
        self.create_folder(user, folder)
        return self.uidvalidity(user, folder)

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        """Change UIDVALIDITY in place (works for INBOX too)."""
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)

    def expunge(self, user: str, folder: str, uid: int) -> None:
        self.doveadm("expunge", "-u", user, "mailbox", folder, "uid", str(uid))

    def add_flags(self, user: str, folder: str, uid: int, flags: Iterable[str]) -> None:
        flag_list = " ".join(flags)
        if flag_list:
            self.doveadm("flags", "add", "-u", user, flag_list, "mailbox", folder, "uid", str(uid))

    def kick(self, user: str) -> None:
        """Disconnect all IMAP sessions of *user* (no error if there are none)."""
        if not self.running:
            raise ServerError("dovecot is not running")
        out = _run([DOVEADM_BIN, "-c", self.config_file, "kick", user], check=False)
        if out.returncode not in (0, 68):  # 68 = EX_NOUSER: "no users kicked"
            raise ServerError(f"doveadm kick failed: {out.stderr.decode(errors='replace')}")

    def append(self, user: str, folder: str, raw: bytes, flags: Iterable[str] = ()) -> int:
        """Save one message (``doveadm save``) and return its UID."""
        self.doveadm("save", "-u", user, "-m", folder, input=raw)
        uid = self.uidnext(user, folder) - 1
        self.add_flags(user, folder, uid, flags)
        return uid

    def folder_path(self, user: str, folder: str) -> Path:
        out = self.doveadm("mailbox", "path", "-u", user, "-t", "mailbox", folder)
        return Path(out.strip())

    def _maildir_name(self, size: int, vsize: int, info: str) -> str:
        secs, usecs = self._maildir_clock
        now = int(time.time())
        if now > secs:
            secs, usecs = now, 0
        elif usecs >= 999_999:
            secs, usecs = secs + 1, 0
        else:
            usecs += 1
        self._maildir_clock = (secs, usecs)
        self._maildir_seq += 1
        host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
        return (
            f"{secs}.M{usecs:06d}P{os.getpid()}Q{self._maildir_seq}.{host},S={size},W={vsize}{info}"
        )

    def bulk_load(
        self,
        user: str,
        folder: str,
        messages: Iterable[bytes],
        *,
        flags: Iterable[str] = (),
        sync: bool = True,
    ) -> int:
        """Write messages straight into the folder's Maildir; returns how many.

        Files go to ``tmp/`` and are renamed into ``new/`` (or ``cur/`` when
        *flags* are given: only system flags).  Dovecot assigns UIDs in the
        order of the messages (file names sort by time + microsecond counter)
        on its next sync, which ``sync=True`` triggers right away.  The folder
        must exist (INBOX always does).
        """
        letters = "".join(sorted(_MAILDIR_FLAGS[f] for f in flags))
        info = f":2,{letters}" if letters else ""
        self.count(user, folder)  # syncs; creates INBOX's Maildir; fails for missing folders
        path = self.folder_path(user, folder)
        tmp_dir, dest_dir = path / "tmp", path / ("cur" if info else "new")
        chown = _is_root()
        written = 0
        for raw in messages:
            vsize = len(raw) + raw.count(b"\n") - raw.count(b"\r\n")
            name = self._maildir_name(len(raw), vsize, info)
            tmp = tmp_dir / name
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(raw)
                while view:
                    view = view[os.write(fd, view) :]
                if chown:
                    os.fchown(fd, self.mail_uid, self.mail_gid)
            finally:
                os.close(fd)
            os.rename(tmp, dest_dir / name)
            written += 1
        if sync:
            self.count(user, folder)
        return written


# --------------------------------------------------------------------------- #
# PostgreSQL
# --------------------------------------------------------------------------- #


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresServer:
    """A private PostgreSQL cluster (``initdb`` + ``pg_ctl``) on 127.0.0.1.

    ``create_database(name)`` returns a SQLAlchemy URL
    ``postgresql+psycopg://USER:PASS@127.0.0.1:PORT/name``.  As root the cluster
    runs as the ``postgres`` OS user (PostgreSQL refuses to run as root).
    """

    def __init__(
        self,
        base_dir: Path | str | None = None,
        *,
        user: str = "ldn_test",
        password: str = "ldn-test-pw",
        host: str = LOCALHOST,
        extra_settings: Mapping[str, str] | None = None,
    ) -> None:
        bindir = find_postgres_bindir()
        if bindir is None:
            raise ServerError(postgres_available() or "PostgreSQL not found")
        self.bindir = bindir
        self.base_dir, self._owns_dir = _make_base_dir(base_dir, "pg-")
        self.user = user
        self.password = password
        self.host = host
        self.extra_settings = dict(extra_settings or {})
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_file = self.base_dir / "postgres.log"
        self.port = 0
        self._started = False
        if _is_root():
            pw = pwd.getpwnam("postgres")
            self._os_uid, self._os_gid = pw.pw_uid, pw.pw_gid
        else:
            self._os_uid, self._os_gid = os.getuid(), os.getgid()
        try:
            _check_traversable(self.base_dir, self._os_uid, self._os_gid)
        except BaseException:
            if self._owns_dir:
                shutil.rmtree(self.base_dir, ignore_errors=True)
            raise

    # ---- helpers ---------------------------------------------------------- #

    def _as_owner(self, cmd: Sequence[str | Path]) -> list[str]:
        args = [str(c) for c in cmd]
        if not _is_root():
            return args
        if shutil.which("runuser"):
            return ["runuser", "-u", "postgres", "--", *args]
        return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(_sh_quote, args))]

    def _pg(self, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return _run(self._as_owner(args), cwd=self.base_dir, timeout=timeout)

    def _chown(self, path: Path) -> None:
        if _is_root():
            os.chown(path, self._os_uid, self._os_gid)

    @property
    def running(self) -> bool:
        return self._started

    @property
    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def logs(self, lines: int = 40) -> str:
        return f"--- {self.log_file} ---\n{_tail(self.log_file, lines)}"

    # ---- lifecycle -------------------------------------------------------- #

    def _initdb(self) -> None:
        self._chown(self.base_dir)
        for directory in (self.socket_dir,):
            directory.mkdir(exist_ok=True)
            self._chown(directory)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self._chown(pwfile)
        try:
            self._pg(
                self.bindir / "initdb", "-D", self.data_dir, "-U", self.user,
                f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
                "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions",
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, timeout: float = 60) -> None:
        if self._started:
            return
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if not self.port:
            self.port = free_port(self.host)
        if not self.log_file.exists():
            self.log_file.touch()
            self._chown(self.log_file)
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            **self.extra_settings,
        }
        options = " ".join(f"-c {k}={v}" for k, v in settings.items())
        _register(self)
        self._started = True
        try:
            self._pg(
                self.bindir / "pg_ctl", "-D", self.data_dir, "-l", self.log_file,
                "-w", "-t", str(int(timeout)), "-o", options, "start",
                timeout=timeout + 10,
            )  # fmt: skip
        except (ServerError, subprocess.TimeoutExpired) as exc:
            self.stop()
            raise ServerError(f"PostgreSQL did not start: {exc}\n{self.logs()}") from exc

    def stop(self) -> None:
        if not self._started:
            _unregister(self)
            return
        pid = self.postmaster_pid
        try:
            self._pg(self.bindir / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop")
        except (ServerError, subprocess.TimeoutExpired):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._started = False
        _unregister(self)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- databases -------------------------------------------------------- #

    def psql(self, *statements: str, database: str = "postgres") -> str:
        """Run SQL statements (each in its own transaction) as the superuser over
        the private Unix socket; return stdout (unaligned, tuples only)."""
        cmd: list[str | Path] = [self.bindir / "psql", "-X", "-q", "-A", "-t"]
        cmd += ["-v", "ON_ERROR_STOP=1", "-h", self.socket_dir, "-p", str(self.port)]
        cmd += ["-U", self.user, "-d", database]
        cmd += [arg for sql in statements for arg in ("-c", sql)]
        out = _run(cmd, env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
        return out.stdout.decode()

    def url(self, database: str, *, driver: str = "psycopg") -> str:
        """SQLAlchemy URL for *database* (TCP, password auth)."""
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        return f"postgresql+{driver}://{user}:{password}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str) -> str:
        """libpq/psycopg connection string for *database*."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={database}"
        )

    def create_database(self, name: str) -> str:
        """Create (or re-create) database *name*; return its SQLAlchemy URL."""
        ident = _quote_ident(name)
        self.psql(
            f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)",
            f"CREATE DATABASE {ident}",
        )
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")

    def databases(self) -> list[str]:
        out = self.psql("SELECT datname FROM pg_database WHERE NOT datistemplate")
        return [line for line in out.splitlines() if line]


def _sh_quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def iter_test_messages(count: int, *, subject: str = "Test message") -> Iterator[bytes]:
    """Yield *count* small, distinct RFC 5322 messages (``Message-ID: <n@test>``)."""
    for n in range(1, count + 1):
        yield (
            f"From: Sender <sender@example.org>\r\n"
            f"To: alice@example.org\r\n"
            f"Subject: {subject} {n}\r\n"
            f"Message-ID: <{n}.{os.getpid()}@test.invalid>\r\n"
            f"Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n"
            f"\r\n"
            f"Body of message {n}.\r\n"
        ).encode()
