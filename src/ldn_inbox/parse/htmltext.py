"""HTML mail bodies to plain text, keeping what reply isolation needs.

Parsed with lxml (never regexes, never rendered or executed): block elements become line
breaks, ``<blockquote>`` becomes ``> `` quoting as a plain-text client would write it, and
the markers mail clients put around quoted originals (Gmail's ``gmail_quote``, Outlook's
``divRplyFwdMsg`` / ``appendonsend``, Apple Mail's ``blockquote type=cite``) are kept as
quote depth or as a separator line.
"""

from __future__ import annotations

import lxml.html
from lxml import etree

#: Marker line emitted where Outlook starts the quoted original (see reply.py).
OUTLOOK_REPLY_MARKER = "-----ldn-inbox-original-message-----"

_BLOCK = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "ul",
}
_PARAGRAPH = {"p", "blockquote", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre"}
_SKIP = {"script", "style", "head", "title", "meta", "link", "noscript", "template", "object",
         "embed", "iframe", "svg", "math"}
#: Deeper nesting than this is flattened: a hostile message cannot recurse us to death.
_MAX_DEPTH = 200


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current: list[str] = []
        self.depth = 0
        self.line_depth = 0

    def text(self, value: str) -> None:
        if not value:
            return
        value = value.replace("\xa0", " ").replace("\r", "")
        if not self.current:
            self.line_depth = self.depth
            value = value.lstrip(" \t\n")
            if not value:
                return
        self.current.append(" ".join(value.split("\n")) if "\n" in value else value)

    def newline(self) -> None:
        if self.current:
            text = " ".join("".join(self.current).split())
            self.lines.append("> " * self.line_depth + text if text else "")
            self.current = []

    def blank(self) -> None:
        self.newline()
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def marker(self, text: str) -> None:
        self.newline()
        self.lines.append(text)

    def result(self) -> str:
        self.newline()
        out: list[str] = []
        for line in self.lines:
            if line == "" and out and out[-1] == "":
                continue
            out.append(line)
        return "\n".join(out).strip("\n")


def _open(tag: str, node: etree._Element, writer: _Writer) -> None:
    """What an element's start writes: the reply marker of a client's quote container, a
    line break before a block, a rule for <hr>."""
    ident = (node.attrib.get("id") or "").lower()
    classes = (node.attrib.get("class") or "").lower()
    if ident in ("divrplyfwdmsg", "appendonsend") or "gmail_attr" in classes:
        writer.newline()
        if ident in ("divrplyfwdmsg", "appendonsend"):
            writer.marker(OUTLOOK_REPLY_MARKER)
    if tag in _BLOCK:
        writer.newline()
    if tag == "hr":
        writer.marker("________________________________")


def _close(tag: str, writer: _Writer) -> None:
    """What an element's end writes: a blank line after a paragraph or an empty <br>, a line
    break after a block or <br>."""
    if tag in _PARAGRAPH or (tag == "br" and not writer.current):
        writer.blank()
    elif tag in _BLOCK or tag == "br":
        writer.newline()


def _walk(node: etree._Element, writer: _Writer, level: int) -> None:
    tag = node.tag.rsplit("}", 1)[-1].lower() if isinstance(node.tag, str) else ""
    if tag in _SKIP or not isinstance(node.tag, str):
        if node.tail:
            writer.text(node.tail)
        return
    is_quote = tag == "blockquote" and level < _MAX_DEPTH
    _open(tag, node, writer)
    if is_quote:
        writer.depth += 1
    if node.text:
        writer.text(node.text)
    if level < _MAX_DEPTH:
        for child in node:
            _walk(child, writer, level + 1)
    else:
        writer.text(" ".join(node.itertext()))
    if is_quote:
        writer.newline()
        writer.depth -= 1
    _close(tag, writer)
    if node.tail:
        writer.text(node.tail)


def html_to_text(html: str) -> str:
    """Plain text of an HTML document, with blockquotes as ``> `` lines."""
    if not html.strip():
        return ""
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    writer = _Writer()
    _walk(root, writer, 0)
    return writer.result()
