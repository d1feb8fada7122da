"""Which part of the own text answers which question.

Layouts, tried in this order:

* anchors: ``[Qn]`` lines put by reply isolation where a mailing's question stood
  (``[Q0]``: the answers end there);
* a numbered or lettered list: "1." "1)" "1-" "Vraag 1:" "V1" "a)" "c." ... (at least two
  labels, in order): the k-th label answers the k-th question of the quoted mailing (its
  third question may be the codebook's fourth);
* four bare answer lines ("ja / huisarts / ja / nee"): one per question, in that order;
* exactly four bulleted items ("- ja", "- huisarts", ...): one per question, in order;
* labels: "Bijwerkingen: geen", "Ervaring: positief" (from the lexicons' [labels]);
* otherwise a narrative: no part is tied to a question (segment 0).

A segment runs from its marker to the next marker; a blank line followed by text that is
not a continuation (a new paragraph after the list) returns to the narrative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ldn_inbox.extract._text import Doc, spelling
from ldn_inbox.parse.textnorm import fold

_ANCHOR = re.compile(r"^\[Q([0-4](?:\+[0-4])*)\][ \t]*", re.MULTILINE)
_NUMBERED = re.compile(
    r"^[ \t]*(?:(?:vraag|vr|v|q|question|frage|antwoord|antw|a|ad|réponse|reponse)\.?[ \t]*)?"
    r"([1-9]|1[0-2](?=[ \t]*[.):]))[ \t]*(?:[.):\-–/]|(?=[ \t]+\S))[ \t]*",
    re.MULTILINE | re.IGNORECASE,
)


_LETTERED = re.compile(
    r"^[ \t]*(?:vraag|question|frage|q|v)?[ \t]*\(?([a-dA-D])[ \t]*(?:[.):]|[ \t]+[-–][ \t]"
    r"|[ \t]+(?=\S))[ \t]*",
    re.MULTILINE | re.IGNORECASE,
)
#: A bare answer line: a few words, no sentence ("ja", "huisarts", "positief", "neen").
_BARE_LINE = re.compile(r"^[ \t]*([^\n]{1,90}?)[ \t]*$", re.MULTILINE)
_BARE_MAX_WORDS = 5
#: one of the four lines may say more ("ja, veel minder pijn in nek en schouders")
_BARE_LONG_WORDS = 12
#: ... or a yes or a no and up to this many words in all ("oui 3 mg", "ja ik pak het")
_BARE_OPENING_WORDS = 4


_BULLET = re.compile(r"^[ \t]*[-–•*][ \t]+", re.MULTILINE)


@dataclass
class Segments:
    """Character spans per question (1-4); ``layout`` says how they were found."""

    layout: str = "narrative"
    spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    #: questions whose marker stood there but nothing was written under it
    blank: set[int] = field(default_factory=set)
    #: answers to the mailing's other questions ("9. een avond over medicatie")
    foreign: list[tuple[int, int]] = field(default_factory=list)
    _questions_at: dict[int, frozenset[int]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def question_of(self, position: int) -> int:
        for number, spans in self.spans.items():
            for start, end in spans:
                if start <= position < end:
                    return number
        return 0

    def questions_at(self, position: int) -> frozenset[int]:
        """Every question whose answer holds ``position`` (an answer may serve two).

        Remembered per position: the modules ask for every token and hit, several times
        (the spans are settled once segmentation returns them)."""
        found = self._questions_at.get(position)
        if found is None:
            found = self._questions_at[position] = frozenset(
                [number for number, spans in self.spans.items()
                 for start, end in spans if start <= position < end])
        return found

    def answers(self, position: int, number: int) -> bool:
        return number in self.questions_at(position)

    def text(self, doc_text: str, number: int) -> str:
        return "\n".join(doc_text[s:e] for s, e in self.spans.get(number, []))

    def has(self, number: int) -> bool:
        return number in self.spans and number not in self.blank


def _from_markers(text: str, markers: list[tuple[int, int, int]], layout: str) -> Segments:
    """Segments from (question, marker_start, content_start) markers in text order."""
    segments = Segments(layout=layout)
    for index, (number, marker_start, content_start) in enumerate(markers):
        # markers at one place (a question asking two) share the answer that follows them
        limit = next((m[1] for m in markers[index + 1:] if m[1] != marker_start), len(text))
        if number == 0:
            continue  # [Q0]: what follows answers no question in particular
        end = content_start
        # the answer runs on over continuation lines, up to a blank line followed by a
        # paragraph that is not part of it (for lists); anchors run to the next anchor
        if layout == "anchors":
            end = limit
        else:
            lines_end = content_start
            for match in re.finditer(r"[^\n]*(?:\n|$)", text[content_start:limit]):
                chunk = match.group(0)
                if not chunk:
                    break
                if not chunk.strip() and lines_end > content_start:
                    rest = text[content_start + match.end():limit]
                    if rest.strip():
                        break
                lines_end = content_start + match.end()
            end = lines_end
        if number < 0:
            segments.foreign.append((content_start, end))
            continue
        segments.spans.setdefault(number, []).append((content_start, end))
        if not text[content_start:end].strip():
            segments.blank.add(number)
    for number, spans in segments.spans.items():
        if any(text[s:e].strip() for s, e in spans):
            segments.blank.discard(number)
    return segments


#: Words that lead up to a label ("Pour les effets secondaires :", "As for side effects:").
_LEAD_IN = frozenset(("pour", "les", "la", "le", "l", "quant", "aux", "au", "voor", "de", "het",
                      "wat", "as", "for", "the", "regarding", "concerning", "betreft", "wegen",
                      "zu", "den", "die", "der", "zum", "zur", "en", "ce", "qui", "concerne"))


def _lead_in(words: list[str]) -> int:
    """How many of the first words (at most three) only lead up to a label."""
    count = 0
    while count < min(3, len(words) - 1) and words[count] in _LEAD_IN:
        count += 1
    return count


def _labels(doc: Doc) -> list[tuple[int, int, int]]:
    markers: list[tuple[int, int, int]] = []
    labels = {n: doc.words("labels", f"q{n}") for n in range(1, 5)}
    for match in re.finditer(r"^[ \t]*([^\n:?]{2,40}?)[ \t]*[:?][ \t]*", doc.text, re.MULTILINE):
        spell = spelling if doc.language == "nl" else str
        # "Side effects (Q4):": the bracketed note after a label is no part of it
        head = re.sub(r"\s*\([^()]*\)\s*$", "", match.group(1))
        label = " ".join(spell(w) for w in fold(head).strip(" -*•").split())
        # "Pour les effets secondaires :", "As for side effects:", "Wat de bijwerkingen":
        # the label after a few words that only lead up to it
        # (a label of two words or more: "La LDN ?" is a question of the writer's own)
        rest = label.split()[_lead_in(label.split()):]
        bare = " ".join(rest) if len(rest) >= 2 else label
        for number, words in labels.items():
            if label in words or (bare != label and bare in words):
                markers.append((number, match.start(), match.end()))
                break
    return markers


def _listed(text: str, order: tuple[int, ...],
            labels: dict[str, int]) -> list[tuple[int, int, int]]:
    """Markers of a numbered or lettered list. Where the writer uses the quoted mailing's own
    labels (its "5." may ask the codebook's first question, its "c)" the fourth), they say
    which question; other labels of that list answer questions outside the survey (0).
    Otherwise the k-th label answers the k-th question the mailing asks (``order``). Letters
    followed only by a space ("a ja") count when three or more of a-d stand in order."""
    for pattern in (_NUMBERED, _LETTERED):
        found = [(m.group(1).lower(), m.start(), m.end()) for m in pattern.finditer(text)]
        if pattern is _LETTERED:
            found = _lettered(text, found)
        ordered = [label for label, _, _ in found]
        # (in another order only when no label repeats: "4: nee / 3: mijn dokter / 2: goed")
        if not ordered or (ordered != sorted(ordered, key=_position)
                           and len(set(ordered)) != len(ordered)):
            continue
        own = {label for label in ordered if label in labels}
        plain = {"1", "2", "3", "4", "a", "b", "c", "d"}
        worded = any(re.match(r"[ \t]*[^\W\d_]{2}", text[start:end])
                     for label, start, end in found if label in own)
        # the mailing's own labels decide when they say otherwise than plain order would
        # (its "5." asks question 1, or its "b)" question 4)
        differs = any(labels[label] != order[_position(label)] for label in own
                      if label in plain and _position(label) < len(order))
        if labels and own and (not own <= plain or differs) and (len(own) >= 2 or worded):
            # the mailing's own labels; its other questions' answers are foreign (-1)
            return [(labels.get(label, -1), start, end) for label, start, end in found]
        line_end = text.find("\n", found[0][2]) if found else -1
        rest_of_line = text[found[0][2]:line_end if line_end >= 0 else len(text)] if found else ""
        if len(found) == 1 and own and re.match(r"[^\W\d_]", text[found[0][2]:]) \
                and not re.search(r"\s[1-9a-dA-D][.)]\s", rest_of_line):
            # (not when more labels follow on its line: "1) ja 2) huisarts 3) ja 4) nee")
            # one answer under the number the quoted mailing gives its question ("3. Pas
            # d'effets secondaires", the rest to follow)
            return [(labels[found[0][0]], found[0][1], found[0][2])]
        found = [(label, start, end) for label, start, end in found
                 if _position(label) < len(order)]
        unordered = ordered != sorted(ordered, key=_position)
        if len({label for label, _, _ in found}) >= (3 if unordered else 2) \
                and (_position(found[0][0]) <= 1 or unordered):
            return [(order[_position(label)], start, end) for label, start, end in found]
    return []


def _position(label: str) -> int:
    return int(label) - 1 if label.isdigit() else ord(label) - ord("a")


def _lettered(text: str, found: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Letter labels: "a)" "b." "c:" always; a letter and a space only in a run of three."""
    marked = [item for item in found if text[item[2] - 1] != " " or
              re.match(r"[ \t]*\(?[a-dA-D][ \t]*[.):\-–]", text[item[1]:item[2]])]
    spaced = [item for item in found if item not in marked]
    if len({label for label, _, _ in spaced}) >= 3:
        return sorted(marked + spaced, key=lambda item: item[1])
    return marked


_INLINE_NUMBER = re.compile(r"(?:^|(?<=\s))([1-4])[.):]?[ \t]+(?=[^\W\d_])")


def _inline_numbers(text: str, order: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """A list run into one line ("1 ja sds okt 2 vd huisarts 3 ja 4 nee"): the numbers 1, 2, 3
    (and 4) in order, each before a word, on the same line."""
    for line in re.finditer(r"[^\n]+", text):
        found = [(int(m.group(1)), line.start() + m.start(1), line.start() + m.end())
                 for m in _INLINE_NUMBER.finditer(line.group(0))]
        numbers = [n for n, _, _ in found]
        for size in (4, 3):
            for start in range(len(found) - size + 1):
                if numbers[start:start + size] == list(range(1, size + 1)):
                    return [(order[n - 1], s, e) for n, s, e in found[start:start + size]]
    return []


def _bare_block(block: list[re.Match[str]], yes_no: frozenset[str]) -> bool:
    """Four short answers; one may say more when the block opens with a word or two
    ("ja" / "huisarts" / "ja, veel minder pijn in nek en schouders" / "nee"), or with a yes
    or a no and a few words ("oui 3 mg" / "medecin traitant" / ...)."""
    sizes = [len(line.group(1).split()) for line in block]
    longer = sum(size > _BARE_MAX_WORDS for size in sizes)
    opening = fold(block[0].group(1)).split()
    opens_with_answer = bool(opening) and opening[0].strip(",.!") in yes_no
    return longer == 0 or (longer == 1 and (
        sizes[0] <= 2 or (opens_with_answer and sizes[0] <= _BARE_OPENING_WORDS)))


def _yes_no(doc: Doc) -> frozenset[str]:
    """The plain yes and no words of the text's languages (not "geen", "aucun")."""
    words = doc.words("answer", "yes") | doc.words("answer", "no")
    return frozenset(w for w in words if " " not in w and w not in doc.words("negation", "pre")
                     ) | {"nee", "neen", "non", "no", "nein"}


def _bare_lines(text: str, order: tuple[int, ...],
                yes_no: frozenset[str] = frozenset()) -> list[tuple[int, int, int]]:
    """Four answers on four short lines, no labels ("ja / huisarts / ja / nee"): one per
    question, in the order the quoted mailing asks them."""
    lines = list(_BARE_LINE.finditer(text))
    blocks: list[list[re.Match[str]]] = []
    current: list[re.Match[str]] = []
    position = 0
    for line in lines:
        between = text[position:line.start()]
        if current and between.count("\n") > 1 and between.strip() == "":
            blocks.append(current)
            current = []
        if len(line.group(1).split()) <= _BARE_LONG_WORDS and not line.group(1).endswith(
                (":", ",")) and not line.group(1).startswith("["):
            if current and text[current[-1].end():line.start()].strip():
                blocks.append(current)
                current = []
            current.append(line)
        else:
            if current:
                blocks.append(current)
            current = []
        position = line.end()
    if current:
        blocks.append(current)
    four = [block for block in blocks if len(block) == 4 and _bare_block(block, yes_no)]
    if len(four) != 1:
        return []
    return [(order[index], line.start(), line.start(1))
            for index, line in enumerate(four[0])]


#: Other lines beside a one-line answer list: a greeting or a name.
_ASIDE_MAX_WORDS = 3


def _bare_commas(doc: Doc, order: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Four short answers on one line, split by commas, opening with a yes or no ("Ja, via
    de huisarts, goed, geen"), and nothing else but a greeting or a name."""
    text = doc.text
    lines = list(_BARE_LINE.finditer(text))
    # split by commas, or by full stops or semicolons ("Ja. Dokter Claes. Ja. Nee.")
    for mark in (",", ".", ";"):
        listed = [line for line in lines
                  if line.group(1).rstrip(" .!;").count(mark) == 3]
        if len(listed) == 1:
            break
    if len(listed) != 1 or any(len(line.group(1).split()) > _ASIDE_MAX_WORDS
                               for line in lines if line is not listed[0]):
        return []
    line = listed[0]
    body = line.group(1).rstrip(" .!;")
    offsets = [0] + [m.end() for m in re.finditer(rf"{re.escape(mark)}\s*", body)]
    starts = [line.start(1) + offset for offset in offsets]
    parts = [text[a:b] for a, b in zip(starts, [*starts[1:], line.start(1) + len(body)],
                                       strict=True)]
    if any(not 1 <= len(part.replace(mark, " ").split()) <= _BARE_MAX_WORDS - 1
           for part in parts):
        return []
    if not any(h.section == "answer" and h.start == starts[0] for h in doc.hits):
        return []
    return [(order[index], start, start) for index, start in enumerate(starts)]


def _not_treatments(doc: Doc, bullets: list[tuple[int, int]]) -> bool:
    """Whether four dashed items may be answers: not a list of the treatments tried, two or
    more of them naming another drug ("- Lyrica: ...", "- la duloxétine : ...")."""
    ends = [start for start, _ in bullets[1:]] + [len(doc.text)]
    drugs = sum(1 for (start, _), end in zip(bullets, ends, strict=True)
                if any(start <= h.start < end for h in doc.hits_of("context", "other_drug")))
    return drugs < 2


def _by_content(doc: Doc, items: list[tuple[int, int, int]], order: tuple[int, ...],
                labels: dict[str, int]) -> list[tuple[int, int, int]]:
    """Four unlabelled answers in the mailing's order, or in another order the writer may
    have followed (another version of the mailing, numbered "1." or lettered "a)", or the
    usual order) when only that puts the one answer naming a doctor under question 2."""
    if len(items) != 4:
        return items
    ends = [start for _, start, _ in items[1:]] + [len(doc.text)]
    doctor = [any(h.section in ("prescriber", "specialty") and start <= h.start < end
                  for h in doc.hits)
              for (_, start, _), end in zip(items, ends, strict=True)]
    if sum(doctor) != 1 or (2 in order[:4] and doctor[order.index(2)]):
        return items
    versions = [tuple(labels.get(k, 0) for k in keys) for keys in ("1234", "abcd")]
    # ... or the questions on experience and prescriber swapped, as many mailings ask them
    swapped = tuple({2: 3, 3: 2}.get(n, n) for n in order[:4])
    for candidate in [*versions, (1, 2, 3, 4), swapped]:
        if sorted(candidate) == [1, 2, 3, 4] and doctor[candidate.index(2)]:
            return [(number, start, content) for number, (_, start, content)
                    in zip(candidate, items, strict=True)]
    return items


def _bare_words(doc: Doc, order: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Four yes/no words on one line and nothing else but a greeting or a name ("ja nee ja
    nee", "oui / non / oui / non"): one per question."""
    text = doc.text
    lines = list(_BARE_LINE.finditer(text))
    answers = {h.first for h in doc.hits if h.section == "answer" and h.last - h.first == 1}
    found = []
    for line in lines:
        tokens = [i for i, t in enumerate(doc.tokens)
                  if line.start(1) <= t.start < line.end(1) and t.norm != "/"]
        if len(tokens) == 4 and all(i in answers for i in tokens):
            found.append(tokens)
        elif len(line.group(1).split()) > _ASIDE_MAX_WORDS:
            return []
    if len(found) != 1:
        return []
    return [(order[index], doc.tokens[i].start, doc.tokens[i].start)
            for index, i in enumerate(found[0])]


def segment(doc: Doc, *, order: tuple[int, ...] = (1, 2, 3, 4),
            labels: dict[str, int] | None = None) -> Segments:
    """Split ``doc.text`` into answers per question. ``order``: the codebook's questions in
    the order the quoted mailing asks them."""
    text = doc.text
    anchors = [(int(number), m.start(), m.end()) for m in _ANCHOR.finditer(text)
               for number in m.group(1).split("+")]
    if any(number for number, _, _ in anchors):
        segments = _from_markers(text, anchors, "anchors")
        answered = [n for n in segments.spans if n not in segments.blank]
        numbered_anchors = [n for n, _, _ in anchors if n]
        last = numbered_anchors[-1]
        if not (len(numbered_anchors) >= 2 and answered == [last]):
            return segments
        # every question left empty but the last, with the whole reply under it: a
        # bottom-posted answer below the quoted questions; read it for its own layout
    listed = _listed(text, order, labels or {})
    if listed:
        if sorted(number for number, _, _ in listed) == [1, 2, 3, 4]:
            # the writer may number the answers in another version's order
            listed = _by_content(doc, listed, tuple(n for n, _, _ in listed), labels or {})
        return _from_markers(text, listed, "numbered")
    inline = _inline_numbers(text, order)
    if inline:
        return _from_markers(text, inline, "numbered")
    bare = _bare_lines(text, order, _yes_no(doc))
    if bare:
        return _from_markers(text, _by_content(doc, bare, order, labels or {}), "lines")
    commas = _bare_commas(doc, order) or _bare_words(doc, order)
    if commas:
        return _from_markers(text, _by_content(doc, commas, order, labels or {}), "lines")
    bullets = [(m.start(), m.end()) for m in _BULLET.finditer(text)]
    if len(bullets) == 4 and _not_treatments(doc, bullets):
        # four dashed items in a row, one per question
        items = [(order[n], s, e) for n, (s, e) in enumerate(bullets)]
        return _from_markers(text, _by_content(doc, items, order, labels or {}), "bullets")
    labelled = _labels(doc)
    if labelled:
        labelled.sort(key=lambda m: m[1])
        return _from_markers(text, labelled, "labels")
    return Segments()
