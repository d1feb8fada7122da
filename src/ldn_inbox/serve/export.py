"""Exports of the effective records: JSONL, CSV and XLSX (one row per message).

Rows carry the Message-ID (what ties a record to its message: for scoring, review and an
erasure request), the codebook's field names and values (human corrections applied), the
review state, confidence, the evidence each answer was read from, and a pseudonymous
respondent id: never an address or name. The full export (``export --full``) adds where
the message was found (:data:`FULL_COLUMNS`), which can be a file named after its sender.
Booleans are booleans: JSON ``true``/``false``, CSV ``true``/``false``, XLSX TRUE/FALSE
cells.

Text in a message (its Message-ID, the evidence) is the sender's: in CSV and XLSX every text
cell a spreadsheet would read as a formula starts with an apostrophe (OWASP's advice on CSV
injection), and XLSX cells are written as strings, never as formulas.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.codebook import CODED_FIELDS
from ldn_inbox.store.models import Extraction, Message, RawSource, Response
from ldn_inbox.store.privacy import create_private

#: The default export: coded fields, evidence and review state per message, nothing that
#: names a person or says where in the mailbox a message lies.
EXPORT_COLUMNS: tuple[str, ...] = (
    "response_id", "message_id", "respondent_id", *CODED_FIELDS, "needs_review",
    "review_fields", "reviewed", "confidence", "evidence", "received_at",
    "extractor_version", "parse_status",
)
#: What ``export --full`` adds, and why each can identify someone.
FULL_COLUMNS: dict[str, str] = {
    "source": "where the message was found: the imported file's name (sometimes the "
              "sender's name and address) or the IMAP folder and UID",
}
FULL_EXPORT_COLUMNS: tuple[str, ...] = (*EXPORT_COLUMNS, "source")


def _source_label(source: RawSource | None) -> str | None:
    if source is None:
        return None
    if source.source_type == "imap":
        return f"imap:{source.location}/{source.key}"
    name = Path(source.location).name
    return f"{source.source_type}:{name}" + (f"#{source.key}" if source.key else "")


def iter_rows(session: Session, *, kind: str | None = None,
              reviewed_only: bool = False) -> Iterator[dict[str, Any]]:
    """Export rows in received order, streamed, with every column of
    :data:`FULL_EXPORT_COLUMNS` (the writers keep the columns they are given)."""
    query = (
        sa.select(Message, Response, Extraction)
        .outerjoin(Response, Response.message_pk == Message.id)
        .outerjoin(Extraction, Extraction.message_pk == Message.id)
        .order_by(Message.received_at, Message.id)
    )
    if kind:
        query = query.where(Response.kind == kind)
    if reviewed_only:
        query = query.where(Response.reviewed.is_(True))
    for message, response, extraction in session.execute(query).yield_per(500):
        source = session.scalar(
            sa.select(RawSource).where(RawSource.raw_id == message.raw_id)
            .order_by(RawSource.id).limit(1)
        ) if message.raw_id is not None else None
        row: dict[str, Any] = {"response_id": message.id, "message_id": message.message_id,
                               "respondent_id": message.respondent_id}
        for name in CODED_FIELDS:
            row[name] = getattr(response, name) if response is not None else None
        row["needs_review"] = bool(response.needs_review) if response else True
        row["review_fields"] = list(response.review_fields) if response else []
        row["reviewed"] = bool(response.reviewed) if response else False
        row["confidence"] = dict(extraction.confidence) if extraction else {}
        row["evidence"] = {
            k: " … ".join(span["text"] for span in v)
            for k, v in (extraction.evidence if extraction else {}).items()
        }
        row["source"] = _source_label(source)
        row["received_at"] = message.received_at.isoformat() if message.received_at else None
        row["extractor_version"] = response.extractor_version if response else None
        row["parse_status"] = message.parse_status
        yield row


def write_jsonl(rows: Iterator[dict[str, Any]], out: IO[str], *,
                columns: Sequence[str] | None = None) -> int:
    """One JSON object per row (only ``columns``, in that order, when given)."""
    count = 0
    for row in rows:
        if columns is not None:
            row = {name: row.get(name) for name in columns}
        out.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
        count += 1
    return count


def _csv_cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):  # list fields, review_fields
        return ";".join(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _xlsx_cell(name: str, value: Any) -> Any:
    """As in CSV, but a boolean stays a boolean: a workbook has the type."""
    return value if isinstance(value, bool) else _csv_cell(name, value)


#: Cells starting with one of these are formulas to Excel, LibreOffice or Google Sheets
#: (OWASP: = + - @ tab and carriage return; also a line feed and the full-width forms).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, made plain text by a leading
    apostrophe; numbers and other text unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(rows: Iterator[dict[str, Any]], out: IO[str], *, delimiter: str = ",",
              bom: bool = True, columns: Sequence[str] = EXPORT_COLUMNS) -> int:
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([neutralise(_csv_cell(name, row.get(name))) for name in columns])
        count += 1
    return count


def write_xlsx(rows: Iterator[dict[str, Any]], path: Path, *,
               columns: Sequence[str] = EXPORT_COLUMNS, sheet_name: str = "responses") -> int:
    """An Excel workbook with one sheet of rows (write-only mode: streamed). Text cells are
    strings (never formulas), neutralised as in CSV; control characters the XLSX format
    cannot hold are left out."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name)

    def cell(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # numbers, and booleans as Excel's TRUE/FALSE
        text = WriteOnlyCell(sheet, neutralise(ILLEGAL_CHARACTERS_RE.sub("", value)))
        text.data_type = "s"  # openpyxl would make a formula of a text starting with "="
        return text

    sheet.append([cell(name) for name in columns])
    count = 0
    for row in rows:
        sheet.append([cell(_xlsx_cell(name, row.get(name))) for name in columns])
        count += 1
    create_private(path)  # mode 0600, kept when openpyxl writes it
    workbook.save(path)
    return count
