"""Message kind (reply / auto_reply / bounce / not_survey) and language of the writer's text.

Kind comes from headers first (RFC 3834 ``Auto-Submitted``, ``X-Autoreply``,
``X-Autorespond``, ``Precedence: auto_reply``; ``multipart/report`` delivery status,
mailer-daemon senders, Exchange NDRs), then subjects and short bodies in nl/fr/en/de. A
bounce is a bounce even when it also carries ``Auto-Submitted``. Whether a human message is
a ``reply`` or ``not_survey`` depends on whether it answers a question, which the coding
decides after extraction, and on whether it concerns this survey (:func:`concerns_survey`).
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Any

from ldn_inbox.codebook import Kind, Language
from ldn_inbox.parse.mime import ParsedMessage
from ldn_inbox.parse.reply import OwnText
from ldn_inbox.parse.textnorm import fold, words

_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|post_master|mail-daemon|maildaemon|"
                            r"mdaemon|mail delivery (?:system|subsystem)|microsoftexchange\w*)\b")
#: Senders that are mail software, never a person: what they send is a delivery report.
_DAEMON_SENDER = re.compile(r"^(?:mailer-daemon|mail-daemon|maildaemon|mdaemon"
                            r"|mail delivery (?:system|subsystem))\b")
_BOUNCE_SUBJECT = re.compile(
    r"\b(?:undeliverable|undelivered mail|undeliverable mail|delivery status notification"
    r"|delivery (?:has )?failed|delivery failure|mail delivery failed|returned mail|failure notice"
    r"|non remis|non distribuable|echec de (?:la )?(?:remise|distribution)|unzustellbar"
    r"|nicht zustellbar|onbestelbaar|niet (?:afgeleverd|bezorgd)|kan niet worden bezorgd"
    r"|mail system error|could not be delivered|permanent error"
    r"|mail error|delivery (?:report|status|problem|notification)|delivery failure"
    r"|(?:permanent|temporary) delivery failure|failure delivery|not (?:yet )?been delivered"
    r"|mail failed|returning (?:message )?to sender|returned to sender|bounce notification"
    r"|nondeliverable|non-delivery|automatically rejected|delivery warning|failed mail)\b"
)
#: Fields of a message/delivery-status part (RFC 3464) that only a DSN carries.
_DSN_FIELDS = re.compile(r"(?im)^(?:action:\s*(?:failed|delayed|relayed|expanded)"
                         r"|status:\s*[245]\.\d{1,3}\.\d{1,3}|final-recipient:)")
_AUTO_SUBJECT = re.compile(
    r"^(?:(?:re|aw|antw|tr|fw|fwd)\s*:\s*)*(?:"
    r"automatisch antwoord|automatisch bericht|autoreply|auto-reply|auto reply|automatic reply"
    r"|out of (?:the )?office|out-of-office|afwezig|afwezigheid|niet aanwezig|met verlof"
    r"|reponse automatique|absence|absent|abwesenheit|abwesenheitsnotiz|automatische antwort"
    r"|office closed|vakantie|en conge|on leave|away from)\b"
)
_AUTO_BODY = re.compile(
    r"\b(?:ik ben (?:momenteel |tijdelijk )?(?:afwezig|niet aanwezig|met verlof|op vakantie)"
    r"|ben (?:ik )?(?:momenteel )?afwezig|afwezig (?:tot|van|vanaf)|niet (?:op )?kantoor"
    r"|out of (?:the )?office|i am (?:currently )?(?:away|out|on leave|on holiday)"
    r"|je suis (?:actuellement )?absente?|je serai absente?|absente? jusqu|en conge jusqu"
    r"|ich bin (?:derzeit |zurzeit )?(?:nicht im buro|abwesend|im urlaub)|abwesend bis"
    r"|this is an automatic|dit is een automatisch|ceci est une reponse automatique"
    r"|dies ist eine automatische)\b"
)
_DELIVERY_TEXT = re.compile(
    r"\b(?:could not be delivered|delivery has failed|undeliverable|user unknown|mailbox "
    r"(?:unavailable|full)|recipient address rejected|no such user|550[ -]5\.\d\.\d"
    r"|kon niet worden bezorgd|niet worden afgeleverd|n'a pas pu etre remis"
    r"|konnte nicht zugestellt|(?:was|were|has|have) not (?:yet )?been delivered"
    r"|(?:message|mail) (?:is |was |has been )?delayed|delivery to the following"
    r"|permanent(?:ly)? (?:fatal )?error|returned mail|failed mail|can ?not be delivered"
    r"|invalid (?:user|recipient) address|full mailbox|mailbox is full)\b"
)


def _header_auto(parsed: ParsedMessage) -> bool:
    auto = fold(parsed.header("auto-submitted"))
    if auto and not auto.startswith("no"):
        return True
    if parsed.header("x-autoreply") or parsed.header("x-autorespond"):
        return True
    return fold(parsed.header("precedence")).strip() == "auto_reply"


def detect_kind(parsed: ParsedMessage, own_text: str) -> Kind | None:
    """``bounce`` or ``auto_reply`` when the message says so, else None (a human wrote it)."""
    sender = fold(parsed.from_address + " " + parsed.from_name).strip()
    local = fold(parsed.from_address.split("@", 1)[0])
    subject = fold(parsed.subject)
    if parsed.content_type == "multipart/report" and parsed.report_type in (
        "delivery-status", "global-delivery-status"
    ):
        return Kind.BOUNCE
    if parsed.report_type in ("delivery-status", "global-delivery-status"):
        return Kind.BOUNCE
    if parsed.header("x-ms-exchange-message-is-ndr") or parsed.header("x-failed-recipients"):
        return Kind.BOUNCE
    # a message/delivery-status part anywhere (some MTAs put it in multipart/mixed)
    if _DSN_FIELDS.search(parsed.report_text):
        return Kind.BOUNCE
    null_sender = fold(parsed.header("return-path")).strip("<> ") in ("", "mailer-daemon") \
        or fold(parsed.header("return-path")).strip("<> ").startswith("mailer-daemon@")
    # a null reverse-path (Return-Path: <>) is what RFC 5321 reserves for delivery reports
    if "return-path" in parsed.headers and null_sender and _DELIVERY_TEXT.search(
            fold(parsed.text)):
        return Kind.BOUNCE
    if _DAEMON_SENDER.match(local) or _DAEMON_SENDER.match(fold(parsed.from_name).strip()):
        return Kind.BOUNCE
    if _BOUNCE_SENDER.match(local) or _BOUNCE_SENDER.match(sender):
        if (_BOUNCE_SUBJECT.search(subject) or _DELIVERY_TEXT.search(fold(parsed.text))
                or ("return-path" in parsed.headers and null_sender)):
            return Kind.BOUNCE
    if _BOUNCE_SUBJECT.search(subject) and (_DELIVERY_TEXT.search(fold(parsed.text))
                                            or null_sender):
        return Kind.BOUNCE
    if _header_auto(parsed):
        return Kind.AUTO_REPLY
    if _AUTO_SUBJECT.search(subject):
        return Kind.AUTO_REPLY
    folded = fold(own_text)
    if len(folded) < 600 and _AUTO_BODY.search(folded):
        return Kind.AUTO_REPLY
    return None


@lru_cache(maxsize=1)
def _stopwords() -> dict[str, frozenset[str]]:
    data: dict[str, Any] = tomllib.loads(
        resources.files("ldn_inbox").joinpath("data/languages.toml").read_text("utf-8")
    )
    return {lang: frozenset(fold(w) for w in spec["words"]) for lang, spec in data.items()}


#: The four survey languages plus those most often met in Belgium; all but four map to other.
IDENTIFIED = ("nl", "fr", "en", "de", "es", "it", "pt", "pl", "tr", "ro", "ar")


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from ldn_inbox.parse.langmodel import identifier

    return identifier(IDENTIFIED)


_ANCHOR = re.compile(r"\[Q[0-4](?:\+[0-4])*\]")


def detect_language(text: str) -> tuple[Language, float]:
    """Language of ``text`` and a confidence (0..1); short texts lean on function words."""
    language, confidence, _ = detect_language_detail(text)
    return language, confidence


#: languages the codebook counts as ``other`` that still have a lexicon of their own
LEXICON_ONLY = ("it", "es")


def detect_language_detail(text: str) -> tuple[Language, float, str]:
    """``detect_language`` plus the language to read ``text`` in: the codebook's code, or for a
    text the codebook counts as ``other`` the identifier's label when it has a lexicon ("it",
    "es"), else "other"."""
    clean = _ANCHOR.sub(" ", text)
    tokens = words(clean)
    if not tokens:
        return Language.OTHER, 0.0, Language.OTHER.value
    votes: Counter[str] = Counter()
    for lang, vocabulary in _stopwords().items():
        votes[lang] = sum(map(vocabulary.__contains__, tokens))
    label, probability = _identifier().classify(clean)
    ranked = votes.most_common(2)
    top_lang, top_votes = ranked[0]
    second_votes = ranked[1][1] if len(ranked) > 1 else 0
    clear_votes = top_votes >= 2 and top_votes >= 2 * second_votes
    if label in ("nl", "fr", "en", "de"):
        if probability >= 0.9 and (len(tokens) >= 8 or not clear_votes or top_lang == label):
            return Language(label), float(probability), label
        if clear_votes:
            return Language(top_lang), 0.8 if top_lang == label else 0.6, top_lang
        return Language(label), float(probability) * 0.8, label
    # langid says another language: trust it only when the function words do not disagree
    if clear_votes and top_votes >= 3 and top_votes / len(tokens) > 0.25:
        return Language(top_lang), 0.6, top_lang
    # a language with a lexicon of its own, said with confidence over a text long enough
    reading = label if label in LEXICON_ONLY and probability >= 0.9 and len(tokens) >= 5 \
        else Language.OTHER.value
    return Language.OTHER, float(probability), reading


def is_bulk(parsed: ParsedMessage) -> bool:
    """Mailing-list, newsletter, bulk or spam-flagged mail (List-Id, List-Unsubscribe,
    Precedence bulk, X-Spam-Flag)."""
    precedence = fold(parsed.header("precedence")).strip()
    spam = fold(parsed.header("x-spam-flag")).startswith("yes") or fold(
        parsed.header("x-spam-status")).startswith("yes")
    return bool(parsed.header("list-id") or parsed.header("list-unsubscribe")
                or precedence in ("bulk", "list", "junk") or spam)


#: The drug or the survey named (folded text, nl/fr/en/de; "nal?trex" takes the usual typos).
_SURVEY_TOPIC = re.compile(
    r"\b(?:ldn|nal?trex\w*|naltex\w*|enquete\w*|vragenlijst\w*|bevraging\w*|rondvraag\w*"
    r"|survey\w*|questionnaire\w*|sondage\w*|umfrage\w*|fragebogen\w*)\b"
)
#: Writing a prescription (nl/fr/en/de): said of a doctor, it answers question 2 about a
#: medicine ("de neuroloog had het voorgeschreven"), not about a phone or a program.
_PRESCRIBING = re.compile(
    r"\b(?:voor(?:ge)?schr\w*|schre(?:ef|ven)\s+(?:\w+\s+){0,3}voor|voorschrift\w*"
    r"|prescri\w*|perscri\w*|precri\w*|ordonnance\w*|verschr\w*|verordn\w*|rezept\w*)\b"
)


def concerns_survey(parsed: ParsedMessage, own: OwnText, prescriber_evidence: list[str]) -> bool:
    """Whether a human message is about this survey, so that answers found in it make it a
    ``reply``.

    The extractor reads any text as a possible answer: "ik gebruik de nieuwe versie" is a
    use, "it works great" a positive experience. Such words answer the survey only in a
    message about it, and the mailbox also gets mail about anything else. A message is
    about the survey when it

    * quotes the info sheet or one of its questions (reply isolation found them), or
    * names the drug or the survey (LDN, naltrexone, enquête, questionnaire...) in its
      subject, its own words or what it quotes (a reply keeps "Re: Naltrexone (LDN)..."), or
    * names who prescribed something: a prescriber in the same sentence as a prescribing
      word ("het was mijn gynaecoloog die het voorschreef"), which only a medicine has.

    Short answers under the quoted questions ("Ja / huisarts / positief / geen") pass by the
    first rule; a story sent under a subject of its own by the second or the third.
    """
    if own.quoted_sheet or own.anchors:
        return True
    if any(_SURVEY_TOPIC.search(fold(text)) for text in (parsed.subject, own.text, own.quoted)):
        return True
    return any(_PRESCRIBING.search(fold(sentence)) for sentence in prescriber_evidence)
