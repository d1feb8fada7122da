"""How the large columns are kept: raw bytes and the kept texts, compressed with zlib.

Raw messages: ``raw_messages.data`` holds the bytes as ``raw_messages.codec`` says: NULL for
the bytes as they came (every row stored before revision 0008, and a message zlib does not
make smaller), ``zlib`` for a zlib stream of them. ``sha256`` and ``size`` are always those of
the original bytes. :func:`unpack` is the one way back to those bytes.

Kept texts (a message's quoted text, an extraction's learn text): a zlib stream of the UTF-8
text in ``*_packed``; rows written before revision 0008 hold plain text in the old column
(read by :func:`unpack_text` as well, cleared when the value is written again). The learn
text is lines of the quoted text, so it is kept as a reference to that text instead of a
second copy: when it is a run of the quoted text's lines that each start with "> ", that
mark taken off (a quoted mailing no known mailing explains, the usual case), as the byte
0x01 and the run's first line and length in ASCII (no zlib stream starts with that byte:
the low four bits of a zlib stream's first byte are 8, deflate); otherwise as a zlib stream
with the quoted text as its preset dictionary, which takes a few bytes where it repeats that
text. One coding writes both (packed where it was coded, ``flow.coder.Outcome.pack``);
``purge`` and ``forget`` drop both.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable

from ldn_inbox.errors import DatabaseError

ZLIB = "zlib"
#: A fast level: a run's own process packs every message, its workers every quoted text, so
#: speed counts more than the last bytes. The streams are written by ISA-L (``isal``), which
#: makes zlib streams like zlib's own (any zlib reads them) at a third of its CPU: on the
#: IMAP benchmark's replies its level 1 keeps 0.31 of the bytes at 0.05 ms a message, zlib's
#: level 1 0.31 at 0.15 ms, zlib's default level 6 0.27 at 0.46 ms; lzma 0.25 at 1 MiB/s.
LEVEL = 1
#: the level for a text packed against another: level 1 hardly finds the long matches in the
#: dictionary (a learn text kept 0.29 of its bytes), level 6 does (0.05) at about 30 MiB/s
REFERRING_LEVEL = 6
#: The first byte of a text kept as lines of another (see the module's docstring).
_LINES = 0x01


@functools.cache
def _compressor() -> Callable[[bytes, int], bytes]:
    """ISA-L's compress, zlib's own where ISA-L is missing (imported when first needed)."""
    try:
        from isal.isal_zlib import compress
    except ImportError:  # pragma: no cover - a platform without its wheel
        return zlib.compress
    return compress


def _deflate(data: bytes) -> bytes:
    """A zlib stream of ``data`` at :data:`LEVEL`."""
    return _compressor()(data, LEVEL)


def pack(data: bytes) -> tuple[bytes, str | None]:
    """``data`` as stored, and its codec: zlib when that is smaller, else the bytes as is."""
    packed = _deflate(data)
    return (packed, ZLIB) if len(packed) < len(data) else (data, None)


def unpack(stored: bytes | None, codec: str | None) -> bytes | None:
    """The original bytes of a raw message stored as ``stored`` with ``codec`` (None when
    the bytes were purged).

    :raises DatabaseError: an unknown codec (written by a newer ldn-inbox)
    """
    if stored is None or codec is None:
        return stored
    if codec == ZLIB:
        return zlib.decompress(stored)
    raise DatabaseError(f"raw message stored with an unknown codec {codec!r}: "
                        "upgrade ldn-inbox to read it")


def pack_text(text: str | None, against: str | None = None) -> bytes | None:
    """``text`` as a ``*_packed`` column keeps it; with ``against`` (a text kept beside it,
    e.g. the quoted text that the learn text is a part of), the zlib stream refers to that
    text instead of repeating it, and needs it back to be read (:func:`unpack_text`)."""
    if text is None:
        return None
    if not against:
        return _deflate(text.encode("utf-8", "surrogatepass"))
    first = _quoted_run(text, against)
    if first is not None:  # (a string search: a tenth of the time zlib takes to refer)
        return bytes((_LINES,)) + f"{first} {text.count(chr(10)) + 1}".encode("ascii")
    packer = zlib.compressobj(REFERRING_LEVEL, zdict=_dictionary(against))
    return packer.compress(text.encode("utf-8", "surrogatepass")) + packer.flush()


def _quoted_run(text: str, against: str) -> int | None:
    """The number of the first of the lines of ``against`` that are the lines of ``text``
    each with "> " before it, None when there are none such."""
    at = ("\n" + against + "\n").find("\n> " + text.replace("\n", "\n> ") + "\n")
    return None if at < 0 else against.count("\n", 0, at)


def needs_text(packed: bytes | None) -> bool:
    """Whether ``packed`` was packed against another text (lines of it, or a zlib stream
    with the FDICT flag)."""
    return packed is not None and len(packed) > 1 and (packed[0] == _LINES
                                                       or bool(packed[1] & 0x20))


def unpack_text(packed: bytes | None, plain: str | None = None,
                against: str | None = None) -> str | None:
    """The text kept as ``packed`` (:func:`pack_text`, with the same ``against``), else
    ``plain`` (a row written before the texts were packed).

    :raises DatabaseError: ``packed`` refers to a text and none (or another one) is given
    """
    if packed is None:
        return plain
    if not needs_text(packed):
        return zlib.decompress(packed).decode("utf-8", "surrogatepass")
    if not against:
        raise DatabaseError("a kept text refers to a quoted text that is gone")
    if packed[0] == _LINES:
        first, count = map(int, packed[1:].split())
        run = "\n".join(against.split("\n", first + count)[first:first + count])
        # (each line of the run starts with "> ": the first, and one after each line break)
        if run[:2] != "> " or run.count("\n> ") != count - 1:
            raise DatabaseError("a kept text refers to a quoted text that changed")
        return run[2:].replace("\n> ", "\n")
    try:
        unpacker = zlib.decompressobj(zdict=_dictionary(against))
        data = unpacker.decompress(packed) + unpacker.flush()
    except zlib.error:
        raise DatabaseError("a kept text refers to a quoted text that changed") from None
    return data.decode("utf-8", "surrogatepass")


def _dictionary(text: str) -> bytes:
    # zlib looks back 32 KiB at most: the end of the text is what it can refer to
    return text.encode("utf-8", "surrogatepass")[-32768:]
