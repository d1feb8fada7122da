"""MIME parsing (``mime.parse``): the fixture set, the client-shaped messages in
``fixtures/emails/mime/`` and a table of synthetic messages built byte by byte below.

``parse`` must never raise: whatever comes in, a :class:`ParsedMessage` comes out, with what
went wrong in ``problems``.
"""

from __future__ import annotations

import base64
import codecs
import email
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from email.policy import compat32
from pathlib import Path

import pytest

from ldn_inbox.parse.mime import MAX_PARTS, MAX_UNZIPPED_BYTES, ParsedMessage, parse

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"
MIME_DIR = FIXTURES / "mime"
MIME_CASES: dict[str, dict] = {
    name: case for name, case in json.loads((MIME_DIR / "cases.json").read_text("utf-8")).items()
    if not name.startswith("_")
}
GOLDEN = sorted(FIXTURES.glob("*.eml"))


def synthetic_id(data: bytes) -> str:
    return "missing-" + hashlib.sha256(data).hexdigest()[:16]


def all_text(parsed: ParsedMessage) -> str:
    """Every piece of text parse() produced from the message."""
    return "\n".join([parsed.text, parsed.html_text, parsed.report_text, parsed.subject,
                      parsed.from_name, *(a.text or "" for a in parsed.attachments)])


def declares_proper_charsets(data: bytes) -> bool:
    """True when every text/plain and text/html part names a charset its bytes are in."""
    message = email.message_from_bytes(data, policy=compat32)
    for part in message.walk():
        if part.get_content_type() not in ("text/plain", "text/html"):
            continue
        charset = part.get_content_charset()
        payload = part.get_payload(decode=True)
        if not charset or not isinstance(payload, bytes):
            return False
        try:
            codecs.lookup(charset)
            payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            return False
    return True


# --------------------------------------------------------------------------- fixture set
def test_fixture_set_is_there() -> None:
    assert len(GOLDEN) >= 50, f"only {len(GOLDEN)} fixtures in {FIXTURES}"
    assert len(MIME_CASES) == len(list(MIME_DIR.glob("*.eml"))), "cases.json and *.eml differ"


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_fixture_parses(path: Path) -> None:
    data = path.read_bytes()
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text("utf-8"))
    parsed = parse(data)
    assert parsed.has_headers
    assert parsed.message_id == (expected["message_id"] or synthetic_id(data)), "message_id"
    assert (parsed.text + parsed.report_text).strip(), "no text at all"
    if declares_proper_charsets(data):
        assert "\ufffd" not in all_text(parsed), "U+FFFD in the decoded text"
    assert "\x00" not in all_text(parsed)


@pytest.mark.parametrize("name", sorted(MIME_CASES))
def test_client_shaped_message(name: str) -> None:
    case = MIME_CASES[name]
    data = (MIME_DIR / name).read_bytes()
    parsed = parse(data)
    assert parsed.message_id == (case["message_id"] or synthetic_id(data)), "message_id"
    assert parsed.subject == case["subject"], "subject"
    assert parsed.from_name == case["from_name"], "from_name"
    for words in case["contains"]:
        assert words in parsed.text, f"text lacks {words!r}:\n{parsed.text}"
    for words in case["excludes"]:
        assert words not in all_text(parsed), f"text has {words!r}"
    if case["problems"]:
        for problem in case["problems"]:
            assert any(problem in p for p in parsed.problems), (problem, parsed.problems)
    else:
        assert parsed.problems == [], "problems"
    assert "\ufffd" not in all_text(parsed)
    for want, got in zip(case.get("attachments", []), parsed.attachments, strict=True):
        assert (got.filename, got.content_type, got.text is not None) == (
            want["filename"], want["content_type"], want["has_text"]), "attachment"
    if "failed_recipient" in case:
        assert parsed.failed_recipients == [case["failed_recipient"]]


# --------------------------------------------------------------------------- builders
HEAD = (b"From: Jan Peeters <jan.peeters@example.org>\r\nTo: info@fibrores.org\r\n"
        b"Subject: Re: Vier vragen\r\nDate: Mon, 4 Mar 2024 10:00:00 +0100\r\n"
        b"Message-ID: <synthetic@example.org>\r\nMIME-Version: 1.0\r\n")


def single(body: bytes, content_type: bytes | None = b"text/plain; charset=utf-8",
           encoding: bytes | None = b"8bit", head: bytes = HEAD) -> bytes:
    lines = head
    if content_type is not None:
        lines += b"Content-Type: " + content_type + b"\r\n"
    if encoding is not None:
        lines += b"Content-Transfer-Encoding: " + encoding + b"\r\n"
    return lines + b"\r\n" + body


def multipart(parts: list[bytes], subtype: bytes = b"mixed", boundary: bytes = b"=_b") -> bytes:
    out = HEAD + b"Content-Type: multipart/" + subtype + b'; boundary="' + boundary + b'"\r\n\r\n'
    for part in parts:
        out += b"--" + boundary + b"\r\n" + part + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def attachment(filename: str, content_type: str, data: bytes) -> bytes:
    return (f"Content-Type: {content_type}\r\nContent-Disposition: attachment; "
            f'filename="{filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n').encode() \
        + base64.encodebytes(data)


TEXT_PART = b"Content-Type: text/plain; charset=utf-8\r\n\r\nZie bijlage.\r\n"


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def odt_bytes(text: str) -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    document = OpenDocumentText()
    document.text.addElement(P(text=text))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_bytes(text: str) -> bytes:
    """A one-page PDF written by hand: catalog, pages, page, content stream, font, xref."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return out


def zip_bomb() -> bytes:
    """A .docx-shaped zip of a few tens of KB that unpacks beyond MAX_UNZIPPED_BYTES."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (MAX_UNZIPPED_BYTES + 1_000_000))
    return out.getvalue()


def nested(depth: int) -> bytes:
    """``depth`` multiparts, each inside the previous one, a text part at the bottom."""
    out = HEAD + b'Content-Type: multipart/mixed; boundary="n0"\r\n\r\n'
    for level in range(1, depth):
        out += b'--n%d\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % (
            level - 1, level)
    out += b"--n%d\r\nContent-Type: text/plain\r\n\r\nbottom text\r\n" % (depth - 1)
    return out + b"".join(b"--n%d--\r\n" % level for level in reversed(range(depth)))


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Att:
    """An expected attachment: name, type, and text (or error) it must contain."""

    filename: str
    content_type: str
    text: str | None = None
    error: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Case:
    build: Callable[[], bytes]
    contains: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    problem: str | None = None  # a substring of one recorded problem; None: no problem at all
    subject: str | None = None
    from_name: str | None = None
    message_id: str | None = "synthetic@example.org"  # None: the synthetic missing- id
    attachments: tuple[Att, ...] | None = ()
    has_headers: bool = True
    parser: str = "mail-parser"
    max_seconds: float = 5.0


CASES = [
    # ----- charsets
    pytest.param(Case(lambda: single("Ja, één jaar, € 12, naïef".encode()),
                      contains=("Ja, één jaar, € 12, naïef",)), id="utf-8-8bit"),
    pytest.param(Case(lambda: single("Très bien, ça va, père".encode("latin-1"),
                                     b"text/plain; charset=iso-8859-1"),
                      contains=("Très bien, ça va, père",)), id="iso-8859-1-8bit"),
    pytest.param(Case(lambda: single("“Goed” – € 5 …".encode("cp1252"),
                                     b"text/plain; charset=windows-1252"),
                      contains=("“Goed” – € 5 …",)), id="windows-1252"),
    pytest.param(Case(lambda: single("Curly “quotes” and € under a Latin-1 label".encode(
        "cp1252"), b"text/plain; charset=iso-8859-1"),
        contains=("Curly “quotes” and €",)), id="windows-1252-labelled-latin-1"),
    pytest.param(Case(lambda: single("Geen label, wel één".encode(), None, None),
                      contains=("Geen label, wel één",)), id="undeclared-8bit-utf-8"),
    pytest.param(Case(lambda: single("Pas de label : élevé".encode("latin-1"),
                                     b"text/plain", None),
                      contains=("Pas de label : élevé",), problem="CharsetDecodeDefect"),
                 id="undeclared-8bit-latin-1"),
    pytest.param(Case(lambda: single("Zo’n “wonder” – €".encode("cp1252")),
                      contains=("Zo’n “wonder” – €",),
                      problem="declared utf-8 but decoded as windows-1252"),
                 id="windows-1252-declared-utf-8"),
    pytest.param(Case(lambda: single(b"plain ascii text", b"text/plain; charset=x-no-such"),
                      contains=("plain ascii text",), problem="unknown charset"),
                 id="unknown-charset"),
    pytest.param(Case(lambda: single(b"Zo\xe2\x80\x99n \xff\xfe text"),
                      contains=("text",), problem="windows-1252"),
                 id="invalid-utf-8-bytes"),
    # ----- transfer encodings
    pytest.param(Case(lambda: single(b"Caf=C3=A9 en een heel lange regel die hier=\r\n"
                                     b" doorloopt, =E2=82=AC 4,5=20\r\n",
                                     encoding=b"quoted-printable"),
                      contains=("Café en een heel lange regel die hier doorloopt, € 4,5",),
                      excludes=("=\n", "=C3")), id="quoted-printable"),
    pytest.param(Case(lambda: single(base64.encodebytes("Ik neem LDN, één keer per dag.".encode()),
                                     encoding=b"base64"),
                      contains=("Ik neem LDN, één keer per dag.",)), id="base64-utf-8"),
    pytest.param(Case(lambda: single(base64.encodebytes("Réponse à l’enquête".encode("cp1252")),
                                     b"text/plain; charset=windows-1252", b"base64"),
                      contains=("Réponse à l’enquête",)), id="base64-windows-1252"),
    pytest.param(Case(lambda: single(b"Ja hoor\r\n", encoding=b"x-uuencode-ish"),
                      contains=("Ja hoor",)), id="unknown-transfer-encoding"),
    # ----- format=flowed
    pytest.param(Case(lambda: single(b"Dit is een lange zin die \r\nverder gaat.\r\n"
                                     b"> Een geciteerde vraag die \r\n> doorloopt?\r\n"
                                     b"-- \r\nJan\r\n",
                                     b"text/plain; charset=utf-8; format=flowed"),
                      contains=("Dit is een lange zin die verder gaat.",
                                "> Een geciteerde vraag die doorloopt?", "-- \nJan")),
                 id="format-flowed"),
    pytest.param(Case(lambda: single(b"Voorgeschreven door de reuma\r\ntoloog. \r\nEen \r\n"
                                     b"woord.\r\n",
                                     b"text/plain; charset=utf-8; format=flowed; delsp=yes"),
                      contains=("Voorgeschreven door de reuma\ntoloog.Eenwoord.",)),
                 id="format-flowed-delsp-yes-only-soft-breaks-joined"),
    pytest.param(Case(lambda: single(b"Voorgeschreven door de reuma \r\ntoloog.\r\n",
                                     b"text/plain; charset=utf-8; format=flowed; delsp=yes"),
                      contains=("Voorgeschreven door de reumatoloog.",)),
                 id="format-flowed-delsp-yes"),
    pytest.param(Case(lambda: single(b"Voorgeschreven door de reuma \r\ntoloog.\r\n",
                                     b"text/plain; charset=utf-8; format=flowed; delsp=no"),
                      contains=("Voorgeschreven door de reuma toloog.",)),
                 id="format-flowed-delsp-no"),
    # ----- HTML
    pytest.param(Case(lambda: single(
        b"<html><body><p>Ik neem LDN &amp; het helpt.</p><blockquote><p>1. Neemt u LDN?</p>"
        b"<blockquote>diep geciteerd</blockquote></blockquote><p>Groet</p></body></html>",
        b"text/html; charset=utf-8"),
        contains=("Ik neem LDN & het helpt.", "> 1. Neemt u LDN?", "> > diep geciteerd",
                  "Groet"),
        excludes=("<p>", "&amp;", "> Groet")), id="html-only-blockquote"),
    pytest.param(Case(lambda: single(
        b"<html><head><script>document.title='SCRIPT-RAN'</script><style>p{}</style></head>"
        b"<body onload=\"alert('ONLOAD-RAN')\"><p>Tekst blijft.</p><script>"
        b"fetch('https://tracker.invalid/?q=1')</script><img src=\"https://tracker.invalid/p.gif\">"
        b"<iframe src=\"https://tracker.invalid/\">IFRAME-TEXT</iframe></body></html>",
        b"text/html; charset=utf-8"),
        contains=("Tekst blijft.",),
        excludes=("SCRIPT-RAN", "ONLOAD-RAN", "tracker.invalid", "IFRAME-TEXT", "p{}")),
        id="html-script-is-text-only"),
    pytest.param(Case(lambda: multipart([
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nDe platte versie.",
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>De <b>HTML</b> versie.</p>"],
        b"alternative"),
        contains=("De platte versie.",), excludes=("<b>",)), id="alternative-prefers-plain"),
    pytest.param(Case(lambda: single("<p>Één &eacute;&euro; &#8364;</p>".encode("cp1252"),
                                     b"text/html; charset=windows-1252"),
                      contains=("Één é€ €",)), id="html-windows-1252-entities"),
    # ----- headers
    pytest.param(Case(lambda: single(b"x", head=HEAD.replace(
        b"Subject: Re: Vier vragen",
        b"Subject: =?UTF-8?B?UsOpcG9uc2U=?= =?ISO-8859-1?Q?_=E0_l'enqu=EAte?=").replace(
        b"From: Jan Peeters", b"From: =?utf-8?q?Jos=C3=A9_Dupr=C3=A9?=")),
        subject="Réponse à l'enquête", from_name="José Dupré"), id="encoded-word-headers"),
    pytest.param(Case(lambda: single(b"x", head=HEAD.replace(
        b"Subject: Re: Vier vragen", "Subject: Re: Enquête – één".encode()).replace(
        b"From: Jan Peeters", "From: Zoë Dewaele".encode())),
        subject="Re: Enquête – één", from_name="Zoë Dewaele"), id="raw-utf-8-headers"),
    pytest.param(Case(lambda: single(b"x", head=HEAD.replace(
        b"Subject: Re: Vier vragen", "Subject: Re: Enquête été".encode("latin-1"))),
        subject="Re: Enquête été"), id="raw-latin-1-header"),
    pytest.param(Case(lambda: single(b"x", head=HEAD.replace(
        b"Subject: Re: Vier vragen", b"Subject: =?x-unknown?q?abc?= rest")),
        subject="=?x-unknown?q?abc?= rest"), id="encoded-word-unknown-charset"),
    pytest.param(Case(lambda: single(b"Tekst", head=HEAD.replace(
        b"Message-ID: <synthetic@example.org>\r\n", b"")),
        contains=("Tekst",), message_id=None), id="no-message-id"),
    pytest.param(Case(lambda: single(b"Tekst", head=HEAD.replace(
        b"Message-ID: <synthetic@example.org>", b"Message-ID:   \r\n\t<folded@example.org>  ")),
        message_id="folded@example.org"), id="folded-message-id"),
    # ----- attachments
    pytest.param(Case(lambda: multipart([
        TEXT_PART,
        attachment("antwoord.txt", "text/plain; charset=utf-8",
                   "1. Ja, LDN sinds één jaar".encode()),
        attachment("antwoord.docx", DOCX, docx_bytes("2. De huisarts schreef het voor")),
        attachment("antwoord.odt", "application/vnd.oasis.opendocument.text",
                   odt_bytes("3. Minder pijn")),
        attachment("antwoord.pdf", "application/pdf", pdf_bytes("4. Geen bijwerkingen")),
        attachment("foto.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + bytes(1000)),
    ]), contains=("Zie bijlage.",), attachments=(
        Att("antwoord.txt", "text/plain", text="1. Ja, LDN sinds één jaar"),
        Att("antwoord.docx", DOCX, text="2. De huisarts schreef het voor"),
        Att("antwoord.odt", "application/vnd.oasis.opendocument.text", text="3. Minder pijn"),
        Att("antwoord.pdf", "application/pdf", text="4. Geen bijwerkingen"),
        Att("foto.jpg", "image/jpeg", size=1004),
    )), id="attachments-to-text"),
    pytest.param(Case(lambda: multipart([
        TEXT_PART, attachment("antwoord.docx", DOCX, b"PK\x03\x04 but not really a docx")]),
        contains=("Zie bijlage.",),
        attachments=(Att("antwoord.docx", DOCX, error="not a valid document"),)),
        id="docx-that-is-not-one"),
    pytest.param(Case(lambda: multipart([
        TEXT_PART, attachment("antwoord.pdf", "application/pdf", b"%PDF-1.4 broken")]),
        contains=("Zie bijlage.",),
        attachments=(Att("antwoord.pdf", "application/pdf", error="cannot read as text"),)),
        id="pdf-that-is-not-one"),
    pytest.param(Case(lambda: multipart([TEXT_PART, attachment("bom.docx", DOCX, zip_bomb())]),
                      contains=("Zie bijlage.",),
                      attachments=(Att("bom.docx", DOCX, error="zip bomb"),)),
                 id="zip-bomb-docx-refused"),
    pytest.param(Case(lambda: multipart([TEXT_PART, (
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; "
        b"filename*=utf-8''antwoord%C3%A9n.txt\r\n\r\nInhoud")]),
        attachments=(Att("antwoordén.txt", "text/plain", text="Inhoud"),)),
        id="rfc2231-filename"),
    # ----- hostile structure
    pytest.param(Case(lambda: multipart([b"Content-Type: text/plain\r\n\r\npart %d" % i
                                         for i in range(MAX_PARTS + 100)]),
                      contains=("part 0", f"part {MAX_PARTS - 10}"),
                      excludes=(f"part {MAX_PARTS + 50}",),
                      problem=f"more than {MAX_PARTS} MIME parts"), id="too-many-parts"),
    pytest.param(Case(lambda: nested(MAX_PARTS + 20), excludes=("bottom text",),
                      problem=f"more than {MAX_PARTS} MIME parts"), id="nested-beyond-max-parts"),
    pytest.param(Case(lambda: nested(1500), subject="Re: Vier vragen", problem="nested too deep",
                      parser="stdlib", max_seconds=15), id="nested-deeper-than-recursion-limit"),
    pytest.param(Case(lambda: HEAD + b"".join(b"X-Filler-%d: value %d\r\n" % (i, i)
                                              for i in range(100_000))
                      + b"Content-Type: text/plain\r\n\r\nbody after a huge header\r\n",
                      contains=("body after a huge header",), subject="Re: Vier vragen",
                      max_seconds=15), id="100000-line-header"),
    pytest.param(Case(lambda: HEAD.replace(b"Subject: Re: Vier vragen",
                                           b"Subject: lang" + b"\r\n gevouwen" * 100_000)
                      + b"\r\nbody\r\n", contains=("body",), max_seconds=15),
                 id="100000-line-folded-subject"),
    pytest.param(Case(lambda: single(b"voor\x00na\x00\r\n", head=HEAD.replace(
        b"Subject: Re: Vier vragen", b"Subject: Re:\x00 Vier\x00 vragen")),
        contains=("voorna",), subject="Re: Vier vragen"), id="nul-bytes"),
    pytest.param(Case(lambda: single(b"x", head=HEAD.replace(
        b"Subject: Re: Vier vragen", b"Subject: a\x07b\x1b[2Jc\x7fd\x08e\x0bf\tg")),
        subject="ab[2Jcdef g"), id="control-characters-in-subject"),
    pytest.param(Case(lambda: single(b"x", head=HEAD.replace(
        b"From: Jan Peeters", "From: Jan\u009b31m Peeters".encode())),
        from_name="Jan31m Peeters"), id="c1-control-in-from-name"),
    pytest.param(Case(lambda: multipart([
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"Ja, ik neem LDN sinds maart.")], b"alternative")[:-20],
        contains=("Ja, ik neem LDN",),
        problem="CloseBoundaryNotFoundDefect"), id="truncated-in-a-part"),
    pytest.param(Case(lambda: HEAD[:60], message_id=None), id="truncated-in-the-header"),
    pytest.param(Case(lambda: b"", message_id=None, has_headers=False), id="empty"),
    pytest.param(Case(lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe" * 20,
                      message_id=None, has_headers=False, problem="CharsetDecodeDefect"),
                 id="binary-garbage"),
    pytest.param(Case(lambda: b"Dit is geen e-mail maar gewoon tekst.\nTweede regel.\n",
                      message_id=None, has_headers=False), id="plain-text-not-mail"),
]


@pytest.mark.parametrize("case", CASES)
def test_synthetic(case: Case) -> None:
    data = case.build()
    started = time.monotonic()
    parsed = parse(data)  # never raises
    elapsed = time.monotonic() - started
    assert elapsed < case.max_seconds, f"parse took {elapsed:.1f} s"
    assert parsed.has_headers is case.has_headers, "has_headers"
    assert parsed.parser == case.parser, f"parser ({parsed.problems})"
    assert parsed.message_id == (case.message_id or synthetic_id(data)), "message_id"
    for words in case.contains:
        assert words in parsed.text, f"text lacks {words!r}:\n{parsed.text[:2000]}"
    text = all_text(parsed)
    for words in case.excludes:
        assert words not in text, f"text has {words!r}"
    assert "\x00" not in text
    if case.problem is None:
        assert not [p for p in parsed.problems if "charset" in p.lower()
                    or "decoded as" in p], f"problems: {parsed.problems}"
    else:
        assert any(case.problem in p for p in parsed.problems), (
            f"no problem with {case.problem!r}: {parsed.problems}")
    if case.subject is not None:
        assert parsed.subject == case.subject, "subject"
    if case.from_name is not None:
        assert parsed.from_name == case.from_name, "from_name"
    if case.attachments is not None:
        assert [(a.filename, a.content_type) for a in parsed.attachments] == [
            (a.filename, a.content_type) for a in case.attachments], "attachments"
        for want, got in zip(case.attachments, parsed.attachments, strict=True):
            if want.text is not None:
                assert want.text in (got.text or ""), (
                    f"{got.filename}: text {got.text!r}, error {got.error!r}")
            else:
                assert got.text is None, f"{got.filename}: unexpected text"
            if want.error is not None:
                assert want.error in (got.error or ""), (
                    f"{got.filename}: error {got.error!r}")
            else:
                assert got.error is None, f"{got.filename}: error {got.error!r}"
            if want.size is not None:
                assert got.size == want.size, f"{got.filename}: size"
            assert got.summary()["size"] == got.size


def test_attachment_size_is_the_decoded_size() -> None:
    blob = bytes(range(256)) * 4000
    parsed = parse(multipart([TEXT_PART, attachment("data.bin", "application/octet-stream",
                                                    blob)]))
    (found,) = parsed.attachments
    assert (found.filename, found.size, found.text, found.error) == (
        "data.bin", len(blob), None, None)


_PLAIN = (b"From: An Peeters <an@example.be>\r\nTo: info@example.org\r\nSubject: Re: LDN\r\n"
          b"Content-Type: text/plain; charset=utf-8\r\n\r\nJa, 4,5 mg.\r\n> Gebruikt u LDN?\r\n"
          b"caf\xc3\xa9 \xff\r\n")
_HEADER_ONLY_READ = {
    "crlf": _PLAIN,
    "lf": _PLAIN.replace(b"\r\n", b"\n"),
    "no-body": _PLAIN.split(b"\r\n\r\n")[0] + b"\r\n\r\n",
    "unix-from-first": b"From an@example.be Mon Jan  1 00:00:00 2024\n"
                       + _PLAIN.replace(b"\r\n", b"\n"),
    "folded-header": _PLAIN.replace(b"Subject: Re: LDN", b"Subject: Re:\r\n  LDN"),
    "8-bit-header": _PLAIN.replace(b"An Peeters", b"An P\xc3\xa9eters"),
}
_FULL_READ = {
    "from-line-last": _PLAIN.replace(b"charset=utf-8\r\n", b"charset=utf-8\r\nFrom x\r\n"),
    "not-a-header": _PLAIN.replace(b"To: info", b"no colon here\r\nTo: info"),
    "bare-cr": _PLAIN.replace(b"Subject: Re: LDN\r\n", b"Subject: Re: LDN\rX: y\r\n"),
    "no-empty-line": b"From: an@example.be\r\nSubject: x\r\n",
    "leading-empty-line": b"\r\n" + _PLAIN,
    "multipart": multipart([TEXT_PART]),
    "rfc822": _PLAIN.replace(b"text/plain; charset=utf-8", b"message/rfc822"),
}


@pytest.mark.parametrize("data", [*_HEADER_ONLY_READ.values(), *_FULL_READ.values()],
                         ids=[*_HEADER_ONLY_READ, *_FULL_READ])
def test_single_part_messages_read_from_their_header_equal_the_full_parse(data: bytes) -> None:
    """A single-part message has only its header fed to the parser (its body is set as the
    payload): the message must be what the parser makes of the whole bytes, and the
    shortcut must be taken where it can be and not where the parser reads otherwise."""
    from ldn_inbox.parse.mime import _single_part, message_from_bytes

    def shape(message: email.message.Message) -> object:
        payload = message.get_payload()
        return (message.items(), message.get_unixfrom(), message.get_content_type(),
                [type(d).__name__ for d in message.defects], message.preamble,
                message.epilogue, [shape(p) for p in payload] if isinstance(payload, list)
                else payload)

    expected = email.message_from_bytes(data, policy=compat32)
    assert shape(message_from_bytes(data)) == shape(expected)
    assert (_single_part(data) is not None) == (data in _HEADER_ONLY_READ.values())


_PLAIN_FROM = ["An Peeters <an.peeters@example.be>", "an@example.be", "A <b@c>",
               "Respondent 12 <r12@mail.example.org>", "Xy <x_y+tag@sub-domain.example>"]
_OTHER_FROM = ["An  Peeters <an@example.be>", " An <an@example.be>", "An<an@example.be>",
               '"Peeters, An" <an@example.be>', "Peeters, An <an@example.be>",
               "an..p@example.be", "=?utf-8?q?An?= <an@example.be>", "X_Y <xy@example.be>",
               "An (home) <an@example.be>", "<an@example.be>", "An P\u00e9eters <an@example.be>"]


@pytest.mark.parametrize("value", _PLAIN_FROM + _OTHER_FROM)
def test_plain_from_values_are_read_as_the_header_parser_reads_them(value: str) -> None:
    """The plainest From values skip the header parser: what is read must be the same."""
    from email.policy import default

    from ldn_inbox.parse.addresses import _mailboxes, _plain_mailbox

    header = default.header_factory("from", value)
    expected = [(a.display_name, a.addr_spec, a.domain) for a in header.addresses]
    assert [tuple(m) for m in _mailboxes(value)] == expected
    plain = _plain_mailbox(value)
    assert (plain is not None) == (value in _PLAIN_FROM)
    assert plain is None or [tuple(plain)] == expected


def test_html_is_converted_only_when_the_plain_text_is_missing_or_a_stub() -> None:
    html = b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>De <b>HTML</b> versie.</p>"
    story = (b"Ik neem LDN sinds maart, voorgeschreven door mijn huisarts. Ik heb minder pijn in "
             b"mijn rug en ik slaap beter. Bijwerkingen: de eerste week wat levendige dromen, "
             b"daarna niets meer.")
    both = parse(multipart([b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + story, html],
                           b"alternative"))
    assert (both.text, both.html_text) == (story.decode(), "")
    blank_plain = parse(multipart([b"Content-Type: text/plain; charset=utf-8\r\n\r\n \r\n",
                                   html], b"alternative"))
    assert blank_plain.text == blank_plain.html_text == "De HTML versie."
    # a plain part that is only a stub of the HTML one ("Sent from my iPhone")
    answers = b"<div>" + story.replace(b". ", b".</div><div>") + b"</div>"
    stub = parse(multipart([b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
                            b"Sent from my iPhone",
                            b"Content-Type: text/html; charset=utf-8\r\n\r\n" + answers],
                           b"alternative"))
    assert "minder pijn in mijn rug" in stub.text
    # a short plain answer beside the same short HTML stays the plain one
    short = parse(multipart([b"Content-Type: text/plain; charset=utf-8\r\n\r\nJa, huisarts, goed.",
                             b"Content-Type: text/html; charset=utf-8\r\n\r\n"
                             b"<p>Ja, huisarts, goed.</p>"], b"alternative"))
    assert short.text == "Ja, huisarts, goed."


def _defects_both_ways(data: bytes) -> tuple[object, object]:
    """The defects mail-parser's own parser finds in ``data``, and those of the one parse()
    uses (which skips mail-parser's summary dictionaries)."""
    import mailparser

    from ldn_inbox.parse.mime import _mail_parser, message_from_bytes

    def found(parser: type) -> object:
        try:
            mail = parser(message_from_bytes(data))
        except Exception as exc:  # (parse() then falls back to the standard library)
            return type(exc).__name__
        return sorted(mail.defects_categories), mail.defects, mail.has_defects

    return found(mailparser.MailParser), found(_mail_parser())


@pytest.mark.parametrize("path", [*GOLDEN, *sorted(MIME_DIR.glob("*.eml"))],
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_mail_parser_defects_are_the_librarys_own(path: Path) -> None:
    ours, theirs = _defects_both_ways(path.read_bytes())
    assert ours == theirs


def test_mail_parser_defects_are_the_librarys_own_on_the_corpus(shared_dir: Path) -> None:
    paths = sorted(p for p in (shared_dir / "corpus").rglob("*")
                   if p.is_file() and p.suffix not in (".md", ".tsv", ".json"))
    assert len(paths) > 500
    both = {p.name: _defects_both_ways(p.read_bytes()) for p in paths}
    assert not [name for name, (ours, theirs) in both.items() if ours != theirs]
    with_defects = [name for name, (ours, _) in both.items()
                    if isinstance(ours, tuple) and ours[2]]
    assert len(with_defects) > 10, "the corpus should show some defects"
