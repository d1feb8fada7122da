"""Respondent pseudonyms: a keyed hash of the normalised address, the key outside the database.

Analysts see ``respondent_id`` only; who it is lives in the contacts table alone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.errors import ConfigError

# the key file's functions live apart (no SQLAlchemy there); their old names stay here
from ldn_inbox.store.keyfile import FINGERPRINT_FACT as FINGERPRINT_FACT
from ldn_inbox.store.keyfile import KEY_BYTES as KEY_BYTES
from ldn_inbox.store.keyfile import PRIVATE_MODE as PRIVATE_MODE
from ldn_inbox.store.keyfile import key_fingerprint as key_fingerprint
from ldn_inbox.store.keyfile import key_path as key_path
from ldn_inbox.store.keyfile import load_key as load_key
from ldn_inbox.store.models import Contact, DatabaseFact, Message


def normalize_address(address: str) -> str:
    return address.strip().strip("<>").lower()


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
