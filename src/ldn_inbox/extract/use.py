"""Question 1: does the writer use naltrexone, did they, or never (``ldn_use``).

Statements are read in order and the later, more specific one wins ("1. ja ... PS: in de
zomer gestopt" is past; stopped and restarted is current). A negated statement of use is
one of no use ("ik gebruik het (nog) niet"); a bare yes/no opening the answer to question 1
counts as a statement there.
"""

from __future__ import annotations

import re

from ldn_inbox.codebook import LdnUse
from ldn_inbox.extract._common import Reading, answer_word, first_hit_of_answer, usable
from ldn_inbox.extract._text import Doc, Hit, in_context, names_low_dose, negated
from ldn_inbox.extract.segment import Segments

_STRONG = {"current": LdnUse.CURRENT, "past": LdnUse.PAST, "past_generic": LdnUse.PAST,
           "never": LdnUse.NEVER, "never_bare": LdnUse.NEVER, "restart": LdnUse.CURRENT,
           "keep": LdnUse.CURRENT}
_FLIP_WINDOW = 3
_WEAK = {"current_weak": LdnUse.CURRENT, "past_weak": LdnUse.PAST}


def _flip(label: LdnUse) -> LdnUse | None:
    if label is LdnUse.CURRENT:
        return LdnUse.NEVER
    if label is LdnUse.PAST:
        return LdnUse.CURRENT
    return None


def _use_negated(doc: Doc, hit: Hit) -> bool:
    """A negation of a use statement: right before its verb ("niet gebruikt", "nooit
    genomen"), or after a statement that opens with its subject ("ik neem het niet"). A "no"
    before the subject ("verder niks, ik neem 4,5 mg", "Non, je le prends") negates nothing
    of it."""
    if doc.hits_in(hit.first, hit.first + 1, "subject"):
        return negated(doc, hit, window=_FLIP_WINDOW, pre=False)
    return negated(doc, hit, window=_FLIP_WINDOW)


def _later_statements(doc: Doc, strong: list[tuple[int, LdnUse, Hit, float]]
                      ) -> list[tuple[int, LdnUse, Hit, float]]:
    """Which later statements may overrule earlier ones (the later, more specific one wins).

    Where question 1 was answered (weight 1.0), a later statement elsewhere overrules it only
    when it says the writer stopped ("1. Ja ... PS: gestopt"): "I stayed on it another couple
    of months" under question 3 tells the story of a past use. A "never" is overruled only by
    a use of the drug itself ("No, never used it. I'm on so many pills already")."""
    answered = any(weight >= 1.0 for _, _, _, weight in strong)
    kept: list[tuple[int, LdnUse, Hit, float]] = []
    for entry in strong:
        _, label, hit, weight = entry
        if answered and weight < 1.0 and label is not LdnUse.PAST:
            continue
        if label is LdnUse.CURRENT and kept and kept[-1][1] is LdnUse.NEVER \
                and not _names_drug(doc, hit):
            continue
        kept.append(entry)
    return kept or strong


#: How a text names the drug itself (a pronoun like "ermee" may point at another one).
_DRUG_NAMES = ("ldn", "naltrex", "low dose", "low-dose", "lage dosis", "faible dose")


def _other_drug_sentence(doc: Doc, hit: Hit) -> bool:
    """A stop or use said with a pronoun in a sentence about another drug that does not name
    LDN: "Vroeger heb ik Lyrica gehad, die mij zo suf maakte dat ik ermee gestopt ben"."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    first, last = doc.sentence_range(clause.sentence)
    # the other drug told before the statement; one named after it is a reason given
    # ("pas encore commencé : j'attends d'avoir fini la cortisone")
    named = doc.hits_in(first, last, "context", "other_drug")
    # or what is taken, named right after the statement across a clause break ("ik neem
    # intussen opnieuw / enkel paracetamol")
    taken = hit.key in ("current", "current_weak", "past_weak") and any(
        clause.last <= h.first <= clause.last + 1 for h in named)
    if not taken and not any(h.first < hit.first for h in named):
        return False
    return not any(h.term.startswith(_DRUG_NAMES) for h in doc.hits_in(first, last, "subject",
                                                                        "drug"))


def _low_dose_only(doc: Doc, hit: Hit) -> bool:
    """A "never" said of LDN by name while naltrexone is named elsewhere with a dose in mg
    ("LDN heb ik nooit gebruikt, maar wel gewone naltrexone, 50 mg per dag")."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    here = doc.hits_in(clause.first, clause.last, "subject", "drug")
    if not any(h.term.startswith(("ldn", "low dose", "lage dosis", "faible dose")) for h in here):
        return False
    for other in doc.hits_of("subject", "drug"):
        if not other.term.startswith("naltrex") or clause.first <= other.first < clause.last:
            continue
        other_clause = doc.clause_of(other.first)
        if other_clause is None:
            continue
        first, last = doc.sentence_range(other_clause.sentence)
        if any(t.norm == "mg" for t in doc.tokens[first:last]):
            return True
    return False


def _names_drug(doc: Doc, hit: Hit) -> bool:
    clause = doc.clause_of(hit.first)
    return clause is not None and bool(doc.hits_in(clause.first, clause.last, "subject", "drug"))


def _no_longer_after(doc: Doc, hit: Hit) -> bool:
    """A "no longer" right after (or sharing the negation of) ``hit``: "gebruik het niet
    meer" is past, not never."""
    return any(hit.first < h.first and h.first - hit.last <= 3
               for h in doc.hits_of("use", "past_generic"))


def _stops_something_else(doc: Doc, hit: Hit) -> bool:
    """A stop of an activity: "arrêté de travailler", "gestopt met werken", "stopped working":
    the stop word followed by a verb or noun that is not taking the drug."""
    clause = doc.clause_of(hit.first)
    end = hit.last + 2 if clause is None else min(hit.last + 2, clause.last)
    following = doc.tokens[hit.last:end]  # (in its clause: "gestopt. De nachtmerries ...")
    if not following:
        return False
    linked = following[0].norm in ("de", "d", "met", "to", "mit", "zu")
    target = following[1] if linked and len(following) > 1 else following[0]
    if not linked and not target.norm.endswith("ing"):
        return False
    about = {h.first for h in doc.hits if h.section in ("use", "subject")}
    return doc.tokens.index(target) not in about


def _not_yet(doc: Doc, segs: Segments) -> Hit | None:
    """"Nog niet." opening the answer to question 1: not started (never)."""
    if not segs.has(1):
        return None
    start = next(s for s, e in segs.spans[1] if doc.text[s:e].strip())
    first = next((i for i, t in enumerate(doc.tokens) if t.start >= start), None)
    return next((h for h in doc.hits_of("use", "not_yet") if h.first == first), None)


_AFTER = frozenset(("na", "after", "apres", "nach", "binnen", "within", "au bout"))


def _paused(doc: Doc, hit: Hit) -> bool:
    """A stop for a while ("een week gestopt", "temporarily stopped"), not a stop after a
    while ("na een week gestopt")."""
    for pause in doc.hits_in(max(0, hit.first - 4), hit.first, "experience", "pause"):
        if pause.first == 0 or doc.tokens[pause.first - 1].norm not in _AFTER:
            return True
    return False


def _reason_clause(doc: Doc, hit: Hit) -> bool:
    """A negated stop whose clause gives a reason ("daarvoor ben ik niet gestopt", "that's
    not why I stopped"): it says why not, not whether."""
    clause = doc.clause_of(hit.first)
    return clause is not None and negated(doc, hit, window=_FLIP_WINDOW) and bool(
        doc.hits_in(clause.first, clause.last, "experience", "because_ref"))


def _planned(doc: Doc, hit: Hit) -> bool:
    """Whether a plan word in ``hit``'s clause makes it a plan ("ik ga herbeginnen"); one
    right after a duration word is not ("depuis bientôt un an", "sinds binnenkort")."""
    clause = doc.clause_of(hit.first)
    # (a plan word after the statement is of what follows: "ik neem het nog altijd en ik ga
    # er zeker mee door")
    plans = [p for p in doc.hits_in(clause.first, clause.last, "context", "plan")
             if p.first < hit.last] if clause is not None else []
    plan = plans[0] if plans else None
    if plan is None and clause is not None and hit.first - clause.first <= 2:
        # an infinitive after a comma hangs on the clause before ("Ich überlege, aufzuhören",
        # "ich überlege ernsthaft, wieder aufzuhören")
        first, _ = doc.sentence_range(clause.sentence)
        before = doc.hits_in(first, hit.first, "context", "plan")
        plan = before[-1] if before else None
    if plan is None:
        return False
    return not doc.hits_in(max(0, plan.first - 1), plan.first, "use", "current_weak")


def _elliptic(doc: Doc, hit: Hit) -> bool:
    """A short sentence without a subject that follows one about taking the drug ("Ik heb
    het twee weken genomen. ... Daarna gestopt.")."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    if clause.sentence == 0:
        return False
    first, last = doc.sentence_range(clause.sentence)
    if last - first > 5 or doc.hits_in(first, last, "subject"):
        return False
    for earlier in range(clause.sentence - 1, max(-1, clause.sentence - 4), -1):
        if not doc.has_sentence(earlier):
            continue
        e_first, e_last = doc.sentence_range(earlier)
        if doc.hits_in(e_first, e_last, "use") and (
                doc.hits_in(e_first, e_last, "subject", "self")
                or doc.hits_in(e_first, e_last, "subject", "drug")):
            return True
    return False


_NUMBER_WORDS = frozenset(
    "een twee drie vier vijf zes zeven acht negen tien elf twaalf twintig half halve "
    "un une deux trois quatre cinq six sept huit neuf dix vingt demi "
    "one two three four five six seven eight nine ten twenty half".split())


def _quantity_after(doc: Doc, hit: Hit) -> bool:
    following = doc.tokens[hit.last:hit.last + 1]
    return bool(following) and (following[0].norm.isdigit()
                                or following[0].norm in _NUMBER_WORDS)


def _about_use(doc: Doc, hit: Hit, *, proxy: bool) -> bool:
    """Whether a use statement outside the answer to question 1 is about taking the drug:
    its clause names the writer (or, answering for a patient, the patient) or the drug.
    "daarna niet meer" after a side effect, or "dat is gestopt" of a symptom, is not."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    keys: tuple[str, ...] = ("self", "drug", "proxy_self") if proxy else ("self", "drug")
    if hit.key in ("never", "past", "restart") and len(hit.term.split()) >= 2:
        return True  # "nooit gebruikt", "ermee gestopt" say what they are about
    if hit.term[:1] == "k" and hit.term[1:] in doc.words("use", hit.key):
        return True  # the subject written into the verb: "kpak", "kneem" ('k pak, ik neem)
    if hit.key == "past_generic":
        # "niet meer" alone says nothing of the drug: "kon niet meer gaan winkelen"
        keys = ("drug",)
        if doc.hits_in(clause.first, clause.last, "use", "current"):
            return True
    if hit.key == "never_bare" and _quantity_after(doc, hit):
        return False  # "nog geen tien minuten": less than, not "not yet"
    if hit.key == "never_bare" and len(hit.term.split()) == 2:
        # "nog geen" says what has not started by the word after it: the drug ("ik neem nog
        # geen LDN"), not a difference or a side effect ("ik voel nog geen verschil")
        keys = ("drug",)
    if any(doc.hits_in(clause.first, clause.last, "subject", key) for key in keys):
        return True
    if hit.key in ("past_generic", "never_bare"):
        return False
    if hit.key == "past" and hit.first - _after_greeting(doc) <= _OPENING_STOP_TOKENS \
            and not any(doc.hits_in(clause.first, hit.first, section)
                        for section in ("subject", "symptom", "side_effect")):
        return True  # a stop opening the writer's text: "Na drie weken gestopt door ..."
    # "ik heb het gebruikt, maar na 2 maand gestopt": the subject stands earlier in the
    # sentence; a clause about a symptom ("dat is na een week gestopt") is not about use
    if any(doc.hits_in(clause.first, clause.last, section) for section in
           ("symptom", "side_effect")):
        return False
    first, last = doc.sentence_range(clause.sentence)
    return any(doc.hits_in(first, last, "subject", key) for key in keys) \
        or _elliptic(doc, hit)


_Statement = tuple[int, LdnUse, Hit, float]


def _opening_answer(doc: Doc, segs: Segments, answer: str | None) -> _Statement | None:
    """A yes/no opening the answer to question 1, or a story that opens with one."""
    opening = first_hit_of_answer(doc, segs, 1)
    if answer is not None and opening is not None:
        label = LdnUse.CURRENT if answer == "yes" else LdnUse.NEVER
        return (opening.first, label, opening, 1.0)
    if segs.layout not in ("narrative", "labels"):
        return None
    # a story that opens with "Ja," or "Neen," answers question 1 first (after a greeting),
    # also when a later line is labelled ("Effets secondaires : ...")
    opens = _after_greeting(doc)
    first = next((h for h in doc.hits_of("answer") if h.first == opens), None)
    if first is None or first.term.strip() in ("/", "n", "niet", "geen"):
        return None
    if any(start <= first.start for spans in segs.spans.values() for start, _ in spans):
        return None
    # only a yes/no standing alone ("Ja, ...", "Neen.", "neen 🙂", "nee maar ...") answers;
    # "No side effects" not ...
    followed = _stands_alone(doc, first)
    # ... or a "ja" run on into how long ("ja al bijna 2 jaar via mijn huisarts")
    line_end = doc.text.find("\n", first.end)
    line_end = len(doc.text) if line_end < 0 else line_end
    run_on = first.key == "yes" and any(
        first.end <= h.start < line_end for h in doc.hits_of("use", "current_weak"))
    if followed not in (",", ".", "!", ";", "\n", "") and not run_on:
        return None
    if first.key == "no" and doc.hits_in(first.last, first.last + 4, "use", "past_generic"):
        return (first.first, LdnUse.PAST, first, 0.8)  # "Nee, (eigenlijk) niet meer."
    return (first.first, LdnUse.CURRENT if first.key == "yes" else LdnUse.NEVER, first, 0.8)


_SYMBOLS = re.compile(r"[ \t]*(?:[^\w\s.,!?;:\n][ \t]*)*")


def _stands_alone(doc: Doc, word: Hit) -> str:
    """What follows a yes/no word: its punctuation, "" at the end of the text, "," when an
    emoji or a contrast word ("maar", "mais", "but") closes it, else the next character."""
    rest = doc.text[word.end:]
    match = _SYMBOLS.match(rest)
    skipped = match.end() if match else 0
    following = rest[skipped:skipped + 1]
    if following in (",", ".", "!", ";", "\n", ""):
        return following
    if rest[:skipped].strip():
        return ","  # "neen 🙂 ma mn zus wel"
    nxt = next((t for t in doc.tokens if t.start >= word.end), None)
    if nxt is not None and nxt.norm in doc.words("negation", "terminators"):
        return ","  # "nee maar mijn zus wel"
    return rest[:1]


#: A stop this near the start of the writer's text is the writer's stop of the drug.
_OPENING_STOP_TOKENS = 4
#: An answer this short is about what the question asked.
_SHORT_ANSWER_TOKENS = 5
#: A greeting line is short: "Bonjour,", "Dag Hilde en het hele team,".
_GREETING_MAX_TOKENS = 6


def _after_greeting(doc: Doc) -> int:
    """The first token of the text, or of its second line when the first line is a greeting,
    or the token right after a greeting when it is a yes or a no."""
    greeting = next((h for h in doc.hits_of("context", "greeting") if h.first == 0), None)
    if greeting is None:
        return 0
    if any(h.first == greeting.last for h in doc.hits_of("answer")):
        return greeting.last  # "Salut, oui ...", "Hoi ja ...": the answer on the greeting's line
    line_end = doc.text.find("\n", greeting.end)
    if line_end < 0:
        return 0
    following = [i for i, t in enumerate(doc.tokens) if t.start > line_end]
    if not following or following[0] > _GREETING_MAX_TOKENS:
        return 0
    return following[0]


def _takes_something_else(doc: Doc, hit: Hit) -> bool:
    """A taking word followed by what is taken, which is not the drug: "pris le temps de
    répondre", "de moeite genomen", "took the time"."""
    return any(h.first == hit.last for h in doc.hits_in(hit.last, hit.last + 3, "context",
                                                         "taken_other"))


def _read_here(doc: Doc, hit: Hit, in_q1: bool, *, proxy: bool) -> bool:
    """Whether a use statement is about the writer's own LDN here and now: answering
    question 1 or about the drug, not a plan, not about another drug."""
    if not usable(doc, hit, proxy=proxy) or _takes_something_else(doc, hit):
        return False
    if not in_q1 and not _about_use(doc, hit, proxy=proxy):
        return False
    if in_q1 and hit.key == "past_generic" and not _about_use(doc, hit, proxy=proxy):
        # "niet meer" in a long clause of the answer says it of something else ("ik durf
        # er niet meer over te beginnen"); short, it answers: "Nee, niet meer."
        clause = doc.clause_of(hit.first)
        if clause is not None and clause.last - clause.first > _SHORT_ANSWER_TOKENS:
            return False
    if hit.key in ("restart", "current", "past", "past_weak") and _planned(doc, hit):
        return False  # "ik ga herbeginnen nadien" is a plan, not use
    # "omdat ik ook opioïden neem" is about another drug
    return not (in_context(doc, hit, "other_drug", scope="clause")
                or _other_drug_sentence(doc, hit))


#: "geen 4.5 mg maar 3 mg", "pas 4,5 mais 3", "not 4.5 but 3": a dose corrected, not a use
#: denied.
_DOSE_CORRECTED = re.compile(
    r"^\W*(?:\w+\W+){0,2}?\d+(?:[.,]\d+)?\s*(?:mg|milligram\w*)?\W+(?:maar|mais|but|sondern"
    r"|doch)\W+(?:\w+\W+){0,2}?\d", re.IGNORECASE)


#: Words that make a time word a comparison: "meer dan vroeger", "plus qu'avant".
_THAN = frozenset(("dan", "als", "than", "que", "qu", "wie"))


def _compared(doc: Doc, hit: Hit) -> bool:
    """A time word a comparison is made with ("moe, meer dan vroeger"): no use told."""
    return hit.first > 0 and doc.tokens[hit.first - 1].norm in _THAN


def _dose_corrected(doc: Doc, hit: Hit) -> bool:
    return bool(_DOSE_CORRECTED.match(doc.text[hit.end:hit.end + 60]))


def _strong_label(doc: Doc, hit: Hit) -> LdnUse | None:
    """What a strong statement says, negations read; None when it says nothing of use."""
    if hit.key in ("never", "never_bare", "current") and _dose_corrected(doc, hit):
        return LdnUse.CURRENT  # "ik neem geen 4.5 mg maar 3 mg"
    label = _STRONG[hit.key]
    if hit.key == "past" and (_reason_clause(doc, hit) or _stops_something_else(doc, hit)
                              or _paused(doc, hit)):
        # "daarvoor ben ik niet gestopt" (the reason, not the stop), "j'ai arrêté de
        # travailler" (another stop), "toen ik een week gestopt was" (a pause)
        return None
    if hit.key in ("never", "never_bare") and _no_longer_after(doc, hit):
        label = LdnUse.PAST  # "gebruik het niet meer"
    if hit.key in ("past_generic", "never", "never_bare", "keep") \
            or not _use_negated(doc, hit):
        return label
    # only a negation right before a statement turns it round ("niet gestopt"); "nee, nooit
    # gebruikt" stays never; "gebruik het niet meer" is past
    flipped = _flip(label) if hit.key != "restart" else None
    if flipped is LdnUse.NEVER and _no_longer_after(doc, hit):
        flipped = LdnUse.PAST
    return flipped


def code_use(doc: Doc, segs: Segments, *, proxy: bool) -> Reading:
    """Statements of use in order, the last strong one winning (see :func:`_decide`)."""
    strong: list[_Statement] = []
    weak: list[tuple[int, LdnUse, Hit]] = []
    restart: list[Hit] = []
    answer = answer_word(doc, segs, 1)
    opening = _opening_answer(doc, segs, answer)
    if opening is not None:
        strong.append(opening)
    other_dose = False
    not_yet = _not_yet(doc, segs)
    if not_yet is not None:
        strong.append((not_yet.first, LdnUse.NEVER, not_yet, 1.0))
    stops = doc.hits_of("use", "past")
    for hit in doc.hits_of("use"):
        in_q1 = segs.answers(hit.start, 1)
        if not _read_here(doc, hit, in_q1, proxy=proxy):
            continue
        if hit.key == "current" and any(s.first < hit.first < s.last for s in stops):
            continue  # "she gave up on it": the "on it" is the stop's
        if hit.key in _STRONG:
            label = _strong_label(doc, hit)
            if label is None:
                continue
            if hit.key == "restart" and not _use_negated(doc, hit):
                restart.append(hit)
            if label is LdnUse.NEVER and _low_dose_only(doc, hit):
                other_dose = True
                continue  # "LDN nooit gebruikt, maar wel naltrexone 50 mg": any dose counts
            strong.append((hit.first, label, hit, 1.0 if in_q1 else 0.8))
        elif hit.key in _WEAK and not negated(doc, hit) and not _compared(doc, hit) \
                and (segs.layout == "narrative" or in_q1):
            # a hint inside the answer to another question ("since I started" under
            # question 3) does not answer question 1
            weak.append((hit.first, _WEAK[hit.key], hit))
    reading = _decide(doc, strong, weak, restart, answer, segs, proxy=proxy)
    if other_dose:
        # never the low dose, but naltrexone at another dose: a person sorts out when
        return Reading(reading.value, min(reading.confidence, 0.6), reading.hits,
                       contradicted=True)
    return reading


def _decide(doc: Doc, strong: list[tuple[int, LdnUse, Hit, float]],
            weak: list[tuple[int, LdnUse, Hit]], restart: list[Hit], answer: str | None,
            segs: Segments, *, proxy: bool) -> Reading:
    if restart:
        return Reading(LdnUse.CURRENT, 0.85, tuple(restart))
    if strong:
        strong.sort(key=lambda s: s[0])
        strong = _later_statements(doc, strong)
        # a bare "ja/neen" opening is overruled by any later specific statement
        last_position, label, _, weight = strong[-1]
        labels = {s[1] for s in strong}
        if (label is LdnUse.NEVER and LdnUse.PAST in labels
                and any(s[1] is LdnUse.PAST and s[0] > last_position - 12 for s in strong)):
            label = LdnUse.PAST
        confidence = 0.92 if len(labels) == 1 else 0.62
        if weight < 1.0 and len(labels) == 1 and answer is None:
            confidence = 0.85
        if label is LdnUse.CURRENT and not any(s[1] is LdnUse.CURRENT for s in strong[:-1]) \
                and LdnUse.PAST in labels:
            confidence = min(confidence, 0.7)
        deciding = tuple(s[2] for s in strong if s[1] is label)[-2:]
        return Reading(label, confidence, deciding)
    # (a dose only LDN comes in, "begonnen met 0,5 mg", names it too)
    about_drug = (bool(doc.hits_of("subject", "drug")) or segs.layout != "narrative"
                  or bool(doc.hits_of("prescribe", "verb")) or names_low_dose(doc.text))
    # hints count in a text that speaks of the drug and of the writer (or the patient)
    about_drug = about_drug and (segs.layout != "narrative" or bool(
        doc.hits_of("subject", "self") or (proxy and doc.hits_of("subject", "proxy_self"))))
    if weak and about_drug:
        # hints ("sinds", "nog") only in a text that speaks of the drug at all
        labels = {w[1] for w in weak}
        weak.sort(key=lambda w: w[0])
        label = weak[-1][1] if len(labels) > 1 else next(iter(labels))
        if len(labels) > 1 and LdnUse.CURRENT in labels:
            label = LdnUse.CURRENT if weak[-1][1] is LdnUse.CURRENT else LdnUse.PAST
        return Reading(label, 0.75 if len(labels) == 1 else 0.6,
                       tuple(w[2] for w in weak if w[1] is label)[-2:])
    return Reading(LdnUse.UNKNOWN, 0.8 if segs.blank and 1 in segs.blank else 0.65)
