"""Mailings as data: the questions are found in any mailing's wording, a reply is coded the
same whichever mailing it answers, a mailing quoted by several senders is learned, and the
`mailing` commands work on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ldn_inbox.extract.coding import code
from ldn_inbox.parse.mailing_learn import learn
from ldn_inbox.parse.mailings import Mailing, MailingSet, locate_questions
from ldn_inbox.parse.mime import parse

# --------------------------------------------------------------------------- the mailings
NUMBERED_NL = """\
Beste leden,

Steeds meer leden vragen ons naar LDN. Wij willen graag weten hoe het u daarmee vergaat.
Antwoord gewoon op deze mail, kort of lang.

1. Gebruikt u LDN, of hebt u het vroeger gebruikt?
2. Wie heeft het voorgeschreven (huisarts, specialist, iemand anders)?
3. Was uw ervaring positief?
4. Had u bijwerkingen?

Uw antwoorden worden anoniem verwerkt.
Met vriendelijke groeten,
het bestuur van FibroRes vzw
"""

#: French, lettered, and in another order: side effects first, use last but one
LETTERED_FR = """\
Chers membres,

Nous préparons une synthèse sur la naltrexone à faible dose. Répondez simplement à ce
message, en quelques mots.

a) Avez-vous eu des effets secondaires ?
b) Prenez-vous la LDN, ou l'avez-vous prise ?
c) Qui vous l'a prescrite (généraliste, spécialiste, autre) ?
d) Votre expérience a-t-elle été positive ?

Merci d'avance, le conseil d'administration
"""

#: a yearly survey: the LDN questions are numbered 5-8
YEARLY_NL = """\
Beste leden,

Zoals elk jaar vragen we uw mening over de werking van de vereniging.

1. Hoe lang bent u al lid?
2. Bent u tevreden over de nieuwsbrief?
3. Kwam u dit jaar naar een praatcafé?
4. Welk thema wilt u volgend jaar in de lezingen?
5. Gebruikt u LDN (naltrexone in lage dosis), nu of vroeger?
6. Wie schreef het voor?
7. Was uw ervaring met LDN positief?
8. Had u bijwerkingen van LDN?

Dank voor uw tijd!
Het bestuur
"""

#: a form to complete, the first row holding its choices
FORM_NL = """\
FibroRes nieuwsbrief februari

Oproep: uw ervaring met LDN. Vul de vier zinnen hieronder aan en stuur ze terug.

Ik gebruik LDN: ja / nee / vroeger
Voorgeschreven door: ...
Mijn ervaring: ...
Bijwerkingen: ...

Tot op de ledenavond!
"""

#: the codebook question each mailing asks first, second, ... (its own order)
EXPECTED_ORDER = {
    "numbered": (1, 2, 3, 4),
    "lettered": (4, 1, 2, 3),
    "yearly": (1, 2, 3, 4),
    "form": (1, 2, 3, 4),
}
MAILINGS = {"numbered": NUMBERED_NL, "lettered": LETTERED_FR, "yearly": YEARLY_NL,
            "form": FORM_NL}


@pytest.mark.parametrize("name", MAILINGS)
def test_the_four_questions_are_found_in_any_wording(name: str) -> None:
    questions = locate_questions(Mailing(MAILINGS[name]))
    found = [q.number for q in questions]
    assert sorted(found) == [1, 2, 3, 4], [(q.number, q.text) for q in questions]
    assert Mailing(MAILINGS[name]).order == EXPECTED_ORDER[name]


def test_the_mailings_own_labels_are_kept() -> None:
    assert Mailing(YEARLY_NL).labels == {"5": 1, "6": 2, "7": 3, "8": 4}
    assert Mailing(LETTERED_FR).labels == {"a": 4, "b": 1, "c": 2, "d": 3}


def test_a_combined_question_answers_both() -> None:
    text = ("Beste leden,\n\n1. Neemt u LDN, en wie schreef het voor?\n"
            "2. Was uw ervaring positief?\n3. Had u bijwerkingen?\n\nDank u!\n")
    numbers = {q.number: q.label for q in locate_questions(Mailing(text))}
    assert numbers == {1: "1", 2: "1", 3: "2", 4: "3"}


def test_a_bilingual_mailing_has_two_blocks() -> None:
    questions = locate_questions(Mailing(NUMBERED_NL + "\n" + LETTERED_FR))
    assert sorted(q.number for q in questions) == [1, 1, 2, 2, 3, 3, 4, 4]


def test_a_section_heading_is_not_a_question() -> None:
    text = ("Nieuwsbrief\n\n2. Oproep: uw ervaring met LDN (naltrexone in lage dosis)\n\n"
            "Vul de vier zinnen hieronder aan.\n\n" + FORM_NL.split("\n\n", 2)[2])
    questions = locate_questions(Mailing(text))
    assert {q.number: q.text for q in questions}[3] == "Mijn ervaring:"


# --------------------------------------------------------------------------- the replies
ANSWERS = {
    "nl": {1: "ja, sinds een half jaar", 2: "mijn huisarts",
           3: "ja, veel minder pijn", 4: "geen"},
    "fr": {1: "oui, depuis six mois", 2: "mon médecin généraliste",
           3: "oui, beaucoup moins de douleurs", 4: "aucun"},
}
EXPECTED = {"kind": "reply", "ldn_use": "current", "prescriber": "gp",
            "experience": "positive", "benefits": ["pain"], "side_effects": "no",
            "side_effect_codes": []}


def message(body: str, *, sender: str = "an.peeters@example.be",
            subject: str = "Re: LDN", day: int = 3) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "info@fibrores.org"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 2, day, 20, 15, tzinfo=UTC))
    msg["Message-ID"] = f"<{abs(hash((body, sender)))}@example.be>"
    msg.set_content(body)
    return bytes(msg)


def _quote(text: str) -> str:
    return "\n".join(("> " + line).rstrip() for line in text.splitlines())


def inline_reply(mailing: str, answers: dict[int, str]) -> str:
    """The answers typed under each quoted question, the rest of the mailing quoted."""
    mailing_obj = Mailing(mailing)
    by_text = {q.text: q.number for q in mailing_obj.questions}
    out = ["Hallo, mijn antwoorden staan tussen uw vragen.", "",
           "Op 2 feb. 2026 om 19:00 schreef FibroRes vzw <info@fibrores.org>:"]
    for line in mailing.splitlines():
        out.append(("> " + line).rstrip())
        number = next((n for text, n in by_text.items() if text in line), None)
        if number is not None:
            out.append(answers[number])
    return "\n".join(out) + "\n"


def top_reply(mailing: str, answers: dict[int, str]) -> str:
    """The answers on top under the mailing's own labels, the mailing quoted below."""
    mailing_obj = Mailing(mailing)
    lines = []
    for question in sorted(mailing_obj.questions, key=lambda q: q.start):
        label = question.label or str(question.number)
        lines.append(f"{label}. {answers[question.number]}")
    return ("Dag,\n\n" + "\n".join(lines) + "\n\nGroeten\n\n"
            "Op 2 feb. 2026 om 19:00 schreef FibroRes vzw <info@fibrores.org>:\n"
            + _quote(mailing) + "\n")


def form_reply(answers: dict[int, str]) -> str:
    """The form's rows filled in, above the quoted newsletter."""
    return ("Ingevuld:\n\n"
            f"Ik gebruik LDN: {answers[1]}\nVoorgeschreven door: {answers[2]}\n"
            f"Mijn ervaring: {answers[3]}\nBijwerkingen: {answers[4]}\n\n"
            "Op 2 feb. 2026 om 19:00 schreef FibroRes vzw <info@fibrores.org>:\n"
            + _quote(FORM_NL) + "\n")


CASES = [
    pytest.param("numbered", "inline", "nl", id="numbered-inline"),
    pytest.param("numbered", "top", "nl", id="numbered-top"),
    pytest.param("lettered", "inline", "fr", id="french-lettered-other-order-inline"),
    pytest.param("lettered", "top", "fr", id="french-lettered-other-order-top"),
    pytest.param("yearly", "inline", "nl", id="questions-5-8-inline"),
    pytest.param("yearly", "top", "nl", id="questions-5-8-top"),
    pytest.param("form", "form", "nl", id="form-filled-in"),
]


def _body(mailing: str, style: str, language: str) -> str:
    answers = ANSWERS[language]
    if style == "inline":
        return inline_reply(MAILINGS[mailing], answers)
    if style == "top":
        return top_reply(MAILINGS[mailing], answers)
    return form_reply(answers)


def _picked(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values[k] for k in EXPECTED}


@pytest.mark.parametrize(("mailing", "style", "language"), CASES)
def test_a_reply_is_coded_the_same_whatever_mailing_it_answers(
        mailing: str, style: str, language: str) -> None:
    known = MailingSet([Mailing(MAILINGS[mailing])])
    coded = code(parse(message(_body(mailing, style, language))), known)
    assert _picked(coded.values) == EXPECTED, coded.own_text
    # the mailing's own sentences are never read as the writer's words
    for line in MAILINGS[mailing].splitlines()[-2:]:
        if line.strip():
            assert line.strip() not in coded.own_text


def test_the_mailing_is_learned_from_three_senders_quoting_it() -> None:
    senders = [f"lid{n}@example.be" for n in range(4)]
    replies = {sender: parse(message(inline_reply(YEARLY_NL, ANSWERS["nl"]), sender=sender,
                                     day=3 + n))
               for n, sender in enumerate(senders)}
    first = {sender: code(parsed) for sender, parsed in replies.items()}
    learned = learn([(sender, sender, first[sender].learn_text) for sender in senders])
    assert len(learned) == 1
    mailing = learned[0].mailing
    assert mailing.labels == {"5": 1, "6": 2, "7": 3, "8": 4}
    known = MailingSet([mailing])
    for parsed in replies.values():
        coded = code(parsed, known)
        assert _picked(coded.values) == EXPECTED, coded.own_text
        assert "Hoe lang bent u al lid" not in coded.own_text


def test_two_senders_teach_nothing() -> None:
    replies = [parse(message(inline_reply(YEARLY_NL, ANSWERS["nl"]), sender=f"x{n}@e.be"))
               for n in range(2)]
    assert learn([(f"x{n}", f"x{n}", code(p).learn_text) for n, p in enumerate(replies)]) == []


# --------------------------------------------------------------------------- the commands
def _invoke(runner: CliRunner, *args: str, code: int = 0) -> Any:
    from test_cli import invoke

    return invoke(runner, *args, code=code)


def test_mailing_add_and_list(env: Path, runner: CliRunner, db_url: str,
                              tmp_path: Path) -> None:
    path = tmp_path / "jaarbevraging.txt"
    path.write_text(YEARLY_NL, encoding="utf-8")
    added = _invoke(runner, "--db", db_url, "mailing", "add", str(path),
                    "--name", "Jaarbevraging")
    assert "Jaarbevraging" in added.stdout
    listed = _invoke(runner, "--db", db_url, "mailing", "list")
    assert "Jaarbevraging" in listed.stdout
    assert "added" in listed.stdout
    again = _invoke(runner, "--db", db_url, "mailing", "add", str(path))
    assert "already" in again.stdout


def test_mailing_list_shows_a_learned_mailing(env: Path, runner: CliRunner, db_url: str,
                                              tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(4):
        (folder / f"{n}.eml").write_bytes(message(
            inline_reply(YEARLY_NL, ANSWERS["nl"]), sender=f"lid{n}@example.be", day=3 + n))
    _invoke(runner, "--db", db_url, "import", str(folder))
    listed = _invoke(runner, "--db", db_url, "mailing", "list")
    assert "learned" in listed.stdout
    exported = _invoke(runner, "--db", db_url, "export", "--format", "jsonl")
    rows = [line for line in exported.stdout.splitlines() if '"reply"' in line]
    assert len(rows) == 4
    assert all('"ldn_use": "current"' in row and '"prescriber": "gp"' in row for row in rows)


def test_mailing_add_of_an_empty_file_is_a_usage_error(env: Path, runner: CliRunner,
                                                       sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "leeg.txt"
    path.write_text("  \n", encoding="utf-8")
    result = _invoke(runner, "--db", sqlite_url, "mailing", "add", str(path), code=2)
    assert "error:" in result.stderr
    assert "leeg.txt" in result.stderr


def test_mailing_add_of_an_unreadable_file_is_a_source_error(
        env: Path, runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    result = _invoke(runner, "--db", sqlite_url, "mailing", "add",
                     str(tmp_path / "er-is-niets.eml"), code=4)
    assert "error: cannot read mailing file" in result.stderr


def test_learning_reads_in_full_only_the_quotes_several_senders_share() -> None:
    """Long quotes that no one else quotes (a thread, a forwarded letter) are dropped after a
    cheap first pass: the mailing three senders quote is still learned, and the learner does
    not read the rest in full."""
    import random

    from ldn_inbox.parse.mailing_learn import _shared_quotes
    from ldn_inbox.parse.mailings import sample_mailing

    rng = random.Random(3)
    vocabulary = [f"woord{n}" for n in range(400)]
    sheet = "\n".join(f"> {line}" for line in sample_mailing().text.splitlines())
    quotes = [(f"own-{n}", f"sender-{n}", "> Beste lid, vier vragen over LDN:\n" + "\n".join(
        "> " + " ".join(rng.choices(vocabulary, k=11)) for _ in range(200)))
        for n in range(60)]
    quotes += [(f"sheet-{n}", f"reader-{n}", sheet) for n in range(3)]
    kept = _shared_quotes(quotes, 3)
    assert sorted(q.key for q in kept) == ["sheet-0", "sheet-1", "sheet-2"]
    found = learn(quotes)
    assert len(found) == 1
    assert found[0].senders == 3
    assert len(found[0].mailing.questions) == 4


def test_question_word_scores_count_each_phrase_found_anywhere() -> None:
    """The scores of :func:`concept_scores` against the rule read straight from
    data/questions.toml: a phrase counts once when its words stand in a row somewhere
    ("word*": any ending), core phrases needed, extra ones adding weight."""
    import random
    import re
    import tomllib
    from importlib import resources

    from ldn_inbox.parse.mailings import _concept_scores
    from ldn_inbox.parse.textnorm import fold

    data = tomllib.loads(resources.files("ldn_inbox").joinpath("data/questions.toml")
                         .read_text("utf-8"))
    address = {fold(w) for w in data["address"]["words"]}

    def phrases(items: list[str]) -> set[tuple[str, ...]]:
        return {tuple(re.findall(r"[^\W_]+\*?", fold(item))) for item in items} - {()}

    def found(phrase: tuple[str, ...], toks: tuple[str, ...]) -> bool:
        return any(all(tok.startswith(p[:-1]) if p.endswith("*") else tok == p
                       for p, tok in zip(phrase, toks[i:i + len(phrase)], strict=True))
                   for i in range(len(toks) - len(phrase) + 1))

    def expected(toks: tuple[str, ...]) -> dict[int, float]:
        out = {}
        for n in range(1, 5):
            core = sum(found(p, toks) for p in phrases(data[f"q{n}"]["core"]))
            extra = sum(found(p, toks) for p in phrases(data[f"q{n}"]["extra"]))
            if core:
                out[n] = 2.0 + min(core, 2) + 0.5 * min(extra, 3) + (
                    1.0 if address & set(toks) else 0.0)
        return out

    words = sorted({w.rstrip("*") + ending for q in data.values() for items in q.values()
                    for item in items for w in fold(item).split() for ending in ("", "en")}
                   | {"de", "het", "mijn", "nee"})
    rng = random.Random(14)
    samples = [tuple(rng.choices(words, k=rng.randint(0, 12))) for _ in range(400)]
    assert sum(bool(expected(toks)) for toks in samples) > 100  # (questions among them)
    for toks in samples:
        assert _concept_scores.__wrapped__(toks) == expected(toks), toks
