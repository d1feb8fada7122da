"""What every source yields: raw bytes and where they were found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ldn_inbox.limits import MAX_MESSAGE_BYTES as MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class RawItem:
    """One message as a source delivered it, before anything is parsed.

    :ivar data: the exact bytes.
    :ivar source_type: ``file``, ``mbox``, ``maildir`` or ``imap``.
    :ivar location: a file or directory path, or ``account/folder`` for IMAP.
    :ivar key: the position inside the location ("" for a lone file, the mbox index, the
        maildir key, ``UIDVALIDITY/UID``).
    :ivar received_at: when the source says it arrived (IMAP INTERNALDATE), if known.
    :ivar store_error: set when the bytes are knowingly incomplete (too large to fetch).
    """

    data: bytes
    source_type: str
    location: str
    key: str = ""
    received_at: datetime | None = None
    store_error: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A file a source passed over, and why (not e-mail, empty, unreadable)."""

    path: str
    reason: str
