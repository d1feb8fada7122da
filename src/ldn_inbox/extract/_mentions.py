"""Symptom mentions and which way they went: the shared ground of benefits (question 3)
and side effects (question 4).

"minder pijn" is pain getting better; "meer energie" is fatigue getting better; "slecht
slapen" is a sleep disturbance; "nachtmerries" is an adverse effect by itself. A mention is
kept with its direction, whether it is negated, and whether it speaks of another drug,
another person, a fear, or the illness as background.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from ldn_inbox.extract._common import on_topic, usable
from ldn_inbox.extract._text import Doc, Hit, in_context, negated
from ldn_inbox.extract.segment import Segments

#: Tokens around a symptom word searched for a direction word (same clause only).
DIRECTION_WINDOW = 6
#: An adverse-effect term counts as improved only with the direction word right next to it
#: (or joined to it by a verb: "de jeuk van de lichen is bijna weg").
INHERENT_IMPROVE_WINDOW = 4
#: ... and after a subject joined to it by a verb ("de pijn in mijn rug ... is veel minder")
COPULA_WINDOW = 10


@dataclass(frozen=True)
class Mention:
    hit: Hit
    benefit: str | None
    side_effect: str | None
    #: inherent: a side-effect term ("nachtmerries") rather than a neutral symptom word
    inherent: bool
    direction: str | None  # improve, worsen or None
    direction_hit: Hit | None
    negated: bool
    #: the questions whose answer holds the mention (none in a story)
    questions: frozenset[int]
    other_drug: bool
    background: bool
    unsure: bool
    #: the condition the writer is treated for ("voor mijn migraine"), never a side effect
    reason: bool = False
    #: said not to be LDN's: the illness's, or there before ("c'est la fibro, pas la LDN")
    disowned: bool = False


def _gap(a: Hit, b: Hit) -> int:
    if a.first < b.last and b.first < a.last:
        return 0
    return (b.first - a.last if b.first >= a.last else a.first - b.last) + 1


class _Index:
    """Hits found by position with a bisection (a long story has thousands of them; scanning
    them all for each one made coding cubic in the text's length)."""

    def __init__(self, hits: list[Hit]) -> None:
        self.ordered = sorted(hits, key=lambda h: h.first)
        self.starts = [h.first for h in self.ordered]
        self.widest = max((h.last - h.first for h in hits), default=0)

    def near(self, first: int, last: int) -> list[Hit]:
        """Hits that overlap or touch tokens [first, last)."""
        out = []
        for position in range(bisect_left(self.starts, first - self.widest),
                              len(self.starts)):
            hit = self.ordered[position]
            if hit.first > last:
                break
            if hit.last >= first:
                out.append(hit)
        return out


class _Symptoms(_Index):
    """The symptom hits, and which of them are their own direction ("opgewekter"): those
    compete for no other direction word."""

    def __init__(self, hits: list[Hit], directions: list[Hit]) -> None:
        super().__init__(hits)
        index = _Index(directions)
        self.self_directed = {
            s for s in hits
            if any(d.first < s.last and s.first < d.last for d in index.near(s.first, s.last))}


def _reach(doc: Doc, clause_last: int, sentence: int, symptoms: _Symptoms) -> int:
    """Where a symptom's direction words may stand up to: its clause, and up to two
    following clauses of the sentence that name no symptom of their own ("de pijn is niet
    weg, maar wel draaglijker"; over a clause made only of "maar" or "wel")."""
    last = clause_last
    for _ in range(2):
        following = doc.clause_starting(sentence, last)
        if following is None or any(s.first >= following.first and s.last <= following.last
                                    for s in symptoms.near(following.first, following.last)):
            break
        last = following.last
    return last


def _candidate_directions(doc: Doc, first: int, last: int) -> list[Hit]:
    """The direction words in tokens [first, last), without an intensifier standing right
    before another one: in "veel beter", "much better", "bien moins" the second word gives
    the direction."""
    directions = doc.hits_in(first, last, "direction")
    heads = {h.first for h in directions}
    return [d for d in directions if not (
        d.key in ("worsen", "occur", "more") and d.last in heads and d.last - d.first == 1
        and not any(h.first == d.first and h is not d for h in directions))]


def _keyed(doc: Doc, other: Hit, hit: Hit, polarity: str) -> str | None:
    """Which way ``other`` says ``hit`` went, for a symptom of ``polarity``; None when it
    says nothing of it."""
    key = other.key
    if key == "no_longer" and not _bears_on(doc, other, hit, polarity):
        return None  # "misselijk, nu niet meer": it passed; "niet meer zo moe": better
    if key == "improve" and hit.section == "side_effect" and other.first >= hit.last \
            and other.term in doc.words("experience", "light"):
        return None  # "des nausées le matin, supportables": mild or passing, still there
    if key == "regain":
        # "weer pijn" says nothing the other words do not
        return None if polarity == "bad" else "improve"
    if key in ("less", "no_longer"):
        # "minder pijn", "niet meer zo moe": better; "minder energie", "kon niet meer
        # slapen": worse
        return "improve" if polarity == "bad" else "worsen"
    if key == "more" and _ne_plus(doc, other, hit):
        # "je ne dormais plus": the "plus" of "ne ... plus" says no longer
        return "improve" if polarity == "bad" else "worsen"
    if key == "more":
        return "worsen" if polarity == "bad" else "improve"
    if key == "occur":
        return "worsen"
    return key


def _ne_plus(doc: Doc, plus: Hit, hit: Hit) -> bool:
    """Whether ``plus`` closes a "ne ... plus" around ``hit`` ("je ne dormais plus")."""
    if doc.language != "fr" or plus.term != "plus" or not hit.last <= plus.first:
        return False
    start = max(0, hit.first - 3)
    return plus.first - hit.last <= 1 and any(
        t.norm in ("ne", "n") for t in doc.tokens[start:hit.first])


def _nearest_elsewhere(doc: Doc, hit: Hit, other: Hit, distance: int,
                       symptoms: _Symptoms) -> bool:
    """Whether another symptom stands nearer to direction word ``other`` than ``hit`` (a
    direction word belongs to the symptom nearest to it: "minder pijn en ik slaap"). A
    symptom in a later clause than the word cannot take it: a symptom's direction words
    stand in its own clause or after it ("de pijn is van 8 naar 5 gegaan, en ik slaap")."""
    for s in symptoms.near(other.first - distance - 1, other.last + distance + 1):
        if s is hit or s.first == hit.first or s in symptoms.self_directed:
            continue
        clause = doc.clause_of(s.first)
        if clause is not None and clause.first > other.first:
            continue
        if _gap(s, other) - 1 < distance:
            return True
    return False


def _window(doc: Doc, hit: Hit, other: Hit, symptoms: _Symptoms) -> int:
    """How far direction word ``other`` may stand from ``hit``: further after a long subject
    joined to it by a verb and naming no other symptom ("de pijn in mijn rug en mijn
    schouders is veel minder")."""
    clause = doc.clause_of(hit.first)
    if other.first <= hit.last or clause is None or other.first >= clause.last \
            or not doc.hits_in(hit.last, other.first, "context", "copula"):
        return DIRECTION_WINDOW
    if any(s.first >= hit.last and s.last <= other.first
           for s in symptoms.near(hit.last, other.first)):
        return DIRECTION_WINDOW
    return COPULA_WINDOW


def _direction(doc: Doc, hit: Hit, polarity: str,
               symptoms: _Symptoms) -> tuple[str | None, Hit | None]:
    clause = doc.clause_of(hit.first)
    if clause is None:
        return None, None
    last = _reach(doc, clause.last, clause.sentence, symptoms)
    found: list[tuple[int, str, Hit]] = []
    for other in _candidate_directions(doc, clause.first, last):
        pseudo = doc.hits_in(other.last - 12, other.first + 12, "negation", "pseudo")
        if other.key != "no_longer" and any(p.first <= other.first and other.last <= p.last
                                            for p in pseudo):
            continue  # the "meer" of "niet meer" says no more, not more
        if other.first >= clause.last and other.key in ("worsen", "occur"):
            continue  # only "..., maar wel draaglijker" reaches into the next clause
        distance = _gap(hit, other) - 1
        overlap = distance < 0
        if not overlap and (distance > _window(doc, hit, other, symptoms)
                            or _nearest_elsewhere(doc, hit, other, distance, symptoms)):
            continue
        key = _keyed(doc, other, hit, polarity)
        if key is not None:
            found.append((0 if overlap else max(distance, 0) + 1, key, other))
    if not found:
        return None, None
    # in its own clause a comparative outweighs a word that only says the symptom was there
    # ("de eerste maanden sliep ik veel beter")
    outweighed = any(f[2].key != "occur" and f[2].first < clause.last for f in found)
    found.sort(key=lambda f: (outweighed and f[2].key == "occur" and f[2].first < clause.last,
                              f[0], f[1] != "improve"))
    first = found[0]
    if first[2].first < clause.last and negated(doc, first[2]):
        # "de pijn is niet weg, maar wel draaglijker": the contrast clause says how it went
        # (a contrast only: "niet minder pijn, geen betere nachten" is no better)
        contrast = set(range(clause.last, clause.last + 3))
        if any(t.first in contrast for t in doc.hits_of("negation", "terminators")):
            later = [f for f in found if f[2].first >= clause.last]
            if later:
                return later[0][1], later[0][2]
    return first[1], first[2]


def _bears_on(doc: Doc, marker: Hit, hit: Hit, polarity: str) -> bool:
    """A "no longer" marker that bears on ``hit``: before it in its clause ("niet meer zo
    moe"), or right after it where the language puts it ("not tired anymore", "ik sliep bijna
    niet meer"). After a bad symptom in its own clause it says the symptom passed
    ("misselijk, nu niet meer"), which is no improvement."""
    if doc.clause_of(marker.first) is not doc.clause_of(hit.first):
        return False
    if marker.last <= hit.first:
        return hit.first - marker.last <= 3
    near = marker.first - hit.last <= 2
    return near and (polarity == "good" or marker.term in ("anymore", "any more"))


def _of_other_drug(doc: Doc, hit: Hit) -> bool:
    """Said of another drug: one named in the mention's clause, or earlier in its sentence
    with LDN not named in the clause ("Van de Lyrica kreeg ik ... en hoofdpijn"); a drug
    named after it in another clause is mostly the remedy ("hoofdpijn, niets wat een
    paracetamol niet oploste")."""
    if in_context(doc, hit, "other_drug", scope="clause") is not None:
        return True
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    first, last = doc.sentence_range(clause.sentence)
    # named after it as its cause: "la bouche sèche, mais ça c'est le Lyrica"
    causes = {h.last for h in doc.hits_in(hit.last, last, "context", "attribution")}
    if any(h.first in causes or h.first - 1 in causes
           for h in doc.hits_in(hit.last, last, "context", "other_drug")):
        return True
    return bool([h for h in doc.hits_in(first, hit.first, "context", "other_drug")
                 if h.last <= hit.first]) \
        and not doc.hits_in(*_clause_range(doc, hit), "subject", "drug")


def _clause_range(doc: Doc, hit: Hit) -> tuple[int, int]:
    clause = doc.clause_of(hit.first)
    return (hit.first, hit.last) if clause is None else (clause.first, clause.last)


def _in_doubt(doc: Doc, hit: Hit) -> bool:
    """A doubt in ``hit``'s sentence about where it comes from ("je me demande si c'est la
    LDN"); a doubt about going on ("je me demande si je vais continuer") is none."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    first, last = doc.sentence_range(clause.sentence)
    going_on = doc.hits_in(first, last, "experience", "mixed")
    return any(not any(m.first < d.last and d.first < m.last for m in going_on)
               for d in doc.hits_in(first, last, "context", "unsure"))


def mentions(doc: Doc, segs: Segments, *, proxy: bool) -> list[Mention]:
    """Every usable symptom / side-effect mention in the writer's text, in order."""
    out: list[Mention] = []
    symptom_specs: dict[str, dict[str, object]] = {}
    for lexicon in doc.lexicons:
        for name, spec in lexicon.symptoms.items():
            symptom_specs.setdefault(name, spec)
    side_effect_spans = {(h.first, h.last) for h in doc.hits if h.section == "side_effect"}
    symptom_hits = [h for h in doc.hits if h.section in ("symptom", "side_effect")
                    and h.key != "generic"]
    symptoms = _Symptoms(symptom_hits, doc.hits_of("direction"))
    self_directed = symptoms.self_directed
    for hit in doc.hits:
        if hit.section not in ("symptom", "side_effect") or hit.key == "generic":
            continue
        if not usable(doc, hit, proxy=proxy) or not on_topic(doc, hit, segs):
            continue
        if hit.section == "symptom":
            spec = symptom_specs.get(hit.key, {})
            polarity = str(spec.get("polarity", "bad"))
            benefit = spec.get("benefit")
            side = spec.get("side_effect")
            inherent = False
            if (hit.first, hit.last) in side_effect_spans:
                continue  # the side-effect reading of the same words is kept instead
        else:
            polarity = "bad"
            benefit = None
            side = hit.key
            inherent = True
            spec_name = {"headache": "headache", "fatigue": "fatigue",
                         "sleep_disturbance": "sleep"}.get(hit.key)
            if spec_name and spec_name in symptom_specs:
                benefit = symptom_specs[spec_name].get("benefit")
                polarity = "bad"
        if hit in self_directed and any(
                other is not hit and other not in self_directed
                and 0 <= hit.first - other.last <= 3
                and doc.clause_of(other.first) is doc.clause_of(hit.first)
                for other in symptoms.near(hit.first - 4, hit.first)):
            continue  # "mijn darmen waren rustiger": says how the bowels are, not the mood
        direction, direction_hit = _direction(doc, hit, polarity, symptoms)
        if inherent and direction == "improve" and direction_hit is not None \
                and _gap(hit, direction_hit) > INHERENT_IMPROVE_WINDOW \
                and _window(doc, hit, direction_hit, symptoms) != COPULA_WINDOW:
            # "minder nachtmerries" is better; "terug gaan fietsen ... droom zot" is not
            direction, direction_hit = None, None
        own_clause = doc.clause_of(hit.first)
        # the direction came from the contrast clause: "niet weg, maar wel draaglijker"
        contrast = (direction_hit is not None and own_clause is not None
                    and direction_hit.first >= own_clause.last)
        if inherent and hit.key == "sleep_disturbance" and direction == "improve":
            benefit = "sleep"  # "minder slapeloosheid", "minder vaak wakker"
        out.append(Mention(
            hit=hit,
            benefit=str(benefit) if benefit else None,
            side_effect=str(side) if side else None,
            inherent=inherent,
            direction=direction,
            direction_hit=direction_hit,
            negated=(negated(doc, hit) and not contrast) or (
                direction_hit is not None and doc.clause_of(direction_hit.first)
                is doc.clause_of(hit.first) and negated(doc, direction_hit)),
            questions=segs.questions_at(hit.start),
            other_drug=_of_other_drug(doc, hit),
            background=in_context(doc, hit, "background") is not None,
            unsure=_in_doubt(doc, hit),
            disowned=in_context(doc, hit, "disowned") is not None,
            reason=any(h.last == hit.first
                       for h in doc.hits_in(max(0, hit.first - 4), hit.first, "context",
                                            "reason")),
        ))
    return out
