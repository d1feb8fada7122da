"""Runs the question modules over one own text and assembles the :class:`Extraction`."""

from __future__ import annotations

import re

from ldn_inbox.codebook import LdnUse, Prescriber, SideEffects, Span
from ldn_inbox.extract import Extraction
from ldn_inbox.extract._common import Reading, sentence_span
from ldn_inbox.extract._mentions import mentions
from ldn_inbox.extract._text import Doc, Hit, available_languages, build_doc, negated
from ldn_inbox.extract.dose import code_dose
from ldn_inbox.extract.experience import (
    code_benefits,
    code_experience,
    stopped_for_side_effects,
)
from ldn_inbox.extract.prescriber import code_prescriber
from ldn_inbox.extract.segment import segment
from ldn_inbox.extract.side_effects import accepted_effect, code_side_effects
from ldn_inbox.extract.use import code_use

#: A field below this confidence is listed in review_fields.
REVIEW_BELOW = 0.7
_ANCHOR_LINE = re.compile(r"^\[Q[0-4](?:\+[0-4])*\][ \t]*$", re.MULTILINE)


def _evidence(doc: Doc, reading: Reading) -> list[Span]:
    spans: list[Span] = []
    for hit in reading.hits:
        piece = sentence_span(doc, hit)
        if piece not in spans:
            spans.append(piece)
    return spans


def _near_use(doc: Doc, hit: Hit) -> bool:
    """Whether ``hit`` stands in a sentence that speaks of the drug or of using it."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    first, last = doc.sentence_range(clause.sentence)
    return bool(doc.hits_in(first, last, "subject", "drug") or doc.hits_in(first, last, "use"))


def _sentence_at(doc: Doc, position: int) -> int:
    for index, (start, end) in enumerate(doc.sentence_spans):
        if start <= position < end:
            return index
    return -1


def _same_sentence(doc: Doc, a: int, b: int) -> bool:
    return _sentence_at(doc, a) == _sentence_at(doc, b) != -1


def _present(doc: Doc, position: int) -> bool:
    """Whether the sentence at ``position`` is said in the present (a present-tense cue)."""
    return any(_same_sentence(doc, hit.start, position) for hit in doc.hits_of("use", "present"))


def _own_use(doc: Doc) -> bool:
    """Whether the writer tells of taking (or having taken) the drug themselves."""
    for hit in doc.hits_of("use"):
        if hit.key not in ("current", "past", "past_weak", "restart", "keep"):
            continue
        clause = doc.clause_of(hit.first)
        if clause is not None and doc.hits_in(clause.first, clause.last, "subject", "self"):
            return True
    return False


def _bare_sentence(doc: Doc, hit: Hit) -> bool:
    """Whether ``hit`` is a sentence by itself, a word or two around it ("De huisarts."):
    an answer to a question asked, as in a thread where the organisation asked it."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    first, last = doc.sentence_range(clause.sentence)
    return last - first <= 4


def _near_prescribing(doc: Doc, hit: Hit) -> bool:
    """Whether ``hit`` shares its sentence with a prescribing word."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    first, last = doc.sentence_range(clause.sentence)
    return bool(doc.hits_in(first, last, "prescribe", "verb"))


def _set_against_rival(doc: Doc, hit: Hit) -> bool:
    """Whether ``hit`` stands in a sentence that denies another prescriber ("Dr Wouters is my
    rheumatologist, not my GP"): a correction of who prescribed, said on its own."""
    clause = doc.clause_of(hit.first)
    if clause is None or negated(doc, hit):
        return False
    first, last = doc.sentence_range(clause.sentence)
    return any(other.key not in (hit.key, "unknown") and negated(doc, other)
               for other in doc.hits_in(first, last, "prescriber"))


def run(own_text: str, language: str, *, order: tuple[int, ...] = (1, 2, 3, 4),
        labels: dict[str, int] | None = None) -> Extraction:
    result = Extraction()
    if not _ANCHOR_LINE.sub("", own_text).strip():
        result.notes.append("no own text")
        return result
    doc = build_doc(own_text, language)
    segs = segment(doc, order=order, labels=labels)
    if segs.foreign:
        # answers to the mailing's other questions are read by no module
        blanked = list(own_text)
        for start, end in segs.foreign:
            blanked[start:end] = [c if c == "\n" else " " for c in own_text[start:end]]
        doc = build_doc("".join(blanked), language)
        segs = segment(doc, order=order, labels=labels)
    result.layout = segs.layout
    result.answered_questions = frozenset(n for n in segs.spans if segs.has(n))
    proxy = bool(doc.hits_of("context", "proxy")) or (
        bool(doc.hits_of("context", "relation")) and not _own_use(doc))
    use = code_use(doc, segs, proxy=proxy)
    use_value = LdnUse(str(use.value))
    # (the dose is read the same for every use but never: read once)
    dose_read: tuple[Reading, Span | None] | None = None
    if use_value is LdnUse.UNKNOWN and not (segs.blank and 1 in segs.blank):
        # "about two weeks into 1.5 mg now", "ik zit nu aan 3 mg": a dose taken now is use now
        dose_read = code_dose(doc, use=use_value)
        now_dose, now_span = dose_read
        if now_dose.value is not None and now_span is not None \
                and _present(doc, now_span.start):
            use = Reading(LdnUse.CURRENT, 0.7, tuple(
                h for h in doc.hits_of("use", "present") if _same_sentence(
                    doc, h.start, now_span.start))[:1], contradicted=use.contradicted)
            use_value = LdnUse.CURRENT
    prescriber, specialty = code_prescriber(doc, segs, proxy=proxy)
    found = mentions(doc, segs, proxy=proxy)
    benefits = code_benefits(doc, segs, found)
    side_effects, codes = code_side_effects(doc, segs, found, use=use_value, proxy=proxy)
    accepted = [m for m in found if m.side_effect in (codes.value or []) and accepted_effect(m)]
    stop_for_side_effects = stopped_for_side_effects(doc, accepted)
    experience = code_experience(
        doc, segs, use=use_value, benefits=list(benefits.value or []),
        benefit_hits=list(benefits.hits),
        side_effect_mentions=accepted, stop_for_side_effects=stop_for_side_effects, proxy=proxy)
    if dose_read is None or use_value is LdnUse.NEVER:
        dose_read = code_dose(doc, use=use_value)
    dose, dose_span = dose_read

    never = use_value is LdnUse.NEVER
    result.set("ldn_use", use_value.value, use.confidence, _evidence(doc, use))
    if use.contradicted:
        result.contradicted.append("ldn_use")
    if never:
        for name in ("prescriber", "prescriber_specialty", "experience", "side_effects",
                     "dose_mg"):
            result.set(name, None, 0.9)
        result.set("benefits", [], 0.9)
        result.set("side_effect_codes", [], 0.9)
    else:
        prescriber_value = Prescriber(str(prescriber.value))
        result.set("prescriber", prescriber_value.value, prescriber.confidence,
                   _evidence(doc, prescriber))
        if prescriber.contradicted:
            result.contradicted.append("prescriber")
        specialty_value = specialty.value if prescriber_value is Prescriber.SPECIALIST else None
        result.set("prescriber_specialty",
                   None if specialty_value is None else str(specialty_value),
                   specialty.confidence if specialty_value else 0.9,
                   _evidence(doc, specialty) if specialty_value else [])
        result.set("experience", None if experience.value is None else str(experience.value),
                   experience.confidence, _evidence(doc, experience))
        result.set("benefits", list(benefits.value or []),
                   benefits.confidence, _evidence(doc, benefits))
        se_value = SideEffects(str(side_effects.value))
        result.set("side_effects", se_value.value, side_effects.confidence,
                   _evidence(doc, side_effects))
        code_list = list(codes.value or []) if se_value is SideEffects.YES else []
        result.set("side_effect_codes", code_list, codes.confidence, _evidence(doc, codes))
        result.set("dose_mg", dose.value, dose.confidence,
                   [dose_span] if dose_span is not None and dose.value is not None else [])

    layout_answers = segs.layout != "narrative" and any(
        number not in segs.blank for number in segs.spans)
    prescribed = prescriber.confidence >= 0.85 and bool(prescriber.hits)
    about_drug = bool(doc.hits_of("subject", "drug"))
    said_experience = experience.value not in (None, "unknown") and (
        segs.has(3) or any(_near_use(doc, hit) for hit in experience.hits))
    answered = (
        use_value is not LdnUse.UNKNOWN
        or layout_answers
        or prescribed
        or said_experience
        or (bool(benefits.value) and about_drug)
        or (bool(codes.value) and about_drug)
    )
    # a fact with nothing in the text naming the drug: an answer only in a message that is
    # tied to the survey otherwise (a follow-up: "de eerste week had ik rare dromen")
    named = prescriber.value not in (None, "unknown") and bool(prescriber.hits)
    # (a doctor named in passing answers nothing: one said to prescribe, or one the writer
    # corrects an earlier answer about, does)
    result.answered_weakly = not answered and (
        bool(benefits.value) or bool(codes.value)
        or (named and (bool(doc.hits_of("context", "amend"))
                       or any(_near_prescribing(doc, hit) or _bare_sentence(doc, hit)
                              or _set_against_rival(doc, hit) for hit in prescriber.hits))))
    result.answered = answered
    result.amends = bool(doc.hits_of("context", "amend"))
    for name, field_result in result.fields.items():
        if field_result.confidence < REVIEW_BELOW:
            result.review_fields.append(name)
    if language not in available_languages():
        result.notes.append(f"language {language} has no lexicon")
    return result
