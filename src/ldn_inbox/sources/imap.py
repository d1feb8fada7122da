"""Messages from one folder of an IMAP account, read with imapclient.

Security: TLS is implicit (IMAPS) or STARTTLS; the certificate and the host name are always
verified against the system store plus ``imap.ca_file``, with no key to turn that off. Plain
IMAP is only accepted for a loopback host. Passwords and tokens never appear in a message,
a log line or a ``repr``.

The mailbox is left as it was unless ``imap.after`` says otherwise: with ``after = none`` the
folder is opened read-only (EXAMINE) and bodies are read with ``BODY.PEEK[]``, which does not
set ``\\Seen``. Everything is addressed by UID.

A connection lost mid-run (timeout, reset, server restart) is re-established with backoff and
the command retried; when the folder's UIDVALIDITY changed meanwhile, :class:`FolderReset`
tells the caller that the UIDs it holds now mean other messages.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from ldn_inbox.config import SETTINGS, Config
from ldn_inbox.errors import AuthError, ConfigError, SourceError, TLSError
from ldn_inbox.sources.base import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)
# imapclient logs whole protocol exchanges (message bodies included) at DEBUG.
logging.getLogger("imapclient").setLevel(logging.INFO)

T = TypeVar("T")

#: Keyring service name under which ``imap.keyring = true`` looks up the password.
KEYRING_SERVICE = "ldn-inbox"
#: Pauses before each reconnect attempt after a lost connection (31.5 s in all): enough to
#: ride out a server restart or a network blip, short enough for a nightly job to give up.
BACKOFF_S: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
#: Bytes asked for in one UID FETCH at most: imaplib holds a whole response in memory.
FETCH_CHUNK_BYTES = 16 * 1024 * 1024
#: Seconds a password_command or token_command may take.
SECRET_COMMAND_TIMEOUT_S = 60.0
#: Times a command is sent again after a lost connection before giving up on it.
COMMAND_ATTEMPTS = 3
_MASK = "********"
_CONNECTION_ERRORS = (IMAPClientAbortError, OSError)
#: A file name OpenSSL looks a CA up by in a certificate directory (subject hash, ``.N``).
_HASH_LINK = re.compile(r"[0-9a-f]{8}\.[0-9]+")
_PEM_CERT = re.compile(rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----")


def hashed_ca_dir(system: ssl.DefaultVerifyPaths | None = None) -> str | None:
    """The system's CA directory, when it holds at least as many CAs as the system's CA
    bundle, as hash links (Debian and Ubuntu keep both; ``update-ca-certificates``); else None.

    OpenSSL's defaults (``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` when set) read the whole
    bundle, some 150 certificates and a good part of a nightly no-op run, at every
    connection, and also look in the directory; the directory alone is read a certificate
    at a time, as a verification needs one. What it holds is a part of the defaults, so
    using it alone can refuse a certificate the defaults accept, never accept one they
    refuse.
    """
    system = system or ssl.get_default_verify_paths()
    if not system.capath:
        return None
    try:
        links = sum(1 for name in os.listdir(system.capath) if _HASH_LINK.fullmatch(name))
        with open(system.cafile or os.devnull, "rb") as bundle:
            bundled = len(_PEM_CERT.findall(bundle.read()))
    except OSError:
        return None
    return system.capath if links and links >= bundled else None
_X509_HOSTNAME_MISMATCH = 62
_X509_IP_MISMATCH = 64


def is_loopback(host: str) -> bool:
    """True for ``localhost`` (RFC 6761) and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ImapSettings:
    """The validated ``[imap]`` section (each key is described in ``config.SETTINGS``)."""

    host: str
    username: str
    account: str = "default"
    port: int = 0
    tls: str = "implicit"
    ca_file: str = ""
    password: str = field(default="", repr=False)
    password_file: str = ""
    password_command: str = ""
    keyring: bool = False
    auth: str = "password"
    token_command: str = ""
    folder: str = "INBOX"
    after: str = "none"
    batch_size: int = 100
    max_message_bytes: int = MAX_MESSAGE_BYTES
    timeout: float = 60.0
    #: where ``password`` came from, for messages ("environment" or a config file path)
    password_origin: str = ""

    @classmethod
    def from_config(cls, config: Config) -> ImapSettings:
        """Read and check the ``[imap]`` keys; :class:`ConfigError` names what is missing."""
        values = {s.key: config[s.name] for s in SETTINGS if s.section == "imap"}
        settings = cls(**values, password_origin=config.origins.get("imap.password", ""))
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.host:
            raise ConfigError("imap.host is not set: add host = \"imap.example.org\" under "
                              "[imap], set LDN_INBOX_IMAP_HOST or pass --host")
        if not self.username:
            raise ConfigError("imap.username is not set: add username under [imap], set "
                              "LDN_INBOX_IMAP_USERNAME or pass --username")
        if self.tls == "none" and not is_loopback(self.host):
            raise ConfigError(
                f"imap.tls = none is refused for {self.host}: the password and the mail would "
                "cross the network unencrypted. Use tls = implicit (port 993) or starttls "
                "(port 143); plain IMAP is only allowed for a loopback host")
        if self.auth == "xoauth2" and not self.token_command:
            raise ConfigError("imap.auth = xoauth2 needs imap.token_command: a command that "
                              "prints a fresh OAuth2 access token")
        if self.ca_file and not Path(self.ca_file).expanduser().is_file():
            raise ConfigError(f"imap.ca_file = {self.ca_file!r} is not a file: give the PEM "
                              "file of the CA that signed the server's certificate")
        if self.move_target is not None and self.move_target == self.folder:
            raise ConfigError(f"imap.after = {self.after!r} moves messages into the folder "
                              "they are read from: name another folder")

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "implicit" else 143)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.effective_port}"

    @property
    def move_target(self) -> str | None:
        return self.after[5:] if self.after.startswith("move:") else None

    @property
    def location(self) -> str:
        """``account/folder``: the raw store's location for these messages."""
        return f"{self.account}/{self.folder}"


@dataclass(frozen=True)
class Credential:
    """What the login sends: a password or an OAuth2 access token (masked in ``repr``).

    :ivar mechanism: ``password`` (IMAP LOGIN) or ``xoauth2`` (SASL XOAUTH2).
    :ivar source: where the secret came from, named in error messages.
    """

    mechanism: str
    secret: str = field(repr=False)
    source: str


def _run_secret_command(command: str, key: str) -> str:
    """First line printed by ``command`` (run by the shell, like mbsync's PassCmd)."""
    try:
        proc = subprocess.run(command, shell=True, capture_output=True,
                              timeout=SECRET_COMMAND_TIMEOUT_S, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AuthError(f"{key} did not finish within {SECRET_COMMAND_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise AuthError(f"{key} could not be run: {exc.strerror}") from None
    if proc.returncode != 0:
        # its output is not shown: a failing command may well print the secret
        raise AuthError(f"{key} failed with exit code {proc.returncode} (its output is not "
                        "shown; run the command yourself to see why)")
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise AuthError(f"{key} printed nothing")
    return secret


def _keyring_password(username: str) -> str:
    import keyring
    import keyring.errors

    try:
        password = keyring.get_password(KEYRING_SERVICE, username)
    except keyring.errors.KeyringError as exc:
        raise ConfigError(f"imap.keyring: the system keyring cannot be used ({exc}); use "
                          "LDN_INBOX_IMAP_PASSWORD, imap.password_file or "
                          "imap.password_command instead") from None
    if not password:
        raise ConfigError(f"imap.keyring: no password for {username!r} under service "
                          f"{KEYRING_SERVICE!r}; store it with `keyring set {KEYRING_SERVICE} "
                          f"{username}`")
    return str(password)


def resolve_credential(settings: ImapSettings) -> Credential:
    """The secret to log in with, from the first source configured.

    Password: ``LDN_INBOX_IMAP_PASSWORD`` or ``imap.password``, then ``imap.password_file``,
    ``imap.password_command``, the system keyring. XOAUTH2: ``imap.token_command``.
    """
    if settings.auth == "xoauth2":
        token = _run_secret_command(settings.token_command, "imap.token_command")
        return Credential("xoauth2", token, "imap.token_command")
    if settings.password:
        origin = settings.password_origin
        source = ("LDN_INBOX_IMAP_PASSWORD" if origin == "environment"
                  else f"imap.password in {origin}" if origin else "imap.password")
        return Credential("password", settings.password, source)
    if settings.password_file:
        path = Path(settings.password_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"imap.password_file {path}: cannot read it ({exc})") from None
        if not lines or not lines[0]:
            raise ConfigError(f"imap.password_file {path}: the first line is empty")
        if path.stat().st_mode & 0o077:
            log.warning("imap.password_file %s can be read by other users; chmod 600 it", path)
        return Credential("password", lines[0], f"imap.password_file ({path})")
    if settings.password_command:
        password = _run_secret_command(settings.password_command, "imap.password_command")
        return Credential("password", password, "imap.password_command")
    if settings.keyring:
        return Credential("password", _keyring_password(settings.username), "the system keyring")
    raise ConfigError("no IMAP password: set LDN_INBOX_IMAP_PASSWORD, imap.password_file, "
                      "imap.password_command or imap.keyring = true (or auth = xoauth2 with "
                      "imap.token_command)")


@dataclass(frozen=True)
class FolderState:
    """What SELECT/EXAMINE said about the folder."""

    uidvalidity: int
    uidnext: int | None
    exists: int
    readonly: bool


@dataclass(frozen=True)
class FetchedMessage:
    """One message as the server delivered it.

    :ivar truncated: only the header was fetched (larger than ``imap.max_message_bytes``).
    """

    uid: int
    data: bytes
    size: int
    received_at: datetime | None
    truncated: bool = False


@dataclass(frozen=True)
class FetchFailure:
    """A UID that could not be fetched.

    :ivar vanished: the message is no longer in the folder (expunged by someone else).
    """

    uid: int
    error: str
    vanished: bool = False


@dataclass(frozen=True)
class CheckReport:
    """What ``ldn-inbox check`` found: each field is one line of its output."""

    server: str
    security: str
    login: str
    folder: str
    state: FolderState
    folder_count: int
    move_target: str | None
    capabilities: tuple[str, ...]
    warnings: tuple[str, ...]

    def lines(self) -> list[str]:
        mode = "read-only (imap.after = none)" if self.state.readonly else "read-write"
        out = [
            f"ok: connected to {self.server} with {self.security}",
            f"ok: logged in as {self.login}",
            f"ok: {self.folder_count} folders; {self.folder!r} has {self.state.exists} "
            f"messages, UIDVALIDITY {self.state.uidvalidity}, opened {mode}",
        ]
        if self.move_target is not None:
            out.append(f"ok: move target {self.move_target!r} exists")
        if self.capabilities:
            out.append(f"ok: server offers {', '.join(self.capabilities)}")
        out += [f"warning: {w}" for w in self.warnings]
        return out


class FolderReset(Exception):
    """The folder's UIDVALIDITY changed during the run: held UIDs mean other messages now."""


class _Dropped(SourceError):
    """A command lost the connection every time it was sent (the connection is back)."""


def _reason(exc: BaseException) -> str:
    """The server's words from an imaplib error, without the ``b'...'`` wrapping."""
    text = str(exc).strip()
    match = re.fullmatch(r"b(['\"])(.*)\1", text, flags=re.DOTALL)
    return (match.group(2) if match else text)[:300] or type(exc).__name__


class _XOAuth2:
    """SASL XOAUTH2: the token first, then an empty answer to the server's JSON error
    challenge (RFC 7628 3.2.3), so a refused token ends in NO, not a protocol error."""

    def __init__(self, user: str, token: str) -> None:
        self._initial = f"user={user}\x01auth=Bearer {token}\x01\x01"
        self._sent = False

    def __repr__(self) -> str:
        return "_XOAuth2(...)"

    def __call__(self, challenge: bytes) -> str:
        if self._sent:
            return ""
        self._sent = True
        return self._initial


def _quiet(client: Any) -> None:
    """Turn off imaplib's tracing that IMAPClient turns on (``debug = 5``, every line passed
    to the ``imapclient.imaplib`` logger). Each trace is formatted before the logger can
    drop it: the repr of every message body, and of a whole FETCH response once more at its
    end, took half of the download's CPU; and with that logger at DEBUG the bodies (health
    data) would go to the log."""
    imap = getattr(client, "_imap", None)
    if imap is not None:
        imap.debug = 0


class ImapMailbox:
    """A logged-in connection to one folder that reconnects when the server goes away.

    Use as a context manager; :meth:`open` connects, logs in and selects the folder
    (read-only when ``imap.after = none``). All methods take and return UIDs.
    """

    def __init__(self, settings: ImapSettings, credential: Credential, *,
                 backoff: Sequence[float] = BACKOFF_S,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.credential = credential
        self.backoff = tuple(backoff)
        self._sleep = sleep
        self._client: Any = None
        self.state: FolderState | None = None
        #: successful reconnects during this run
        self.reconnects = 0
        #: seconds spent waiting for the server
        self.io_seconds = 0.0
        self._no_uidplus_warned = False

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ connection
    def _scrub(self, text: str) -> str:
        secret = self.credential.secret
        return text.replace(secret, _MASK) if secret else text

    def ssl_context(self, system: ssl.DefaultVerifyPaths | None = None) -> ssl.SSLContext:
        """System trust store plus ``imap.ca_file``; certificate and host name verified.
        ``system``: where the system's CAs are (default: OpenSSL's own paths); its
        directory is used alone when it holds them all (:func:`hashed_ca_dir`)."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                             capath=hashed_ca_dir(system))
        if self.settings.ca_file:
            path = Path(self.settings.ca_file).expanduser()
            try:
                context.load_verify_locations(cafile=str(path))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"imap.ca_file {path}: not a readable PEM CA bundle "
                                  f"({_reason(exc)})") from None
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _tls_error(self, exc: ssl.SSLError) -> TLSError:
        server = self.settings.server
        if isinstance(exc, ssl.SSLCertVerificationError):
            code = exc.verify_code
            message = exc.verify_message or _reason(exc)
            if code in (_X509_HOSTNAME_MISMATCH, _X509_IP_MISMATCH):
                return TLSError(
                    f"the TLS certificate of {server} is not valid for the name "
                    f"{self.settings.host!r} ({message}); use the host name the certificate "
                    "was issued for in imap.host")
            if self.settings.ca_file:
                return TLSError(
                    f"the TLS certificate of {server} cannot be verified ({message}) with the "
                    f"system's CAs nor imap.ca_file ({self.settings.ca_file}): that file does "
                    "not hold the CA that signed the server's certificate; give the right "
                    "CA's PEM file")
            return TLSError(
                f"the TLS certificate of {server} cannot be verified ({message}); if the "
                "server uses a private CA, set imap.ca_file to that CA's PEM file")
        return TLSError(f"TLS with {server} failed ({_reason(exc)}); check imap.tls and "
                        "imap.port (implicit TLS is usually 993, starttls 143)")

    def _connect(self) -> Any:
        settings = self.settings
        server = settings.server
        timeout = SocketTimeout(connect=settings.timeout, read=settings.timeout)
        context = self.ssl_context() if settings.tls != "none" else None
        try:
            if settings.tls == "implicit":
                client = IMAPClient(settings.host, settings.effective_port, ssl=True,
                                    ssl_context=context, timeout=timeout)
            else:
                client = IMAPClient(settings.host, settings.effective_port, ssl=False,
                                    timeout=timeout)
                if settings.tls == "starttls":
                    if not client.has_capability("STARTTLS"):
                        client.shutdown()
                        raise TLSError(f"{server} does not offer STARTTLS; use imap.tls = "
                                       "implicit (port 993) if it speaks IMAPS")
                    client.starttls(context)
        except ssl.SSLError as exc:
            raise self._tls_error(exc) from None
        except socket.gaierror as exc:
            raise SourceError(f"cannot resolve {settings.host!r}: {exc.strerror}") from None
        except TimeoutError:
            hint = ("" if settings.tls == "implicit" else
                    "; a port that expects TLS at once (IMAPS, usually 993) stays silent too: "
                    "then set imap.tls = implicit")
            raise SourceError(f"no answer from {server} within {settings.timeout:g} s "
                              f"(imap.timeout){hint}") from None
        except OSError as exc:
            raise SourceError(f"cannot connect to {server}: {exc.strerror or exc}") from None
        except IMAPClientError as exc:
            raise SourceError(f"{server} did not greet as an IMAP server: {_reason(exc)}"
                              ) from None
        client.normalise_times = False
        _quiet(client)
        return client

    def _login(self, client: Any) -> None:
        settings, credential = self.settings, self.credential
        try:
            if credential.mechanism == "xoauth2":
                client.sasl_login("XOAUTH2", _XOAuth2(settings.username, credential.secret))
            else:
                client.login(settings.username, credential.secret)
        except LoginError as exc:
            if credential.mechanism == "xoauth2":
                hint = ("the access token from imap.token_command was refused: it may have "
                        "expired, be for another user or lack the IMAP scope; run the token "
                        "command by hand and renew the authorisation")
            else:
                hint = (f"if the password was changed or has expired, update "
                        f"{credential.source}")
            raise AuthError(self._scrub(
                f"{settings.server} refused the login of {settings.username!r}: "
                f"{_reason(exc)}; {hint}")) from None

    def _folder_names(self, client: Any) -> list[str]:
        return [str(name) for _flags, _sep, name in client.list_folders()]

    def _select(self, client: Any) -> FolderState:
        folder = self.settings.folder
        readonly = self.settings.after == "none"
        try:
            info = client.select_folder(folder, readonly=readonly)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            names = self._folder_names(client)
            listed = ", ".join(repr(n) for n in names[:30]) + (" ..." if len(names) > 30 else "")
            raise SourceError(f"cannot open folder {folder!r} on {self.settings.server}: "
                              f"{_reason(exc)}. Folders: {listed} (set imap.folder)") from None
        uidnext = info.get(b"UIDNEXT")
        return FolderState(uidvalidity=int(info[b"UIDVALIDITY"]),
                           uidnext=int(uidnext) if uidnext is not None else None,
                           exists=int(info.get(b"EXISTS", 0)), readonly=readonly)

    def open(self) -> FolderState:
        """Connect, log in and select the folder."""
        self._drop()
        started = time.monotonic()
        client = self._connect()
        try:
            self._login(client)
            state = self._select(client)
        except _CONNECTION_ERRORS as exc:
            _close_quietly(client)
            raise SourceError(self._scrub(
                f"lost the connection to {self.settings.server} while logging in: "
                f"{_reason(exc)}")) from None
        except BaseException:
            _close_quietly(client)
            raise
        finally:
            self.io_seconds += time.monotonic() - started
        self._client = client
        self.state = state
        return state

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _close_quietly(client)

    def close(self) -> None:
        """Log out (errors ignored: the connection may be gone already)."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.logout()
            except Exception:  # a dead connection cannot log out; nothing to do
                _close_quietly(client)

    def _reconnect(self, cause: BaseException) -> None:
        """Open the folder again after ``cause`` broke the connection, with backoff."""
        assert self.state is not None, "open() first"
        expected = self.state.uidvalidity
        self._drop()
        last: BaseException = cause
        for attempt, pause in enumerate(self.backoff, 1):
            log.info("connection to %s lost (%s); reconnecting in %.1f s (%d/%d)",
                     self.settings.server, type(last).__name__, pause, attempt,
                     len(self.backoff))
            self._sleep(pause)
            try:
                state = self.open()
            except (AuthError, TLSError, ConfigError):
                raise
            except SourceError as exc:
                last = exc
                continue
            self.reconnects += 1
            if state.uidvalidity != expected:
                raise FolderReset(f"UIDVALIDITY of {self.settings.folder!r} changed from "
                                  f"{expected} to {state.uidvalidity}")
            return
        raise SourceError(self._scrub(
            f"lost the connection to {self.settings.server} and could not get it back after "
            f"{len(self.backoff)} tries: {_reason(last)}"))

    def _call(self, fn: Callable[[Any], T], *, attempts: int = COMMAND_ATTEMPTS) -> T:
        """Run ``fn(client)``; after a lost connection reconnect and run it again."""
        for attempt in range(1, attempts + 1):
            if self._client is None:
                self.open()
            started = time.monotonic()
            try:
                return fn(self._client)
            except _CONNECTION_ERRORS as exc:
                self._reconnect(exc)
                if attempt == attempts:
                    raise _Dropped(self._scrub(_reason(exc))) from None
            finally:
                self.io_seconds += time.monotonic() - started
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ reading
    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid``, ascending.

        ``UID SEARCH UID n:*`` always matches the message with the highest UID, even when
        that UID is below n (RFC 3501 6.4.8, 9), so the answer is filtered.
        """
        found = self._call(lambda c: c.search(["UID", f"{last_uid + 1}:*"]))
        return sorted(uid for uid in (int(u) for u in found) if uid > last_uid)

    def existing(self, uids: Sequence[int]) -> set[int]:
        """Those of ``uids`` still in the folder."""
        if not uids:
            return set()
        found = self._call(lambda c: c.search(["UID", _uid_set(uids)]))
        return {int(u) for u in found} & set(uids)

    def _fetch_items(self, uids: Sequence[int], items: Sequence[str], *,
                     attempts: int = COMMAND_ATTEMPTS) -> dict[int, dict[bytes, Any]]:
        response = self._call(lambda c: c.fetch(list(uids), list(items)), attempts=attempts)
        return {int(uid): data for uid, data in response.items()}

    def _fetch_one(self, uid: int, item: str, key: bytes) -> bytes | FetchFailure:
        """One UID on its own: the fallback when a chunk failed."""
        try:
            got = self._fetch_items([uid], [item], attempts=2)
        except _Dropped as exc:
            error = f"the server closed the connection each time it was fetched ({exc})"
        except IMAPClientError as exc:
            error = f"the server refused to deliver it: {self._scrub(_reason(exc))}"
        else:
            data = got.get(uid, {}).get(key)
            if isinstance(data, bytes):
                return data
            error = "the server returned no content for it"
        if uid not in self.existing([uid]):
            return FetchFailure(uid, "expunged by someone else before it was fetched",
                                vanished=True)
        return FetchFailure(uid, error)

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage | FetchFailure]:
        """Fetch ``uids`` in UID order: sizes first, then bodies in chunks of at most
        :data:`FETCH_CHUNK_BYTES`; only the header of a message larger than
        ``imap.max_message_bytes``. A UID that fails is retried alone; if it still fails it
        is yielded as a :class:`FetchFailure` and the rest go on.
        """
        if not uids:
            return
        info = self._fetch_items(uids, ["RFC822.SIZE", "INTERNALDATE"])
        limit = self.settings.max_message_bytes
        chunk: list[int] = []
        chunk_bytes = 0
        for uid in uids:
            meta = info.get(uid)
            if meta is None:
                yield FetchFailure(uid, "expunged by someone else before it was fetched",
                                   vanished=True)
                continue
            size = int(meta.get(b"RFC822.SIZE") or 0)
            if size > limit:
                yield from self._fetch_chunk(chunk, info)
                chunk, chunk_bytes = [], 0
                yield self._fetch_header(uid, size, meta)
                continue
            if chunk and chunk_bytes + size > FETCH_CHUNK_BYTES:
                yield from self._fetch_chunk(chunk, info)
                chunk, chunk_bytes = [], 0
            chunk.append(uid)
            chunk_bytes += size
        yield from self._fetch_chunk(chunk, info)

    def _fetch_chunk(self, uids: list[int], info: dict[int, dict[bytes, Any]]
                     ) -> Iterator[FetchedMessage | FetchFailure]:
        if not uids:
            return
        try:
            bodies = self._fetch_items(uids, ["BODY.PEEK[]"], attempts=2)
        except (_Dropped, IMAPClientError) as exc:
            log.info("fetching %d messages failed (%s); fetching them one by one",
                     len(uids), type(exc).__name__)
            bodies = {}
        for uid in uids:
            data = bodies.get(uid, {}).get(b"BODY[]")
            if not isinstance(data, bytes):
                result = self._fetch_one(uid, "BODY.PEEK[]", b"BODY[]")
                if isinstance(result, FetchFailure):
                    yield result
                    continue
                data = result
            yield FetchedMessage(uid, data, len(data), _internaldate(info[uid]))

    def _fetch_header(self, uid: int, size: int, meta: dict[bytes, Any]
                      ) -> FetchedMessage | FetchFailure:
        result = self._fetch_one(uid, "BODY.PEEK[HEADER]", b"BODY[HEADER]")
        if isinstance(result, FetchFailure):
            return result
        return FetchedMessage(uid, result, size, _internaldate(meta), truncated=True)

    # ------------------------------------------------------------------ changing
    def mark_seen(self, uids: Sequence[int]) -> None:
        """Set ``\\Seen`` on ``uids``."""
        if uids:
            self._call(lambda c: c.add_flags(list(uids), [b"\\Seen"], silent=True))

    def move(self, uids: Sequence[int], target: str) -> None:
        """Move ``uids`` to ``target``: MOVE, else COPY + ``\\Deleted`` + UID EXPUNGE."""
        if not uids:
            return

        def run(client: Any) -> None:
            if client.has_capability("MOVE"):
                client.move(list(uids), target)
                return
            # Not atomic: a connection lost after COPY may leave a second copy in target.
            client.copy(list(uids), target)
            client.add_flags(list(uids), [b"\\Deleted"], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(list(uids))
            elif not self._no_uidplus_warned:
                # A plain EXPUNGE would also remove what others flagged \Deleted.
                self._no_uidplus_warned = True
                log.warning("%s lacks UIDPLUS: moved messages stay in %r flagged \\Deleted "
                            "until a mail client expunges them", self.settings.server,
                            self.settings.folder)

        try:
            self._call(run)
        except IMAPClientError as exc:
            raise SourceError(f"cannot move messages to {target!r}: {_reason(exc)}") from None

    # ------------------------------------------------------------------ checks
    def require_folder(self, name: str) -> None:
        """Raise :class:`SourceError` unless folder ``name`` exists."""
        if not self._call(lambda c: bool(c.folder_exists(name))):
            raise SourceError(f"imap.after = move:{name}: folder {name!r} does not exist on "
                              f"{self.settings.server}; create it or change imap.after")

    def check(self) -> CheckReport:
        """Connect, log in, list the folders and open the folder; report what was found."""
        state = self.open()
        client = self._client
        settings = self.settings
        names = self._call(self._folder_names)
        target = settings.move_target
        if target is not None:
            self.require_folder(target)
        used = tuple(c for c in ("MOVE", "UIDPLUS") if client.has_capability(c))
        warnings: list[str] = []
        if target is not None and "MOVE" not in used:
            warnings.append("no MOVE: messages are moved by COPY, \\Deleted and "
                            + ("UID EXPUNGE" if "UIDPLUS" in used
                               else "left for a mail client to expunge (no UIDPLUS)"))
        if settings.tls == "none":
            security = "no TLS (loopback host)"
        else:
            sock = client.socket()
            version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
            mode = "implicit TLS" if settings.tls == "implicit" else "STARTTLS"
            security = f"{mode} ({version or 'TLS'}), certificate and host name verified"
        how = "XOAUTH2 token" if self.credential.mechanism == "xoauth2" else "password"
        return CheckReport(
            server=settings.server, security=security,
            login=f"{settings.username} ({how} from {self.credential.source})",
            folder=settings.folder, state=state, folder_count=len(names),
            move_target=target, capabilities=used, warnings=tuple(warnings))


def _internaldate(meta: dict[bytes, Any]) -> datetime | None:
    value = meta.get(b"INTERNALDATE")
    return value if isinstance(value, datetime) and value.tzinfo is not None else None


def _uid_set(uids: Sequence[int]) -> str:
    """``1:3,7,9:10`` for [1, 2, 3, 7, 9, 10]."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = prev = ordered[0]
    for uid in [*ordered[1:], None]:
        if uid is not None and uid == prev + 1:
            prev = uid
            continue
        parts.append(str(start) if start == prev else f"{start}:{prev}")
        if uid is not None:
            start = prev = uid
    return ",".join(parts)


def _close_quietly(client: Any) -> None:
    try:
        client.shutdown()
    except Exception:  # already closed
        pass
