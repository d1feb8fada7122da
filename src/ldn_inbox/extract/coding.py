"""One parsed message to its codebook record: own text, kind, language, answers.

Pure: no database, network or clock. The pipeline stores what this returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ldn_inbox.codebook import ANSWER_FIELDS, Kind, Language, LdnUse, Span
from ldn_inbox.extract import EXTRACTOR_VERSION, Extraction, extract
from ldn_inbox.extract.calibration import Context, calibrated, shipped
from ldn_inbox.parse.classify import (
    concerns_survey,
    detect_kind,
    detect_language_detail,
    is_bulk,
)
from ldn_inbox.parse.mailings import MailingSet
from ldn_inbox.parse.mime import ParsedMessage
from ldn_inbox.parse.reply import OwnText, isolate
from ldn_inbox.parse.textnorm import fold, subject_key

#: Below this language-identification confidence the language field is flagged.
LANGUAGE_REVIEW_BELOW = 0.5
#: Below this field confidence the field is flagged for review.
REVIEW_BELOW = 0.7

#: A forward's subject ("TR:", "Fwd:", "Doorst:", "WG:"), possibly before "RE:".
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|tr|doorst|wg|enc|rv)\s*:", re.IGNORECASE)
_ATTACHMENT_HINT = ("bijlage", "attachment", "piece jointe", "pièce jointe", "anhang",
                    "bijgevoegd", "ci-joint", "attached", "angehängt", "in bijlage")


@dataclass
class Coded:
    """The record of one message, ready to store.

    :ivar values: every coded field (kind, language and the answer fields) by codebook name.
    :ivar evidence: field -> spans in ``own_text``.
    """

    own_text: str
    quoted_text: str
    values: dict[str, Any]
    confidence: dict[str, float]
    evidence: dict[str, list[dict[str, Any]]]
    review_fields: list[str]
    extractor_version: str = EXTRACTOR_VERSION
    notes: list[str] = field(default_factory=list)
    #: fingerprint of the mailings known when this was coded ("" when none were)
    knowledge: str = ""
    #: keys of the known mailings the message quotes, and its quoted tokens none explains
    mailings: list[str] = field(default_factory=list)
    unexplained: int = 0
    #: quoted lines no known mailing explains, when there are enough to learn one from
    learn_text: str = ""
    #: the rules' own confidences (``confidence`` holds the fitted probabilities) and what
    #: the calibration signature needs: kept for fitting, not stored
    raw_confidence: dict[str, float] = field(default_factory=dict)
    context: Context = field(default_factory=Context)


def _answers_anything(text: str) -> bool:
    """Whether a follow-up's own words answer or correct anything by themselves."""
    _, _, reading = detect_language_detail(text)
    result = extract(text, reading)
    return result.answered or result.answered_weakly


def own_text_of(parsed: ParsedMessage, mailings: MailingSet | None = None) -> OwnText:
    """Reply isolation on the body, plus the answers in text attachments."""
    sender = tuple(fold(v).strip() for v in (parsed.from_address, parsed.from_name)
                   if v and len(v.strip()) > 3)
    forwarded_by = sender if _FORWARD_SUBJECT.match(parsed.subject or "") else ()
    own = isolate(parsed.text, mailings=mailings, forwarded_by=forwarded_by, sender=sender)
    if own.earlier and not _answers_anything(own.text):
        # "I send my answers again, see below": the earlier message is what is said
        own = isolate(parsed.text, mailings=mailings, forwarded_by=forwarded_by)
    texts = [a for a in parsed.attachments if a.text and a.text.strip()]
    if texts and (len(own.text) < 400 or any(h in fold(own.text) for h in _ATTACHMENT_HINT)):
        parts = [own.text] if own.text.strip() else []
        quoted = [own.quoted] if own.quoted else []
        for attachment in texts[:5]:
            assert attachment.text is not None
            inner = isolate(attachment.text, mailings=mailings)
            if inner.text.strip():
                parts.append(inner.text)
                own.anchors += inner.anchors
                if not own.mailings:
                    own.order, own.labels = inner.order, inner.labels
            if inner.quoted:
                quoted.append(inner.quoted)
        own.text = "\n\n".join(parts)
        own.quoted = "\n".join(quoted)
    return own


def _spans(spans: list[Span]) -> list[dict[str, Any]]:
    return [{"start": s.start, "end": s.end, "text": s.text} for s in spans]


def code(parsed: ParsedMessage, mailings: MailingSet | None = None) -> Coded:
    """The codebook record of ``parsed``, knowing the ``mailings`` that were sent."""
    mailings = mailings or MailingSet()
    own = own_text_of(parsed, mailings)
    coded = _calibrate(_code(parsed, own, subject_key(parsed.subject) in mailings.subjects))
    coded.knowledge = mailings.fingerprint
    coded.mailings = own.mailings
    coded.unexplained = own.unexplained
    coded.learn_text = own.material
    return coded


def _calibrate(coded: Coded) -> Coded:
    """Fitted probabilities in place of the rules' constants, and the fields whose probability
    is below their threshold flagged for review (besides what the rules flag themselves)."""
    coded.raw_confidence = dict(coded.confidence)
    values = coded.values
    fields = {k: v for k, v in coded.confidence.items() if k != "language"}
    if values.get("ldn_use") == LdnUse.NEVER:
        fields = {k: v for k, v in fields.items() if k in ("kind", "ldn_use")}
    probabilities, flagged = calibrated(values, fields, coded.context)
    coded.confidence.update(probabilities)
    review = list(dict.fromkeys(coded.review_fields + flagged))
    if "kind" in review:
        # unsure whether it is a reply at all: every answer field waits for that look
        review += [f for f in ANSWER_FIELDS if f not in review]
    coded.review_fields = review
    return coded


def _code(parsed: ParsedMessage, own: OwnText, answers_mailing: bool) -> Coded:
    """``answers_mailing``: the subject is that of a known mailing ("Re: ...")."""
    auto_kind = detect_kind(parsed, own.text)
    language_text = own.text
    if auto_kind is Kind.BOUNCE:
        language_text = parsed.text or parsed.report_text
    language, language_confidence, reading = detect_language_detail(language_text)
    values: dict[str, Any] = {"kind": None, "language": language.value}
    confidence: dict[str, float] = {"language": round(language_confidence, 3)}
    evidence: dict[str, list[dict[str, Any]]] = {}
    review: list[str] = []
    notes: list[str] = []
    if language_confidence < LANGUAGE_REVIEW_BELOW:
        review.append("language")
    if auto_kind is not None:
        values["kind"] = auto_kind.value
        confidence["kind"] = 0.95
        values.update(dict.fromkeys(ANSWER_FIELDS))
        return Coded(own.text, own.quoted, values, confidence, evidence, review, notes=notes)
    # a text in a language the codebook counts as other is read with its own lexicon if any
    result: Extraction = extract(own.text, reading, order=own.order, labels=own.labels)
    notes += result.notes
    bulk_without_answers = is_bulk(parsed) and not own.anchors
    prescriber = result.fields.get("prescriber")
    about_survey = concerns_survey(
        parsed, own, [s.text for s in prescriber.evidence] if prescriber else [])
    # answer-like words in a message about something else ("it works great" about a program)
    # a fact without the drug named (a follow-up adding one side effect) answers the survey
    # in a message that quotes a mailing or answers one by its subject
    # ... or that answers the survey's questions itself: a use, who prescribed it, and how it
    # went or its side effects (unrelated mail does not say all that)
    said = {name for name in ("ldn_use", "prescriber", "experience", "side_effects")
            if (f := result.fields.get(name)) is not None and f.value not in (None, "unknown")}
    answers_all = {"ldn_use", "prescriber"} <= said and bool(
        said & {"experience", "side_effects"})
    tied = own.quoted_sheet or bool(own.mailings) or answers_mailing or answers_all
    # a fact the writer adds to or corrects in earlier answers, in an answer to a message
    # about the survey ("je corrige ma réponse : c'est l'interniste qui me l'a prescrite")
    follow_up = result.amends and about_survey and bool(parsed.header("in-reply-to"))
    answered = result.answered or (result.answered_weakly and (tied or follow_up))
    off_topic = answered and not (about_survey or tied)
    uncovered_reply = (
        not answered and language is Language.OTHER and bool(own.text.strip())
        and (own.quoted_sheet or bool(parsed.header("in-reply-to"))) and about_survey
    )
    if uncovered_reply:
        # a reply to the mailing in a language without a lexicon: a person must read it
        values["kind"] = Kind.REPLY.value
        confidence["kind"] = 0.5
        values.update(dict.fromkeys(ANSWER_FIELDS))
        values.update(ldn_use=LdnUse.UNKNOWN.value, prescriber="unknown", experience="unknown",
                      side_effects="unknown", benefits=[], side_effect_codes=[])
        review += ["kind", "ldn_use", "prescriber", "experience", "side_effects", "benefits",
                   "side_effect_codes"]
        return Coded(own.text, own.quoted, values, confidence, evidence,
                     list(dict.fromkeys(review)), notes=notes)
    if not answered or bulk_without_answers or off_topic:
        values["kind"] = Kind.NOT_SURVEY.value
        confidence["kind"] = 0.6 if own.text.strip() else 0.4
        values.update(dict.fromkeys(ANSWER_FIELDS))
        answer_like = any(f.value not in (None, "unknown", []) for name, f in result.fields.items()
                          if name in ("ldn_use", "prescriber", "experience", "side_effects"))
        if answer_like and not bulk_without_answers and "kind" not in review:
            review.append("kind")  # answer-like words the rules found no survey answer in
        if off_topic and not bulk_without_answers:
            # a reply sent without quote, drug name or prescriber: a person decides
            notes.append("answer-like text, but nothing ties the message to the survey")
            confidence["kind"] = 0.5
            review.append("kind")
        if not own.text.strip() or own.quoted_sheet:
            review.append("kind")
        review = list(dict.fromkeys(review))
        return Coded(own.text, own.quoted, values, confidence, evidence, review, notes=notes)
    values["kind"] = Kind.REPLY.value
    confidence["kind"] = 0.9
    for name in ANSWER_FIELDS:
        field_result = result.fields.get(name)
        if field_result is None:
            values[name] = [] if name in ("benefits", "side_effect_codes") else None
            continue
        values[name] = field_result.value
        confidence[name] = field_result.confidence
        if field_result.evidence:
            evidence[name] = _spans(field_result.evidence)
    if shipped() is None:
        review += [f for f in result.review_fields if f not in review]
    review += [f for f in result.contradicted if f not in review]
    if language is Language.OTHER:
        review += [f for f in ("ldn_use", "prescriber", "experience", "side_effects")
                   if f not in review]
    if values.get("ldn_use") == LdnUse.NEVER:
        review = [f for f in review if f in ("kind", "language", "ldn_use")]
    return Coded(own.text, own.quoted, values, confidence, evidence, review, notes=notes,
                 context=Context(result.layout, result.answered_questions,
                                 len(own.text.split())))
