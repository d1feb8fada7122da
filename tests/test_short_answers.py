"""Short inline answers that are also words of the info sheet ("huisarts", "positief",
"geen", "De huisarts") are the writer's own words, while the sheet's own wrapped lines,
however re-wrapped, stay out of the own text. Table-driven, message in, record out."""

from __future__ import annotations

import textwrap
from importlib import resources

import pytest

from ldn_inbox import codebook
from ldn_inbox.extract.coding import code
from ldn_inbox.parse.mailings import MailingSet, sample_mailing
from ldn_inbox.parse.mime import parse
from ldn_inbox.parse.reply import ANCHOR_RE
from ldn_inbox.parse.reply import isolate as _isolate

#: the mailing these replies answer, as ``ldn-inbox mailing add`` would have stored it
KNOWN = MailingSet([sample_mailing()])


def isolate(text: str):  # type: ignore[no-untyped-def]
    return _isolate(text, mailings=KNOWN)

#: the published questions, numbered as the mailing shows them
QUESTIONS = [f"{n}. {question}" for n, question in enumerate(codebook.QUESTIONS, 1)]
# question 2 as the mailing wraps it
Q2_WRAPPED = ["2. Wie schreef U de Naltrexone voor? (bv. de huisarts, geneesheer",
              "specialist (welke specialisatie?), andere)"]
ATTRIBUTION_NL = "Op wo 6 mrt 2024 om 20:15 schreef FibroRes vzw <info@fibrores.org>:"
ATTRIBUTION_FR = "Le mer. 6 mars 2024 à 20:15, FibroRes vzw <info@fibrores.org> a écrit :"
OUTLOOK_HEADER = ("Van: FibroRes vzw <info@fibrores.org>\n"
                  "Verzonden: dinsdag 5 maart 2024 09:12\nAan: lid@example.org\n"
                  "Onderwerp: Naltrexone (LDN): uw ervaring gevraagd\n")
SHEET_CLOSING = ["Uw antwoorden worden vertrouwelijk en anoniem verwerkt. De resultaten",
                 "verschijnen in het volgende nummer van ons ledenblad.", "",
                 "Met vriendelijke groeten,", "", "Het bestuur van FibroRes vzw"]


def _question_lines(wrapped: bool) -> list[list[str]]:
    return [Q2_WRAPPED if number == 1 and wrapped else [question]
            for number, question in enumerate(QUESTIONS)]


def gmail(answers: list[str], *, blank: bool = True, wrapped: bool = True,
          attribution: str = ATTRIBUTION_NL) -> str:
    """``>``-quoted questions, each answer typed unquoted under its question."""
    lines = [attribution, ""]
    for question, answer in zip(_question_lines(wrapped), answers, strict=True):
        lines += [f"> {part}" for part in question] + [answer] + ([""] if blank else [])
    lines += [">"] + [f"> {line}".rstrip() for line in SHEET_CLOSING]
    return "\n".join(lines)


def outlook(answers: list[str], *, blank: bool = True, wrapped: bool = True) -> str:
    """Unprefixed original below an Outlook header block, answers typed under the questions."""
    lines = ["Zie mijn antwoorden hieronder.", "", OUTLOOK_HEADER, "Beste lid,", ""]
    for question, answer in zip(_question_lines(wrapped), answers, strict=True):
        lines += question + [answer] + ([""] if blank else [])
    return "\n".join(lines + SHEET_CLOSING)


def same_line(answers: list[str]) -> str:
    return "\n".join(f"{q} {a}" for q, a in zip(QUESTIONS, answers, strict=True))


def numbered(answers: list[str]) -> str:
    listed = "\n".join(f"{n}. {a}" for n, a in enumerate(answers, start=1))
    return f"{listed}\n\n{ATTRIBUTION_NL}\n\n" + "\n".join(f"> {q}" for q in QUESTIONS)


def message(body: str) -> bytes:
    return ("From: Lid <lid@example.org>\nTo: info@fibrores.org\n"
            "Subject: Re: Naltrexone (LDN): uw ervaring gevraagd\n"
            "Message-ID: <short-answer@example.org>\nIn-Reply-To: <mailing@fibrores.org>\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n" + body + "\n").encode("utf-8")


GP = {"prescriber": "gp", "prescriber_specialty": None}
NEURO = {"prescriber": "specialist", "prescriber_specialty": "neurology"}
GOOD_NONE = {"experience": "positive", "side_effects": "no"}

CASES = [
    ("gmail-one-word", gmail(["Ja", "huisarts", "positief", "geen"]), GP | GOOD_NONE),
    ("gmail-no-blank-lines", gmail(["Ja", "De huisarts", "Positief", "Geen"], blank=False),
     GP | GOOD_NONE),
    ("gmail-unwrapped-question", gmail(["ja", "neuroloog", "positief", "nee"], wrapped=False),
     NEURO | GOOD_NONE),
    ("outlook-one-word", outlook(["Ja", "huisarts", "positief", "geen"]), GP | GOOD_NONE),
    ("outlook-no-blank-lines", outlook(["Ja", "De huisarts", "positief", "geen bijwerkingen"],
                                       blank=False), GP | GOOD_NONE),
    ("outlook-neurologist", outlook(["ja", "neuroloog", "Positief", "Geen"], wrapped=False),
     NEURO | GOOD_NONE),
    ("same-line", same_line(["Ja", "huisarts", "positief", "geen"]), GP | GOOD_NONE),
    ("numbered-list", numbered(["ja", "huisarts", "positief", "geen"]), GP | GOOD_NONE),
    ("gmail-french", gmail(["oui", "généraliste", "positive", "aucun"],
                           attribution=ATTRIBUTION_FR), GP | GOOD_NONE),
]


@pytest.mark.parametrize(("body", "want"), [(c[1], c[2]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_short_inline_answers_are_own_text_and_coded(body: str, want: dict[str, str]) -> None:
    coded = code(parse(message(body)), KNOWN)
    answers = [line for line in body.splitlines() if line in (
        "huisarts", "De huisarts", "neuroloog", "positief", "Positief", "geen", "Geen",
        "geen bijwerkingen", "généraliste", "positive", "aucun")]
    own_lines = [ANCHOR_RE.sub("", line).strip() for line in coded.own_text.splitlines()]
    for answer in answers:
        assert any(answer in line for line in own_lines), (answer, coded.own_text)
    assert "geneesheer" not in coded.own_text  # the question's examples are not answers
    assert "minder pijn" not in coded.own_text
    assert coded.values["kind"] == "reply"
    assert coded.values["ldn_use"] == "current"
    for name, value in want.items():
        assert coded.values[name] == value, (name, coded.values, coded.own_text)


@pytest.mark.parametrize(("answer", "want"), [
    ("3. Nee, spijtig genoeg. De rest schrijf ik later.", {"experience": "no_effect"}),
    ("4. Geen bijwerkingen tot nu toe.", {"side_effects": "no"}),
    ("1. Nee. De andere vragen zijn dus niet van toepassing.", {"ldn_use": "never"}),
])
def test_one_answer_under_the_mailings_number(answer: str, want: dict[str, str]) -> None:
    """One numbered answer above the quoted mailing answers the question of that number."""
    quoted = "\n".join(f"> {line}" for line in QUESTIONS)
    coded = code(parse(message(f"{answer}\n\n{ATTRIBUTION_NL}\n{quoted}")), KNOWN)
    assert coded.values["kind"] == "reply"
    assert {name: coded.values[name] for name in want} == want


def test_short_answers_are_anchored_under_their_questions() -> None:
    result = isolate(gmail(["Ja", "huisarts", "positief", "geen"], blank=False))
    assert result.anchors == [1, 2, 3, 4]
    assert result.text.splitlines() == ["[Q1]", "Ja", "[Q2]", "huisarts", "[Q3]", "positief",
                                        "[Q4]", "geen"]


def test_sheet_example_words_as_answers_are_kept() -> None:
    """Answers that are the sheet's example words, but not its next words."""
    result = isolate(outlook(["ja", "andere", "minder pijn", "levendige dromen"]))
    assert "[Q2]\nandere" in result.text
    assert "[Q3]\nminder pijn" in result.text
    assert "[Q4]\nlevendige dromen" in result.text


# --- the published sheet, re-wrapped, must not leak into the own text ------------------

def _sheet_wrapped(width: int, prefix: str, answers: list[str] | None = None) -> str:
    text = resources.files("ldn_inbox").joinpath("data/sheet.nl.txt").read_text("utf-8")
    out: list[str] = []
    for paragraph in text.strip().split("\n\n"):
        lines = paragraph.splitlines()
        if lines[0].startswith("1."):
            questions = paragraph.replace("\nspecialist", " specialist").splitlines()
            for number, question in enumerate(questions):
                out += [prefix + line for line in textwrap.wrap(question, width)]
                if answers:
                    out.append(answers[number])
        elif lines[0].startswith(("Met vriendelijke", "Het bestuur")):
            out += [prefix + line for line in lines]
        else:
            out += [prefix + line for line in textwrap.wrap(" ".join(lines), width)]
        out.append(prefix.rstrip())
    return "\n".join(out)


LAYOUTS = {
    "quoted": lambda width, answers: f"{ATTRIBUTION_NL}\n\n" + _sheet_wrapped(width, "> ",
                                                                             answers),
    "attribution-unprefixed": lambda width, answers: f"{ATTRIBUTION_NL}\n\n"
    + _sheet_wrapped(width, "", answers),
    "outlook-unprefixed": lambda width, answers: f"{OUTLOOK_HEADER}\n"
    + _sheet_wrapped(width, "", answers),
}


@pytest.mark.parametrize("width", [60, 72])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_rewrapped_sheet_does_not_leak(width: int, layout: str) -> None:
    body = "Ja, ik neem het via de huisarts.\n\n" + LAYOUTS[layout](width, None)
    assert isolate(body).text == "Ja, ik neem het via de huisarts."


@pytest.mark.parametrize("width", [60, 72])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_rewrapped_sheet_with_short_inline_answers(width: int, layout: str) -> None:
    answers = ["Ja", "huisarts", "positief", "geen"]
    result = isolate(LAYOUTS[layout](width, answers))
    own_lines = [line for line in result.text.splitlines()
                 if line.strip() and not ANCHOR_RE.fullmatch(line)]
    assert own_lines == answers
    assert result.anchors == [1, 2, 3, 4]


def _broken_quote(width: int, prefix: str, answers: list[str] | None = None) -> str:
    """The mailing's lines quoted with ``prefix``, then hard-wrapped again at ``width``
    by the replying client: the remainders ("per", "voorschrift van een arts.") land on
    lines of their own, without quote marks, right where inline answers would go."""
    text = resources.files("ldn_inbox").joinpath("data/sheet.nl.txt").read_text("utf-8")
    out: list[str] = []
    remaining = list(answers or [])
    for line in text.strip().splitlines():
        quoted = (prefix + line).rstrip()
        out += textwrap.wrap(quoted, width) or [quoted]
        # the answer goes under each question's last line
        if remaining and line.startswith(("1.", "specialist (", "3.", "4.")):
            out.append(remaining.pop(0))
    return "\n".join(out)


BROKEN_LAYOUTS = {
    "quoted": lambda width, answers: f"{ATTRIBUTION_NL}\n\n" + _broken_quote(width, "> ",
                                                                              answers),
    "attribution-unprefixed": lambda width, answers: f"{ATTRIBUTION_NL}\n\n"
    + _broken_quote(width, "", answers),
    "outlook-unprefixed": lambda width, answers: f"{OUTLOOK_HEADER}\n"
    + _broken_quote(width, "", answers),
}


@pytest.mark.parametrize("width", [60, 72])
@pytest.mark.parametrize("layout", sorted(BROKEN_LAYOUTS))
def test_hard_rewrapped_sheet_remainders_do_not_leak(width: int, layout: str) -> None:
    body = "Ja, ik neem het via de huisarts.\n\n" + BROKEN_LAYOUTS[layout](width, None)
    assert isolate(body).text == "Ja, ik neem het via de huisarts."


@pytest.mark.parametrize("width", [60, 72])
@pytest.mark.parametrize("layout", sorted(BROKEN_LAYOUTS))
def test_hard_rewrapped_sheet_with_short_inline_answers(width: int, layout: str) -> None:
    answers = ["Ja", "huisarts", "positief", "geen"]
    result = isolate(BROKEN_LAYOUTS[layout](width, answers))
    own_lines = [line for line in result.text.splitlines()
                 if line.strip() and not ANCHOR_RE.fullmatch(line)]
    assert own_lines == answers
    assert result.anchors == [1, 2, 3, 4]


def test_sheet_pasted_without_quote_marks_keeps_its_wrapped_lines_out() -> None:
    """A narrow re-wrap puts single sheet words on their own lines ("pijn)", "andere)")."""
    body = "\n".join([
        "Mijn antwoorden staan bovenaan: ja, huisarts, positief, geen.", "",
        "2. Wie schreef U de Naltrexone voor? (bv. de huisarts,",
        "geneesheer specialist (welke specialisatie?),", "andere)",
        "3. Was Uw ervaring positief? (bv. minder", "pijn)",
        "4. Had U bepaalde bijwerkingen?", "",
        "Het bestuur van FibroRes vzw", "info@fibrores.org",
    ])
    assert isolate(body).text == "Mijn antwoorden staan bovenaan: ja, huisarts, positief, geen."


@pytest.mark.parametrize(("note", "want"), [
    ("Een rechtzetting: het was de reumatoloog die het voorschreef, niet de huisarts.",
     {"ldn_use": "unknown", "prescriber": "specialist"}),
    ("Ik stuur mijn antwoorden nog eens, ik weet niet of de vorige mail aangekomen is.",
     {"ldn_use": "current", "prescriber": "gp"}),
])
def test_follow_up_above_the_writers_earlier_message(note: str, want: dict[str, str]) -> None:
    """A correction is coded on its own; a note that only sends the earlier message again
    leaves that message's answers to be read."""
    body = "\n".join([
        note, "", "An", "",
        "Van: An Peeters <an.peeters@example.be>", "Verzonden: woensdag 6 maart 2024 19:02",
        "Aan: FibroRes vzw <info@fibrores.org>", "Onderwerp: RE: uw ervaring gevraagd", "",
        OUTLOOK_HEADER, "Beste lid,", "", QUESTIONS[0], "Ja, sinds vorig jaar",
        *Q2_WRAPPED, "De huisarts"])
    raw = message(body).replace(b"Lid <lid@example.org>", b"An Peeters <an.peeters@example.be>")
    coded = code(parse(raw), KNOWN)
    assert coded.values["kind"] == "reply"
    assert {name: coded.values[name] for name in want} == want
