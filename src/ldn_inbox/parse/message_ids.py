"""Message-IDs: read from the header, normalised, or made from the bytes when missing.

Pure: the raw store keys messages by these, and the parser names the message it parsed.
"""

from __future__ import annotations

import hashlib
import re
from email.parser import BytesHeaderParser
from email.policy import compat32

MAX_MESSAGE_ID = 500
_HEADER_END = re.compile(rb"\r?\n\r?\n")
#: Header bytes scanned for the Message-ID; a 100,000-line header is not read to the end.
_HEADER_SCAN_BYTES = 256 * 1024


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def synthetic_message_id(data: bytes) -> str:
    """The codebook's id for a message without a Message-ID."""
    return "missing-" + sha256_hex(data)[:16]


def hash_message_id(message_id: str) -> str:
    return hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalize_message_id(value: str | None) -> str | None:
    """Strip brackets and white space from a Message-ID header value; None if empty."""
    if value is None:
        return None
    # NUL and other control characters cannot be stored in a PostgreSQL text column.
    text = " ".join(_CONTROL.sub("", str(value)).split()).strip()
    match = re.search(r"<([^<>]*)>", text)
    if match:
        text = match.group(1).strip()
    text = text.strip("<> ")
    if not text:
        return None
    if len(text) > MAX_MESSAGE_ID:
        text = text[: MAX_MESSAGE_ID - 17] + "#" + hash_message_id(text)[:16]
    return text


def message_id_of(data: bytes) -> str:
    """Message-ID (brackets stripped) read from the header only, or the synthetic id."""
    head = data[:_HEADER_SCAN_BYTES]
    match = _HEADER_END.search(head)
    if match:
        head = head[: match.start()]
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(head)
        value = headers.get("Message-ID")
    except Exception:  # a header the parser chokes on is no reason to lose the message
        value = None
    mid = normalize_message_id(str(value) if value is not None else None)
    return mid or synthetic_message_id(data)
