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

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.config import Config, user_data_dir
from ldn_inbox.errors import ConfigError
from ldn_inbox.store.models import Contact, DatabaseFact, Message

KEY_BYTES = 32


def normalize_address(address: str) -> str:
    return address.strip().strip("<>").lower()


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


def checked_key(session: Session, path: Path) -> bytes:
    """The pseudonym key at ``path``, refused unless it is the key this database's
    respondent ids were made with: a different key would silently give every known
    respondent a new id. A database without pseudonyms yet records the key's fingerprint
    (creating the key, mode 0600, when there is none); one made before fingerprints were
    recorded has the key checked against a stored contact first. Commits what it records.

    :raises ConfigError: the key file is missing or holds another key
    """
    fact = session.get(DatabaseFact, FINGERPRINT_FACT)
    has_pseudonyms = session.scalar(
        sa.select(Message.id).where(Message.respondent_id.is_not(None)).limit(1)) is not None
    if not path.exists() and (fact is not None or has_pseudonyms):
        made_with = f" (fingerprint {fact.value})" if fact is not None else ""
        raise ConfigError(
            f"privacy.key_file {path} does not exist, but this database's respondent ids "
            f"were made with a key{made_with}: put that key file back at {path} or point "
            "privacy.key_file at it; a new key would change every respondent_id")
    key = load_key(path)
    fingerprint = key_fingerprint(key)
    if fact is not None:
        if fact.value != fingerprint:
            raise ConfigError(
                f"privacy.key_file {path} holds another key (fingerprint {fingerprint}) than "
                f"the one this database's respondent ids were made with ({fact.value}): "
                "point privacy.key_file at that key; with this one every respondent_id "
                "would change")
        return key
    contact = session.scalars(sa.select(Contact).limit(1)).first()
    if contact is not None and respondent_id(contact.address, key) != contact.respondent_id:
        raise ConfigError(
            f"privacy.key_file {path} does not give the respondent ids stored in this "
            "database: point privacy.key_file at the key they were made with")
    session.add(DatabaseFact(name=FINGERPRINT_FACT, value=fingerprint))
    try:
        session.commit()
    except sa.exc.IntegrityError:  # another run recorded it first: compare with that
        session.rollback()
        return checked_key(session, path)
    return key


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
