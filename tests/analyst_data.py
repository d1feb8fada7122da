"""Test data for the analyst and privacy tests (a plain helper module, no fixtures).

The extractor is still changing, so these tests do not rely on what it codes: after the
import, most replies get a known coding through ``corrections`` (as a reviewer would),
cycling through :data:`CODINGS`. The import runs once per test session, on SQLite;
PostgreSQL gets a copy of its rows, so both backends hold exactly the same data and the
analyst and privacy tests share it.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.codebook import CODED_FIELDS
from ldn_inbox.flow.pipeline import Settings, ingest
from ldn_inbox.sources.base import RawItem
from ldn_inbox.sources.files import iter_paths
from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import Base, Correction, Message, RawMessage
from ldn_inbox.store.records import refresh_response

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"
SHARED_DEV = ROOT.parent / "shared" / "survey" / "dev" / "eml"
KEY = b"analyst-tests-pseudonym-key-0123456789"
REVIEWER = "tester"

#: Codings given in turn to the imported messages (None: keep what the extractor coded).
CODINGS: tuple[dict[str, Any] | None, ...] = (
    {"kind": "reply", "ldn_use": "current", "prescriber": "gp", "prescriber_specialty": None,
     "experience": "positive", "benefits": ["pain", "sleep"], "side_effects": "no",
     "side_effect_codes": [], "dose_mg": 4.5},
    {"kind": "reply", "ldn_use": "past", "prescriber": "specialist",
     "prescriber_specialty": "rheumatology", "experience": "no_effect", "benefits": [],
     "side_effects": "yes", "side_effect_codes": ["vivid_dreams"], "dose_mg": None},
    {"kind": "reply", "ldn_use": "never", "prescriber": None, "prescriber_specialty": None,
     "experience": None, "benefits": [], "side_effects": None, "side_effect_codes": [],
     "dose_mg": None},
    {"kind": "reply", "ldn_use": "current", "prescriber": "specialist",
     "prescriber_specialty": "pain_medicine", "experience": "mixed",
     "benefits": ["fatigue", "cognition"], "side_effects": "yes",
     "side_effect_codes": ["headache", "nausea"], "dose_mg": 3.0},
    None,
    {"kind": "reply", "ldn_use": "current", "prescriber": "other",
     "prescriber_specialty": None, "experience": "positive",
     "benefits": ["stiffness", "mood", "other"], "side_effects": "yes",
     "side_effect_codes": ["sleep_disturbance", "fatigue"], "dose_mg": 4.5},
    {"kind": "reply", "ldn_use": "unknown", "prescriber": "unknown",
     "prescriber_specialty": None, "experience": "unknown", "benefits": [],
     "side_effects": "unknown", "side_effect_codes": [], "dose_mg": None},
)

_CACHE: dict[str, str] = {}
_ITEMS: list[RawItem] = []


def message_files() -> list[Path]:
    """The project's fixture messages, plus the shared dev set where it exists."""
    files = sorted(FIXTURES.glob("*.eml"))
    if SHARED_DEV.is_dir():
        files += sorted(SHARED_DEV.glob("*.eml"))
    return files


def message_items() -> list[RawItem]:
    """The bytes of :func:`message_files`, read once per test session, so that every
    backend imports the same messages even while fixture files are being added."""
    if not _ITEMS:
        _ITEMS.extend(RawItem(data=path.read_bytes(), source_type="file",
                              location=str(path)) for path in message_files())
    return _ITEMS


def set_coding(session: Session, message: Message, values: dict[str, Any], *,
               reviewed: bool = False) -> None:
    """Give ``message`` these field values as human corrections and refresh its record."""
    with session.no_autoflush:
        existing = {c.field: c for c in session.scalars(
            sa.select(Correction).where(Correction.message_pk == message.id))}
        for name, value in values.items():
            assert name in CODED_FIELDS, name
            correction = existing.get(name)
            if correction is None:
                correction = Correction(message_pk=message.id, field=name, reviewer=REVIEWER)
                session.add(correction)
            correction.value = {"v": value}
    if reviewed:
        message.reviewed_at = datetime.now(UTC)
        message.reviewed_by = REVIEWER
    session.flush()
    refresh_response(session, message)


def apply_codings(session: Session) -> None:
    """Code the imported messages in turn with :data:`CODINGS`; every third one reviewed."""
    messages = session.scalars(sa.select(Message).order_by(Message.message_id))
    for i, message in enumerate(list(messages)):
        coding = CODINGS[i % len(CODINGS)]
        if coding is not None:
            set_coding(session, message, coding, reviewed=i % 3 == 0)


def import_files(url: str, files: Iterable[Path | RawItem], *, code: bool = True) -> None:
    """Migrate ``url``, import ``files`` with the test key and apply the known codings."""
    items: list[RawItem] = []
    for entry in files:
        items.extend([entry] if isinstance(entry, RawItem) else iter_paths([entry], []))
    engine = open_database(url)
    try:
        sessions = session_factory(engine)
        ingest(sessions, items, Settings(pseudonym_key=KEY))
        if code:
            with sessions() as session:
                apply_codings(session)
                session.commit()
    finally:
        engine.dispose()


def copy_database(source_url: str, target_url: str) -> None:
    """Copy every row of a migrated database into another, freshly migrated one."""
    source, target = open_database(source_url), open_database(target_url)
    try:
        with source.connect() as reader, target.begin() as writer:
            for table in Base.metadata.sorted_tables:
                rows = [dict(row._mapping) for row in reader.execute(table.select())]
                if rows:
                    writer.execute(table.insert(), rows)
                key = list(table.primary_key.columns)
                if target.dialect.name == "postgresql" and len(key) == 1 \
                        and key[0].autoincrement is not False and rows \
                        and isinstance(key[0].type, sa.Integer):
                    writer.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                        f"'{key[0].name}'), (SELECT MAX({key[0].name}) FROM {table.name}))"))
    finally:
        source.dispose()
        target.dispose()


def loaded_url(backend: str, tmp_dir: Callable[[], Path],
               create_pg_database: Callable[[str], str]) -> str:
    """URL of a database holding every message of :func:`message_files`, coded; built
    once per session. The import runs on SQLite; PostgreSQL gets a copy of its rows, so
    both hold exactly the same data (the pipeline on PostgreSQL is tested elsewhere)."""
    if "sqlite" not in _CACHE:
        url = f"sqlite:///{tmp_dir() / 'analysts.sqlite'}"
        import_files(url, message_items())
        _CACHE["sqlite"] = url
    if backend not in _CACHE:
        url = create_pg_database("analysts_shared")
        copy_database(_CACHE["sqlite"], url)
        _CACHE[backend] = url
    return _CACHE[backend]


# --------------------------------------------------------------------------- identities
_PHONE = re.compile(r"(?<![\w+])(?:\+|0)\d[\d ./-]{7,16}\d(?!\w)")


def phone_numbers(text: str) -> set[str]:
    """Phone numbers (starting with + or 0, 9 to 13 digits) in ``text``, as digits.

    Belgian numbers are kept in their national form (0 + number), whatever the writer used.
    """
    found = set()
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if not 9 <= len(digits) <= 13:
            continue
        if digits.startswith("0032"):
            digits = "0" + digits[4:]
        elif match.group().startswith("+32"):
            digits = "0" + digits[2:]
        found.add(digits)
    return found


def phone_pattern(digits: str) -> re.Pattern[str]:
    """A pattern for a number from :func:`phone_numbers`, written with any separators."""
    sep = r"[\s./()-]{0,2}"
    if digits.startswith("0"):
        prefix, body = rf"(?:0|\+32{sep}0?|0032{sep}0?)", digits[1:]
    else:
        prefix, body = r"(?:\+|00)?", digits
    core = sep.join(re.escape(d) for d in body)
    return re.compile(rf"(?<!\d){prefix}{sep}{core}(?!\d)")


def identities(session: Session) -> tuple[set[str], set[str], set[str]]:
    """Addresses, display names and phone numbers of every stored message's senders.

    Read from the raw messages' From (and, for bounces, failed recipient) headers and the
    decoded texts; these must never show up in a view or an export.
    """
    addresses: set[str] = set()
    names: set[str] = set()
    phones: set[str] = set()
    for raw in session.scalars(sa.select(RawMessage).where(RawMessage.stored.is_not(None))):
        data = raw.original()
        assert data is not None
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        for header in ("From", "Reply-To", "Sender"):
            value = parsed.get(header)
            if value is None:
                continue
            for address in getattr(value, "addresses", ()):
                if address.addr_spec and "@" in address.addr_spec:
                    addresses.add(address.addr_spec.lower())
                if address.display_name and len(address.display_name) >= 4:
                    names.add(address.display_name)
    for message in session.scalars(sa.select(Message)):
        failed = message.failed_recipient
        for text in (message.own_text, message.quoted_text):
            if text:
                phones |= phone_numbers(text)
        if failed:
            addresses |= {part.strip().lower() for part in failed.split(",") if "@" in part}
    addresses.discard("")
    return addresses, names, phones


def leak_finder(addresses: set[str], names: set[str],
                phones: set[str]) -> Callable[[str], list[str]]:
    """A function listing which of these identities (fictional test senders) a text holds:
    whole addresses, personal local parts ("jos.vermeulen52"; role ones like "newsletter"
    also name fixture files), display names as whole words, phone numbers written with
    any separators. Cheap substring tests first; a pattern only where they hit.
    """
    locals_ = {a.split("@")[0] for a in addresses}
    personal = {part for part in locals_ if len(part) >= 6 and re.search(r"[._\d]", part)}
    lowered_names = {name.lower() for name in names}
    phone_patterns = {digits: phone_pattern(digits) for digits in phones}

    def find(text: str) -> list[str]:
        lowered = text.lower()
        squeezed = re.sub(r"[\s./()-]", "", lowered)
        hits = [f"address {a}" for a in addresses if a in lowered]
        hits += [f"local part {p}" for p in personal
                 if p in lowered and re.search(rf"(?<![\w.]){re.escape(p)}(?!\w)", lowered)]
        hits += [f"display name {n}" for n in lowered_names
                 if n in lowered and re.search(rf"(?<!\w){re.escape(n)}(?!\w)", lowered)]
        hits += [f"phone number {d}" for d, pattern in phone_patterns.items()
                 if d.lstrip("0")[-7:] in squeezed and pattern.search(text)]
        return sorted(hits)

    return find
