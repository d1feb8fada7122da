"""Configuration: TOML files and environment values, good and bad. A bad one is refused with
a :class:`ConfigError` that names the key (and the variable or file) and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ldn_inbox import config
from ldn_inbox.config import SETTINGS, ConfigError, load
from ldn_inbox.errors import ExitCode

KNOWN = "Known keys: db, imap.account, imap.host"


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "ldn-inbox.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- good
@pytest.mark.parametrize(("text", "env", "expected"), [
    pytest.param("", {}, {"db": "sqlite:///ldn-inbox.sqlite", "imap.port": 0,
                          "imap.tls": "implicit", "imap.keyring": False,
                          "imap.timeout": 60.0, "imap.after": "none"}, id="empty-file"),
    pytest.param('db = "postgresql+psycopg://ldn@db.example.org/ldn"\n'
                 '[imap]\nhost = "imap.example.org"\nport = 993\ntls = "starttls"\n'
                 'username = "info@example.org"\nkeyring = true\nauth = "xoauth2"\n'
                 'folder = "Enquête/2024"\nafter = "move:Verwerkt"\nbatch_size = 50\n'
                 'max_message_bytes = 1000000\ntimeout = 30\n'
                 '[privacy]\nkey_file = "/srv/ldn/key"\n'
                 '[run]\nlock_file = "/run/ldn.lock"\nconvert_timeout = 2.5\n', {},
                 {"db": "postgresql+psycopg://ldn@db.example.org/ldn",
                  "imap.host": "imap.example.org", "imap.port": 993, "imap.tls": "starttls",
                  "imap.keyring": True, "imap.auth": "xoauth2", "imap.folder": "Enquête/2024",
                  "imap.after": "move:Verwerkt", "imap.batch_size": 50,
                  "imap.max_message_bytes": 1_000_000, "imap.timeout": 30.0,
                  "privacy.key_file": "/srv/ldn/key", "run.lock_file": "/run/ldn.lock",
                  "run.convert_timeout": 2.5}, id="every-section"),
    pytest.param('[imap]\nafter = "seen"\n', {}, {"imap.after": "seen"}, id="after-seen"),
    pytest.param("", {"LDN_INBOX_IMAP_PORT": "143", "LDN_INBOX_IMAP_KEYRING": "yes",
                      "LDN_INBOX_IMAP_TIMEOUT": "7.5", "LDN_INBOX_DB": "sqlite:///x.sqlite",
                      "LDN_INBOX_RUN_CONVERT_TIMEOUT": "1"},
                 {"imap.port": 143, "imap.keyring": True, "imap.timeout": 7.5,
                  "db": "sqlite:///x.sqlite", "run.convert_timeout": 1.0}, id="env-strings"),
    pytest.param("", {"LDN_INBOX_IMAP_KEYRING": "off"}, {"imap.keyring": False},
                 id="env-bool-off"),
    pytest.param('[imap]\nhost = "file.example.org"\nport = 993\n',
                 {"LDN_INBOX_IMAP_HOST": "env.example.org"},
                 {"imap.host": "env.example.org", "imap.port": 993}, id="env-wins-over-file"),
    pytest.param("", {"LDN_INBOX_IMAP_HOST_NAME": "ignored", "OTHER_IMAP_HOST": "ignored"},
                 {"imap.host": ""}, id="other-variables-ignored"),
])
def test_good(tmp_path: Path, text: str, env: dict[str, str],
              expected: dict[str, Any]) -> None:
    loaded = load(write(tmp_path, text), env=env)
    for name, value in expected.items():
        assert loaded[name] == value, name
        assert type(loaded[name]) is type(value), name
    for name in expected:
        origin = loaded.origins[name]
        setting = config.SETTING_BY_NAME[name]
        if setting.env in env:
            assert origin == "environment", name
        elif name.split(".")[-1] + " =" in text:
            assert origin == str(write(tmp_path, text)), name
        else:
            assert origin == "default", name


def test_every_setting_has_help_and_a_valid_default() -> None:
    for setting in SETTINGS:
        assert setting.help.strip(), setting.name
        assert isinstance(setting.default, setting.type), setting.name
        if setting.choices:
            assert setting.default in setting.choices, setting.name
        if setting.check is not None:
            assert setting.check(setting.default) is None, setting.name
        assert setting.env == "LDN_INBOX_" + setting.name.replace(".", "_").upper()


# --------------------------------------------------------------------------- bad files
@pytest.mark.parametrize(("text", "words"), [
    pytest.param('colour = "blue"\n', ["unknown key 'colour'", KNOWN], id="unknown-key"),
    pytest.param('[imap]\nhostname = "x"\n', ["unknown key 'imap.hostname'", KNOWN],
                 id="unknown-key-in-section"),
    pytest.param('[smtp]\nhost = "x"\n', ["unknown section [smtp]", "imap, learn, privacy, run"],
                 id="unknown-section"),
    pytest.param('imap = "x"\n', ["unknown key 'imap'"], id="section-as-value"),
    pytest.param('[imap]\ntls = "maybe"\n',
                 ["imap.tls = 'maybe'", "allowed values are implicit, starttls, none"],
                 id="tls-choice"),
    pytest.param('[imap]\nauth = "oauth"\n', ["imap.auth", "allowed values are password, "
                                              "xoauth2"], id="auth-choice"),
    pytest.param('[imap]\nport = "imaps"\n', ["imap.port = 'imaps'", "a whole number"],
                 id="port-type"),
    pytest.param("[imap]\nport = 70000\n", ["imap.port = 70000", "TCP port (1-65535)"],
                 id="port-range"),
    pytest.param("[imap]\nport = true\n", ["imap.port", "a whole number"], id="port-bool"),
    pytest.param("[imap]\nport = 993.5\n", ["imap.port = 993.5", "a whole number"],
                 id="port-fraction"),
    pytest.param("[imap]\nbatch_size = 0\n", ["imap.batch_size = 0", "greater than 0"],
                 id="batch-size-zero"),
    pytest.param('[imap]\ntimeout = "fast"\n', ["imap.timeout", "a number"], id="timeout"),
    pytest.param('[imap]\nkeyring = "perhaps"\n', ["imap.keyring", "true or false"],
                 id="keyring"),
    pytest.param('[imap]\nafter = "delete"\n', ["imap.after", "none, seen or move:FOLDER"],
                 id="after"),
    pytest.param('[imap]\nafter = "move:"\n', ["imap.after", "move:FOLDER"],
                 id="after-move-without-folder"),
    pytest.param("db = 5\n", ["db = 5", "a string"], id="db-not-a-string"),
    pytest.param("[run]\nconvert_timeout = -1\n", ["run.convert_timeout", "greater than 0"],
                 id="convert-timeout"),
    pytest.param("[imap\nhost = 1\n", ["not valid TOML"], id="broken-toml"),
    pytest.param(b'[imap]\nhost = "\xff\xfe"\n', ["not valid TOML"], id="not-utf-8"),
])
def test_bad_file(tmp_path: Path, text: str | bytes, words: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path, env={})
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert caught.value.exit_code == ExitCode.CONFIG


# --------------------------------------------------------------------------- bad environment
@pytest.mark.parametrize(("env", "words"), [
    pytest.param({"LDN_INBOX_IMAP_PORT": "abc"},
                 ["$LDN_INBOX_IMAP_PORT: imap.port = 'abc'", "a whole number"], id="port"),
    pytest.param({"LDN_INBOX_IMAP_PORT": "-1"}, ["$LDN_INBOX_IMAP_PORT", "TCP port"],
                 id="port-range"),
    pytest.param({"LDN_INBOX_IMAP_TLS": "ssl"},
                 ["$LDN_INBOX_IMAP_TLS: imap.tls", "implicit, starttls, none"], id="tls"),
    pytest.param({"LDN_INBOX_IMAP_KEYRING": "perhaps"},
                 ["$LDN_INBOX_IMAP_KEYRING", "true or false"], id="keyring"),
    pytest.param({"LDN_INBOX_IMAP_TIMEOUT": "soon"}, ["$LDN_INBOX_IMAP_TIMEOUT", "a number"],
                 id="timeout"),
    pytest.param({"LDN_INBOX_IMAP_AFTER": "archive"},
                 ["$LDN_INBOX_IMAP_AFTER", "none, seen or move:FOLDER"], id="after"),
    pytest.param({"LDN_INBOX_RUN_CONVERT_TIMEOUT": "0"},
                 ["$LDN_INBOX_RUN_CONVERT_TIMEOUT", "greater than 0"], id="convert-timeout"),
])
def test_bad_environment(tmp_path: Path, env: dict[str, str], words: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, ""), env=env)
    for word in words:
        assert word in str(caught.value), f"{word!r} not in {caught.value}"


def test_bad_environment_value_wins_over_a_good_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[imap]\nport = 993\n")
    with pytest.raises(ConfigError, match=r"\$LDN_INBOX_IMAP_PORT"):
        load(path, env={"LDN_INBOX_IMAP_PORT": "imaps"})


# --------------------------------------------------------------------------- which file
def test_named_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="does not exist"):
        load(missing, env={})
    with pytest.raises(ConfigError, match="LDN_INBOX_CONFIG"):
        load(None, env={"LDN_INBOX_CONFIG": str(missing)})


def test_file_from_environment_and_default_location(env: Path, tmp_path: Path) -> None:
    named = write(tmp_path, '[imap]\nhost = "named.example.org"\n')
    assert load(None, env={"LDN_INBOX_CONFIG": str(named)})["imap.host"] == "named.example.org"
    # no file at the default location: defaults, no error
    assert load(None, env={}).path is None
    default = config.default_config_path()
    assert default == env / ".config" / "ldn-inbox" / "config.toml"
    default.parent.mkdir(parents=True)
    default.write_text('[imap]\nhost = "default.example.org"\n', encoding="utf-8")
    loaded = load(None, env={})
    assert (loaded.path, loaded["imap.host"]) == (default, "default.example.org")
    # --config wins over $LDN_INBOX_CONFIG, which wins over the default location
    other = tmp_path / "other.toml"
    other.write_text('[imap]\nhost = "other.example.org"\n', encoding="utf-8")
    assert load(other, env={"LDN_INBOX_CONFIG": str(named)})["imap.host"] == "other.example.org"


# --------------------------------------------------------------------------- overrides
def test_command_line_overrides(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, "[imap]\nport = 993\n"), env={"LDN_INBOX_IMAP_HOST": "e"})
    changed = loaded.with_overrides({"imap.port": "143", "imap.host": None,
                                     "imap.tls": "starttls"})
    assert (changed["imap.port"], changed["imap.host"], changed["imap.tls"]) == (
        143, "e", "starttls")
    assert changed.origins["imap.port"] == "command line"
    assert changed.origins["imap.host"] == "environment"
    assert loaded["imap.port"] == 993, "the original is unchanged"
    with pytest.raises(ConfigError, match=r"imap\.tls.*allowed values"):
        loaded.with_overrides({"imap.tls": "ssl"})
    with pytest.raises(ConfigError, match=r"unknown key 'imap\.colour'"):
        loaded.with_overrides({"imap.colour": "blue"})


def test_redacted_masks_secrets(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, '[imap]\npassword = "hunter2"\n'),
                  env={"LDN_INBOX_DB": "postgresql+psycopg://ldn:s3cret@db.example.org/ldn"})
    shown = loaded.redacted()
    assert shown["imap"]["password"] == "********"
    assert shown[""]["db"] == "postgresql+psycopg://ldn:***@db.example.org/ldn"
    assert "hunter2" not in repr(shown)
    assert "s3cret" not in repr(shown)
    assert loaded["imap.password"] == "hunter2", "only the display is masked"
    empty = load(write(tmp_path, ""), env={}).redacted()
    assert empty["imap"]["password"] == "", "an unset secret is shown as unset"
