"""Golden files: fixtures/emails/NNN-*.eml with NNN-*.expected.json (the codebook record).

``code_file`` runs the pure part of the pipeline (parse, own text, classify, extract) on one
message; the golden tests compare it field by field with the expected record.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ldn_inbox.extract.coding import code
from ldn_inbox.parse.mailing_learn import learn
from ldn_inbox.parse.mailings import MailingSet
from ldn_inbox.parse.message_ids import synthetic_message_id
from ldn_inbox.parse.mime import parse

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"
KNOWN_ERRORS = FIXTURES / "KNOWN_ERRORS.json"
COMPARED = ("kind", "language", "ldn_use", "prescriber", "prescriber_specialty", "experience",
            "benefits", "side_effects", "side_effect_codes", "dose_mg")


def cases() -> list[Path]:
    return sorted(FIXTURES.glob("*.expected.json"))


def expected_record(path: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(path.read_text("utf-8"))
    eml = path.with_name(path.name.replace(".expected.json", ".eml"))
    if record.get("message_id") is None:
        record["message_id"] = synthetic_message_id(eml.read_bytes())
    return record


@lru_cache(maxsize=4)
def learned_mailings(folder: Path = FIXTURES) -> MailingSet:
    """The mailings an import of ``folder`` learns from its replies' quotes (no mailing is
    added: the golden files show what a new user gets)."""
    quotes = []
    for eml in sorted(folder.glob("*.eml")):
        parsed = parse(eml.read_bytes())
        coded = code(parsed)
        quotes.append((eml.name, parsed.from_address or eml.name, coded.learn_text))
    return MailingSet(item.mailing for item in learn(quotes))


def code_file(eml: Path, mailings: MailingSet | None = None) -> dict[str, Any]:
    parsed = parse(eml.read_bytes())
    coded = code(parsed, learned_mailings(eml.parent) if mailings is None else mailings)
    return {"message_id": parsed.message_id, **coded.values,
            "review_fields": coded.review_fields}


def differences(got: dict[str, Any], want: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    out: dict[str, tuple[Any, Any]] = {}
    for name in COMPARED:
        a, b = got.get(name), want.get(name)
        if name == "dose_mg" and a is not None and b is not None:
            if abs(float(a) - float(b)) < 1e-6:
                continue
        elif isinstance(a, list) and isinstance(b, list):
            if sorted(a) == sorted(b):
                continue
        elif a == b:
            continue
        out[name] = (b, a)
    return out


def load_known() -> dict[str, list[str]]:
    if not KNOWN_ERRORS.is_file():
        return {}
    data: dict[str, list[str]] = json.loads(KNOWN_ERRORS.read_text("utf-8"))["errors"]
    return data


def ledger_changes(old: dict[str, list[str]], new: dict[str, list[str]]) \
        -> tuple[list[str], list[str]]:
    """``NAME:FIELD`` entries that ``new`` adds to the ledger (fields that were right) and
    those it drops (fields now right)."""
    before = {f"{name}:{field}" for name, fields in old.items() for field in fields}
    after = {f"{name}:{field}" for name, fields in new.items() for field in fields}
    return sorted(after - before), sorted(before - after)


def write_known(errors: dict[str, list[str]]) -> None:
    KNOWN_ERRORS.write_text(json.dumps({
        "about": "Fields the extractor still codes wrong in these golden files. The golden "
                 "test fails on any other difference, and asks to remove an entry once the "
                 "field comes out right. Regenerate with: pytest tests/test_extract_golden.py "
                 "--update-known-errors",
        "errors": {k: sorted(v) for k, v in sorted(errors.items()) if v},
    }, indent=1, ensure_ascii=False) + "\n", "utf-8")
