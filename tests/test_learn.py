"""Corrections that teach the coder: `review set` -> `learn` -> check -> `learn --apply`, and
`export --format gold` read back by `eval`.

A small labelled set is written here: six respondents name a "kwakzalver" (a quack), a word
no lexicon knows, as their prescriber (gold: other); two name a "kruidenvrouw"; four name
their GP. Half the messages are corrected to their gold values with `review set`; the other
half is never touched. A real labelled set (fixtures/measure/rb) is the dev set.
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import run_cli
from typer.testing import CliRunner

from ldn_inbox.codebook import CODED_FIELDS
from ldn_inbox.extract._text import load_lexicon, set_lexicon_overlay
from ldn_inbox.serve.evaluate import equal, load_gold
from ldn_inbox.store.db import open_database
from ldn_inbox.store.models import LexiconOverlay, Message, Response

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "fixtures" / "measure" / "rb"
REAL = ROOT / "fixtures" / "measure" / "rg"

#: (own words, prescriber, benefits, dose) per respondent; every one takes LDN now, is
#: positive about it and names no side effect.
MESSAGES: list[tuple[str, str, list[str], float | None]] = [
    ("Ik neem LDN sinds vorig jaar, 4,5 mg per avond. Mijn kwakzalver schreef het voor. "
     "Het helpt goed tegen de pijn. Geen bijwerkingen.", "other", ["pain"], 4.5),
    ("Ik gebruik het nu acht maanden. Gekregen van de kwakzalver in het dorp. Ik slaap "
     "beter en heb minder pijn. Bijwerkingen heb ik niet gehad.", "other", ["pain", "sleep"],
     None),
    ("Sinds januari neem ik LDN. Voorgeschreven door een kwakzalver uit Gent. Positief, "
     "veel meer energie. Geen bijwerkingen.", "other", ["fatigue"], None),
    ("Ik neem het al twee jaar. Het was mijn kwakzalver die het voorschreef. Het helpt, "
     "minder moe. Geen bijwerkingen.", "other", ["fatigue"], None),
    ("Ik neem LDN sinds de zomer. Via mijn kwakzalver gekregen. Goed resultaat, minder "
     "pijn. Geen bijwerkingen gemerkt.", "other", ["pain"], None),
    ("Ik gebruik LDN elke avond. De kwakzalver heeft het voorgeschreven. Positief, ik slaap "
     "beter. Geen bijwerkingen.", "other", ["sleep"], None),
    ("Ik neem LDN sinds maart. Mijn huisarts schreef het voor. Het helpt goed tegen de "
     "pijn. Geen bijwerkingen.", "gp", ["pain"], None),
    ("Ik gebruik het nu een jaar. Voorgeschreven door de huisarts. Ik slaap beter. Geen "
     "bijwerkingen.", "gp", ["sleep"], None),
    ("Ik neem LDN al zes maanden. Mijn huisarts gaf het voorschrift. Positief, minder pijn. "
     "Geen bijwerkingen.", "gp", ["pain"], None),
    ("Ik neem het sinds de herfst. Van de huisarts gekregen. Het helpt goed. Geen "
     "bijwerkingen.", "gp", [], None),
    ("Ik neem LDN sinds mei. De kruidenvrouw raadde het aan en gaf het mij. Positief, "
     "minder pijn. Geen bijwerkingen.", "other", ["pain"], None),
    ("Ik gebruik het nu drie maanden. Gekregen van een kruidenvrouw. Het helpt goed. Geen "
     "bijwerkingen.", "other", [], None),
]
#: The messages corrected by a person: every other one. The kwakzalver of three different
#: respondents (0, 2, 4); the kruidenvrouw of one (10).
CORRECTED = range(0, len(MESSAGES), 2)


def message_id(n: int) -> str:
    return f"learn-{n:02d}@example.org"


def write_set(directory: Path) -> Path:
    """The labelled set in the eval layout: eml/ and gold.jsonl."""
    (directory / "eml").mkdir(parents=True)
    rows = []
    for n, (text, prescriber, benefits, dose) in enumerate(MESSAGES):
        mail = EmailMessage()
        mail["From"] = f"Respondent {n} <respondent{n}@example.org>"
        mail["To"] = "info@example.org"
        mail["Subject"] = "Re: Uw ervaring met LDN"
        mail["Message-ID"] = f"<{message_id(n)}>"
        mail["Date"] = format_datetime(datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=n))
        mail.set_content(f"Dag,\n\n{text}\n\nGroeten,\nRespondent {n}\n")
        name = f"learn-{n:02d}.eml"
        (directory / "eml" / name).write_bytes(bytes(mail))
        rows.append({"message_id": message_id(n), "kind": "reply", "language": "nl",
                     "ldn_use": "current", "prescriber": prescriber,
                     "prescriber_specialty": None, "experience": "positive",
                     "benefits": benefits, "side_effects": "no", "side_effect_codes": [],
                     "dose_mg": dose, "file": name})
    (directory / "gold.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    return directory


@pytest.fixture(autouse=True)
def packaged_lexicons() -> Any:
    """Every test starts and ends with the packaged lexicons alone."""
    set_lexicon_overlay([])
    yield
    set_lexicon_overlay([])


def invoke(runner: CliRunner, db_url: str, *args: str, code: int = 0) -> Any:
    return run_cli(runner, args, db=db_url, code=code)


def as_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return ",".join(value) if value else "[]"
    return str(value)


def stored(db_url: str) -> dict[str, dict[str, Any]]:
    engine = open_database(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Message.message_id, Response)
                            .join(Response, Response.message_pk == Message.id)).all()
        out = {row[0]: {name: getattr(row, name) for name in CODED_FIELDS} for row in rows}
    engine.dispose()
    return out


def correct(runner: CliRunner, db_url: str, gold: list[dict[str, Any]]) -> int:
    """Set every field of ``gold``'s messages that the coder got wrong to its gold value
    with `review set`, then accept each message; how many fields were set."""
    records = stored(db_url)
    changed = 0
    for row in gold:
        record = records[row["message_id"]]
        for name in CODED_FIELDS:
            if name in row and not equal(name, record[name], row[name]):
                invoke(runner, db_url, "review", "set", row["message_id"], name,
                       as_text(row[name]), "--reviewer", "anne")
                changed += 1
        invoke(runner, db_url, "review", "accept", row["message_id"], "--reviewer", "anne")
    return changed


def right(db_url: str, gold: list[dict[str, Any]]) -> int:
    """Fields of ``gold`` the database holds right."""
    records = stored(db_url)
    return sum(equal(name, records[row["message_id"]][name], row[name])
               for row in gold for name in CODED_FIELDS if name in row)


def dev_scores(runner: CliRunner, db_url: str, *extra: str) -> dict[str, Any]:
    result = invoke(runner, db_url, "eval", str(DEV), "--json", *extra)
    return dict(json.loads(result.stdout))


def test_corrections_teach_the_coder(tmp_path: Path, env: Path, runner: CliRunner) -> None:
    labelled = write_set(tmp_path / "labelled")
    db_url = f"sqlite:///{tmp_path / 'learn.sqlite'}"
    gold = load_gold(labelled / "gold.jsonl")
    half = [gold[n] for n in CORRECTED]
    other = [row for n, row in enumerate(gold) if n not in CORRECTED]
    invoke(runner, db_url, "import", str(labelled / "eml"))
    assert correct(runner, db_url, half) >= 4  # the three kwakzalvers and the kruidenvrouw
    before = right(db_url, other)
    dev_before = dev_scores(runner, db_url)

    proposals = tmp_path / "proposals.toml"
    invoke(runner, db_url, "learn", "--output", str(proposals), "--dev", str(DEV))
    entries = tomllib.loads(proposals.read_text("utf-8"))["entry"]
    by_expression = {e["expression"]: e for e in entries}
    assert "kwakzalver" in by_expression, proposals.read_text("utf-8")
    quack = by_expression["kwakzalver"]
    assert (quack["field"], quack["value"], quack["language"]) == ("prescriber", "other", "nl")
    assert quack["respondents"] == 3
    assert len(quack["records"]) == 3
    assert quack["gain_dev"] >= 0
    assert quack["gain_reviewed"] >= 0
    # the records are named by number, and the review tool finds them so
    shown = invoke(runner, db_url, "review", "show", f"#{quack['records'][0]}").stdout
    assert "kwakzalver" in shown
    # one respondent's words are no proposal, and no entry is a whole sentence
    assert not any("kruidenvrouw" in e["expression"] for e in entries)
    assert all(len(e["expression"].split()) <= 3 and e["respondents"] >= 2 for e in entries)
    # a word the lexicon already uses for something else ("neem", "positief") only with a gain
    known = {term.text for term in load_lexicon("nl").terms}
    assert all(e["gain_reviewed"] + e["gain_dev"] > 0 for e in entries
               if e["expression"] in known)
    # the proposals measured on the dev set before they are applied: never worse
    dev_overlay = dev_scores(runner, db_url, "--overlay", str(proposals))
    for name, value in dev_before["accuracy"].items():
        assert dev_overlay["accuracy"][name] >= value, name

    applied = invoke(runner, db_url, "learn", "--apply", str(proposals),
                     "--reviewer", "anne").stdout
    assert "applied overlay #1" in applied
    after = right(db_url, other)
    assert after >= before
    # the never-corrected kwakzalvers are now coded as the people would have
    records = stored(db_url)
    assert all(records[row["message_id"]]["prescriber"] == "other" for row in other
               if "kwakzalver" in MESSAGES[gold.index(row)][0])
    assert after > before
    # human values kept: every corrected message still says what the person set
    assert all(equal(name, records[row["message_id"]][name], row[name])
               for row in half for name in CODED_FIELDS if name in row)
    # the packaged lexicon is untouched; the overlay lives where the configuration says
    set_lexicon_overlay([])
    assert "kwakzalver" not in load_lexicon("nl").words("prescriber", "other")
    installed = list((env / ".local" / "share" / "ldn-inbox" / "overlays").glob("*.toml"))
    assert len(installed) == 1
    assert installed[0].read_bytes() == proposals.read_bytes()

    listing = invoke(runner, db_url, "learn", "--list").stdout
    assert "#1 proposals.toml: active, applied by anne" in listing
    assert "kwakzalver" in listing
    stats = invoke(runner, db_url, "stats").stdout
    assert "Corrections by the reviewers" in stats
    assert "since #1" in stats

    removed = invoke(runner, db_url, "learn", "--remove", "1", "--reviewer", "anne").stdout
    assert "removed overlay #1" in removed
    assert right(db_url, other) == before
    assert "removed by anne" in invoke(runner, db_url, "learn", "--list").stdout


def test_gold_export_round_trips(tmp_path: Path, env: Path, runner: CliRunner) -> None:
    labelled = write_set(tmp_path / "labelled")
    db_url = f"sqlite:///{tmp_path / 'gold.sqlite'}"
    gold = load_gold(labelled / "gold.jsonl")
    half = [gold[n] for n in CORRECTED]
    invoke(runner, db_url, "import", str(labelled / "eml"))
    correct(runner, db_url, half)
    out = tmp_path / "our-set"
    invoke(runner, db_url, "export", "--format", "gold", "--output", str(out))
    exported = load_gold(out / "gold.jsonl")
    assert sorted(row["message_id"] for row in exported) == \
        sorted(row["message_id"] for row in half)
    assert len(list((out / "eml").glob("*.eml"))) == len(half)
    assert (out / "gold.jsonl").stat().st_mode & 0o077 == 0
    # the reviewed values, read back by eval from the database, score 1.0 field by field
    scores = json.loads(invoke(runner, db_url, "eval", str(out), "--stored", "--json").stdout)
    assert scores["matched"] == len(half)
    assert scores["accuracy"]["prescriber"] == 1.0
    assert all(value == 1.0 for value in scores["accuracy"].values())
    # and the exported gold is the gold the reviewers were given
    for row in exported:
        original = next(g for g in half if g["message_id"] == row["message_id"])
        assert all(equal(name, row[name], original[name]) for name in CODED_FIELDS)
    # coded afresh from the exported bytes, every message is found by its file
    fresh = json.loads(invoke(runner, db_url, "eval", str(out), "--json").stdout)
    assert fresh["matched"] == len(half)
    assert not fresh["missing"]
    # a second export into the same directory is refused
    invoke(runner, db_url, "export", "--format", "gold", "--output", str(out), code=2)


def test_a_real_labelled_set(tmp_path: Path, env: Path, runner: CliRunner) -> None:
    """The same loop on a labelled set written by hand: whatever is learned from half of it,
    the other half and the dev set lose nothing."""
    db_url = f"sqlite:///{tmp_path / 'real.sqlite'}"
    gold = load_gold(REAL / "gold.jsonl")
    half, other = gold[::2], gold[1::2]
    invoke(runner, db_url, "import", str(REAL / "eml"))
    assert correct(runner, db_url, half) > 0
    before = right(db_url, other)
    dev_before = dev_scores(runner, db_url)
    proposals = tmp_path / "proposals.toml"
    invoke(runner, db_url, "learn", "--output", str(proposals), "--dev", str(DEV))
    entries = tomllib.loads(proposals.read_text("utf-8")).get("entry", [])
    assert all(e["respondents"] >= 2 and e["gain_dev"] >= 0 for e in entries)
    if entries:
        invoke(runner, db_url, "learn", "--apply", str(proposals))
        dev_after = dev_scores(runner, db_url, "--overlay", str(proposals))
        assert dev_after["main_macro"] >= dev_before["main_macro"]
    assert right(db_url, other) >= before


def test_overlays_in_the_database(db_url: str, tmp_path: Path, env: Path,
                                  runner: CliRunner) -> None:
    """Apply, list and remove on SQLite and PostgreSQL; a bad file is refused."""
    overlay = tmp_path / "mine.toml"
    overlay.write_text('[[entry]]\nfield = "prescriber"\nvalue = "other"\nlanguage = "nl"\n'
                       'section = "prescriber"\nkey = "other"\nexpression = "kwakzalver"\n'
                       'records = [1, 2]\n\n[[entry]]\nlanguage = "nl"\nsection = "prescriber"'
                       '\nkey = "gp"\nexpression = "dokter om de hoek"\naccept = false\n',
                       "utf-8")
    result = invoke(runner, db_url, "learn", "--apply", str(overlay), "--reviewer", "bo")
    assert "applied overlay #1 (1 entries)" in result.stdout
    invoke(runner, db_url, "learn", "--apply", str(overlay), code=2)  # applied already
    engine = open_database(db_url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(LexiconOverlay)).one()
    engine.dispose()
    assert (row.applied_by, row.status, row.name) == ("bo", "active", "mine.toml")
    assert [e["expression"] for e in row.entries] == ["kwakzalver"]
    assert row.recoded_at is not None
    bad = tmp_path / "bad.toml"
    bad.write_text('[[entry]]\nlanguage = "nl"\nsection = "nope"\nkey = "x"\n'
                   'expression = "y"\n', "utf-8")
    invoke(runner, db_url, "learn", "--apply", str(bad), code=2)
    invoke(runner, db_url, "learn", "--remove", "7", code=8)
    invoke(runner, db_url, "learn", "--min-respondents", "1", code=2)  # never one alone
    invoke(runner, db_url, "learn", "--remove", "1")
    assert "removed" in invoke(runner, db_url, "learn", "--list").stdout
