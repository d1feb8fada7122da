"""Question 4: side effects (``side_effects``, ``side_effect_codes``).

An adverse-effect term ("nachtmerries", "misselijk") counts wherever the writer speaks of
their own use, unless negated ("geen hoofdpijn, wel misselijk": only nausea), about another
drug, another person, a fear, or the illness as background. A neutral symptom word ("moe")
counts in the answer to question 4, or elsewhere when it got worse. "Geen", "niet dat ik
weet", "tot nu toe niets" is ``no``; an effect the writer will not attribute to LDN is
``unknown``; nothing said is ``unknown``.
"""

from __future__ import annotations

from ldn_inbox.codebook import LdnUse, SideEffects
from ldn_inbox.extract._common import (
    Reading,
    answer_word,
    first_hit_of_answer,
    topic_clause,
    usable,
)
from ldn_inbox.extract._mentions import Mention
from ldn_inbox.extract._text import Doc, Hit, in_context, negated
from ldn_inbox.extract.segment import Segments


def accepted_effect(mention: Mention) -> bool:
    """Whether a mention is a side effect of the writer's own LDN."""
    if mention.side_effect is None or mention.negated or mention.other_drug or mention.reason \
            or mention.disowned:
        return False
    if mention.direction == "improve":
        return False
    if mention.inherent:
        return not (mention.background and 4 not in mention.questions)
    if 4 in mention.questions:
        return True
    return mention.direction == "worsen" and not mention.background


def _near_generic(doc: Doc, hit: Hit) -> bool:
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    first, last = doc.sentence_range(clause.sentence)
    return bool(doc.hits_in(first, last, "side_effect", "generic"))


def _partial(doc: Doc, hit: Hit) -> bool:
    """A "no side effects" said apart from something told ("verder", "buiten dat ...") or of
    one thing told before ("daar heb ik geen last van gehad"), within its sentence."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    first, last = doc.sentence_range(clause.sentence)
    return bool(doc.hits_in(max(first, hit.first - 8), min(last, hit.last + 6),
                            "context", "besides"))


def _sentence(doc: Doc, hit: Hit) -> int:
    clause = doc.clause_of(hit.first)
    return -1 if clause is None else clause.sentence


def _answered_no(doc: Doc, hit: Hit) -> bool:
    """A side-effect label answered no on its own line: "Bijwerkingen: geen", "Effets
    secondaires : pas pour l'instant", "bijwerkingen nul"."""
    line_end = doc.text.find("\n", hit.end)
    line_end = len(doc.text) if line_end < 0 else line_end
    # the answer right after the label, or after one word that names nothing ("nog geen")
    names = any(h.first <= hit.last < h.last for section in ("symptom", "side_effect")
                for h in doc.hits_in(hit.last, hit.last + 1, section))
    reach = hit.last + (0 if names else 1)
    following = [h for h in doc.hits if hit.last <= h.first <= reach and h.start < line_end]
    return any((h.section == "answer" and h.key == "no") or h.concept == "negation.pre"
               or h.concept == "context.so_far" for h in following)


def _asked_and_answered(doc: Doc, hit: Hit) -> bool:
    """The writer's own short question of the topic, answered right after it: "Bijwerkingen?
    Nee, geen.", "Des effets secondaires ? Non, aucun."; or the topic put first, then said
    no of: "Des effets secondaires, je n'en ai jamais eu"."""
    clause = doc.clause_of(hit.first)
    # (a topic opening its clause may carry a hedge: "Des effets secondaires à proprement
    # parler, aucun")
    if clause is None or not (topic_clause(clause) or (
            hit.first - clause.first <= 1 and clause.last - clause.first <= 6)):
        return False
    if _answered_no(doc, hit):
        return True
    # or in a short clause after it that names nothing: "k'en er gin gemerkt"
    answer = doc.clause_of(clause.last)
    if answer is None or answer.last - answer.first > 6:
        return False
    if any(doc.hits_in(answer.first, answer.last, section)
           for section in ("symptom", "side_effect")):
        return False
    return bool(doc.hits_in(answer.first, answer.last, "answer", "no")
                or doc.hits_in(answer.first, answer.last, "negation", "pre")
                or doc.hits_in(answer.first, answer.last, "negation", "post"))


def _effects(found: list[Mention]) -> tuple[dict[str, Hit], list[Hit]]:
    """The side effects named (code -> first mention), and the mentions said unsure."""
    codes: dict[str, Hit] = {}
    unsure: list[Hit] = []
    for mention in found:
        if not accepted_effect(mention):
            continue
        if mention.unsure:
            unsure.append(mention.hit)
            continue
        assert mention.side_effect is not None
        codes.setdefault(mention.side_effect, mention.hit)
    return codes, unsure


def _generic_words(doc: Doc, *, proxy: bool, unsure: list[Hit]
                   ) -> tuple[list[Hit], list[Hit], list[Hit]]:
    """The general words ("bijwerkingen") said no, said yes, and said no explicitly
    ("geen bijwerkingen", "Bijwerkingen: geen", with nothing left open); an unsure one goes
    to ``unsure``."""
    said_no: list[Hit] = []
    said_yes: list[Hit] = []
    explicit_no: list[Hit] = []
    for hit in doc.hits_of("side_effect", "generic"):
        if _asked_and_answered(doc, hit):
            said_no.append(hit)
            explicit_no.append(hit)
            continue
        if not usable(doc, hit, proxy=proxy) or in_context(doc, hit, "other_drug",
                                                            scope="clause"):
            continue
        if in_context(doc, hit, "unsure") is not None:
            unsure.append(hit)
        elif negated(doc, hit) or _answered_no(doc, hit):
            said_no.append(hit)
            if not doc.hits_in(max(0, hit.first - 2), hit.last + 2, "context", "except") \
                    and not _partial(doc, hit):
                explicit_no.append(hit)
        elif hit.term.lower().startswith(("bijwerk", "neven", "effet", "side", "neben")):
            said_yes.append(hit)
    return said_no, said_yes, explicit_no


def _after_explicit_no(doc: Doc, codes: dict[str, Hit], explicit_no: list[Hit]
                       ) -> dict[str, Hit]:
    """The later, more specific statement wins: effects read from a story told before
    "Bijwerkingen: geen" are not side effects (a symptom that got better, the illness)."""
    if not explicit_no or not codes:
        return codes
    last_no = max(h.start for h in explicit_no)
    said = {_sentence(doc, h) for h in explicit_no}
    return {code: hit for code, hit in codes.items()
            if hit.start > last_no or _sentence(doc, hit) in said}


def _answer_four(doc: Doc, segs: Segments, *, has_codes: bool, said_no: list[Hit],
                 said_yes: list[Hit], unsure: list[Hit]) -> None:
    """What the answer to question 4 says by itself: a yes/no opening it, "so far", a
    doubt, or a short answer made of a "no" word ("Tot op heden geen.", "neen, niets")."""
    answer = answer_word(doc, segs, 4)
    opening = first_hit_of_answer(doc, segs, 4)
    if answer == "no" and opening is not None:
        said_no.append(opening)
    elif answer == "yes" and opening is not None:
        said_yes.append(opening)
    if not segs.has(4):
        return
    unsure += [h for h in doc.hits_of("context", "unsure") if segs.answers(h.start, 4)]
    if has_codes:
        return
    said_no += [h for h in doc.hits_of("context", "so_far") if segs.answers(h.start, 4)]
    inside = [t for t in doc.tokens if segs.answers(t.start, 4)]
    if len(inside) <= _PLAIN_ANSWER_TOKENS:
        said_no += [h for h in doc.hits_of("answer", "no")
                    if segs.answers(h.start, 4) and h.term not in ("/",)]


#: An answer to question 4 this short is a plain answer, not a story.
_PLAIN_ANSWER_TOKENS = 8


def _plain_no(doc: Doc, segs: Segments) -> bool:
    """The answer to question 4 is a plain no ("Neen.", "Tot op heden geen.", "Pas pour
    l'instant.") that names no symptom and leaves nothing aside ("verder niet")."""
    if not segs.has(4):
        return False

    def inside(hits: list[Hit]) -> bool:
        return any(segs.answers(h.start, 4) for h in hits)

    tokens = [t for t in doc.tokens if segs.answers(t.start, 4)]
    if not tokens or len(tokens) > _PLAIN_ANSWER_TOKENS:
        return False
    named = [h for h in doc.hits if h.section in ("side_effect", "symptom")
             and h.key != "generic"]
    if inside(named) or inside(doc.hits_of("context", "besides")) \
            or inside(doc.hits_of("context", "except")):
        return False
    return inside(doc.hits_of("answer", "no")) or inside(doc.hits_of("context", "so_far")) \
        or inside(doc.hits_of("negation", "pre"))


def _opens_unsure(doc: Doc, segs: Segments) -> bool:
    """The answer to question 4 opens with a doubt ("not sure", "weet ik niet")."""
    if not segs.has(4):
        return False
    tokens = [i for i, t in enumerate(doc.tokens) if segs.answers(t.start, 4)]
    return bool(tokens) and any(h.first <= tokens[0] + 1 and segs.answers(h.start, 4)
                                for h in doc.hits_of("context", "unsure"))


def code_side_effects(doc: Doc, segs: Segments, found: list[Mention], *, use: LdnUse,
                      proxy: bool) -> tuple[Reading, Reading]:
    """(side_effects, side_effect_codes) readings."""
    if use is LdnUse.NEVER:
        return Reading(None, 0.9), Reading([], 0.9)
    codes, unsure = _effects(found)
    said_no, said_yes, explicit_no = _generic_words(doc, proxy=proxy, unsure=unsure)
    # "ni en bien ni en mal": nothing either way
    said_no += [h for h in doc.hits_of("experience", "neither") if usable(doc, h, proxy=proxy)]
    # an effect named in the answer and said the illness's or there before is a "no"
    said_no += [m.hit for m in found if m.side_effect and m.disowned and not m.negated
                and (segs.answers(m.hit.start, 4) or _near_generic(doc, m.hit))]
    codes = _after_explicit_no(doc, codes, explicit_no)
    if codes and _opens_unsure(doc, segs):
        # "Side effects: not sure. I've been more tired lately": what follows is the doubt
        unsure += [h for h in codes.values() if segs.answers(h.start, 4)]
        codes = {code: hit for code, hit in codes.items() if not segs.answers(hit.start, 4)}
    if codes and _plain_no(doc, segs):
        # a plain "no" under question 4 outweighs symptoms read from the other answers (the
        # condition treated, a benefit): "2. Mijn neuroloog (ook voor migraine) ... 4. Geen."
        codes = {code: hit for code, hit in codes.items() if segs.answers(hit.start, 4)}
    _answer_four(doc, segs, has_codes=bool(codes), said_no=said_no, said_yes=said_yes,
                 unsure=unsure)
    if codes:
        # named under question 4 or next to "bijwerking": sure; read from a story: less so
        direct = any(segs.answers(h.start, 4) or _near_generic(doc, h)
                     for h in codes.values())
        confidence = (0.88 if direct else 0.72) - (0.1 if said_no else 0.0)
        hits = tuple(codes.values())
        return (Reading(SideEffects.YES, confidence, hits),
                Reading(sorted(codes), confidence, hits))
    if unsure:
        return Reading(SideEffects.UNKNOWN, 0.7, tuple(unsure[:1])), Reading([], 0.7)
    if said_no:
        return Reading(SideEffects.NO, 0.88, tuple(said_no[:1])), Reading([], 0.88)
    if said_yes:
        return Reading(SideEffects.YES, 0.62, tuple(said_yes[:1])), Reading([], 0.55)
    if segs.has(4):
        return Reading(SideEffects.UNKNOWN, 0.5), Reading([], 0.5)
    return Reading(SideEffects.UNKNOWN, 0.78), Reading([], 0.78)
