"""Property-based tests (hypothesis): whatever the bytes, the pipeline keeps them and goes on.

* Generated MIME trees (nesting, charsets utf-8 / latin-1 / cp1252 / unknown,
  quoted-printable / base64 / 8bit, folded headers, missing boundaries, truncation at a random
  byte) go through ``pipeline.ingest``: it never raises, the raw bytes are stored exactly and
  importing them again changes nothing.
* Any unicode text, as a message body through ``coding.code(mime.parse(...))`` and straight
  into ``extract.extract(text, lang)``, gives a record the codebook's rules accept.

A few examples per property by default (the file runs in well under a minute). The long
fuzz: ``LDN_INBOX_LONG_FUZZ=1 .venv/bin/python -m pytest tests/test_properties.py`` (hundreds
of times more examples; ``LDN_INBOX_FUZZ_EXAMPLES=N`` sets the number per property).
"""

from __future__ import annotations

import base64
import hashlib
import os
import quopri
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from ldn_inbox.codebook import ANSWER_FIELDS, check_rules
from ldn_inbox.extract import extract
from ldn_inbox.extract.coding import code
from ldn_inbox.flow.pipeline import Settings, ingest
from ldn_inbox.parse.mime import parse
from ldn_inbox.sources.base import RawItem
from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import RawMessage

LONG_FUZZ = os.environ.get("LDN_INBOX_LONG_FUZZ", "").lower() in ("1", "true", "yes")
EXAMPLES = int(os.environ.get("LDN_INBOX_FUZZ_EXAMPLES", "2000" if LONG_FUZZ else "60"))

settings.register_profile(
    "ldn-inbox", max_examples=EXAMPLES, deadline=None, derandomize=not LONG_FUZZ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
settings.load_profile("ldn-inbox")

CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "x-unknown-8bit"]
ENCODINGS = ["quoted-printable", "base64", "8bit", "7bit"]
#: words that make the extractor and the reply isolation work, mixed into generated text
SURVEY_WORDS = ["LDN", "naltrexon", "huisarts", "neuroloog", "ja", "nee", "niet", "4,5 mg",
                "slaap", "pijn", "beter", "misselijk", "gestopt", "vivid dreams", "stopped",
                "[Q1]", "[Q2]", "[Q3]", "[Q4]", "\n", "\n> ", "Op 3 mei schreef", "--\n",
                "médecin", "Schmerzen", "Arzt", "?", ".", ","]

texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(SURVEY_WORDS), st.text(max_size=12)), max_size=40)
    .map(" ".join),
)


def _encode_body(text: str, charset: str, cte: str) -> bytes:
    codec = charset if charset != "x-unknown-8bit" else "utf-8"
    raw = text.encode(codec, errors="replace")
    if cte == "base64":
        return base64.encodebytes(raw)
    if cte == "quoted-printable":
        return quopri.encodestring(raw)
    return raw


def _fold(value: bytes, cuts: list[int]) -> bytes:
    """Fold a header value at the given positions (CRLF or LF plus white space)."""
    for cut in sorted({c % (len(value) + 1) for c in cuts}, reverse=True):
        value = value[:cut] + b"\r\n\t" + value[cut:]
    return value


@st.composite
def leaf(draw: Any) -> bytes:
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    subtype = draw(st.sampled_from(["plain", "html", "rfc822-headers", "octet-stream"]))
    ctype = "application/octet-stream" if subtype == "octet-stream" else f"text/{subtype}"
    body = _encode_body(draw(texts), charset, cte)
    head = f"Content-Type: {ctype}; charset={charset}\nContent-Transfer-Encoding: {cte}\n"
    if draw(st.booleans()):
        head += 'Content-Disposition: attachment; filename="bijlage.txt"\n'
    return head.encode() + b"\n" + body


def multipart(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: Any) -> bytes:
        parts = draw(st.lists(children, max_size=4))
        boundary = draw(st.sampled_from(["b1", "=_x", "----=_Part_0_1", "same"]))
        subtype = draw(st.sampled_from(["mixed", "alternative", "report; report-type="
                                        "delivery-status", "related"]))
        declared = "" if draw(st.integers(0, 5)) == 0 else f'; boundary="{boundary}"'
        out = f"Content-Type: multipart/{subtype}{declared}\n\n".encode()
        for part in parts:
            out += f"--{boundary}\n".encode() + part + b"\n"
        if draw(st.booleans()):  # the closing boundary is often missing in the wild
            out += f"--{boundary}--\n".encode()
        return out
    return build()


def message_rfc822(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return children.map(lambda inner: b"Content-Type: message/rfc822\n\nSubject: inner\n"
                        + inner)


mime_trees = st.recursive(leaf(), lambda children: st.one_of(
    multipart(children), message_rfc822(children)), max_leaves=8)


@st.composite
def messages(draw: Any) -> bytes:
    subject = draw(texts).replace("\r", " ").replace("\n", " ").encode("utf-8")
    subject = _fold(subject, draw(st.lists(st.integers(0, 400), max_size=3)))
    headers = [b"From: " + draw(st.sampled_from([b"jan@example.org", b"Jan <jan@example.org>",
                                                 b"MAILER-DAEMON@mx.example.net", b"",
                                                 b"=?utf-8?q?J=C3=A9r=C3=B4me?= <j@x.be>"])),
               b"Subject: " + subject]
    if draw(st.booleans()):
        headers.append(b"Message-ID: <" + draw(st.sampled_from([b"a@x", b"b@x", b"c@x"])) + b">")
    if draw(st.booleans()):
        headers.append(b"Auto-Submitted: auto-replied")
    if draw(st.booleans()):
        headers.append(b"MIME-Version: 1.0")
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = newline.join(headers) + newline + draw(mime_trees).replace(b"\n", newline)
    if draw(st.booleans()):
        data = data[: draw(st.integers(1, max(1, len(data))))]
    return data


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[Any, Settings]]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_database(f"sqlite:///{Path(tmp) / 'fuzz.sqlite'}")
        try:
            yield session_factory(engine), Settings(pseudonym_key=b"k" * 32,
                                                    convert_timeout=5.0)
        finally:
            engine.dispose()


def _stored(sessions: Any, digest: str) -> bytes | None:
    with sessions() as session:
        assert isinstance(session, Session)
        raw = session.scalar(sa.select(RawMessage).where(RawMessage.sha256 == digest))
        return raw.original() if raw is not None else None


def _raw_count(sessions: Any) -> int:
    with sessions() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(RawMessage)) or 0)


@given(data=messages())
def test_ingest_keeps_any_mime_tree(database: tuple[Any, Settings], data: bytes) -> None:
    sessions, config = database
    item = RawItem(data, "file", "fuzz", "")
    summary = ingest(sessions, [item], config)  # must not raise, whatever the bytes
    assert summary.seen == 1
    digest = hashlib.sha256(data).hexdigest()
    assert _stored(sessions, digest) == data
    before = _raw_count(sessions)
    again = ingest(sessions, [RawItem(data, "file", "fuzz", "")], config)
    assert again.new == 0
    assert again.known == 1
    assert again.quarantined == 0
    assert _raw_count(sessions) == before


def _message_with_body(text: str) -> bytes:
    body = base64.encodebytes(text.encode("utf-8", "surrogatepass"))
    return (b"From: Jan <jan@example.org>\nSubject: Re: LDN-bevraging\nMIME-Version: 1.0\n"
            b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
            + body)


@given(text=texts)
def test_any_text_codes_to_a_valid_record(text: str) -> None:
    coded = code(parse(_message_with_body(text)))
    assert check_rules(coded.values) == []


def _record(text: str, language: str) -> dict[str, Any]:
    """The record coding.code makes of an extraction (kind reply when something answered)."""
    result = extract(text, language)
    if not result.answered:
        return {"kind": "not_survey", "language": language, **dict.fromkeys(ANSWER_FIELDS)}
    values: dict[str, Any] = {"kind": "reply", "language": language}
    for name in ANSWER_FIELDS:
        field_result = result.fields.get(name)
        if field_result is None:
            values[name] = [] if name in ("benefits", "side_effect_codes") else None
        else:
            values[name] = field_result.value
    return values


@given(text=texts, language=st.sampled_from(["nl", "fr", "en", "de", "other"]))
def test_any_text_extracts_to_a_valid_record(text: str, language: str) -> None:
    assert check_rules(_record(text, language)) == []
