"""Reply isolation: which lines are the writer's own words. Table-driven, nl/fr/en/de."""

from __future__ import annotations

import pytest

from ldn_inbox.parse.mailings import MailingSet, sample_mailing
from ldn_inbox.parse.reply import isolate

#: the mailing these replies answer, as ``ldn-inbox mailing add`` would have stored it
KNOWN = MailingSet([sample_mailing()])

SHEET_Q = [
    "1. Gebruikt U Naltrexone of heeft U het gebruikt?",
    "2. Wie schreef U de Naltrexone voor? (bv. de huisarts, geneesheer specialist "
    "(welke specialisatie?), andere)",
    "3. Was Uw ervaring positief? (bv. minder pijn)",
    "4. Had U bepaalde bijwerkingen?",
]
QUOTED_SHEET = "\n".join(
    ["> Beste lid,", ">", "> Mogelijke bijwerkingen zijn levendige dromen, slaapproblemen, "
     "hoofdpijn", "> en misselijkheid, meestal enkel in de eerste weken.", ">"]
    + [f"> {q}" for q in SHEET_Q]
    + [">", "> Met vriendelijke groeten,", ">", "> Het bestuur van FibroRes vzw"]
)


def own(text: str, mailings: MailingSet = KNOWN) -> str:
    return isolate(text, mailings=mailings).text


@pytest.mark.parametrize("attribution", [
    "Op wo 6 mrt 2024 om 20:15 schreef FibroRes vzw <info@fibrores.org>:",
    "Op 6 mrt. 2024 om 20:15 heeft FibroRes vzw <info@fibrores.org> het volgende geschreven:",
    "Le mer. 6 mars 2024 à 20:15, FibroRes vzw <info@fibrores.org> a écrit :",
    "On Wed, 6 Mar 2024 at 20:15, FibroRes vzw <info@fibrores.org> wrote:",
    "Am Mi., 6. März 2024 um 20:15 Uhr schrieb FibroRes vzw <info@fibrores.org>:",
    "Op 6/03/2024 om 20:15 schreef FibroRes vzw:",
    "Op wo 6 mrt 2024 om 20:15 schreef FibroRes vzw <\ninfo@fibrores.org>:",
])
def test_top_posted_reply_above_attribution(attribution: str) -> None:
    text = f"Ja, ik neem het sinds mei.\n\n{attribution}\n\n{QUOTED_SHEET}\n"
    result = own(text)
    assert result == "Ja, ik neem het sinds mei."


def test_inline_answers_under_quoted_questions_are_anchored() -> None:
    text = "\n".join([
        "> 1. Gebruikt U Naltrexone of heeft U het gebruikt?", "Ja",
        "> 2. Wie schreef U de Naltrexone voor? (bv. de huisarts, geneesheer",
        "> specialist (welke specialisatie?), andere)", "De reumatoloog",
        "> 3. Was Uw ervaring positief? (bv. minder pijn)", "Ja, minder pijn",
        "> 4. Had U bepaalde bijwerkingen?", "Nee hoor",
    ])
    result = isolate(text, mailings=KNOWN)
    assert result.anchors == [1, 2, 3, 4]
    assert result.text.splitlines() == ["[Q1]", "Ja", "[Q2]", "De reumatoloog", "[Q3]",
                                        "Ja, minder pijn", "[Q4]", "Nee hoor"]
    assert "huisarts" not in result.text  # the question's examples are never answers


@pytest.mark.parametrize(("header", "lang"), [
    ("Van: FibroRes vzw <info@fibrores.org>\nVerzonden: dinsdag 5 maart 2024 09:12\n"
     "Aan: lid@example.org\nOnderwerp: Naltrexone (LDN): uw ervaring gevraagd", "nl"),
    ("De : FibroRes vzw <info@fibrores.org>\nEnvoyé : mardi 5 mars 2024 09:12\n"
     "À : lid@example.org\nObjet : Naltrexone (LDN): uw ervaring gevraagd", "fr"),
    ("From: FibroRes vzw <info@fibrores.org>\nSent: Tuesday, March 5, 2024 9:12 AM\n"
     "To: lid@example.org\nSubject: Naltrexone (LDN): uw ervaring gevraagd", "en"),
    ("Von: FibroRes vzw <info@fibrores.org>\nGesendet: Dienstag, 5. März 2024 09:12\n"
     "An: lid@example.org\nBetreff: Naltrexone (LDN): uw ervaring gevraagd", "de"),
    ("-----Oorspronkelijk bericht-----\nVan: FibroRes vzw <info@fibrores.org>\n"
     "Verzonden: dinsdag 5 maart 2024 09:12\nOnderwerp: Naltrexone", "nl"),
])
def test_outlook_header_block_then_unprefixed_original(header: str, lang: str) -> None:
    sheet = "\n".join(line[2:] for line in QUOTED_SHEET.splitlines())
    text = f"Mijn antwoord: ja, via de huisarts.\n\n{header}\n\n{sheet}\n"
    assert own(text) == "Mijn antwoord: ja, via de huisarts."


def test_answers_typed_inside_an_unprefixed_original_are_kept() -> None:
    text = "\n".join([
        "Zie mijn antwoorden hieronder.", "",
        "Van: FibroRes vzw <info@fibrores.org>", "Verzonden: dinsdag 5 maart 2024 09:12",
        "Onderwerp: Naltrexone (LDN): uw ervaring gevraagd", "",
        "Beste lid,", "", SHEET_Q[0], "JA, sinds vorig jaar", SHEET_Q[1], "Neuroloog",
        SHEET_Q[2], "Minder pijn", SHEET_Q[3], "Soms misselijk", "",
        "Uw antwoorden worden vertrouwelijk en anoniem verwerkt.",
    ])
    result = isolate(text, mailings=KNOWN)
    assert "[Q1]\nJA, sinds vorig jaar" in result.text
    assert "[Q4]\nSoms misselijk" in result.text
    assert "vertrouwelijk" not in result.text


def test_questions_pasted_with_answers_on_the_same_line() -> None:
    text = "\n".join(f"{q} {a}" for q, a in zip(SHEET_Q, ["Ja", "Reumatoloog", "Ja", "Nee"],
                                                   strict=True))
    assert own(text).splitlines() == ["[Q1] Ja", "[Q2] Reumatoloog", "[Q3] Ja", "[Q4] Nee"]


def test_a_forward_is_the_writers_own_text_whoever_wrote_it_first() -> None:
    """What someone forwards to the survey address is what they want to say: their own
    earlier answers, or a spouse's (the codebook codes the patient's answers)."""
    body = "1. Ja\n2. Huisarts\n3. Ja\n4. Nee"
    forward = ("Hieronder de antwoorden van mijn vrouw.\n\n"
               "---------- Doorgestuurd bericht ---------\n"
               "Van: An Peeters <an@example.org>\nDate: wo 6 mrt 2024 om 19:02\n"
               "Subject: antwoorden\nTo: <jan@example.org>\n\n" + body)
    result = isolate(forward, mailings=KNOWN)
    assert "2. Huisarts" in result.text
    assert "Van: An Peeters" not in result.text
    assert result.forwarded


WRITER = ("an.peeters@example.be", "an peeters")


def _follow_up(note: str, layout: str) -> str:
    """``note`` above the writer's own earlier message, which holds inline answers."""
    answers = [SHEET_Q[0], "Ja, sinds vorig jaar", SHEET_Q[1], "De huisarts"]
    if layout == "outlook":
        return "\n".join([
            note, "", "Groetjes", "An", "",
            "Van: An Peeters <an.peeters@example.be>", "Verzonden: woensdag 6 maart 2024 19:02",
            "Aan: FibroRes vzw <info@fibrores.org>", "Onderwerp: RE: uw ervaring gevraagd", "",
            "Mijn antwoorden staan tussen de vragen.", "",
            "Van: FibroRes vzw <info@fibrores.org>", "Verzonden: dinsdag 5 maart 2024 09:12",
            "Onderwerp: Naltrexone (LDN): uw ervaring gevraagd", "", "Beste lid,", "",
            *answers])
    return "\n".join([
        note, "", "An", "",
        "Op wo 6 mrt 2024 om 19:02 schreef An Peeters <an.peeters@example.be>:",
        *[f"> {line}" for line in answers[1::2]],
        ">", "> Op di 5 mrt 2024 om 09:12 schreef FibroRes vzw <info@fibrores.org>:",
        *[f">> {line}" for line in answers[0::2]]])


@pytest.mark.parametrize("layout", ["outlook", "gmail"])
def test_a_follow_up_leaves_the_writers_earlier_answers_to_that_message(layout: str) -> None:
    """Each message is coded on its own: a correction above the writer's earlier message
    does not carry that message's answers again."""
    note = "Een rechtzetting: het was de reumatoloog die het voorschreef, niet de huisarts."
    result = isolate(_follow_up(note, layout), mailings=KNOWN, sender=WRITER)
    assert "reumatoloog" in result.text
    assert "sinds vorig jaar" not in result.text
    assert "De huisarts" not in result.text
    assert result.earlier
    # someone else's message below: the usual reading
    assert not isolate(_follow_up(note, layout), mailings=KNOWN,
                       sender=("els@example.be", "els maes")).earlier


@pytest.mark.parametrize("signature", [
    "-- \nJan Peeters\nTel. 0475 12 34 56",
    "Met vriendelijke groeten,\nJan Peeters\nKerkstraat 12\n9000 Gent",
    "Verzonden vanaf mijn iPhone",
    "Envoyé de mon iPhone",
    "Dit e-mailbericht en eventuele bijlagen zijn vertrouwelijk en uitsluitend bestemd voor "
    "de geadresseerde.",
])
def test_signatures_and_disclaimers_are_not_own_words(signature: str) -> None:
    assert own(f"Ja, ik neem het.\n\n{signature}") == "Ja, ik neem het."


def test_greeting_is_not_a_closing() -> None:
    assert own("Beste,\n\nZie bijlage voor mijn antwoorden.") == \
        "Beste,\n\nZie bijlage voor mijn antwoorden."


@pytest.mark.parametrize("line", [
    "Le 3 mars 2024, Jean Dupont a écrit :", "Le lun. 4 mars, Hélène <h@x.be> a ÉCRIT:",
    "Am Montag schrieb Jürgen Müller:", "Op ma 4 mrt. schreef Zoë Peeters:",
    "-------- Message d'origine --------", "Von: Jürgen", "Objet : Re: enquête",
    "Ça a été très difficile", "Je prends la naltrexone à faible dose", "Ｏp maandag",
    "\u00a8op ma", "ﬁn de l'écrit", "sc\u00f8hreef", "Le médecin", "Öp dinsdag",
])
def test_accented_lines_are_tested_as_folded(line: str) -> None:
    """Accented lines are tested for structure words in a cheaper form first (decomposed,
    cut to ASCII): the answer must be what the folded line gives."""
    from ldn_inbox.parse.reply import (
        _ATTRIBUTION,
        _ATTRIBUTION_WORDS,
        _is_attribution,
        _maybe_structure,
        _structure_words,
    )
    from ldn_inbox.parse.textnorm import fold

    folded = fold(line.strip())
    assert _maybe_structure(line) == (any(pair in line for pair in ("--", "__", "-_", "_-"))
                                      or _structure_words(folded))
    assert _is_attribution(line) == (len(folded) < 260 and any(
        w in folded for w in _ATTRIBUTION_WORDS) and bool(_ATTRIBUTION.match(folded)))


@pytest.mark.parametrize("line", [
    "Kerkstraat 12", "2000 Antwerpen", "Rue de la Loi 16, 1000 Bruxelles", "STEENWEG 5",
    "Lange Lozanastraat 14 bus 3", "Avenue Louise 54 bte 2", "Hoofdstraße 7", "Dorpsplein 1a",
    "ik neem 4,5 mg sinds 2019", "Grote Markt 1, 2000 Antwerpen", "3. dosis 4,5 mg", "Hof 3",
])
def test_address_lines_are_told_as_the_pattern_tells_them(line: str) -> None:
    from ldn_inbox.parse.reply import _ADDRESS_LINE, _may_be_address

    assert _may_be_address(line) == bool(_ADDRESS_LINE.match(line))


def test_answers_at_top_and_empty_quoted_questions_leave_no_anchors() -> None:
    result = isolate("1. ja\n2. huisarts\n\nOp di schreef FibroRes vzw:\n" + QUOTED_SHEET,
                     mailings=KNOWN)
    assert result.anchors == []
    assert result.text == "1. ja\n2. huisarts"


@pytest.mark.parametrize(("line", "number"), [
    ("> 1. Gebruikt U Naltrexone of heeft U het gebruikt?", 1),
    ("> Vraag 2: Wie schreef u de naltrexone voor?", 2),
    ("> 3) was uw ervaring positief?", 3),
    ("> had u bepaalde bijwerkinge?", 4),
    ("> Prenez-vous de la naltrexone ?", 1),
    ("> Qui vous l'a prescrite ?", 2),
    ("> Did you have any side effects?", 4),
    ("> Hatten Sie Nebenwirkungen?", 4),
    ("> Ja, minder pijn", None),
    ("> Wat is LDN?", None),
    ("1. Oui, je le prends toujours", None),
    ("Bijwerkingen? Geen", None),  # the writer's own label: read by segmentation
])
def test_questions_of_an_unknown_mailing_are_found_by_what_they_ask(
        line: str, number: int | None) -> None:
    result = isolate(line + "\nantwoord", mailings=MailingSet())
    assert (result.anchors[0] if result.anchors else None) == number


def test_an_own_line_that_only_starts_like_the_mailing_is_kept_whole() -> None:
    """The writer's unquoted line opening with a few words the mailing also has ("levendige
    dromen, slaapproblemen, hoofdpijn" of its list of side effects) is the writer's own."""
    reply = ("Ik neem het sinds mei.\n"
             "Levendige dromen, slaapproblemen, hoofdpijn heb ik allemaal gehad.\n\n"
             "Op wo 6 mrt 2024 om 20:15 schreef FibroRes vzw <info@fibrores.org>:\n"
             + QUOTED_SHEET)
    assert "Levendige dromen, slaapproblemen, hoofdpijn heb ik" in own(reply)


# -- runs of plain quoted lines (read as one line when no mailing is known) -------------


_CONTINUATIONS = ["", "x", " ", "  x", ".", ")", " 2", "2.", "p x", "n x", "e x", "m x",
                  "aag 3", "estion 2", "age 1", "\u2003x", "\u0301p x", "é", "\u00a8n"]


def test_a_plain_line_is_no_structure_and_no_label() -> None:
    """A quoted line starting as :data:`_PLAIN_HEADS`, or found plain by :func:`_plain`, has
    (whatever follows but for the marks :func:`_marked_lines` finds) no structure, no list
    label or question word, and no white space first."""
    from ldn_inbox.parse.reply import (
        _PLAIN_HEADS,
        _labelled,
        _marked_lines,
        _maybe_structure,
        _plain,
    )

    heads = {*_PLAIN_HEADS, *("> " + chr(code) for code in range(0x250) if code != 10),
             "> op", "> on", "> le", "> am", "> a)", "> v2", "> vr", "> 1.", "> (", "> • "}
    for head in heads:
        for rest in _CONTINUATIONS:
            line = (head + rest).rstrip()
            body = line[2:]
            if _marked_lines(line) or not (line[:3] in _PLAIN_HEADS
                                           or line[:4] in _PLAIN_HEADS or _plain(body)):
                continue
            assert body[:1].strip(), line
            assert not _maybe_structure(body), line
            assert not _labelled(body.strip()), line


@pytest.mark.parametrize("line", [
    "Le 3 mars 2024, Jean Dupont a écrit :", "Am Montag schrieb Jürgen:", "Ｏp maandag",
    "ﬁn de l'écrit", "sc\u00f8hreef", "SCHRÉEF", "Nachricht", "MESSAGE", "vraag?", "？",
    "a _- b", "a -_ b", "__", "¼ wrote", "x\u0301:", "😀 bericht", "“message”", "ex\u0301crit",
    "voorschrijven", "levendige dromen", "à faible dose", "e-mail", "Ça a été", "½",
])
def test_marked_lines_are_the_lines_with_a_mark_in_their_rough_form(line: str) -> None:
    from ldn_inbox.parse.reply import _MARKS, _marked_lines, _rough

    rough = _rough(line).replace("_", "-").replace("?", ":").encode()
    expected = any(mark in rough for mark in _MARKS)
    text = f"> één\n{line}\n> twee"
    assert _marked_lines(text) == ({1} if expected else set())


RUN_REPLIES = [
    "1. ja\n2. huisarts\n\nOp di schreef FibroRes vzw:\n" + QUOTED_SHEET,
    "Ja.\n\n" + "\n".join(f"> lijn {n} van de tekst hierboven" for n in range(30)),
    "Zie onder.\n\n> Gebruikt u naltrexone?\n> ja, sinds mei\n> nog een regel\n> en nog een\n"
    "> Wie schreef het voor?\n> de huisarts\n> echt waar\n> zeker weten\n",
    "---------- Forwarded message ---------\nVan: An <an@example.be>\nDatum: 1 mei\n"
    "Onderwerp: enquete\n\n> doorgestuurd\n> tekst hier\n> nog tekst\n> en meer\n",
    "Nog iets.\n\nOp 1 mei schreef An Peeters <an@example.be>:\n> mijn vorige antwoorden\n"
    "> stonden hier\n> in drie regels\n> en een vierde\n",
    "Van: An <an@example.be>\nVerzonden: 1 mei\nAan: info\nOnderwerp: Re\n\n"
    "> regel een\n> regel twee\n> regel drie\n\nGroeten,\nAn\n",
]


@pytest.mark.parametrize("text", RUN_REPLIES)
@pytest.mark.parametrize("sender", [(), ("an@example.be", "an peeters")])
def test_runs_of_plain_lines_read_as_each_line(text: str, sender: tuple[str, ...],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a run of plain quoted lines as one gives what reading each line gives."""
    from ldn_inbox.parse import reply

    together = isolate(text, mailings=MailingSet(), forwarded_by=sender, sender=sender)
    monkeypatch.setattr(reply, "_marked_lines", lambda text: set(range(text.count("\n") + 1)))
    apart = isolate(text, mailings=MailingSet(), forwarded_by=sender, sender=sender)
    assert together == apart


@pytest.mark.parametrize("line", [
    "Disclaimer: zie website", "Dit bericht is uitsluitend bestemd voor de geadresseerde",
    "Dit e-mailbericht en eventuele bijlagen zijn vertrouwelijk", "This email is confidential",
    "THIS MESSAGE MAY CONTAIN confidential", "Ce message est confidentiel", "Diese E-Mail "
    "enthält vertrauliche", "privileged and confidential", "Gelieve dit bericht te verwijderen",
    "Please notify the sender", "Think before you print", "Denk aan het milieu",
    "Pensez à l'environnement", "per vergissing ontvangen", "intended solely for the addressee",
    "destiné exclusivement", "reçu par erreur", "irrtümlich erhalten",
    "nicht der richtige Adressat", "Vertrouwelijke informatie", "ik neem het sinds mei",
    "1. ja, 4,5 mg", "Groeten, An",
])
def test_disclaimers_are_told_as_the_pattern_tells_them(line: str) -> None:
    from ldn_inbox.parse.reply import _DISCLAIMER, _is_disclaimer

    assert _is_disclaimer(line) == bool(_DISCLAIMER.search(line))
