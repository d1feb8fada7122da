"""MIME parsing: raw bytes to a :class:`ParsedMessage` (headers, body text, attachments).

mail-parser does the parse; where it fails the standard library's lenient parser takes over
and the record says so (``parser = "stdlib"``). Body text is decoded part by part with the
declared charset, falling back to UTF-8 and then Windows-1252 (the usual truth behind a
wrong declaration), with RFC 3676 format=flowed undone and HTML-only mail converted to text.

Work per message is bounded before the expensive step: documents whose XML would unpack
beyond :data:`MAX_DOCUMENT_XML_BYTES` are not parsed, and no more than
:data:`MAX_TEXT_CHARS` of body text (or of an attachment's text) is decoded and handed on;
each cut is noted in ``problems``. A MemoryError is never taken for a broken part: it goes
up to the caller, which quarantines the message (see :func:`ldn_inbox.limits.memory_limit`).
"""

from __future__ import annotations

import codecs
import email
import email.utils
import functools
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.feedparser import BytesFeedParser
from email.header import Header, decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from ldn_inbox.limits import TimeLimitExceeded, time_limit
from ldn_inbox.parse.addresses import parse_sender
from ldn_inbox.parse.htmltext import html_to_text
from ldn_inbox.parse.message_ids import normalize_message_id, synthetic_message_id

#: Attachments larger than this are listed but not turned into text.
MAX_ATTACHMENT_TEXT_BYTES = 10_000_000
#: A zip-based document (docx, odt) whose members unpack to more than this is refused.
MAX_UNZIPPED_BYTES = 50_000_000
#: ... and one whose XML parts (parsed into trees of ten to fifteen times their size) unpack
#: to more than this: a long survey answer is well under 1 MB of XML.
MAX_DOCUMENT_XML_BYTES = 5_000_000
#: Body text, HTML converted to text and each attachment's text are cut to this many
#: characters (about 250 pages): reply isolation and extraction get bounded input.
MAX_TEXT_CHARS = 500_000
#: HTML larger than this is cut before conversion.
MAX_HTML_CHARS = 2_000_000
#: MIME parts beyond this count are not visited (a bomb of nested multiparts).
MAX_PARTS = 500

#: Headers kept for classification and review (lower-case names).
KEPT_HEADERS = (
    "from", "to", "subject", "date", "message-id", "in-reply-to", "references",
    "auto-submitted", "x-autoreply", "x-autorespond", "x-auto-response-suppress",
    "precedence", "return-path", "content-type", "content-language", "x-failed-recipients",
    "x-ms-exchange-message-is-ndr", "x-mailer", "user-agent", "list-id", "list-unsubscribe",
    "x-original-to", "delivered-to", "x-spam-flag", "x-spam-status",
)


@dataclass(frozen=True)
class Attachment:
    """An attached file: its name, MIME type, decoded size and, for text-like ones, text."""

    filename: str
    content_type: str
    size: int
    text: str | None = None
    error: str | None = None

    def summary(self) -> dict[str, Any]:
        return {"filename": self.filename, "content_type": self.content_type,
                "size": self.size, "has_text": self.text is not None, "error": self.error}


@dataclass
class ParsedMessage:
    """What the rest of the pipeline needs from one message.

    :ivar text: the body as plain text (text/plain preferred, else converted HTML),
        with quoted lines still in it; reply.py separates them.
    :ivar html_text: the HTML body converted to text, when there is no plain text body
        (only one of them is read).
    :ivar report_text: text of delivery-status parts (bounces), not part of ``text``.
    :ivar parser: ``mail-parser`` or ``stdlib`` (fallback).
    :ivar problems: what went wrong but did not stop the parse (defects, fallbacks, limits).
    :ivar unreadable: why the body could not be read at all (the message is then kept raw
        and quarantined rather than coded from its header alone), or None.
    """

    message_id: str
    subject: str = ""
    from_address: str = ""
    from_name: str = ""
    date: datetime | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    text: str = ""
    html_text: str = ""
    report_text: str = ""
    report_type: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    failed_recipients: list[str] = field(default_factory=list)
    returned_message_id: str | None = None
    parser: str = "mail-parser"
    problems: list[str] = field(default_factory=list)
    has_headers: bool = True
    unreadable: str | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def header_text(value: Any) -> str:
    """A header value as it came, before any RFC 2047 decoding."""
    if value is None:
        return ""
    if isinstance(value, Header):
        # Raw 8-bit bytes in a header (no encoded-word): UTF-8, else Windows-1252, as bodies.
        raw = b"".join(p if isinstance(p, bytes) else p.encode("utf-8", "surrogateescape")
                       for p, _ in decode_header(value))
        return decode_bytes(raw, None)[0]
    return str(value)


def _decode_header_value(value: Any) -> str:
    if value is None:
        return ""
    text = header_text(value)
    if "=?" not in text:
        decoded = text  # no encoded-word: what decoding would give back
    else:
        try:
            decoded = str(make_header(decode_header(text)))
        except Exception:  # unknown charset or broken encoded-word: keep it as it came
            decoded = text
    # Control characters (NUL, ESC sequences, DEL, C1) are dropped: a subject is printed
    # on terminals and stored in text columns.
    return " ".join(_HEADER_CONTROL.sub("", decoded).split())


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip('"').lower()
    # Mail declared as Latin-1 is in practice Windows-1252 (curly quotes, euro, ellipsis).
    if name in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "iso_8859-1"):
        name = "windows-1252" if name.startswith(("iso", "latin")) else "ascii"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(payload: bytes, charset: str | None, *,
                 complete: bool = True) -> tuple[str, str | None]:
    """Decode ``payload``; returns the text and a problem description or None. With
    ``complete=False`` the bytes are a first part cut anywhere: a character cut in two at
    the end is left out instead of making the whole decoding fail."""
    codec = _codec(charset)
    problem = None
    if charset and codec is None:
        problem = f"unknown charset {charset!r}"
    candidates = [c for c in (codec, "utf-8", "windows-1252") if c]
    for candidate in candidates:
        try:
            if complete:
                text = payload.decode(candidate)
            else:
                text = codecs.getincrementaldecoder(candidate)().decode(payload, final=False)
        except (UnicodeDecodeError, LookupError):
            continue
        if candidate != (codec or "utf-8") and codec is not None:
            problem = f"declared {charset} but decoded as {candidate}"
        return text.replace("\x00", "").replace("\ufeff", ""), problem
    return payload.decode("utf-8", "replace").replace("\x00", ""), "undecodable bytes replaced"


def unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: join soft-broken lines (ending in a space)."""
    out: list[str] = []
    buffer = ""
    buffer_depth = -1
    for raw_line in text.split("\n"):
        line = raw_line.rstrip("\r")
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        flowed = content.endswith(" ") and content != "-- "
        if buffer_depth >= 0 and depth != buffer_depth:
            out.append(">" * buffer_depth + (" " if buffer_depth else "") + buffer)
            buffer, buffer_depth = "", -1
        piece = content[:-1] if (flowed and delsp) else content
        buffer = buffer + piece if buffer_depth >= 0 else piece
        buffer_depth = depth
        if not flowed:
            out.append(">" * depth + (" " if depth and buffer else "") + buffer)
            buffer, buffer_depth = "", -1
    if buffer_depth >= 0:
        out.append(">" * buffer_depth + (" " if buffer_depth else "") + buffer)
    return "\n".join(out)


#: Bytes of one part decoded at most: enough for MAX_TEXT_CHARS in any charset.
_MAX_PART_BYTES = 4 * MAX_TEXT_CHARS


def _cut(text: str, what: str, problems: list[str]) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    problems.append(f"{what} cut to its first {MAX_TEXT_CHARS} characters (too large)")
    return text[:MAX_TEXT_CHARS]


def _part_text(part: Message, problems: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    complete = len(payload) <= _MAX_PART_BYTES
    if not complete:
        problems.append(f"a text part of {len(payload)} bytes: only its first "
                        f"{_MAX_PART_BYTES} bytes read")
        payload = payload[:_MAX_PART_BYTES]
    text, problem = decode_bytes(payload, part.get_content_charset(), complete=complete)
    if problem:
        problems.append(problem)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if part.get_param("format", "").lower() == "flowed":  # type: ignore[union-attr]
        text = unflow(text, str(part.get_param("delsp", "no")).lower() == "yes")
    return text


def _zip_is_safe(data: bytes) -> str | None:
    """Why a zip-based document is not opened, or None. The sizes are the archive's own
    declarations, which bound what it unpacks to: zipfile stops reading a member at its
    declared size (and then fails its CRC check)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        return f"not a valid document: {exc}"
    total = sum(info.file_size for info in members)
    if total > MAX_UNZIPPED_BYTES:
        return f"unpacks to {total} bytes: refused as a possible zip bomb"
    xml = sum(info.file_size for info in members
              if info.filename.lower().endswith((".xml", ".rels")))
    if xml > MAX_DOCUMENT_XML_BYTES:
        return (f"its XML unpacks to {xml} bytes, more than {MAX_DOCUMENT_XML_BYTES}: "
                "not parsed")
    return None


def _docx_text(data: bytes) -> str:
    import docx  # imported here: only needed for the rare .docx answer

    document = docx.Document(io.BytesIO(data))
    return "\n".join(paragraph.text for paragraph in document.paragraphs)


def _odt_text(data: bytes) -> str:
    from odf import teletype, text
    from odf.opendocument import load

    document = load(io.BytesIO(data))
    return "\n".join(teletype.extractText(p) for p in document.getElementsByType(text.P))


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n".join((page.extract_text() or "") for page in reader.pages[:50])


def attachment_text(filename: str, content_type: str, data: bytes, charset: str | None,
                    seconds: float) -> tuple[str | None, str | None]:
    """Text of a text-like attachment (.txt, .docx, .odt, .pdf), or (None, error)."""
    name = filename.lower()
    if len(data) > MAX_ATTACHMENT_TEXT_BYTES:
        return None, "too large to read as text"
    try:
        with time_limit(seconds):
            if content_type == "text/plain" or name.endswith(".txt"):
                text, _ = decode_bytes(data, charset)
                return text.replace("\r\n", "\n"), None
            if name.endswith(".docx") or content_type.endswith("wordprocessingml.document"):
                problem = _zip_is_safe(data)
                return (None, problem) if problem else (_docx_text(data), None)
            if name.endswith(".odt") or content_type == "application/vnd.oasis.opendocument.text":
                problem = _zip_is_safe(data)
                return (None, problem) if problem else (_odt_text(data), None)
            if name.endswith(".pdf") or content_type == "application/pdf":
                return _pdf_text(data), None
    except TimeLimitExceeded as exc:
        return None, f"text extraction {exc}"
    except MemoryError:
        raise  # over the message's memory limit: the whole message is quarantined
    except Exception as exc:  # a broken document is listed with its error, never fatal
        return None, f"cannot read as text: {type(exc).__name__}: {str(exc)[:200]}"
    return None, None


def _parse_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


_ADDRESS_IN_TEXT = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def _failed_recipients(part_text: str) -> list[str]:
    found: list[str] = []
    for line in part_text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("final-recipient", "original-recipient"):
            match = _ADDRESS_IN_TEXT.search(value)
            if match and match.group(0) not in found:
                found.append(match.group(0))
    return found


def _container(part: Message, ctype: str, parsed: ParsedMessage) -> list[Message] | None:
    """The parts a container holds, to be read next (None: ``part`` is a leaf). A message
    returned in a bounce gives only its id (its text is not the writer's); a delivery
    status report feeds the report text and the failed recipients."""
    if ctype in ("message/rfc822", "message/global"):
        # A returned or forwarded message: its id helps pair a bounce with what bounced.
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            if parsed.report_type:
                parsed.returned_message_id = normalize_message_id(inner[0].get("Message-ID"))
                return []
            return [inner[0]]
        return []
    if ctype == "text/rfc822-headers":
        return []
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        inner = part.get_payload()
        text = "\n".join(str(p) for p in inner) if isinstance(inner, list) \
            else _part_text(part, parsed.problems)
        parsed.report_text += text + "\n"
        parsed.failed_recipients += [
            r for r in _failed_recipients(text) if r not in parsed.failed_recipients]
        return []
    if not part.is_multipart():
        return None
    if ctype == "multipart/report":
        parsed.report_type = str(part.get_param("report-type", "")).lower()
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _attachment(part: Message, ctype: str, parsed: ParsedMessage,
                convert_timeout: float) -> bool:
    """Read ``part`` as an attachment when it is one (its text when it has some)."""
    disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    raw_name = part.get_filename()
    filename = _decode_header_value(raw_name) if raw_name else ""
    if not (disposition == "attachment" or filename or not ctype.startswith("text/")):
        return False
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    extracted, error = attachment_text(filename, ctype, data, part.get_content_charset(),
                                       convert_timeout)
    if extracted is not None:
        extracted = _cut(extracted, f"the text of {filename or 'an attachment'}",
                         parsed.problems)
    parsed.attachments.append(
        Attachment(filename or "(unnamed)", ctype, len(data), extracted, error))
    return True


def _html_body(html: list[str], parsed: ParsedMessage, convert_timeout: float) -> None:
    source = "\n".join(html)
    if len(source) > MAX_HTML_CHARS:
        parsed.problems.append("HTML body cut before conversion (too large)")
        source = source[:MAX_HTML_CHARS]
    try:
        with time_limit(convert_timeout):
            parsed.html_text = _cut(html_to_text(source), "the HTML body's text",
                                    parsed.problems)
    except TimeLimitExceeded as exc:
        parsed.problems.append(f"HTML conversion {exc}")


#: A plain-text part shorter than this beside an HTML part may be a stub of it.
_STUB_PLAIN = 160


def _walk(message: Message, parsed: ParsedMessage, convert_timeout: float) -> None:
    """Every part in order (depth first, at most MAX_PARTS): bodies, attachments, reports."""
    plain: list[str] = []
    html: list[str] = []
    stack: list[Message] = [message]
    count = 0
    while stack:
        part = stack.pop(0)
        count += 1
        if count > MAX_PARTS:
            parsed.problems.append(f"more than {MAX_PARTS} MIME parts: the rest not read")
            break
        ctype = part.get_content_type()
        inner = _container(part, ctype, parsed)
        if inner is not None:
            stack[0:0] = inner
        elif not _attachment(part, ctype, parsed, convert_timeout):
            (html if ctype == "text/html" else plain).append(_part_text(part, parsed.problems))
    text = "\n".join(t.strip("\n") for t in plain if t.strip())
    if html and len(text.strip()) < _STUB_PLAIN:
        # (HTML is converted only when there is no plain text to read, or a stub of one:
        # "Sent from my iPhone" beside an HTML part that holds the answers)
        _html_body(html, parsed, convert_timeout)
        if len(parsed.html_text.strip()) >= max(_STUB_PLAIN, 2 * len(text.strip())):
            text = ""
    parsed.text = _cut(text, "the body text", parsed.problems) or parsed.html_text
    parsed.report_text = _cut(parsed.report_text, "the delivery report", parsed.problems)


def _fill_headers(message: Message, parsed: ParsedMessage) -> None:
    # every header's values by lower-case name, in one pass (``get_all`` scans them all)
    values: dict[str, list[Any]] = {}
    for name, value in message.items():
        values.setdefault(name.lower(), []).append(value)
    for name in KEPT_HEADERS:
        if name in values:
            parsed.headers[name] = _decode_header_value(values[name][0])[:2000]
    parsed.subject = parsed.headers.get("subject", "")
    # the address comes from the raw header: a decoded display name must not supply it
    sender = parse_sender([header_text(v) for v in values.get("from", [])])
    parsed.from_name, parsed.from_address = sender.name, sender.address
    if sender.problem:
        parsed.problems.append(sender.problem)
    parsed.date = _parse_date(parsed.headers.get("date", ""))
    parsed.content_type = message.get_content_type()
    parsed.has_headers = any(values.get(h, [None])[0] for h in (
        "from", "date", "subject", "message-id", "content-type", "to", "received",
        "return-path"))
    for value in values.get("x-failed-recipients", []):
        for _, addr in email.utils.getaddresses([str(value)]):
            if addr and addr not in parsed.failed_recipients:
                parsed.failed_recipients.append(addr)


#: Bytes given to the MIME parser at a time.
_FEED_BYTES = 1 << 20


def message_from_bytes(data: bytes) -> Message:
    """What ``email.message_from_bytes`` returns (compat32), the bytes fed to the parser in
    pieces: the whole message is then never one decoded string beside all its lines (a 50 MB
    message took some 360 MiB to parse that way, about 130 MiB this way).

    A single-part message (most replies) has only its header parsed: its body is what the
    parser would have joined from its lines, so it is decoded in one go instead
    (:func:`_single_part`)."""
    message = _single_part(data)
    if message is not None:
        return message
    parser = BytesFeedParser(policy=compat32)
    view = memoryview(data)
    for start in range(0, len(data), _FEED_BYTES):
        parser.feed(bytes(view[start:start + _FEED_BYTES]))
    return parser.close()


#: The end of a header block: the first empty line.
_BLANK_LINE = re.compile(rb"\n\r?\n")
#: A header declaring parts (the header is then not worth parsing twice).
_CONTAINER_TYPE = re.compile(rb"(?im)^content-type:\s*\"?(?:multipart|message)/")


def _single_part(data: bytes) -> Message | None:
    """The message parsed from its header alone, its body set as the payload, when the
    parser would read nothing else: a header that ends at the first empty line and a type
    that is neither ``multipart`` nor ``message``. None otherwise (or when a bare CR could
    end a line: the parser splits lines there too)."""
    blank = _BLANK_LINE.search(data)
    if blank is None or blank.start() == 0 or _CONTAINER_TYPE.search(data, 0, blank.start()) \
            or b"\r" in data[:blank.start() + 1].replace(b"\r\n", b""):
        return None
    parser = BytesFeedParser(policy=compat32)
    parser.feed(data[:blank.end()])
    message = parser.close()
    # (a header line the parser did not take as one, or a trailing "From " line, would
    # have started the body before the empty line)
    if message.get_content_maintype() in ("multipart", "message") or message.get_payload():
        return None
    message.set_payload(str(memoryview(data)[blank.end():], "ascii", "surrogateescape"))
    return message


@functools.cache
def _mail_parser() -> type:
    """mail-parser's parser, without the two summary dictionaries it builds at the end of
    every parse (``mail``, ``mail_partial``: each header decoded again, the body joined).
    Only the message and the defects it found are read here, and those dictionaries took a
    fifth of mail-parser's time on a reply. Imported when first needed (a heavy import kept
    off the CLI's start-up path)."""
    import mailparser

    logging.getLogger("mailparser").setLevel(logging.ERROR)

    class MailParser(mailparser.MailParser):  # type: ignore[misc]
        def _make_mail(self, complete: bool = True) -> dict[str, Any]:
            return {}

    return MailParser


def parse(data: bytes, *, convert_timeout: float = 10.0) -> ParsedMessage:
    """Parse one message. Never raises on bad input: problems are recorded instead."""
    parsed = ParsedMessage(message_id="")
    message: Message | None = None
    body_readable = True
    try:
        mail = _mail_parser()(message_from_bytes(data))
        message = mail.message
        # (a set: sorted, so the same bytes always give the same list)
        parsed.problems += sorted(str(d) for d in (mail.defects_categories or []))
    except MemoryError:
        raise  # over the message's memory limit: parsing again would not fit either
    except Exception as exc:  # mail-parser gave up: the stdlib parser is more lenient
        parsed.parser = "stdlib"
        parsed.problems.append(f"mail-parser failed ({type(exc).__name__}: {str(exc)[:200]}); "
                               "parsed with the standard library")
        try:
            message = message_from_bytes(data)
        except RecursionError:
            # MIME parts nested deeper than Python's recursion limit: keep the header only.
            parsed.unreadable = "MIME parts nested too deep to parse: body not read"
            parsed.problems.append(parsed.unreadable)
            message = BytesHeaderParser(policy=compat32).parsebytes(data)
            body_readable = False
    assert message is not None
    # (a message without one gets an identifier made from its bytes)
    parsed.message_id = normalize_message_id(message.get("Message-ID")) \
        or synthetic_message_id(data)
    _fill_headers(message, parsed)
    if body_readable:
        _walk(message, parsed, convert_timeout)
    return parsed
