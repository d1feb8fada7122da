"""The pseudonym key's file: where it is, reading (or creating) it, its public fingerprint.
No SQLAlchemy here: a fetch with nothing new checks the key with the ``sqlite3`` module."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ldn_inbox.config import Config, user_data_dir
from ldn_inbox.errors import ConfigError

KEY_BYTES = 32
#: Files that hold personal data: readable and writable by their owner only.
PRIVATE_MODE = 0o600


def key_path(config: Config) -> Path:
    """``privacy.key_file``, else ``ldn-inbox.key`` beside the config file (the key belongs
    to the installation, not to whoever runs a command), else in the user data dir."""
    configured = config["privacy.key_file"]
    if configured:
        return Path(configured).expanduser()
    if config.path is not None:
        return config.path.parent.resolve() / "ldn-inbox.key"
    return user_data_dir() / "ldn-inbox.key"


#: Name of the database fact that holds the key's fingerprint.
FINGERPRINT_FACT = "pseudonym_key_fingerprint"


def key_fingerprint(key: bytes) -> str:
    """A short, public identifier of a pseudonym key (an HMAC of a fixed text: it tells
    keys apart without revealing them)."""
    return hmac.new(key, b"ldn-inbox pseudonym key fingerprint", hashlib.sha256).hexdigest()[:16]


def load_key(path: Path) -> bytes:
    """Read the pseudonym key, creating it (mode 0600) on first use.

    Two runs starting at once (an import beside the first fetch) must agree on one key: it
    is written whole to a private temporary file and linked into place, so a reader never
    sees a half-written key and the loser of the race reads the winner's."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_key(path)
        text = path.read_text("ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"privacy.key_file {path}: cannot read or create the pseudonym key ({exc}); "
            "point privacy.key_file at a writable path"
        ) from None
    if len(key) < 16:
        raise ConfigError(f"privacy.key_file {path}: key too short; delete it to make a new one "
                          "(existing pseudonyms then change)")
    return key


def _create_key(path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # atomic; fails when another run was first
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


__all__ = ["FINGERPRINT_FACT", "KEY_BYTES", "PRIVATE_MODE", "key_fingerprint", "key_path",
           "load_key"]
