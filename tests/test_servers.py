"""Smoke tests for the private test servers in tests/servers.py.

Only the standard library (imaplib, ssl) and psycopg talk to the servers here,
so a failure points at the helpers, not at application code.
"""

from __future__ import annotations

import imaplib
import re
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from servers import (
    DovecotServer,
    PostgresServer,
    dovecot_available,
    iter_test_messages,
    postgres_available,
)

ALICE, ALICE_PW = "alice", "alice-pw"
BOB, BOB_PW = "bob", "b0b secret"  # SHA512-CRYPT user


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    if (reason := dovecot_available()) is not None:
        pytest.skip(reason)
    with DovecotServer(users={ALICE: ALICE_PW}) as server:
        server.add_user(BOB, BOB_PW, "SHA512-CRYPT")
        yield server


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    if (reason := postgres_available()) is not None:
        pytest.skip(reason)
    with PostgresServer() as server:
        yield server


@pytest.fixture
def folder(dovecot: DovecotServer) -> str:
    """A fresh, empty folder of alice's (with a hierarchy level)."""
    name = f"Test/{uuid.uuid4().hex[:8]}"
    dovecot.create_folder(ALICE, name)
    return name


def tls_context(cafile: object) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


def imaps(server: DovecotServer, host: str | None = None) -> imaplib.IMAP4_SSL:
    return imaplib.IMAP4_SSL(
        host or server.host, server.imaps_port, ssl_context=tls_context(server.ca_file), timeout=10
    )


def login(server: DovecotServer, user: str = ALICE, password: str = ALICE_PW) -> imaplib.IMAP4_SSL:
    conn = imaps(server)
    conn.login(user, password)
    return conn


def select_count(conn: imaplib.IMAP4, folder: str) -> int:
    typ, data = conn.select(f'"{folder}"')
    assert typ == "OK", data
    return int(data[0] or b"0")


def message(n: int, subject: str = "Smoke") -> bytes:
    return (
        f"From: a@example.org\r\nTo: alice@example.org\r\nSubject: {subject} {n}\r\n"
        f"Message-ID: <smoke-{n}-{uuid.uuid4().hex}@test.invalid>\r\n\r\nbody {n}\r\n"
    ).encode()


# --------------------------------------------------------------------------- #
# IMAP / TLS
# --------------------------------------------------------------------------- #

imap = pytest.mark.imap


@imap
def test_imaps_login_verifies_with_ca(dovecot: DovecotServer) -> None:
    conn = login(dovecot)
    try:
        assert conn.state == "AUTH"
        cert = conn.sock.getpeercert()  # type: ignore[attr-defined]
        assert ("DNS", "localhost") in cert["subjectAltName"]
        assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
    finally:
        conn.logout()


@imap
def test_imaps_by_host_name_localhost(dovecot: DovecotServer) -> None:
    conn = imaps(dovecot, host="localhost")
    conn.login(ALICE, ALICE_PW)
    conn.logout()


@imap
def test_starttls_login(dovecot: DovecotServer) -> None:
    conn = imaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=10)
    try:
        assert "STARTTLS" in conn.capabilities
        typ, _ = conn.starttls(ssl_context=tls_context(dovecot.ca_file))
        assert typ == "OK"
        typ, _ = conn.login(ALICE, ALICE_PW)
        assert typ == "OK"
    finally:
        conn.logout()


@imap
@pytest.mark.parametrize("implicit_tls", [True, False], ids=["imaps", "starttls"])
def test_wrong_ca_fails_verification(dovecot: DovecotServer, implicit_tls: bool) -> None:
    ctx = tls_context(dovecot.wrong_ca_file)
    if implicit_tls:
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=ctx, timeout=10)
    else:
        conn = imaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=10)
        try:
            with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
                conn.starttls(ssl_context=ctx)
        finally:
            conn.sock.close()  # the failed handshake leaves imaplib half-closed


@imap
def test_host_name_mismatch_fails(dovecot: DovecotServer) -> None:
    dovecot.use_server_cert("other_host")
    try:
        ctx = tls_context(dovecot.ca_file)
        for host in ("localhost", "127.0.0.1"):
            with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
                imaplib.IMAP4_SSL(host, dovecot.imaps_port, ssl_context=ctx, timeout=10)
        # Control: the chain itself is fine when the expected name is checked.
        raw = ctx.wrap_socket(
            socket.create_connection((dovecot.host, dovecot.imaps_port), 10),
            server_hostname=dovecot.other_host_name,
        )
        raw.close()
    finally:
        dovecot.use_server_cert("localhost")
    imaps(dovecot).logout()


@imap
def test_wrong_password_fails(dovecot: DovecotServer) -> None:
    conn = imaps(dovecot)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            conn.login(ALICE, "not-the-password")
    finally:
        conn.logout()


@imap
def test_sha512_crypt_user(dovecot: DovecotServer) -> None:
    assert "{SHA512-CRYPT}$6$" in dovecot.passwd_file.read_text()
    login(dovecot, BOB, BOB_PW).logout()


def _xoauth2(user: str, token: str) -> Callable[[bytes], bytes]:
    calls: list[bytes] = []

    def respond(challenge: bytes) -> bytes:
        calls.append(challenge)
        if len(calls) == 1:
            return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()
        return b""  # answer the JSON error challenge with an empty response

    return respond


@imap
def test_xoauth2_and_oauthbearer(dovecot: DovecotServer) -> None:
    token = dovecot.add_oauth_token(ALICE)
    conn = imaps(dovecot)
    assert "AUTH=XOAUTH2" in conn.capabilities
    assert conn.authenticate("XOAUTH2", _xoauth2(ALICE, token))[0] == "OK"
    conn.logout()

    conn = imaps(dovecot)
    gs2 = f"n,a={ALICE},\x01host=localhost\x01port=993\x01auth=Bearer {token}\x01\x01"
    assert conn.authenticate("OAUTHBEARER", lambda _: gs2.encode())[0] == "OK"
    conn.logout()

    dovecot.revoke_oauth_token(token)
    conn = imaps(dovecot)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        conn.authenticate("XOAUTH2", _xoauth2(ALICE, token))
    conn.logout()
    assert dovecot.oauth.requests.count(token) == 3


@imap
def test_append_three_and_select(dovecot: DovecotServer, folder: str) -> None:
    uids = [dovecot.append(ALICE, folder, message(n)) for n in (1, 2)]
    uids.append(dovecot.append(ALICE, folder, message(3), flags=["\\Seen", "\\Flagged"]))
    assert uids == [1, 2, 3]
    assert dovecot.count(ALICE, folder) == 3
    conn = login(dovecot)
    try:
        assert select_count(conn, folder) == 3
        typ, data = conn.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        items = [d for d in data if isinstance(d, tuple)]
        assert [re.search(rb"Smoke (\d)", body).group(1) for _, body in items] == [  # type: ignore[union-attr]
            b"1",
            b"2",
            b"3",
        ]
        assert b"\\Seen" in items[2][0]
        assert b"\\Flagged" in items[2][0]
        assert b"\\Seen" not in items[0][0]
    finally:
        conn.logout()


@imap
def test_bulk_load_2000(dovecot: DovecotServer, folder: str) -> None:
    start = time.monotonic()
    assert dovecot.bulk_load(ALICE, folder, iter_test_messages(2000)) == 2000
    elapsed = time.monotonic() - start
    assert dovecot.count(ALICE, folder) == 2000
    assert elapsed < 30, f"bulk_load of 2000 messages took {elapsed:.1f}s"
    conn = login(dovecot)
    try:
        assert select_count(conn, folder) == 2000
        # UIDs follow the order of the iterable.
        typ, data = conn.uid("FETCH", "1,2000", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        subjects = [d[1] for d in data if isinstance(d, tuple)]
        assert subjects == [
            b"Subject: Test message 1\r\n\r\n",
            b"Subject: Test message 2000\r\n\r\n",
        ]
    finally:
        conn.logout()


@imap
def test_bulk_load_with_flags_and_expunge(dovecot: DovecotServer, folder: str) -> None:
    dovecot.bulk_load(ALICE, folder, iter_test_messages(5), flags=["\\Seen"])
    assert dovecot.status(ALICE, folder, "messages", "unseen") == {"messages": 5, "unseen": 0}
    dovecot.expunge(ALICE, folder, 3)
    assert dovecot.uids(ALICE, folder) == [1, 2, 4, 5]


@imap
def test_restart_keeps_messages(dovecot: DovecotServer, folder: str) -> None:
    for n in range(3):
        dovecot.append(ALICE, folder, message(n))
    ports, uidvalidity = (dovecot.imap_port, dovecot.imaps_port), dovecot.uidvalidity(ALICE, folder)
    old_pid = dovecot.pid
    dovecot.restart()
    assert dovecot.pid != old_pid
    assert (dovecot.imap_port, dovecot.imaps_port) == ports
    assert dovecot.uidvalidity(ALICE, folder) == uidvalidity
    conn = login(dovecot)
    try:
        assert select_count(conn, folder) == 3
    finally:
        conn.logout()


def _imap_uidvalidity(conn: imaplib.IMAP4, folder: str) -> int:
    typ, data = conn.status(f'"{folder}"', "(UIDVALIDITY)")
    assert typ == "OK", data
    match = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
    assert match is not None
    return int(match.group(1))


@imap
def test_recreate_folder_changes_uidvalidity(dovecot: DovecotServer, folder: str) -> None:
    dovecot.append(ALICE, folder, message(1))
    conn = login(dovecot)
    try:
        before = _imap_uidvalidity(conn, folder)
        assert before == dovecot.uidvalidity(ALICE, folder)
        after = dovecot.recreate_folder(ALICE, folder)
        assert after != before
        assert _imap_uidvalidity(conn, folder) == after
        assert dovecot.count(ALICE, folder) == 0
    finally:
        conn.logout()
    # INBOX cannot be deleted: change its UIDVALIDITY in place instead.
    inbox = dovecot.uidvalidity(ALICE)
    dovecot.set_uidvalidity(ALICE, "INBOX", inbox + 7)
    assert dovecot.uidvalidity(ALICE) == inbox + 7


# --------------------------------------------------------------------------- #
# PostgreSQL
# --------------------------------------------------------------------------- #


@pytest.mark.postgres
def test_postgres_create_database_and_select_1(postgres: PostgresServer) -> None:
    psycopg = pytest.importorskip("psycopg")
    url = postgres.create_database("ldn_smoke")
    assert url == (
        f"postgresql+psycopg://{postgres.user}:{postgres.password}"
        f"@127.0.0.1:{postgres.port}/ldn_smoke"
    )
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SELECT current_database()").fetchone() == ("ldn_smoke",)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(conninfo.replace(postgres.password, "wrong"), connect_timeout=10)
    postgres.drop_database("ldn_smoke")
    assert "ldn_smoke" not in postgres.databases()


@pytest.mark.postgres
def test_postgres_listens_on_loopback_only(postgres: PostgresServer) -> None:
    out = postgres.psql("SHOW listen_addresses", "SHOW fsync")
    assert out.split() == ["127.0.0.1", "off"]
