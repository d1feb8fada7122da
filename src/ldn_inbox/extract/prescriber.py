"""Question 2: who prescribed it (``prescriber``, ``prescriber_specialty``).

Every doctor or other source named in the writer's text is a candidate. Candidates gain
weight in the answer to question 2 and next to a prescribing verb ("voorgeschreven door",
"prescrit par"); they lose it next to a refusal ("wou het niet voorschrijven") or when they
only recommended it while someone else prescribed. "Mijn dokter" is ``unknown``; a named
specialty beats a specialist of unstated kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from ldn_inbox.codebook import Prescriber, Specialty
from ldn_inbox.extract._common import Reading, usable
from ldn_inbox.extract._text import Doc, Hit, negated
from ldn_inbox.extract.segment import Segments


@dataclass
class _Candidate:
    hit: Hit
    prescriber: Prescriber
    specialty: Specialty | None
    score: float


def _candidate(hit: Hit) -> tuple[Prescriber, Specialty | None] | None:
    if hit.section == "prescriber":
        return {"gp": (Prescriber.GP, None), "unknown": (Prescriber.UNKNOWN, None),
                "other": (Prescriber.OTHER, None)}.get(hit.key)
    if hit.section == "specialty":
        try:
            return Prescriber.SPECIALIST, Specialty(hit.key)
        except ValueError:
            return None
    return None


def _near(doc: Doc, hit: Hit, section: str, key: str, window: int) -> Hit | None:
    clause = doc.clause_of(hit.first)
    if clause is None:
        return None
    first, last = doc.sentence_range(clause.sentence)
    best: Hit | None = None
    for other in doc.hits_in(first, last, section, key):
        distance = min(abs(other.first - hit.last), abs(hit.first - other.last))
        if distance <= window and (best is None or distance < abs(best.first - hit.first)):
            best = other
    return best


def _refused(doc: Doc, entities: list[Hit]) -> set[Hit]:
    """The doctors a refusal is about: for each refusal ("wou het niet voorschrijven"), the
    nearest doctor in its sentence, preferring one named before it."""
    out: set[Hit] = set()
    for refusal in doc.hits_of("prescribe", "refuse"):
        clause = doc.clause_of(refusal.first)
        if clause is None:
            continue
        same = [e for e in entities
                if (c := doc.clause_of(e.first)) is not None and c.sentence == clause.sentence]
        if not same:
            continue
        # a doctor named before the refusal is its subject; one in a later clause is who
        # prescribed instead ("zij wou het niet, dus heeft mijn huisarts het voorschrift
        # gemaakt")
        before = [e for e in same if e.last <= refusal.first]
        if before:
            same = before + [e for e in same
                             if e.first >= refusal.last and doc.clause_of(e.first) is clause]

        def distance(entity: Hit, refusal: Hit = refusal) -> tuple[int, int]:
            before = entity.last <= refusal.first
            gap = refusal.first - entity.last if before else entity.first - refusal.last
            return (gap + (0 if before else 3), entity.first)

        out.add(min(same, key=distance))
    return out


#: Words ending a recommendation that point at who follows ("op advies van", "sur les
#: conseils de", "on the advice of", "auf Anraten von").
_LINKS = frozenset(("van", "of", "de", "du", "d", "von", "vom", "des", "di", "del", "della",
                    "door", "by", "par", "durch", "da", "dal", "dalla", "por"))


def _recommenders(doc: Doc, entities: list[Hit]) -> set[Hit]:
    """The doctors or others a recommendation is about: for each ("op aanraden van",
    "recommended by", "conseillée par"), the nearest one in its sentence, preferring one
    named after it."""
    out: set[Hit] = set()
    for cue in doc.hits_of("prescribe", "recommend"):
        clause = doc.clause_of(cue.first)
        if clause is None:
            continue
        same = [e for e in entities
                if (c := doc.clause_of(e.first)) is not None and c.sentence == clause.sentence]
        if not same:
            continue

        following = doc.tokens[cue.last].norm if cue.last < len(doc.tokens) else ""
        linked = cue.term.split()[-1] in _LINKS or following in _LINKS \
            or following.startswith(("d'", "d’"))
        if linked:
            # "op advies van de reumatoloog", "aangeraden door": the one named after it
            # (someone no candidate, "d'une pharmacienne", recommends nobody named before)
            same = [e for e in same if e.first >= cue.last]
            if not same:
                continue

        def distance(entity: Hit, cue: Hit = cue, linked: bool = linked) -> tuple[int, int]:
            # a recommending verb has its doctor before it ("de pijnarts raadde het aan",
            # "hat es mir empfohlen"), a phrase ending in "van", "of", "door" after it
            after = entity.first >= cue.last
            gap = entity.first - cue.last if after else cue.first - entity.last
            return (gap + (0 if after == linked else 1), entity.first)

        nearest = min(same, key=distance)
        if distance(nearest)[0] <= 6:
            out.add(nearest)
    return out


def _referrals(doc: Doc, entities: list[Hit]) -> tuple[set[Hit], set[Hit]]:
    """For each referral ("stuurde mij door naar", "referred me to", "m'a adressée à"), the
    doctor named last before it in its sentence (who sent the writer on) and the one named
    first after it, within six words (whom the writer was sent to)."""
    senders: set[Hit] = set()
    targets: set[Hit] = set()
    for cue in doc.hits_of("prescribe", "refer"):
        clause = doc.clause_of(cue.first)
        if clause is None or negated(doc, cue):
            continue
        same = [e for e in entities
                if (c := doc.clause_of(e.first)) is not None and c.sentence == clause.sentence]
        before = [e for e in same if e.last <= cue.first]
        after = [e for e in same if e.first >= cue.last and e.first - cue.last <= 6]
        if before:
            senders.add(before[-1])
        if after:
            targets.add(after[0])
    return senders, targets


def _self_ordered(doc: Doc) -> list[Hit]:
    """"zelf LDN besteld", "ordered it online": the writer is the source (``other``)."""
    out = []
    for order in doc.hits_of("prescribe", "order"):
        clause = doc.clause_of(order.first)
        if clause is not None and doc.hits_in(clause.first, clause.last, "prescribe",
                                              "self_made"):
            out.append(order)
    return out


def _remote(doc: Doc, hit: Hit) -> bool:
    """A doctor practising from afar: a place or an online consultation said right with
    ``hit`` ("een arts in Duitsland, via videoconsult", "an online doctor")."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    return any(hit.last <= cue.first <= hit.last + 5 or hit.first - 3 <= cue.first < hit.first
               for cue in doc.hits_in(clause.first, min(clause.last + 6, len(doc.tokens)),
                                      "prescribe", "remote"))


def _appositions(doc: Doc, candidates: list[_Candidate]) -> list[_Candidate]:
    """"mijn reumatoloog in Mechelen, dokter Jacobs, ... voorgeschreven", "de dokter van de
    pijnkliniek": a doctor of unstated kind next to a named kind is that one; the named one
    takes the better score of the two."""
    named = [c for c in candidates if c.prescriber is not Prescriber.UNKNOWN]
    out = []
    for candidate in candidates:
        if candidate.prescriber is not Prescriber.UNKNOWN:
            out.append(candidate)
            continue
        # the nearest named kind that is not denied ("pas ma généraliste mais le Dr Delvaux,
        # interniste": the internist)
        near = [c for c in named if _same_sentence(doc, c.hit, candidate.hit)
                and not negated(doc, c.hit, window=2)
                and (0 <= candidate.hit.first - c.hit.last <= 8
                     or 0 <= c.hit.first - candidate.hit.last <= 4)]
        partner = min(near, key=lambda c: min(abs(candidate.hit.first - c.hit.last),
                                              abs(c.hit.first - candidate.hit.last)),
                      default=None)
        if partner is None:
            out.append(candidate)
        else:
            partner.score = max(partner.score, candidate.score + 0.6)
    return out


def _pronoun_prescribers(doc: Doc, candidates: list[_Candidate], refused: set[Hit]) -> None:
    """"Ze schreef het voor" with no doctor in its sentence: the prescriber is the doctor
    named last in the three sentences before (that one gains the prescribing verb's weight)."""
    for verb in doc.hits_of("prescribe", "verb"):
        clause = doc.clause_of(verb.first)
        if clause is None or negated(doc, verb) or not doc.hits_in(
                clause.first, clause.last, "prescribe", "pronoun"):
            continue
        first, last = doc.sentence_range(clause.sentence)
        if any(first <= c.hit.first < last for c in candidates):
            continue
        earlier = first  # the start of the earliest of the three that has words ("***" has none)
        for number in range(max(0, clause.sentence - 3), clause.sentence):
            if doc.has_sentence(number):
                earlier = doc.sentence_range(number)[0]
                break
        before = [c for c in candidates if earlier <= c.hit.first < first
                  and c.hit not in refused and c.prescriber is not Prescriber.UNKNOWN]
        if before:
            before[-1].score += 2.0


#: Prescribing words that are only a preposition ("par", "via", "by", "von", "bei").
_LINKING_VERBS = frozenset(("par", "via", "chez", "grace", "from", "by", "under", "von", "vom",
                            "durch", "über", "uber", "ueber", "beim", "bei"))


#: Words setting what follows against what was denied before ("niet X maar Y").
_CONTRAST = frozenset(("maar", "mais", "but", "sondern", "ma", "pero", "mor", "mo"))


def _affirmed_against(doc: Doc, hit: Hit) -> bool:
    """A doctor right after a contrast word, in a sentence that denied another one before
    ("Het was niet de huisarts die het voorschreef, maar de revalidatiearts")."""
    if hit.first < 1 or negated(doc, hit, window=2):
        return False
    before = [t.norm for t in doc.tokens[max(0, hit.first - 3):hit.first]]
    if not any(word in _CONTRAST for word in before):
        return False
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    first, _ = doc.sentence_range(clause.sentence)
    return any(negated(doc, other, window=2) and other.last <= hit.first
               for other in doc.hits_in(first, hit.first, "prescriber")
               + doc.hits_in(first, hit.first, "specialty"))


def _same_sentence(doc: Doc, a: Hit, b: Hit) -> bool:
    first, second = doc.clause_of(a.first), doc.clause_of(b.first)
    return first is not None and second is not None and first.sentence == second.sentence


def _scored(doc: Doc, segs: Segments, hit: Hit, refused: set[Hit],
            recommenders: set[Hit], referred: tuple[set[Hit], set[Hit]]
            ) -> _Candidate | None:
    """A doctor or other source named, with its weight as the prescriber."""
    kind = _candidate(hit)
    if kind is None:
        return None
    prescriber, specialty = kind
    score = 1.0
    if segs.answers(hit.start, 2):
        score += 3.0
    elif segs.layout != "narrative" and segs.questions_at(hit.start):
        score -= 0.5
    verb = _near(doc, hit, "prescribe", "verb", 6)
    if verb is not None and verb.term in _LINKING_VERBS and not (
            verb.last <= hit.first and hit.first - verb.last <= 2):
        # a bare "par", "via", "by", "von" says who only right before the one named ("par mon
        # médecin"), not "deux fois par semaine" before "la kiné"
        verb = None
    if verb is not None and not negated(doc, verb):
        score += 2.0
    # a negation right before ("niet de huisarts"); in a text without punctuation a "niks"
    # six words back is about something else
    if hit in refused or negated(doc, hit, window=2):
        score -= 4.0
    if hit in recommenders and (verb is None or verb.last <= hit.first):
        # recommended it; someone else wrote the prescription (a prescribing word before
        # it is the other's: "voorgeschreven door mijn huisarts, op advies van de reumatoloog")
        score -= 1.5
    if prescriber is not Prescriber.UNKNOWN and _affirmed_against(doc, hit):
        score += 2.0  # "niet de huisarts ..., maar de revalidatiearts": the one affirmed
    renew = _near(doc, hit, "prescribe", "renew", 4)
    if renew is not None and doc.clause_of(renew.first) is doc.clause_of(hit.first):
        score -= 2.0  # renews what another prescribed ("mijn huisarts heeft ze verlengd")
    if hit in referred[0]:
        score -= 2.0  # sent the writer on to the one who prescribed
    if hit in referred[1]:
        score += 1.0  # the doctor the writer was sent to
    if prescriber is Prescriber.UNKNOWN and _remote(doc, hit):
        prescriber = Prescriber.OTHER  # a doctor abroad reached online, type unstated
    elif prescriber is Prescriber.UNKNOWN or specialty is Specialty.UNKNOWN:
        score -= 0.6
    return _Candidate(hit, prescriber, specialty, score)


def _candidates(doc: Doc, segs: Segments, *, proxy: bool) -> list[_Candidate]:
    """Every source the writer names, weighed; those weighing nothing are left out."""
    entity_hits = [h for h in doc.hits if _candidate(h) is not None]
    refused = _refused(doc, entity_hits)
    recommenders = _recommenders(doc, entity_hits)
    referred = _referrals(doc, entity_hits)
    candidates = [c for c in (_scored(doc, segs, hit, refused, recommenders, referred)
                              for hit in entity_hits if usable(doc, hit, proxy=proxy))
                  if c is not None]
    for order in _self_ordered(doc):
        if usable(doc, order, proxy=proxy):
            score = 3.0 + (3.0 if segs.answers(order.start, 2) else 0.0)
            candidates.append(_Candidate(order, Prescriber.OTHER, None, score))
    _pronoun_prescribers(doc, candidates, refused)
    return [c for c in _appositions(doc, candidates) if c.score > 0]


def code_prescriber(doc: Doc, segs: Segments, *, proxy: bool) -> tuple[Reading, Reading]:
    """(prescriber, prescriber_specialty) readings: the source weighing most."""
    candidates = _candidates(doc, segs, proxy=proxy)
    if not candidates:
        confidence = 0.6 if segs.has(2) else 0.8
        return Reading(Prescriber.UNKNOWN, confidence), Reading(None, confidence)
    candidates.sort(key=lambda c: (c.score, c.hit.first))
    best = candidates[-1]
    rivals = [c for c in candidates if c.prescriber is not best.prescriber
              and c.prescriber is not Prescriber.UNKNOWN and c.score >= best.score - 1.0]
    confidence = 0.6 if rivals else (0.9 if best.score >= 3 else 0.78)
    specialty = best.specialty
    if best.prescriber is Prescriber.SPECIALIST and specialty is Specialty.UNKNOWN:
        # "een specialist in het UZ: reumatologie" names the kind nearby
        named = [c for c in candidates if c.specialty not in (None, Specialty.UNKNOWN)
                 and abs(c.hit.first - best.hit.first) <= 12]
        if named:
            specialty = named[-1].specialty
    if best.prescriber is Prescriber.UNKNOWN:
        confidence = min(confidence, 0.8)
    hits = (best.hit,)
    # two kinds of prescriber weigh about the same ("zowel de reumatoloog als mijn
    # huisarts"): which one wrote it is a reader's call
    return (Reading(best.prescriber, confidence, hits, contradicted=bool(rivals)),
            Reading(specialty, confidence if specialty else 0.9, hits))
