"""Messages from the file system: .eml files, directories (recursive), mbox files, maildirs.

Everything is streamed: one message in memory at a time, whatever the size of the mailbox.
"""

from __future__ import annotations

import mailbox
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ldn_inbox.errors import SourceError
from ldn_inbox.sources.base import RawItem, Skipped

#: Bytes read to decide what a file is.
_SNIFF_BYTES = 4096
_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]{1,76}:[ \t]?", re.MULTILINE)
_MBOX_START = re.compile(rb"^From \S*")
_SKIP_NAMES = {".DS_Store", "dovecot-uidlist", "dovecot-keywords", "dovecot.index",
               "dovecot.index.log", "dovecot.index.cache", "maildirfolder", "subscriptions"}


def is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


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


def _read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_SNIFF_BYTES)


def iter_mbox(path: Path) -> Iterator[RawItem]:
    try:
        box = mailbox.mbox(str(path), create=False)
    except (OSError, mailbox.Error) as exc:
        raise SourceError(f"cannot open mbox {path}: {exc}") from None
    location = str(path.resolve())
    try:
        for index, key in enumerate(box.iterkeys()):
            yield RawItem(box.get_bytes(key), "mbox", location, str(index))
    finally:
        box.close()


def iter_maildir(path: Path) -> Iterator[RawItem]:
    location = str(path.resolve())
    folders = [path]
    # Maildir++ subfolders (.Sent, .Archive ...) are maildirs inside the maildir.
    folders += sorted(p for p in path.iterdir() if p.name.startswith(".") and is_maildir(p))
    for folder in folders:
        box = mailbox.Maildir(str(folder), factory=None, create=False)
        sub = "" if folder == path else folder.name + "/"
        for key in sorted(box.iterkeys()):
            try:
                data = box.get_bytes(key)
            except (OSError, KeyError):
                continue  # removed by a mail client while we read: not ours to keep
            yield RawItem(data, "maildir", location, sub + key)


def iter_path(path: Path, skipped: list[Skipped], *, explicit: bool = True) -> Iterator[RawItem]:
    """Messages found at ``path``; files that are not mail are added to ``skipped``."""
    if path.is_dir():
        if is_maildir(path):
            yield from iter_maildir(path)
            return
        for root, dirs, files in os.walk(path):
            dirs.sort()
            root_path = Path(root)
            for name in list(dirs):
                if is_maildir(root_path / name):
                    dirs.remove(name)
                    yield from iter_maildir(root_path / name)
            for name in sorted(files):
                if name in _SKIP_NAMES:
                    continue
                yield from iter_path(root_path / name, skipped, explicit=False)
        return
    if not path.exists():
        if explicit:
            raise SourceError(f"{path} does not exist")
        return
    try:
        head = _read_head(path)
    except OSError as exc:
        if explicit:
            raise SourceError(f"cannot read {path}: {exc.strerror}") from None
        skipped.append(Skipped(str(path), f"unreadable: {exc.strerror}"))
        return
    kind = sniff(head)
    if kind == "mbox":
        yield from iter_mbox(path)
    elif kind == "eml" or (kind == "other" and path.suffix.lower() == ".eml"):
        yield RawItem(path.read_bytes(), "file", str(path.resolve()))
    elif kind == "empty":
        skipped.append(Skipped(str(path), "empty file"))
    else:
        skipped.append(Skipped(str(path), "not an e-mail message (no header lines)"))


def iter_paths(paths: Iterable[Path], skipped: list[Skipped]) -> Iterator[RawItem]:
    for path in paths:
        yield from iter_path(path, skipped)
