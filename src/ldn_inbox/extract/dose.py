"""The daily dose in mg (``dose_mg``).

"4,5 mg", "4.5mg", "2 x 1,5 mg" (3), "1,5 mg opgebouwd tot 4,5" (4.5 now): the current dose
is the last one stated that is not a plan ("het plan is 4,5 mg", "wordt opgedreven naar");
for a past user, the last one taken. Numbers without mg are doses only right after a build-up
word in a sentence that has mg in it; dates, ages, durations and times never are.
"""

from __future__ import annotations

import re

from ldn_inbox.codebook import LdnUse, Span
from ldn_inbox.extract._common import Reading
from ldn_inbox.extract._text import Doc, Hit, in_context

_NUMBER = r"(\d{1,3}(?:[.,]\d{1,2})?)"
_UNIT = r"\s*(?:mg|milligram(?:me)?s?|mgr|mg\.)(?![a-z])"
_COUNT_WORDS = {"een": 1, "één": 1, "twee": 2, "drie": 3, "vier": 4, "un": 1, "une": 1,
                "deux": 2, "trois": 3, "quatre": 4, "one": 1, "two": 2, "three": 3, "four": 4,
                "eine": 1, "zwei": 2, "drei": 3}
_TIMES = re.compile(
    r"\b(\d|" + "|".join(sorted(_COUNT_WORDS, key=len, reverse=True))
    + r")\s*(?:x|keer|maal|×|fois|times|mal|capsules?|caps|pillen|tabletten|comprimés?"
    r"|gélules?|gelules?|tablets?|kapseln?)\s*(?:van|de|à|a|of|zu|von|x)?\s*" + _NUMBER + _UNIT,
    re.IGNORECASE,
)
_DOSE = re.compile(_NUMBER + _UNIT, re.IGNORECASE)
#: Half a capsule: "une demi-gélule de 3 mg", "een halve capsule van 3 mg", "half a 3 mg tablet".
_HALF = re.compile(
    r"\b(?:demi|demie|halve|half(?:\s+an?)?|halbe)[-\s]*(?:(?:gélule|gelule|capsule|caps|comprimé"
    r"|comprime|pil|pilletje|tablet|tablette|kapsel)s?\s*(?:van|de|à|a|of|zu|von)?\s*)?"
    + _NUMBER + _UNIT, re.IGNORECASE)
#: A dose taken more than once a day: "1.5mg twice a day", "1,5 mg 2x per dag".
_TIMES_AFTER = re.compile(
    _NUMBER + _UNIT + r"\s*,?\s*(?:(\d|twee|deux|two|zwei)\s*(?:x|keer|maal|×|fois|times|mal)"
    r"|(twice|tweemaal|zweimal))\s*(?:per|par|a|an|au|pro|am|op\s+een)?\s*(?:dag|jour|day|tag)",
    re.IGNORECASE)
#: Micrograms: "3000 microgram", "500 µg" (liquid LDN is often counted so).
_MICRO = re.compile(r"(\d{1,5}(?:[.,]\d{1,2})?)\s*(?:µg|μg|mcg|microgram(?:me)?s?|microg)\b",
                    re.IGNORECASE)
_BARE_AFTER = re.compile(
    r"\b(?:tot|naar|to|up to|à|a|jusqu'à|auf|bis|op)\s+" + _NUMBER + r"(?![\d.,]*\s*(?:%|jaar|"
    r"maand|week|weken|dagen|uur|u\b|h\b|ans|mois|years|months|weeks|jahre|monate))",
    re.IGNORECASE,
)
#: Plausible daily doses (mg): low dose is 0.5-10, the alcohol dose 50.
_RANGE = (0.1, 150.0)


def _value(text: str) -> float:
    return float(text.replace(",", "."))


def _in_plan(doc: Doc, start: int) -> bool:
    token = next((i for i, t in enumerate(doc.tokens) if t.start >= start), None)
    if token is None:
        return False
    clause = doc.clause_of(token)
    if clause is None:
        return False
    for hit in doc.hits_in(clause.first, clause.last, "context", "plan"):
        if hit.first <= token + 1:
            return True
    return False


def _excluded(doc: Doc, start: int) -> bool:
    token = next((i for i, t in enumerate(doc.tokens) if t.start >= start), None)
    if token is None:
        return True
    clause = doc.clause_of(token)
    if clause is None or clause.is_question:
        return True
    probe = Hit("dose.value", token, token + 1, start, start + 1, "")
    if in_context(doc, probe, "other_drug", scope="clause") is not None:
        return True
    return in_context(doc, probe, "other_person") is not None


def code_dose(doc: Doc, *, use: LdnUse) -> tuple[Reading, Span | None]:
    """The dose reading and the words it was read from."""
    if use is LdnUse.NEVER:
        return Reading(None, 0.9), None
    text = doc.text
    found: list[tuple[int, float, Span]] = []
    covered: list[tuple[int, int]] = []
    with_mg = list(_DOSE.finditer(text))
    # each pattern with a unit holds a number and unit as _DOSE reads them: where it finds
    # none (most texts), they find none either, and their slow scans are skipped
    for match in _TIMES.finditer(text) if with_mg else ():
        count = match.group(1).lower()
        value = (int(count) if count.isdigit() else _COUNT_WORDS[count]) * _value(match.group(2))
        found.append((match.start(), value, Span(match.start(), match.end(), match.group(0))))
        covered.append((match.start(), match.end()))
    for match in _HALF.finditer(text) if with_mg else ():
        found.append((match.start(), _value(match.group(1)) / 2,
                      Span(match.start(), match.end(), match.group(0))))
        covered.append((match.start(), match.end()))
    for match in _TIMES_AFTER.finditer(text) if with_mg else ():
        if any(s <= match.start() < e for s, e in covered):
            continue
        count = (match.group(2) or "").lower()
        times = int(count) if count.isdigit() else _COUNT_WORDS.get(count, 2)
        found.append((match.start(), times * _value(match.group(1)),
                      Span(match.start(), match.end(), match.group(0))))
        covered.append((match.start(), match.end()))
    for match in _MICRO.finditer(text):
        found.append((match.start(), _value(match.group(1)) / 1000,
                      Span(match.start(), match.end(), match.group(0))))
    for match in with_mg:
        if any(s <= match.start() < e for s, e in covered):
            continue
        found.append((match.start(), _value(match.group(1)),
                      Span(match.start(), match.end(), match.group(0))))
    with_unit = {i for i, (s, e) in enumerate(doc.sentence_spans)
                 if any(s <= f[0] < e for f in found)}
    # (a bare number counts only in a sentence with a dose in it: none, no scan)
    for match in _BARE_AFTER.finditer(text) if with_unit else ():
        sentence = next((i for i, (s, e) in enumerate(doc.sentence_spans)
                         if s <= match.start() < e), None)
        if sentence not in with_unit or any(s <= match.start(1) < e for s, e in covered):
            continue
        if any(f[0] == match.start(1) for f in found):
            continue
        value = _value(match.group(1))
        if "," in match.group(1) or "." in match.group(1) or value <= 10:
            found.append((match.start(1), value,
                          Span(match.start(1), match.end(1), match.group(1))))
    doses = [(pos, value, span) for pos, value, span in found
             if _RANGE[0] <= value <= _RANGE[1] and not _excluded(doc, pos)]
    if not doses:
        return Reading(None, 0.85), None
    taken = [d for d in doses if not _in_plan(doc, d[0])]
    if not taken:
        return Reading(None, 0.75), doses[-1][2]
    taken.sort(key=lambda d: d[0])
    _, value, span = taken[-1]
    confidence = 0.9 if len({d[1] for d in taken}) == 1 else 0.75
    return Reading(round(value, 2), confidence), span
