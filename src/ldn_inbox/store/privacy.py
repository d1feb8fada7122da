"""Respondent pseudonyms: a keyed hash of the normalised address, the key outside the database.

Analysts see ``respondent_id`` only; who it is lives in the contacts table alone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import IO, Any

from ldn_inbox.config import Config, user_data_dir
from ldn_inbox.errors import ConfigError

KEY_BYTES = 32


def normalize_address(address: str) -> str:
    return address.strip().strip("<>").lower()


def key_path(config: Config) -> Path:
    configured = config["privacy.key_file"]
    return Path(configured).expanduser() if configured else user_data_dir() / "ldn-inbox.key"


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


#: Files that hold personal data: readable and writable by their owner only.
PRIVATE_MODE = 0o600


def open_private(path: Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """``path`` opened for writing (created, or emptied) with mode 0600 whatever the umask:
    exports, reports and review state hold personal data. A device or a pipe given as the
    path (``-o /dev/stdout``) is written to as it is."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_MODE)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, PRIVATE_MODE)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def create_private(path: Path) -> None:
    """Create (or empty) ``path`` with mode 0600, for a library that then writes to it by
    name (an existing file keeps its mode when it is rewritten)."""
    open_private(path, "wb").close()


def respondent_id(address: str, key: bytes) -> str:
    """Pseudonym of an address: HMAC-SHA256, hex, first 32 characters."""
    digest = hmac.new(key, normalize_address(address).encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:32]
