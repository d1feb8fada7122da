"""Text for a terminal: nothing a message, a file name or a server sends may drive it.

An escape sequence in a subject (window title, OSC 52 clipboard write, hidden text, clear
screen) or a line break in a file name (a forged log line) must reach a terminal as inert
text. Two ways, by what the text is:

* :func:`strip` for message text on the review screen: escape sequences (ECMA-48 CSI, OSC,
  DCS, SOS, PM, APC and two-character ones, in their 7- and 8-bit forms) are removed whole,
  then every other C0 and C1 control but line feed and tab;
* :func:`printable` and :func:`one_line` for names, ids and messages on the command line:
  control characters are shown as ``\\xNN``, so the reader sees that something was there.
"""

from __future__ import annotations

import re

_SEQUENCE = (
    # control strings (OSC, DCS, SOS, PM, APC) up to BEL or ST, or at most to the line end
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    # CSI: parameters, intermediates, final byte
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    # any other escape sequence: intermediates and a final byte
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
_UNSAFE = re.compile(_SEQUENCE + r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_LF = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def strip(text: str, *, lines: bool = True) -> str:
    """``text`` without escape sequences and control characters (line feeds and tabs kept
    when ``lines``; else a line feed becomes a space)."""
    text = _UNSAFE.sub("", text)
    return text if lines else text.replace("\n", " ")


def strip_mapped(text: str) -> tuple[str, list[int]]:
    """:func:`strip` (lines kept), and where each position of ``text`` (and its end) is in
    the result, so that spans found in the original (evidence) can be placed on it."""
    pieces: list[str] = []
    where: list[int] = []
    kept = 0
    last = 0
    for match in _UNSAFE.finditer(text):
        pieces.append(text[last:match.start()])
        where.extend(range(kept, kept + match.start() - last))
        kept += match.start() - last
        where.extend([kept] * (match.end() - match.start()))
        last = match.end()
    pieces.append(text[last:])
    where.extend(range(kept, kept + len(text) - last + 1))
    return "".join(pieces), where


def printable(text: str) -> str:
    """``text`` with control characters (but line feed and tab) shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def one_line(text: str) -> str:
    """``text`` on one line: every control character, line feed included, as ``\\xNN``."""
    return _CONTROL_OR_LF.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


__all__ = ["one_line", "printable", "strip", "strip_mapped"]
