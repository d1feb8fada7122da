"""Messages from the file system: .eml files, directories (recursive), mbox files, maildirs.

Everything is streamed: one message in memory at a time, whatever the size of the mailbox,
and no message larger than ``max_bytes`` (``imap.max_message_bytes``): of a larger one only
the header is kept, with an error saying so (``ldn-inbox errors``).

Only regular files are read. A path named on the command line is taken as given (a symbolic
link there is followed); inside it, a symbolic link is followed only to a regular file within
the same tree, and devices, FIFOs and sockets are never opened: each is skipped with the
reason. A file that cannot be read is skipped; nothing a file holds stops the others.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ldn_inbox.errors import SourceError
from ldn_inbox.sources.base import MAX_MESSAGE_BYTES, RawItem, Skipped

#: Bytes read to decide what a file is.
_SNIFF_BYTES = 4096
#: Of a message over the size limit, at most this much header is kept.
_HEADER_BYTES = 256 * 1024
#: mbox files are read in pieces of at most this many bytes (a line may be longer).
_PIECE_BYTES = 64 * 1024
_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]{1,76}:[ \t]?", re.MULTILINE)
_MBOX_START = re.compile(rb"^From \S*")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_SKIP_NAMES = {".DS_Store", "dovecot-uidlist", "dovecot-keywords", "dovecot.index",
               "dovecot.index.log", "dovecot.index.cache", "maildirfolder", "subscriptions"}

# A "From " line separates two messages of an mbox only when it is a real envelope line,
# "From SENDER DATE", as mutt's is_from() requires: a reply's "From my experience, ..." is
# part of its body. DATE as asctime() writes it (with an optional zone, as older mailers
# wrote), or as RFC 5322 writes it (Thunderbird's "From - Thu, 24 Nov 2022 19:06:16 GMT").
_DAY = rb"(?:mon|tue|wed|thu|fri|sat|sun)"
_MONTH = rb"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
_TIME = rb"\d{1,2}:\d{2}(?::\d{2})?"
_ZONE = rb"(?:[a-z]{1,5}|[+-]\d{4})"
_ASCTIME = (_DAY + rb",? +" + _MONTH + rb" +\d{1,2} +" + _TIME + rb"(?: +" + _ZONE
            + rb"){0,2} +\d{4}(?: +" + _ZONE + rb")?")
_RFC5322 = (rb"(?:" + _DAY + rb", *)?\d{1,2} +" + _MONTH + rb" +\d{4} +" + _TIME
            + rb"(?: +" + _ZONE + rb")?")
_SEPARATOR = re.compile(rb"From (?:\"[^\"\r\n]*\"\S*|\S+)? +(?:" + _ASCTIME + rb"|"
                        + _RFC5322 + rb") *(?:remote from \S+)?\r?\n", re.IGNORECASE)


def is_envelope_line(line: bytes) -> bool:
    """Whether ``line`` (with its newline) is an mbox "From SENDER DATE" separator."""
    return _SEPARATOR.fullmatch(line) is not None


def _is_dir(path: Path) -> bool:
    """A directory itself, not a symbolic link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def is_maildir(path: Path) -> bool:
    return all(_is_dir(path / sub) for sub in ("cur", "new", "tmp"))


def sniff(head: bytes) -> str:
    """Classify the start of a file: ``mbox``, ``eml``, ``empty`` or ``other``."""
    if not head.strip():
        return "empty"
    if _MBOX_START.match(head):
        return "mbox"
    stripped = head.lstrip(b"\xef\xbb\xbf\r\n")
    first_line = stripped.split(b"\n", 1)[0]
    if _HEADER_LINE.match(first_line):
        return "eml"
    return "other"


def _not_regular(mode: int) -> str | None:
    """Why a file of this mode is not read, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO): not read"
    if stat.S_ISSOCK(mode):
        return "a socket: not read"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device: not read"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file: not read"


def _header_of(data: bytes | bytearray) -> bytes:
    """The header (up to the blank line) of a message's first bytes, at most 256 KiB."""
    match = _HEADER_END.search(data, 0, _HEADER_BYTES + 4)
    end = match.end() if match else min(len(data), _HEADER_BYTES)
    return bytes(data[:end])


def _too_big(size: int, limit: int, where: str) -> str:
    return (f"message of {size} bytes is larger than imap.max_message_bytes = {limit}: "
            f"only its header was stored ({where})")


class _Reader:
    """Walks the paths given to one import, collecting what it skips and why."""

    def __init__(self, skipped: list[Skipped], max_bytes: int) -> None:
        self.skipped = skipped
        self.max_bytes = max_bytes

    def skip(self, path: Path | str, reason: str) -> None:
        self.skipped.append(Skipped(str(path), reason))

    # ------------------------------------------------------------------ walking
    def top(self, path: Path) -> Iterator[RawItem]:
        """A path named on the command line (checked to exist beforehand)."""
        root = path.resolve()
        if root.is_dir():
            if is_maildir(root):
                yield from self.maildir(root, root)
            else:
                yield from self.tree(root)
            return
        yield from self.file(root, root.parent)

    def tree(self, root: Path) -> Iterator[RawItem]:
        def unlisted(exc: OSError) -> None:
            self.skip(exc.filename or root, f"cannot list directory: {exc.strerror}")

        for here, dirs, files in os.walk(root, onerror=unlisted):
            dirs.sort()
            base = Path(here)
            for name in list(dirs):
                sub = base / name
                if os.path.islink(sub):
                    dirs.remove(name)
                    self.skip(sub, "a symbolic link to a directory: not followed")
                elif is_maildir(sub):
                    dirs.remove(name)
                    yield from self.maildir(sub, root)
            for name in sorted(files):
                if name not in _SKIP_NAMES:
                    yield from self.file(base / name, root)

    def maildir(self, path: Path, root: Path) -> Iterator[RawItem]:
        location = str(path)
        folders = [path]
        # Maildir++ subfolders (.Sent, .Archive ...) are maildirs inside the maildir.
        try:
            folders += sorted(p for p in path.iterdir()
                              if p.name.startswith(".") and is_maildir(p))
        except OSError as exc:
            self.skip(path, f"cannot list directory: {exc.strerror}")
        for folder in folders:
            prefix = "" if folder == path else folder.name + "/"
            entries: list[tuple[str, Path]] = []
            for sub in ("new", "cur"):
                try:
                    names = os.listdir(folder / sub)
                except OSError as exc:
                    self.skip(folder / sub, f"cannot list directory: {exc.strerror}")
                    continue
                # the maildir key is the unique name before the ":2,FLAGS" info
                entries += [(name.split(":")[0], folder / sub / name) for name in names
                            if not name.startswith(".")]
            for key, file in sorted(entries):
                found = self.read(file, root)
                if found is None:
                    continue
                data, size = found
                error = (_too_big(size, self.max_bytes, str(file)) if size > self.max_bytes
                         else None)
                yield RawItem(data, "maildir", location, prefix + key, store_error=error)

    # ------------------------------------------------------------------ files
    def _regular(self, path: Path, root: Path) -> Path | None:
        """The path to open for ``path`` (itself, or a link's target inside ``root``), or
        None when it is skipped."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.skip(path, f"unreadable: {exc.strerror}")
            return None
        if stat.S_ISLNK(mode):
            target = Path(os.path.realpath(path))
            if os.path.commonpath([root, target]) != str(root):
                self.skip(path, "a symbolic link out of the imported directory: not followed")
                return None
            try:
                mode = os.stat(target).st_mode
            except OSError as exc:
                self.skip(path, f"a broken symbolic link: {exc.strerror}")
                return None
            path = target
        reason = _not_regular(mode)
        if reason is not None:
            self.skip(path, reason)
            return None
        return path

    def _open(self, path: Path) -> tuple[BinaryIO, int] | None:
        """``path`` opened for reading, never following a link and never blocking, with
        its size; None (and the reason recorded) unless it is a regular file."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            self.skip(path, f"unreadable: {exc.strerror}")
            return None
        info = os.fstat(fd)
        reason = _not_regular(info.st_mode)  # replaced since it was looked at
        if reason is not None:
            os.close(fd)
            self.skip(path, reason)
            return None
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info.st_size

    def read(self, path: Path, root: Path) -> tuple[bytes, int] | None:
        """A whole regular file and its size; of a file over ``max_bytes`` only the header.
        None when it is skipped (or gone: a mail client moved it while we read)."""
        target = self._regular(path, root)
        if target is None:
            return None
        opened = self._open(target)
        if opened is None:
            return None
        handle, size = opened
        with handle:
            try:
                data = handle.read(self.max_bytes + 1)
            except OSError as exc:
                self.skip(path, f"unreadable: {exc.strerror}")
                return None
        if len(data) > self.max_bytes:
            return _header_of(data), max(size, len(data))
        return data, len(data)

    def file(self, path: Path, root: Path) -> Iterator[RawItem]:
        target = self._regular(path, root)
        if target is None:
            return
        opened = self._open(target)
        if opened is None:
            return
        handle, size = opened
        with handle:
            try:
                head = handle.read(_SNIFF_BYTES)
                kind = sniff(head)
                if kind == "mbox":
                    handle.seek(0)
                    yield from self.mbox(handle, target)
                    return
                if kind == "empty":
                    self.skip(path, "empty file")
                    return
                if kind == "other" and path.suffix.lower() != ".eml":
                    self.skip(path, "not an e-mail message (no header lines)")
                    return
                rest = handle.read(self.max_bytes + 1 - len(head))
            except OSError as exc:
                self.skip(path, f"unreadable: {exc.strerror}")
                return
        data = head + rest
        if len(data) > self.max_bytes:
            yield RawItem(_header_of(data), "file", str(target),
                          store_error=_too_big(max(size, len(data)), self.max_bytes,
                                               str(target)))
        else:
            yield RawItem(data, "file", str(target))

    def mbox(self, handle: BinaryIO, path: Path) -> Iterator[RawItem]:
        """The messages of an mbox, split at envelope lines only, each cut as Python's
        ``mailbox.mbox`` cuts it (without its "From " line, and without the blank line
        before the next one).

        A "From " line is an envelope line when it names a sender and a date (mutt's
        rule); one without a date (Netscape's "From - ", test suites) only when a header
        field follows it. Any other "From " line is part of a body.
        """
        splitter = _MboxSplitter(str(path), self.max_bytes)
        try:
            while piece := handle.readline(_PIECE_BYTES):
                yield from splitter.feed(piece)
        except OSError as exc:
            self.skip(path, f"read error after {splitter.index + 1} message(s): "
                      f"{exc.strerror}")
            return
        yield from splitter.end()


class _MboxSplitter:
    """The state of splitting one mbox, fed a line (or a piece of a long line) at a time."""

    def __init__(self, location: str, max_bytes: int) -> None:
        self.location = location
        self.max_bytes = max_bytes
        self.index = -1
        self.message = bytearray()
        self.size = 0
        self.last_empty = False
        self.at_line_start = True
        self.pending: bytes | None = None  # a dateless "From " line: the next line decides

    def _done(self) -> RawItem:
        length = self.size - 1 if self.last_empty else self.size
        if length > self.max_bytes:
            return RawItem(_header_of(self.message), "mbox", self.location, str(self.index),
                           store_error=_too_big(length, self.max_bytes,
                                                f"{self.location}, message {self.index}"))
        return RawItem(bytes(self.message[:length]), "mbox", self.location, str(self.index))

    def _add(self, piece: bytes, line_start: bool) -> None:
        self.size += len(piece)
        if self.size <= self.max_bytes + 1:
            self.message += piece
        elif len(self.message) > _HEADER_BYTES:
            self.message = bytearray(_header_of(self.message))
        self.last_empty = line_start and piece == b"\n"

    def _start(self) -> Iterator[RawItem]:
        if self.index >= 0:
            yield self._done()
        self.index += 1
        self.message, self.size, self.last_empty = bytearray(), 0, False

    def feed(self, piece: bytes) -> Iterator[RawItem]:
        line_start, self.at_line_start = self.at_line_start, piece.endswith(b"\n")
        if self.pending is not None:
            held, self.pending = self.pending, None
            if line_start and _HEADER_LINE.match(piece):
                yield from self._start()
            else:
                self._add(held, True)
        if line_start and piece.startswith(b"From "):
            if self.index < 0 or is_envelope_line(piece):
                yield from self._start()
                return
            if self.at_line_start:
                self.pending = piece
                return
        if self.index >= 0:
            self._add(piece, line_start)

    def end(self) -> Iterator[RawItem]:
        if self.pending is not None:
            self._add(self.pending, True)
        if self.index >= 0:
            yield self._done()


def iter_paths(paths: Iterable[Path], skipped: list[Skipped], *,
               max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[RawItem]:
    """Messages found at ``paths``; what is passed over is added to ``skipped`` with the
    reason. Raises :class:`SourceError` before reading anything when a path does not exist.
    """
    paths = list(paths)
    for path in paths:
        if not os.path.exists(path):
            raise SourceError(f"{path} does not exist")
    reader = _Reader(skipped, max_bytes)
    for path in paths:
        yield from reader.top(Path(path))
