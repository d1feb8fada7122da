"""Respondent pseudonyms: a keyed hash of the normalised address, the key outside the database.

Analysts see ``respondent_id`` only; who it is lives in the contacts table alone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ldn_inbox.config import Config, user_data_dir
from ldn_inbox.errors import ConfigError

KEY_BYTES = 32


def normalize_address(address: str) -> str:
    return address.strip().strip("<>").lower()


def key_path(config: Config) -> Path:
    configured = config["privacy.key_file"]
    return Path(configured).expanduser() if configured else user_data_dir() / "ldn-inbox.key"


def load_key(path: Path) -> bytes:
    """Read the pseudonym key, creating it (mode 0600) on first use."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(KEY_BYTES) + "\n")
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


def respondent_id(address: str, key: bytes) -> str:
    """Pseudonym of an address: HMAC-SHA256, hex, first 32 characters."""
    digest = hmac.new(key, normalize_address(address).encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:32]
