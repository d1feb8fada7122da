"""Question 3: was the experience positive (``experience``), and what improved
(``benefits``).

A benefit is a symptom mention that got better ("minder pijn", "slaap beter", "meer
energie") and is not negated ("van minder pijn heb ik niets gemerkt"), not another person's
and not another drug's. The experience then follows the codebook: too early -> unknown;
a benefit that faded, or weighed against a drawback -> mixed; a benefit -> positive;
worse, or stopped for side effects without a benefit -> negative; no difference -> no_effect.
"""

from __future__ import annotations

from dataclasses import dataclass

from ldn_inbox.codebook import Experience, LdnUse
from ldn_inbox.extract._common import (
    Reading,
    answer_word,
    first_hit_of_answer,
    on_topic,
    topic_clause,
    usable,
)
from ldn_inbox.extract._mentions import Mention
from ldn_inbox.extract._text import Doc, Hit, in_context, negated
from ldn_inbox.extract.segment import Segments

_WEAK_POSITIVE_MAX_LEN = 5


def code_benefits(doc: Doc, segs: Segments, found: list[Mention]) -> Reading:
    codes: dict[str, Hit] = {}
    for mention in found:
        if mention.benefit is None or mention.direction != "improve" or mention.negated:
            continue
        if mention.other_drug:
            continue
        if 4 in mention.questions and mention.inherent:
            continue
        codes.setdefault(mention.benefit, mention.hit)
    confidence = 0.85 if codes else 0.8
    return Reading(sorted(codes), confidence, tuple(codes.values()))


_ARTICLES = frozenset(("het", "the", "la", "le", "das", "die", "der"))


def _at_first(doc: Doc) -> list[Hit]:
    """Time markers for the start ("in het begin", "at first"), not "for the first time"
    ("voor het eerst in jaren", "for the first time")."""
    return [h for h in doc.hits_of("experience", "at_first")
            if not (h.first > 0 and doc.tokens[h.first - 1].norm in _ARTICLES
                    and doc.clause_of(h.first - 1) is doc.clause_of(h.first))]


def _after_first_benefit(doc: Doc, hit: Hit, benefit_hits: list[Hit]) -> bool:
    """"In het begin sliep ik beter, maar nu is dat weer weg": in one sentence, a time
    marker for the start, a benefit, a contrast, then the benefit gone."""
    sentence = _sentence(doc, hit)
    starts = [h for h in _at_first(doc) if _sentence(doc, h) == sentence]
    contrasts = [h for h in doc.hits_of("negation", "terminators")
                 if _sentence(doc, h) == sentence and h.first < hit.first]
    if any(s.first <= b.first < c.first
           for s in starts for b in benefit_hits for c in contrasts
           if _sentence(doc, b) == sentence):
        return True
    # or told over two sentences: "Au début c'était super, moins de douleurs. Puis après
    # 4 mois plus rien."
    before = sentence - 1
    if any(_sentence(doc, h) == before for h in doc.hits_of("side_effect")):
        return False  # "De eerste weken misselijk. Na vijf weken was dat weg." is a side effect
    if not any(_sentence(doc, b) == before for b in benefit_hits):
        return False
    # ... or a sentence that opens with a contrast after one telling a benefit ("De
    # vermoeidheid was veel minder. Maar sinds de zomer merk ik er niets meer van.")
    first, _ = doc.sentence_range(sentence)
    clause = doc.clause_of(hit.first)
    opens_contrast = clause is not None and any(
        c.first == first and _sentence(doc, c) == sentence
        for c in doc.hits_of("negation", "terminators")) and any(
        doc.hits_in(clause.first, clause.last, "experience", key)
        for key in ("effect_verb", "no_effect"))
    return opens_contrast or any(_sentence(doc, h) == before for h in _at_first(doc))


def _good_gone(doc: Doc, hit: Hit, benefit_hits: list[Hit]) -> bool:
    """A fading word after something good named in its clause ("Die energie was na een paar
    maanden weer weg", "l'énergie est vite retombée"): the good was there, then went."""
    clause = doc.clause_of(hit.first)
    if clause is None or not any(  # a word for less or gone, not "terug" (again)
            d.key in ("improve", "less") for d in doc.hits_in(hit.first, hit.last, "direction")):
        return False
    good = {name for lexicon in doc.lexicons for name, spec in lexicon.symptoms.items()
            if spec.get("polarity") == "good"}
    return any(b.section == "symptom" and b.key in good and doc.clause_of(b.first) is clause
               and b.last <= hit.first for b in benefit_hits)


def _after_stop(doc: Doc, hit: Hit) -> bool:
    """A fading word after a stop in its sentence: what came back off the drug ("J'ai arrêté
    cet été, et les douleurs sont revenues"), which says it worked."""
    sentence = _sentence(doc, hit)
    return any(_sentence(doc, h) == sentence and h.last <= hit.first
               for h in doc.hits_of("use", "past") + doc.hits_of("experience", "stopped_because"))


def _off_drug(doc: Doc, hit: Hit) -> bool:
    """Said between a stop and a restart: how it went without the drug."""
    return any(h.last <= hit.first for h in doc.hits_of("use", "past")) \
        and any(h.first >= hit.last for h in doc.hits_of("use", "restart"))


def _side_effect_passed(doc: Doc, hit: Hit, benefit_hits: list[Hit]) -> bool:
    """A fading word said of a side effect named before it in its sentence, with no
    benefit between: "Insomnie les deux premières semaines, puis plus rien"."""
    sentence = _sentence(doc, hit)
    before = [h for h in doc.hits_of("side_effect") if h.key != "generic"
              and _sentence(doc, h) == sentence and h.last <= hit.first]
    return any(not any(s.last <= b.first < hit.first for b in benefit_hits) for s in before)


def _not_yet(doc: Doc, hit: Hit) -> bool:
    """A no-effect phrase said "not yet" ("nog niet veel gemerkt", "pas encore vu de
    différence"): with "we'll see" after it, too early to tell."""
    return bool(doc.hits_in(max(0, hit.first - 2), hit.last, "use", "not_yet"))


def _negated_severe(doc: Doc, hit: Hit) -> bool:
    """A severity word said not ("nicht so schlimm"); "zo moe dat ik niet uit bed geraakte"
    keeps its consequence's negation to itself."""
    if "~" not in hit.term:
        return negated(doc, hit)
    clause = doc.clause_of(hit.first)
    return clause is not None and any(
        t.last <= hit.first and hit.first - t.last <= _SEVERE_NEGATION_REACH
        for t in doc.hits_in(clause.first, hit.first, "negation", "pre"))


#: How far before a "so ... that" a negation still denies it.
_SEVERE_NEGATION_REACH = 3


def _effect_in_clause(doc: Doc, hit: Hit) -> bool:
    clause = doc.clause_of(hit.first)
    return clause is not None and bool(
        doc.hits_in(clause.first, clause.last, "experience", "effect_word"))


def _stopped_for_no_effect(doc: Doc, stop: Hit, accepted: list[Mention]) -> bool:
    """A stop whose reason, said right after a "because", is that it did nothing ("J'ai
    arrêté parce que ça ne servait à rien", "weil es nichts gebracht hat") or what it cost
    ("want het kost 25 euro per maand"), and names no side effect between the two."""
    sentence = _sentence(doc, stop)
    anchors = doc.hits_of("experience", "because_ref") + (
        [stop] if stop.key == "stopped_because" else [])  # "gestopt omdat" carries its because
    for because in anchors:
        if _sentence(doc, because) != sentence:
            continue
        # the reason after the stop, or before it: "Omdat het niets deed, ben ik gestopt"
        reach = stop.first if because.first < stop.first - 2 else because.last + 8
        cues = [h for key in ("no_effect", "faded", "cost") for h in doc.hits_of("experience", key)
                if _sentence(doc, h) == sentence and because.first <= h.first <= reach]
        if cues and not any(because.first <= m.hit.first < min(c.first for c in cues)
                            for m in accepted):
            return True
    return False


def _other_reason(doc: Doc, stop: Hit, because: list[Hit], accepted: list[Mention]) -> bool:
    """A reason given after the stop that names no side effect ("Je ne la prends plus parce
    que je suis enceinte"): the effects told before are not why the writer stopped."""
    after = [b for b in because if b.first >= stop.last]
    if not after:
        return False
    _, last = doc.sentence_range(_sentence(doc, stop))
    start = after[0].last
    # a reason told in words of its own, not one pointing back ("à cause de ces effets")
    return last - start >= _OWN_REASON_TOKENS \
        and not any(start <= m.hit.first < last for m in accepted) \
        and not doc.hits_in(start, last, "side_effect", "generic")


#: A reason this long after "because" tells something of its own.
_OWN_REASON_TOKENS = 3


def stopped_for_side_effects(doc: Doc, accepted: list[Mention]) -> bool:
    """Whether the writer says side effects made them stop: a stop statement in a sentence
    with a side effect, or referring back to one ("om die reden ben ik gestopt")."""
    stops = doc.hits_of("experience", "stopped_because") + doc.hits_of("use", "past")
    if not stops or not accepted:
        return False
    generic = [h for h in doc.hits_of("side_effect", "generic") if not negated(doc, h)]
    for stop in stops:
        clause = doc.clause_of(stop.first)
        if clause is None or negated(doc, stop):
            continue  # "that's not why he stopped"
        sentence = clause.sentence
        if _stopped_for_no_effect(doc, stop, accepted):
            continue  # "gestopt omdat het toch niks deed"
        here = [m for m in accepted if _sentence(doc, m.hit) == sentence]
        here_generic = [g for g in generic if _sentence(doc, g) == sentence]
        if stop.key == "stopped_because" and (here or here_generic or any(
                _sentence(doc, m.hit) == sentence - 1 for m in accepted)):
            return True
        because = [h for h in doc.hits_of("experience", "because_ref")
                   if _sentence(doc, h) == sentence]
        if because and (here or here_generic or (any(
                _sentence(doc, m.hit) == sentence - 1 for m in accepted)
                and not _other_reason(doc, stop, because, accepted))):
            return True
        # "gestopt, want ik werd er zot van. Ik droomde elke nacht ...": the reason that
        # follows the stop in the next sentence (unless it is given right there: "because it
        # made no difference")
        given = any(_sentence(doc, h) == sentence for key in ("no_effect", "faded", "positive")
                    for h in doc.hits_of("experience", key)) or bool(_no_longer_in(doc, sentence))
        if because and not given and any(h.first > stop.first for h in because) and any(
                _sentence(doc, m.hit) == sentence + 1 for m in accepted):
            return True

    return False


def _passing(doc: Doc, hit: Hit) -> bool:
    """A side effect said to have passed ("in het begin", "nu niet meer") or not to weigh
    ("stoort me niet", "valt mee") in its sentence."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    first, last = doc.sentence_range(clause.sentence)
    return bool(doc.hits_in(first, last, "experience", "at_first")
                or doc.hits_in(first, last, "experience", "light")
                or doc.hits_in(first, last, "use", "past_generic"))


def _no_longer_in(doc: Doc, sentence: int) -> list[Hit]:
    return [h for h in _no_longer(doc, proxy=True) if _sentence(doc, h) == sentence]


def _sentence(doc: Doc, hit: Hit) -> int:
    clause = doc.clause_of(hit.first)
    return -1 if clause is None else clause.sentence


def _cues(doc: Doc, key: str, *, proxy: bool, segs: Segments | None = None) -> list[Hit]:
    """Usable, not negated experience cues; in an answer laid out per question, only those
    in the answer to question 3 or outside any ("Nothing so far" under question 4 says no
    side effects, not no effect)."""
    # a doubt is said with a negation ("weet niet of ik ermee doorga"): it does not undo it;
    # a doubt or a faded effect counts wherever it is said ("zie vraag 8: ... ik twijfel")
    anywhere = key in ("mixed", "faded", "faded_weak", "unbearable", "bothers")
    return [h for h in doc.hits_of("experience", key)
            if usable(doc, h, proxy=proxy) and on_topic(doc, h, segs)
            and (key == "mixed" or not negated(doc, h))
            and (key not in ("positive", "no_effect") or not _unsure(doc, h))
            and (key != "no_effect" or not _under_side_effect_question(doc, h))
            and (anywhere or segs is None or not segs.questions_at(h.start)
                 or segs.answers(h.start, 3))]


def _under_side_effect_question(doc: Doc, hit: Hit) -> bool:
    """A cue right after the writer's own short question of side effects, or side effects
    put first ("Bijwerkingen? Ik heb er niets van gemerkt"): it answers that topic, not the
    experience question."""
    clause = doc.clause_of(hit.first)
    if clause is None or clause.first == 0:
        return False
    asked = doc.clause_of(clause.first - 1)
    return asked is not None and topic_clause(asked) \
        and bool(doc.hits_in(asked.first, asked.last, "side_effect", "generic"))


def _unsure(doc: Doc, hit: Hit) -> bool:
    """"ik weet niet of het helpt": no statement either way."""
    return in_context(doc, hit, "unsure", scope="clause") is not None


def _no_longer(doc: Doc, *, proxy: bool) -> list[Hit]:
    """"omdat het niet meer hielp", "nu merk ik bijna niets meer", "ça ne marchait plus":
    an effect verb with a "no longer" marker in its clause says a benefit faded."""
    out = []
    # "nu merk ik bijna niets meer": a no-effect phrase with "meer" says the same
    for verb in doc.hits_of("experience", "effect_verb") + doc.hits_of("experience", "no_effect"):
        clause = doc.clause_of(verb.first)
        # (in a story, a paragraph before LDN comes up tells of something else: "ik werkte
        # als kinderverzorgster en dat ging niet meer")
        if clause is None or not usable(doc, verb, proxy=proxy) \
                or in_context(doc, verb, "other_drug") is not None \
                or not on_topic(doc, verb, None):
            continue
        markers = doc.hits_in(clause.first, clause.last, "experience", "no_longer")
        if doc.language == "fr":
            # "plus" is "more" unless the clause has the "ne" of "ne ... plus"
            negation = any(t.norm in ("ne", "n") for t in doc.tokens[clause.first:clause.last])
            markers = [m for m in markers if m.term != "plus" or negation]
        if verb.key == "no_effect":
            # the marker right on the phrase ("niets meer"), not anywhere in a long line
            markers = [m for m in markers if verb.first <= m.first <= verb.last]
        if markers:
            out.append(verb)
    return out


@dataclass
class _Cues:
    """The experience cues of one text, each a list of the hits saying it."""

    too_early: list[Hit]
    mixed: list[Hit]
    faded: list[Hit]
    faded_good: list[Hit]
    negative: list[Hit]
    unbearable: list[Hit]
    bothers: list[Hit]
    no_effect: list[Hit]
    severe: list[Hit]
    positive: list[Hit]
    #: worse off the drug, between a stop and a restart ("gestopt ... de pijn veel erger,
    #: dus herbegonnen"): it worked
    worse_off_drug: list[Hit]


def _gather(doc: Doc, segs: Segments, *, benefits: list[str], benefit_hits: list[Hit],
            proxy: bool) -> _Cues:
    faded = [h for h in _cues(doc, "faded", proxy=proxy, segs=segs)
             if not _side_effect_passed(doc, h, benefit_hits) and not _after_stop(doc, h)] + [
        h for h in _cues(doc, "faded_weak", proxy=proxy, segs=segs)
        if _effect_in_clause(doc, h) or _after_first_benefit(doc, h, benefit_hits)
        or _good_gone(doc, h, benefit_hits)]
    # good at first without a benefit named, then gone: "in t begin wel goe, mor na n paar
    # maand merkte k er niks meer van"
    good = [h for h in doc.hits_of("experience", "positive")
            if usable(doc, h, proxy=proxy) and not negated(doc, h)]
    faded_good = [h for h in _cues(doc, "faded_weak", proxy=proxy, segs=segs)
                  if good and _after_first_benefit(doc, h, good)]
    negative = _cues(doc, "negative", proxy=proxy, segs=segs)
    if benefits:
        faded += _no_longer(doc, proxy=proxy)
        # "In first month I was sleeping much better. After this ... no difference."
        faded += [h for h in _cues(doc, "no_effect", proxy=proxy, segs=segs)
                  if _after_first_benefit(doc, h, benefit_hits)]
    return _Cues(
        # ("we'll see" is too early only when nothing was said of how it went: not after
        # "het is eerder slechter" or "niks gemerkt")
        too_early=_cues(doc, "too_early", proxy=proxy, segs=segs) + (
            [] if any(not _not_yet(doc, h) for h in _cues(doc, "no_effect", proxy=proxy,
                                                          segs=segs))
            or negative
            else _cues(doc, "too_early_weak", proxy=proxy, segs=segs)),
        mixed=_cues(doc, "mixed", proxy=proxy, segs=segs),
        faded=faded,
        faded_good=faded_good,
        negative=[h for h in negative if not _off_drug(doc, h)],
        worse_off_drug=[h for h in negative if _off_drug(doc, h)],
        unbearable=_cues(doc, "unbearable", proxy=proxy, segs=segs),
        bothers=_cues(doc, "bothers", proxy=proxy, segs=segs),
        no_effect=_cues(doc, "no_effect", proxy=proxy, segs=segs)
        + _cues(doc, "neither", proxy=proxy, segs=segs) + [
            # "niet beter", "niks beter gevoeld": a negated benefit is no effect
            h for h in doc.hits_of("experience", "positive")
            if usable(doc, h, proxy=proxy) and negated(doc, h) and on_topic(doc, h, segs)],
        severe=[h for h in doc.hits_of("experience", "severe")  # not "nicht so schlimm"
                if usable(doc, h, proxy=proxy) and not _negated_severe(doc, h)],
        positive=[h for h in _cues(doc, "positive", proxy=proxy, segs=segs)
                  if segs.answers(h.start, 3) or " " in h.term
                  or len(h.term) > _WEAK_POSITIVE_MAX_LEN],
    )


def _positive(doc: Doc, cues: _Cues, *, benefits: list[str],
              side_effect_mentions: list[Mention], opening_hits: tuple[Hit, ...]) -> Reading:
    """A benefit or a yes: positive, as sure as the side effects and doubts allow."""
    confidence = 0.88 if benefits or cues.positive else 0.8
    if side_effect_mentions:
        # positive or mixed hangs on how much the side effects weigh: side effects said to
        # have passed or not to bother leave it surely positive
        light = all(_passing(doc, m.hit) for m in side_effect_mentions)
        confidence = 0.6 if cues.severe else (0.82 if light else 0.7)
    if cues.no_effect or cues.negative:
        confidence = 0.6
    if cues.too_early:
        confidence = min(confidence, 0.7)  # a benefit already, too early for the rest
    return Reading(Experience.POSITIVE, confidence, tuple(cues.positive[:1]) or opening_hits)


def code_experience(doc: Doc, segs: Segments, *, use: LdnUse, benefits: list[str],
                    benefit_hits: list[Hit],
                    side_effect_mentions: list[Mention], stop_for_side_effects: bool,
                    proxy: bool) -> Reading:
    """The codebook's order: too early, mixed (a benefit that faded or weighed against a
    drawback), positive, negative, no effect."""
    if use is LdnUse.NEVER:
        return Reading(None, 0.9)
    cues = _gather(doc, segs, benefits=benefits, benefit_hits=benefit_hits, proxy=proxy)
    answer = answer_word(doc, segs, 3)
    opening = first_hit_of_answer(doc, segs, 3)
    opening_hits: tuple[Hit, ...] = (opening,) if opening else ()
    if cues.too_early and not benefits:
        return Reading(Experience.UNKNOWN, 0.8, tuple(cues.too_early[:1]))
    if benefits and (cues.mixed or cues.faded):
        return Reading(Experience.MIXED, 0.8, tuple((cues.mixed or cues.faded)[:2]))
    if cues.mixed and (cues.positive or answer == "yes"):
        return Reading(Experience.MIXED, 0.75, tuple(cues.mixed[:1]))
    if cues.faded_good:
        return Reading(Experience.MIXED, 0.7, tuple(cues.faded_good[:1]))
    if benefits and (stop_for_side_effects or cues.unbearable
                     or (cues.bothers and side_effect_mentions)):
        # a benefit, and side effects the writer stopped for, could not bear or minds
        return Reading(Experience.MIXED, 0.65, tuple((cues.unbearable or cues.bothers)[:1]))
    if benefits or cues.positive or answer == "yes" or cues.worse_off_drug:
        return _positive(doc, cues, benefits=benefits,
                         side_effect_mentions=side_effect_mentions, opening_hits=opening_hits)
    if cues.too_early:
        return Reading(Experience.UNKNOWN, 0.8, tuple(cues.too_early[:1]))
    if cues.negative or cues.unbearable or stop_for_side_effects:
        return Reading(Experience.NEGATIVE, 0.78, tuple((cues.negative or cues.unbearable)[:1]))
    if use is LdnUse.PAST and side_effect_mentions and cues.severe:
        # stopped, side effects, no benefit, reason unsaid: severe ones make it negative
        return Reading(Experience.NEGATIVE, 0.65, tuple(cues.severe[:1]))
    if cues.no_effect or answer == "no":
        return Reading(Experience.NO_EFFECT, 0.85 if cues.no_effect else 0.72,
                       tuple(cues.no_effect[:1]) or opening_hits)
    if cues.mixed:
        return Reading(Experience.MIXED, 0.6, tuple(cues.mixed[:1]))
    return Reading(Experience.UNKNOWN, 0.55 if segs.has(3) else 0.75)
