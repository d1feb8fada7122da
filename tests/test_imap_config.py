"""IMAP settings, secrets and summaries: the parts of fetch that need no server."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from ldn_inbox import config
from ldn_inbox.cli import app
from ldn_inbox.errors import AuthError, ConfigError
from ldn_inbox.flow.fetch import FetchSummary
from ldn_inbox.sources.imap import (
    Credential,
    ImapSettings,
    _uid_set,
    is_loopback,
    resolve_credential,
)

IMAP_KEYS = [s.key for s in config.SETTINGS if s.section == "imap"]
SECRET = "s3cret-Pa55"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
        ("localhost", True), ("LOCALHOST.", True), ("imap.localhost", True),
        ("10.0.0.1", False), ("192.0.2.10", False), ("imap.example.org", False),
        ("localhost.example.org", False), ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback, host


@pytest.mark.parametrize(
    ("uids", "expected"),
    [([1], "1"), ([1, 2, 3], "1:3"), ([3, 1, 2, 7, 9, 10], "1:3,7,9:10"), ([5, 5, 6], "5:6")],
)
def test_uid_set(uids: list[int], expected: str) -> None:
    assert _uid_set(uids) == expected


def settings(**values: object) -> ImapSettings:
    base: dict[str, object] = {"host": "imap.example.org", "username": "info@example.org"}
    cfg = config.load(env={}).with_overrides(
        {f"imap.{key}": value for key, value in {**base, **values}.items()})
    return ImapSettings.from_config(cfg)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"host": ""}, "imap.host is not set", id="no-host"),
        pytest.param({"username": ""}, "imap.username is not set", id="no-username"),
        pytest.param({"tls": "none"}, "imap.tls = none is refused for imap.example.org",
                     id="plain-remote"),
        pytest.param({"tls": "none", "host": "192.0.2.10"}, "only allowed for a loopback",
                     id="plain-remote-ip"),
        pytest.param({"auth": "xoauth2"}, "needs imap.token_command", id="xoauth2-no-command"),
        pytest.param({"after": "move:INBOX"}, "moves messages into the folder", id="move-self"),
        pytest.param({"ca_file": "/nonexistent/ca.pem"}, "is not a file", id="ca-missing"),
        pytest.param({"after": "later"}, "must be none, seen or move:FOLDER", id="after-bad"),
        pytest.param({"tls": "ssl"}, "allowed values are implicit, starttls, none",
                     id="tls-bad"),
        pytest.param({"batch_size": 0}, "must be greater than 0", id="batch-zero"),
    ],
)
def test_settings_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings(**values)


@pytest.mark.parametrize(
    ("values", "port"),
    [({}, 993), ({"tls": "starttls"}, 143), ({"tls": "none", "host": "::1"}, 143),
     ({"port": 1993}, 1993)],
)
def test_default_ports(values: dict[str, object], port: int) -> None:
    assert settings(**values).effective_port == port


def test_plain_imap_allowed_on_loopback() -> None:
    assert settings(tls="none", host="127.0.0.1").tls == "none"


def test_secrets_stay_out_of_repr() -> None:
    assert SECRET not in repr(settings(password=SECRET))
    assert SECRET not in repr(Credential("password", SECRET, "imap.password"))


def test_password_from_environment_wins(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n")
    secret_file.chmod(0o600)
    cfg = config.load(env={"LDN_INBOX_IMAP_PASSWORD": SECRET, "LDN_INBOX_IMAP_HOST": "h",
                           "LDN_INBOX_IMAP_USERNAME": "u",
                           "LDN_INBOX_IMAP_PASSWORD_FILE": str(secret_file)})
    credential = resolve_credential(ImapSettings.from_config(cfg))
    assert (credential.secret, credential.source) == (SECRET, "LDN_INBOX_IMAP_PASSWORD")


@pytest.mark.parametrize(
    ("source", "expected_source"),
    [("file", "imap.password_file"), ("command", "imap.password_command")],
)
def test_password_sources(tmp_path: Path, source: str, expected_source: str) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text(f"{SECRET}\nsecond line ignored\n")
    secret_file.chmod(0o600)
    values = ({"password_file": str(secret_file)} if source == "file"
              else {"password_command": f"cat {secret_file}"})
    credential = resolve_credential(settings(**values))
    assert credential.secret == SECRET
    assert credential.source.startswith(expected_source)


def test_token_command_gives_xoauth2() -> None:
    credential = resolve_credential(settings(auth="xoauth2",
                                             token_command="printf 'tok-123\\n'"))
    assert (credential.mechanism, credential.secret) == ("xoauth2", "tok-123")


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        pytest.param({}, ConfigError, "no IMAP password", id="none-configured"),
        pytest.param({"password_command": "echo oops >&2; exit 3"}, AuthError,
                     "imap.password_command failed with exit code 3 (its output is not shown",
                     id="command-fails"),
        pytest.param({"password_command": "true"}, AuthError, "printed nothing",
                     id="command-silent"),
        pytest.param({"auth": "xoauth2", "token_command": f"{sys.executable} -c 'exit(9)'"},
                     AuthError, "imap.token_command failed with exit code 9", id="token-fails"),
        pytest.param({"password_file": "/nonexistent/pw"}, ConfigError, "cannot read it",
                     id="file-missing"),
    ],
)
def test_credential_problems(values: dict[str, object], error: type[Exception],
                             message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        resolve_credential(settings(**values))


def summary(**counts: int) -> FetchSummary:
    base = dict.fromkeys(("fetched", "new", "known", "forgotten", "duplicate_id", "coded",
                          "quarantined", "too_big", "failed", "vanished", "applied",
                          "recovered", "reconnects"), 0)
    base.update(counts)
    return FetchSummary(account="default", folder="INBOX", uidvalidity=7,
                        uidvalidity_changed=False, seconds=1.25, imap_seconds=0.5,
                        after="move:Done", **base)


@pytest.mark.parametrize(
    ("counts", "problems", "words"),
    [
        ({}, 0, ["0 fetched", "0 new", "0 quarantined"]),
        ({"fetched": 3, "new": 2, "known": 1, "applied": 3}, 0,
         ["3 fetched", "2 new", "1 already stored", "3 moved to Done"]),
        ({"fetched": 2, "too_big": 1, "failed": 2, "quarantined": 1}, 4,
         ["1 too big", "2 failed (retried next run)", "1 quarantined"]),
    ],
)
def test_summary_line(counts: dict[str, int], problems: int, words: list[str]) -> None:
    result = summary(**counts)
    assert result.problems == problems
    line = result.line()
    assert "\n" not in line
    for word in words:
        assert word in line, f"{word!r} missing from {line!r}"


@pytest.mark.parametrize("command", ["fetch", "check"])
def test_every_imap_key_is_an_option_but_the_password(runner, command: str) -> None:
    text = runner.invoke(app, [command, "--help"], terminal_width=200).stdout
    for key in IMAP_KEYS:
        option = "--" + key.replace("_", "-")
        if key == "password":
            assert not re.search(r"--password\b(?![-_])", text), "a --password flag exists"
        else:
            assert option in text, f"{option} missing from `{command} --help`"
