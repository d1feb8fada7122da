"""Configuration: one TOML file, every key also settable by environment.

Where a value comes from, last one wins: built-in default, the config file (``--config``,
``$LDN_INBOX_CONFIG``, else ``config.toml`` in the platform's user config dir when it exists,
else :data:`SYSTEM_CONFIG` when it exists: the file a volunteer and the cron job share),
``LDN_INBOX_<SECTION>_<KEY>`` in the environment (top-level keys: ``LDN_INBOX_<KEY>``),
then command-line options. One table, :data:`SETTINGS`, drives validation, ``config show``
and the README's key table.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from ldn_inbox.errors import ConfigError
from ldn_inbox.limits import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

APP_NAME = "ldn-inbox"
ENV_PREFIX = "LDN_INBOX_"


@dataclass(frozen=True)
class Setting:
    """One configuration key: its section ('' for top level), type, default and help."""

    section: str
    key: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    secret: bool = False
    check: Callable[[Any], str | None] | None = None

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}" if self.section else self.key

    @property
    def env(self) -> str:
        parts = [self.section, self.key] if self.section else [self.key]
        return ENV_PREFIX + "_".join(p.upper() for p in parts)


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _after(value: Any) -> str | None:
    if value in ("none", "seen") or (value.startswith("move:") and len(value) > 5):
        return None
    return "must be none, seen or move:FOLDER (e.g. move:Processed)"


SETTINGS: tuple[Setting, ...] = (
    Setting("", "db", str, "sqlite:///ldn-inbox.sqlite",
            "SQLAlchemy URL of the database (sqlite:///path or postgresql+psycopg://...)"),
    Setting("imap", "account", str, "default",
            "A name for this mailbox in the fetch ledger (keep it stable)"),
    Setting("imap", "host", str, "", "IMAP server host name"),
    Setting("imap", "port", int, 0, "IMAP port; 0 means 993 for implicit TLS, else 143",
            check=lambda v: None if 0 <= v < 65536 else "must be a TCP port (1-65535) or 0"),
    Setting("imap", "tls", str, "implicit",
            "implicit (IMAPS), starttls, or none (only allowed for a loopback host)",
            choices=("implicit", "starttls", "none")),
    Setting("imap", "ca_file", str, "",
            "Extra CA bundle (PEM) trusted besides the system store; verification stays on"),
    Setting("imap", "username", str, "", "Login name"),
    Setting("imap", "password", str, "", "Password (prefer the environment or password_file)",
            secret=True),
    Setting("imap", "password_file", str, "", "File whose first line is the password"),
    Setting("imap", "password_command", str, "",
            "Command whose first line of output is the password"),
    Setting("imap", "keyring", bool, False,
            "Read the password from the system keyring (service ldn-inbox, the username)"),
    Setting("imap", "auth", str, "password", "password or xoauth2",
            choices=("password", "xoauth2")),
    Setting("imap", "token_command", str, "",
            "With auth = xoauth2: command printing a fresh OAuth2 access token"),
    Setting("imap", "folder", str, "INBOX", "Folder to read (non-ASCII names are fine)"),
    Setting("imap", "after", str, "none",
            "What to do with a fetched message: none (leave the mailbox as it is), seen, "
            "or move:FOLDER", check=_after),
    Setting("imap", "batch_size", int, 100, "Messages per UID FETCH", check=_positive),
    Setting("imap", "max_message_bytes", int, MAX_MESSAGE_BYTES,
            "Larger messages are stored as headers plus an error, never dropped (also for "
            "files: import)",
            check=_positive),
    Setting("imap", "timeout", float, 60.0, "Socket timeout in seconds", check=_positive),
    Setting("learn", "overlay_dir", str, "",
            "Directory where `ldn-inbox learn --apply` installs accepted lexicon overlays; "
            "default: overlays/ in the user data dir"),
    Setting("privacy", "key_file", str, "",
            "Key for respondent pseudonyms (HMAC); created with mode 0600 on first use. "
            "Default: ldn-inbox.key beside the config file (without one: in the user data "
            "dir)"),
    Setting("run", "lock_file", str, "",
            "Lock file that stops overlapping runs; default: next to a SQLite database, "
            "else in the user cache dir"),
    Setting("run", "convert_timeout", float, 10.0,
            "Seconds allowed to turn one HTML body or attachment into text", check=_positive),
    Setting("run", "message_timeout", float, 120.0,
            "Seconds allowed to parse and code one message; a slower one is quarantined "
            "with that error", check=_positive),
    Setting("run", "message_memory", int, 512,
            "MiB one message may take to parse and code beyond what its process holds; a "
            "message that needs more is quarantined with that error (0: no limit)",
            check=_not_negative),
    Setting("run", "workers", int, 0,
            "Processes that parse and code in a large run (0: one per CPU, at most 4; "
            "1: none besides the run itself)", check=_not_negative),
)

SETTING_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
#: What ``config show`` prints for a secret that is set.
MASK = "********"
SECTIONS: tuple[str, ...] = tuple(sorted({s.section for s in SETTINGS if s.section}))


@dataclass(frozen=True)
class Config:
    """The effective configuration: a validated, read-only mapping of name -> value."""

    values: Mapping[str, Any]
    origins: Mapping[str, str]
    path: Path | None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def redacted(self) -> dict[str, dict[str, Any]]:
        """Section ('' for the top-level keys, first) -> key -> value, secrets masked: what
        ``config show`` prints."""
        out: dict[str, dict[str, Any]] = {}
        for setting in sorted(SETTINGS, key=lambda s: bool(s.section)):
            value = self.values[setting.name]
            if setting.secret and value:
                value = MASK
            elif setting.name == "db" and value:
                value = hide_url_password(value)
            out.setdefault(setting.section, {})[setting.key] = value
        return out

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        values = dict(self.values)
        origins = dict(self.origins)
        for name, raw in overrides.items():
            if raw is None:
                continue
            setting = _lookup(name, "command line")
            values[name] = _coerce(setting, raw, "command line")
            origins[name] = "command line"
        return Config(values, origins, self.path)


def hide_url_password(url: str) -> str:
    """A database URL with its password masked (a PostgreSQL URL may carry one)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


#: The configuration shared by every user of the machine (volunteers, the cron job), read
#: when neither --config, $LDN_INBOX_CONFIG nor a user's own config.toml names another.
SYSTEM_CONFIG = Path("/etc/ldn-inbox/config.toml")


def default_config_path() -> Path:
    """The user's own config.toml when it exists, else the machine's shared one."""
    user = Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"
    return user if user.is_file() or not SYSTEM_CONFIG.is_file() else SYSTEM_CONFIG


def _beside(path: Path, value: str) -> str:
    """A relative path written in a config file, taken from the file's folder."""
    return value if not value or Path(value).expanduser().is_absolute() \
        else str(path.parent.resolve() / value)


def _anchor_paths(file_path: Path, values: dict[str, Any], origins: dict[str, str]) -> None:
    """Relative paths in a config file mean beside it, whatever the current folder: a
    volunteer and the cron job starting in different folders open the same database."""
    origin = str(file_path)
    db = values["db"]
    if origins["db"] == origin and db.startswith("sqlite:///"):
        rest = db[len("sqlite:///"):]
        if rest and not rest.startswith((":memory:", "file:", "~")):
            values["db"] = "sqlite:///" + _beside(file_path, rest)
    for name in ("privacy.key_file", "run.lock_file", "imap.password_file", "imap.ca_file"):
        if origins[name] == origin and not values[name].startswith("~"):
            values[name] = _beside(file_path, values[name])


def _lookup(name: str, origin: str) -> Setting:
    setting = SETTING_BY_NAME.get(name)
    if setting is None:
        known = ", ".join(SETTING_BY_NAME)
        raise ConfigError(f"{origin}: unknown key {name!r}. Known keys: {known}")
    return setting


def _coerce(setting: Setting, raw: Any, origin: str) -> Any:
    where = f"{origin}: {setting.name}"
    try:
        if setting.type is bool:
            if isinstance(raw, bool):
                value: Any = raw
            elif str(raw).strip().lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).strip().lower() in ("0", "false", "no", "off", ""):
                value = False
            else:
                raise ValueError(raw)
        elif setting.type is int:
            # int(993.5) would quietly give 993
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            value = int(raw)
        elif setting.type is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            value = float(raw)
        else:
            if not isinstance(raw, str):
                raise ValueError(raw)
            value = raw
    except (TypeError, ValueError):
        kind = {bool: "true or false", int: "a whole number", float: "a number"}.get(
            setting.type, "a string"
        )
        raise ConfigError(f"{where} = {raw!r} is not valid: it must be {kind}") from None
    if setting.choices and value not in setting.choices:
        raise ConfigError(
            f"{where} = {value!r} is not valid: allowed values are {', '.join(setting.choices)}"
        )
    if setting.check is not None:
        problem = setting.check(value)
        if problem:
            raise ConfigError(f"{where} = {value!r} is not valid: it {problem}")
    return value


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read defaults, the config file and the environment into a validated :class:`Config`.

    A config file named explicitly must exist; the default one is optional.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    origins: dict[str, str] = {s.name: "default" for s in SETTINGS}
    explicit = path or env.get(ENV_PREFIX + "CONFIG")
    file_path = Path(explicit) if explicit else default_config_path()
    if explicit and not file_path.is_file():
        raise ConfigError(
            f"config file {file_path} does not exist; create it or drop --config / "
            f"{ENV_PREFIX}CONFIG"
        )
    used_path: Path | None = None
    if file_path.is_file():
        used_path = file_path
        try:
            data = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file_path}: not valid TOML: {exc}") from None
        origin = str(file_path)
        for key, raw in data.items():
            if isinstance(raw, dict):
                if key not in SECTIONS:
                    raise ConfigError(
                        f"{origin}: unknown section [{key}]; sections are "
                        f"{', '.join(SECTIONS)}"
                    )
                for sub, subraw in raw.items():
                    setting = _lookup(f"{key}.{sub}", origin)
                    values[setting.name] = _coerce(setting, subraw, origin)
                    origins[setting.name] = origin
            else:
                setting = _lookup(key, origin)
                values[setting.name] = _coerce(setting, raw, origin)
                origins[setting.name] = origin
    if used_path is not None:
        _anchor_paths(used_path, values, origins)
        _warn_if_exposed(used_path, [s.name for s in SETTINGS
                                     if s.secret and origins[s.name] == str(used_path)])
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _coerce(setting, env[setting.env], f"${setting.env}")
            origins[setting.name] = "environment"
    return Config(values, origins, used_path)


def _warn_if_exposed(path: Path, secrets: list[str]) -> None:
    """Warn when a config file that holds a secret can be read by other users."""
    if not secrets:
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("config file %s holds %s and can be read by other users: chmod 600 it, "
                    "or move the secret to the environment or a password file",
                    path, ", ".join(secrets))


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))
