"""``kind``: answer-like words make a ``reply`` only in a message about this survey.

Whole messages in, ``kind`` out (``coding.code``), table-driven. The not-survey rows are
written so that the extractor does find an "answer" in them (checked below): they are
``not_survey`` because nothing ties them to the survey (``classify.concerns_survey``), not
because the extractor missed the words. The texts are written for these tests.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from typing import Any

import pytest

from ldn_inbox import codebook
from ldn_inbox.codebook import ANSWER_FIELDS
from ldn_inbox.extract import extract
from ldn_inbox.extract.coding import code, own_text_of
from ldn_inbox.parse.classify import _identifier, detect_language
from ldn_inbox.parse.mime import parse

MAILING = "Naltrexone (LDN): uw ervaring gevraagd"
#: the published questions, numbered as the mailing shows them
QUESTIONS = [f"{n}. {question}" for n, question in enumerate(codebook.QUESTIONS, 1)]
ATTRIBUTION = "Op di 5 mrt 2024 om 09:12 schreef FibroRes vzw <info@fibrores.org>:"


def message(body: str, subject: str, *, in_reply_to: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "An Peeters <an.peeters@example.be>"
    msg["To"] = "FibroRes vzw <info@fibrores.org>"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 12 Mar 2024 10:00:00 +0100"
    digest = hashlib.sha256((subject + body).encode()).hexdigest()[:16]
    msg["Message-ID"] = f"<{digest}@example.be>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes()


def inline(*answers: str) -> str:
    """The four questions quoted with an answer typed under each."""
    lines = [ATTRIBUTION, ""]
    for question, answer in zip(QUESTIONS, answers, strict=True):
        lines += [f"> {question}", answer, ""]
    return "\n".join(lines)


def top_posted(answer: str) -> str:
    """Answers above the quoted mailing (its questions only, nothing typed under them)."""
    return "\n".join([answer, "", ATTRIBUTION, ">", *[f"> {q}" for q in QUESTIONS]])


NOT_SURVEY: list[tuple[str, str, str | None, str]] = [
    ("Nieuwe versie ledenbeheer",
     "Dag Marc,\n\nIk gebruik de nieuwe versie van het ledenprogramma sinds maandag. Het werkt "
     "goed, zeer positief, geen problemen gehad bij het inloggen.\n\nGroeten,\nAn",
     None, "nl: software update, 'gebruik', 'positief', 'geen problemen'"),
    ("Nieuw gsm-nummer",
     "Hallo,\n\nIk heb een nieuwe gsm en ik gebruik hem nu elke dag, ik ben er heel tevreden "
     "over. Kunnen jullie mijn nieuwe nummer in de ledenlijst zetten? 0470 12 34 56\n\nAn",
     None, "nl: a new phone, and a request to the organisation"),
    ("Vraag over het griepvaccin",
     "Beste,\n\nMijn huisarts gaf me gisteren de griepprik. Geen bijwerkingen, positief dus. "
     "Weten jullie of mensen met fibromyalgie ook de covidprik mogen nemen?\n\nAn Peeters",
     None, "nl: a vaccine question, 'geen bijwerkingen' about the vaccine"),
    ("Re: Praatgroep Gent",
     "Ja, ik kom zeker. Vorige keer vond ik het heel positief, het helpt om lotgenoten te "
     "zien.\n\nAn",
     "<praatgroep-0312@fibrores.org>",
     "nl: an answer to another mailing of the organisation"),
    ("Site web",
     "Bonjour,\n\nJ'utilise la nouvelle application depuis une semaine, c'est très positif "
     "et ça marche bien. Merci pour la mise à jour du site.\n\nAn",
     None, "fr: a new app, 'j'utilise', 'très positif'"),
    ("Release 2.4 feedback",
     "Hi all,\n\nI'm using the new release since Monday and it works great, no side effects "
     "on the old reports so far. Thanks for the quick fix!\n\nAn",
     None, "en: software, 'it works great', 'no side effects'"),
    ("Release 2.5",
     "Hi,\n\nI'm using the new release since Monday, it works great, no side effects on the "
     "reports. My manager approved it.\n\nAn",
     None, "en: software in use, praised, 'no side effects', someone approving it"),
    ("Re: your order 5521",
     "Thanks, the blender arrived. I use it every day and I'm very happy with it.\n\nAn",
     "<order-5521@shop.example.com>",
     "en: a reply to a shop, with In-Reply-To"),
]


def answer_like(result: Any) -> bool:
    return result.answered or result.answered_weakly or any(
        field.value not in (None, "unknown", []) for name, field in result.fields.items()
        if name in ("ldn_use", "prescriber", "experience", "side_effects"))


@pytest.mark.parametrize(("subject", "body", "in_reply_to", "rule"), NOT_SURVEY,
                         ids=[r for *_, r in NOT_SURVEY])
def test_answer_like_words_about_something_else_are_not_survey(
        subject: str, body: str, in_reply_to: str | None, rule: str) -> None:
    parsed = parse(message(body, subject, in_reply_to=in_reply_to))
    own = own_text_of(parsed)
    # the extractor does read answer-like values here; the relevance rules decide
    language = rule.split(":", 1)[0]
    assert answer_like(extract(own.text, language)), rule
    coded = code(parsed)
    assert coded.values["kind"] == "not_survey", rule
    assert all(coded.values[name] is None for name in ANSWER_FIELDS), rule
    assert "kind" in coded.review_fields, rule


REPLIES: list[tuple[str, str, dict[str, Any], str]] = [
    ("Re: " + MAILING, inline("Ja", "huisarts", "positief", "geen"),
     {"ldn_use": "current"}, "one-word answers under the quoted questions"),
    ("Re: uw mail", inline("Ja", "Mijn huisarts", "Ja, minder pijn", "Nee hoor"),
     {"ldn_use": "current", "prescriber": "gp", "experience": "positive"},
     "quoted questions are enough, whatever the subject"),
    ("antwoord", top_posted("Ja, al twee jaar, via de huisarts. Positief, geen bijwerkingen."),
     {"ldn_use": "current", "prescriber": "gp"},
     "answers above the quoted questions, subject of its own"),
    ("Re: LDN", "Ik neem het sinds een jaar. Veel minder pijn en geen bijwerkingen.\n\nAn",
     {"ldn_use": "current", "side_effects": "no"}, "no quote, subject 'Re: LDN'"),
    ("mijn ervaring",
     "Ik gebruik naltrexone sinds maart en het helpt goed tegen de pijn.\n\nAn",
     {"ldn_use": "current", "experience": "positive"},
     "no quote, subject of its own, naltrexone named in the text"),
    ("Nog een aanvulling", "Het was de reumatoloog die het voorschreef, niet de huisarts.",
     {"prescriber": "specialist", "prescriber_specialty": "rheumatology"},
     "follow-up naming only the prescriber, with a prescribing word"),
    ("Réponse", "J'en prends depuis six mois, prescrit par mon médecin traitant. Très "
     "positif, moins de douleurs.\n\nAn",
     {"ldn_use": "current", "prescriber": "gp"}, "fr: prescriber with 'prescrit par'"),
    ("my answers", "I have been taking naltrexone for a year, my GP prescribed it. I sleep "
     "much better.\n\nAn", {"ldn_use": "current", "prescriber": "gp"}, "en: naltrexone named"),
    ("Re: " + MAILING, top_posted("Foutje in mijn vorige mail: bij de tweede vraag moest er "
                                  "neuroloog staan."),
     {"prescriber": "specialist", "prescriber_specialty": "neurology"},
     "follow-up correcting an earlier answer"),
    ("Re: La lettre de novembre : la naltrexone",
     "Bonjour, je corrige ma réponse : ce n'est pas ma généraliste mais le Dr Martens, "
     "interniste, qui me l'a prescrite.\n\nAn",
     {"prescriber": "specialist", "prescriber_specialty": "internal_medicine"},
     "fr: a correction answering the survey's thread, without quote"),
    ("Re: LDN", top_posted("Sorry, that was short. Dr Peeters is my neurologist, not my GP."),
     {"prescriber": "specialist"}, "en: a prescriber set against another one"),
    ("antwoorden", "1. ja\n2. huisarts\n3. ja, minder pijn\n4. nee\n\nAn",
     {"ldn_use": "current", "prescriber": "gp", "side_effects": "no"},
     "answers to the four questions by their numbers, without quote, drug or known subject"),
    ("Re: nieuwsbrief", "Ja, ik neem het al een jaar, via de huisarts. Ik heb minder pijn en "
     "geen bijwerkingen.\n\nAn", {"ldn_use": "current", "experience": "positive"},
     "a use, the doctor and how it went, without quote or drug named"),
    ("Re: " + MAILING, "Ik heb nog nooit LDN genomen, dus verder kan ik niets invullen.\n\nAn",
     {"ldn_use": "never"}, "never, with the drug between the negation and the verb"),
    ("Re: " + MAILING, "Sí, lo tomo desde hace un año y me ayuda mucho con el dolor.",
     {"language": "other", "ldn_use": "current", "experience": "positive"},
     "es: a language the codebook counts as other, read with its own lexicon"),
    ("Re: " + MAILING, "Sim, tomo desde há um ano e ajuda-me muito com as dores nas costas.",
     {"language": "other", "ldn_use": "unknown"},
     "pt: a language without a lexicon, answering the mailing"),
]


@pytest.mark.parametrize(("subject", "body", "want", "rule"), REPLIES,
                         ids=[r for *_, r in REPLIES])
def test_replies_about_the_survey_stay_replies(subject: str, body: str, want: dict[str, Any],
                                               rule: str) -> None:
    coded = code(parse(message(body, subject, in_reply_to="<mailing-ldn@fibrores.org>")))
    assert coded.values["kind"] == "reply", rule
    for name, value in want.items():
        assert coded.values[name] == value, (rule, name)


def test_a_language_with_a_lexicon_of_its_own_is_coded_and_flagged() -> None:
    """An Italian reply is coded with the Italian lexicon, keeps the codebook's language
    ``other``, and every main field waits for a person's look."""
    body = ("Buongiorno,\n\nsì, prendo il naltrexone da un anno, me lo ha prescritto il "
            "medico di famiglia. Ho meno dolori alla schiena. Effetti collaterali nessuno.\n\n"
            "Cordiali saluti,\nAnna")
    coded = code(parse(message(body, "Re: " + MAILING, in_reply_to="<mailing@fibrores.org>")))
    assert coded.values["language"] == "other"
    assert (coded.values["kind"], coded.values["ldn_use"], coded.values["prescriber"],
            coded.values["experience"], coded.values["side_effects"]) == (
        "reply", "current", "gp", "positive", "no")
    assert coded.values["benefits"] == ["pain"]
    assert {"ldn_use", "prescriber", "experience", "side_effects"} <= set(coded.review_fields)


def test_other_language_reply_to_another_mail_is_not_survey() -> None:
    """A reply in a language without a lexicon is kept for a person only when it concerns
    the survey; In-Reply-To alone says it answers some mail, not which."""
    body = "Sí, lo tomo desde hace un año y me ayuda mucho."
    coded = code(parse(message(body, "Re: cena del sábado", in_reply_to="<cena@example.es>")))
    assert coded.values["kind"] == "not_survey"


def test_the_language_model_keeps_only_the_languages_it_asks_for() -> None:
    """The identifier answers among its eleven languages and holds no copy of the full
    97-language model (some 28 MiB in the run and in every coding worker)."""
    assert detect_language("Ik neem LDN sinds maart en ik slaap veel beter.")[0] == "nl"
    identifier = _identifier()
    assert len(identifier.nb_classes) == 11
    assert getattr(identifier, "_full_model", None) is None
