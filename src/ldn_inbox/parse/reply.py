"""Reply isolation: the respondent's own words, apart from quotes, the mailing, attribution
lines, header blocks, signatures and disclaimers.

Mail clients quote in many ways, and respondents type answers *inside* the quote, right
under each question. So rather than cutting at the first quote header (what
mail-parser-reply and its kind do, which loses every inline answer), each line gets a role:

* structure: attribution lines ("Op ... schreef ...:", "On ... wrote:", "Le ... a écrit :",
  "Am ... schrieb ...:"), Outlook header blocks (Van:/From:/De :/Von: ...) and separators.
  After them an unprefixed original follows (the *original* region); a forward is the
  writer's own text (a spouse forwarding the patient's answers);
* mailing: a line that is a run of a known mailing's tokens (:class:`MailingSet`), however
  it was wrapped or quoted, is never the writer's; a line overlapping one of the mailing's
  questions becomes an anchor ``[Qn]`` (n: the codebook's question, whatever the mailing's
  numbering); a question followed by an answer on the same line keeps the answer;
* inline answers are a diff: inside a quote of a mailing, the lines that are not the
  mailing's and stand under a question belong to that question; mailing text after the
  answer closes it (``[Q0]``: what follows answers no question in particular);
* without a known mailing, questions are recognised by what they ask
  (:func:`ldn_inbox.parse.mailings.concept_scores`) and an answer under one ends at a blank line;
* ``>``-quoted lines outside those answers are quote; signatures and disclaimers go.

Attribution lines and header blocks are recognised by this module's own patterns (Dutch,
French, English, German): reply parsers that cut at the first quote header have no notion of
inline answers.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

from ldn_inbox.parse.htmltext import OUTLOOK_REPLY_MARKER
from ldn_inbox.parse.mailings import Found, MailingSet, addresses_reader, concept_scores
from ldn_inbox.parse.textnorm import LINE_LABEL, TOKEN, fold, line_tokens

ANCHOR = "[Q{n}]"
#: "[Q2]"; "[Q1+2]" where one question of the mailing asks two of the codebook's
ANCHOR_RE = re.compile(r"^\[Q([0-4](?:\+[0-4])*)\]\s?")

_QUOTE_PREFIX = re.compile(r"^((?:[ \t]?>)+)[ \t]?")
_ATTRIBUTION = re.compile(
    r"^(?:"
    r"op\b.{3,160}\b(?:schreef|schreven|geschreven)\b.*"
    r"|on\b.{3,200}\bwrote\b.*"
    r"|le\b.{3,200}\ba\s+ecrit\b.*"
    r"|am\b.{3,200}\bschrieb\b.*"
    r"|.{0,120}(?:<[^>]*@[^>]*>|@\S+)\s*(?:schreef|wrote|a ecrit|schrieb)\s*:?\s*"
    r"|.{0,120}\b(?:schreef|wrote|a ecrit|schrieb)\s*:\s*"
    r")$"
)
_ATTRIBUTION_START = re.compile(r"^(?:op|on|le|am)\s+\S")
#: How a two-line attribution starts (folded): see :func:`_maybe_structure`.
_ATTRIBUTION_OPENERS = frozenset(("op", "on", "le", "am"))
_SEPARATOR = re.compile(
    r"^\s*(?:[-_=*]{2,}\s*)?(?:"
    r"oorspronkelijk bericht|origineel bericht|original message|message d'origine"
    r"|urspr[u]?ngliche nachricht|doorgestuurd bericht|forwarded message|message transfere"
    r"|weitergeleitete nachricht|begin doorgestuurd bericht|begin forwarded message"
    r"|debut du message reexpedie|anfang der weitergeleiteten nachricht"
    r")\s*:?\s*(?:[-_=*]{2,})?\s*$"
)
_FORWARD_WORDS = ("doorgestuurd", "forwarded", "transfere", "reexpedie", "weitergeleitet")
_RULE = re.compile(r"^\s*[_-]{10,}\s*$")
_HEADER_FIELD = re.compile(
    r"^\s*\*?(van|from|de|von|verzonden|sent|envoye|envoye le|gesendet|aan|to|a|an|onderwerp"
    r"|subject|objet|sujet|pour|betreff|datum|date|cc|bcc|kopie|copie|verstuurd|envoi"
    r"|expediteur|destinataire|reply-to|antwoord aan)\s*\*?\s*:\s*(.*)$"
)
_HEADER_FROM = {"van", "from", "de", "von"}
_SENT_FROM = re.compile(
    r"^\s*(?:verzonden|verstuurd|gestuurd|sent|envoye|envoyé|von meinem|gesendet|get outlook"
    r"|telecharger outlook|download outlook|outlook voor|outlook for)\b.{0,60}"
    r"(?:iphone|ipad|android|samsung|galaxy|smartphone|mobiel|mobile|outlook|gsm|huawei"
    r"|xiaomi|oneplus|pixel|blackberry|mail|windows|telenet|proximus|yahoo|gmail)\b.*$"
)
_CLOSING = re.compile(
    r"^\s*(?:met\s+)?(?:vriendelijke|hartelijke|lieve|beste|warme|veel|vele|fijne)?\s*"
    r"(?:groet(?:en|jes|je)?|groeten|mvg|m\.v\.g\.?|vg|gr|dank\s*(?:u|je)?(?:\s+wel)?"
    r"|bedankt|alvast bedankt|bien a vous|bien à vous|cordialement|salutations|bisous|amities"
    r"|amitiés|bonne journee|bonne journée|merci(?: d'avance| beaucoup)?|kind regards|regards"
    r"|best regards|best wishes|best|cheers|thanks|thank you|many thanks|warm regards"
    r"|mit freundlichen gr(?:ü|u|ue)(?:ß|ss)en|freundliche gr(?:ü|u|ue)(?:ß|ss)e"
    r"|liebe gr(?:ü|u|ue)(?:ß|ss)e|viele gr(?:ü|u|ue)(?:ß|ss)e|lg|mfg|gruss|gruß)\b"
    r"\s*[,.!]*\s*(?:\w+\s*[,.!]*)?$",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?:\+|00)\d[\d ./-]{7,}\d|\b0\d{1,3}[ ./-]?\d{2,3}[ ./-]?\d{2}[ ./-]?\d{2}\b")
_CONTACT_LINE = re.compile(
    r"^\s*(?:(?:tel|tél|gsm|mobiel|mobile|fax|phone|telefoon|téléphone|e-?mail|web|www)\b"
    r"[\s.:]*|\S+@\S+\.\w+\s*$|https?://\S+\s*$|www\.\S+\s*$)",
    re.IGNORECASE,
)
_ADDRESS_LINE = re.compile(
    r"^\s*(?:\d{4}\s+[A-ZÀ-Ý][\w'-]+(?:[ -][\w'-]+)?"
    r"|[A-ZÀ-Ý][\w'.-]+(?: [\w'.-]+){0,3} \d+[a-z]?(?:\s*(?:bus|bte)\s*\w+)?,?\s+\d{4}\s+\S+.*"
    r"|[\w'. -]*(?:straat|laan|weg|plein|dreef|steenweg|lei|baan|dijk|kaai|markt|hof|rue|avenue"
    r"|chaussée|chaussee|boulevard|place|straße|strasse|gasse)\s*\d+\s*\w{0,4}(?:\s*(?:bus|bte)"
    r"\s*\w+)?)\s*,?\s*$",
    re.IGNORECASE,
)
#: Phone numbers and postal addresses have digits (a quick test before their patterns).
_DIGIT = re.compile(r"\d")
_DISCLAIMER = re.compile(
    r"\b(?:disclaimer|dit (?:e-?mail)?bericht (?:en eventuele bijlagen )?(?:is|zijn) "
    r"(?:uitsluitend )?bestemd|vertrouwelijke informatie|this (?:e-?mail|message) "
    r"(?:and any attachments )?(?:is|are|may contain) (?:confidential|intended)|ce message "
    r"(?:et ses pi[eè]ces jointes )?(?:est|sont) (?:confidentiel|destin)|diese e-?mail "
    r"(?:enth[äa]lt|ist) (?:vertrauliche|nur)|privileged and confidential|"
    r"gelieve (?:dit bericht )?te verwijderen|please (?:notify|delete)|"
    r"think before you print|denk aan het milieu|pensez à l'environnement|"
    r"(?:is|zijn) vertrouwelijk en|uitsluitend bestemd voor|per vergissing ontvangen|"
    r"bestemd voor de geadresseerde|intended (?:solely )?for the (?:addressee|recipient)|"
    r"destiné exclusivement|par erreur|irrtümlich erhalten|nicht der richtige adressat)",
    re.IGNORECASE,
)


#: Quoted tokens not explained by a known mailing above which a message may quote a
#: mailing not yet known (it feeds learning, and is re-coded when one is learned).
UNEXPLAINED_MIN = 20
#: Mailing runs at least this long count wherever they stand; shorter ones only where they
#: continue the mailing line above (a wrapped line) or stand in a quote.
_FREE_RUN = 6
_QUOTED_RUN = 3
#: Tokens of a mailing a writer may have left out between two pieces of it they kept.
_SKIP = 80


@dataclass
class OwnText:
    """Result of reply isolation.

    :ivar text: the writer's own words, with ``[Qn]`` anchor lines where a question stood
        above an answer (``[Q0]``: the answers ended there); the coding reads only this.
    :ivar quoted: everything else (quotes, mailing, headers, signatures), kept for review.
    :ivar anchors: numbers of the questions found as anchors.
    :ivar quoted_sheet: whether a mailing or its questions were quoted at all.
    :ivar order: the codebook's question numbers in the order the quoted mailing asks them.
    :ivar labels: the quoted mailing's own labels ("5", "c") to codebook question numbers.
    :ivar mailings: keys of the known mailings this message quotes.
    :ivar unexplained: quoted tokens that no known mailing explains.
    :ivar material: those quoted lines, when there are enough of them to hold a mailing not
        known yet (what learning reads), else "".
    :ivar inline_unknown: answers were read under questions of a mailing not known.
    :ivar forwarded: own text includes a forwarded message.
    :ivar earlier: the writer's own earlier message was found quoted below their words and
        left out of ``text``.
    """

    text: str
    quoted: str
    anchors: list[int] = field(default_factory=list)
    quoted_sheet: bool = False
    order: tuple[int, ...] = (1, 2, 3, 4)
    labels: dict[str, int] = field(default_factory=dict)
    mailings: list[str] = field(default_factory=list)
    unexplained: int = 0
    material: str = ""
    inline_unknown: bool = False
    forwarded: bool = False
    earlier: bool = False


@dataclass(slots=True)
class _Line:
    raw: str
    body: str
    depth: int
    role: str = ""  # own, quote, sheet, attribution, header, signature, question, blank
    #: own, original (an unprefixed quoted original), forward, earlier (the writer's own
    #: earlier message, quoted below a follow-up)
    region: str = "own"
    question: int = 0
    also: tuple[int, ...] = ()  # further questions the same mailing question asks
    rest: str = ""
    found: Found | None = None
    generic: bool = False  # a question recognised by what it asks (mailing not known)
    closes: bool = False  # mailing text that ends the answers above it
    pasted: bool = False  # an unlabelled question in the writer's own text
    inline: bool = False  # a quoted-region line read as an answer
    #: the raw lines a run of plain quoted lines stands for (see :func:`_read_lines`); ``raw``
    #: is them joined, ``body`` the first one's
    run: list[str] | None = None

    @property
    def quoted(self) -> bool:
        return self.depth > 0 or self.region in ("original", "earlier")


def strip_quote(line: str) -> tuple[int, str]:
    """A line's quote depth (number of ``>`` marks) and the line without them."""
    if ">" not in line[:2]:
        return 0, line
    match = _QUOTE_PREFIX.match(line)
    if not match:
        return 0, line
    return match.group(1).count(">"), line[match.end():]


def is_structure_line(text: str) -> bool:
    """Whether ``text`` is an attribution line, a separator or a header field line."""
    folded = fold(text.strip())
    return bool(_is_attribution(text) or _SEPARATOR.match(folded) or _RULE.match(text)
                or _HEADER_FIELD.match(folded) or text.strip() == OUTLOOK_REPLY_MARKER)


def is_client_line(text: str) -> bool:
    """Whether ``text`` is a mail client's line ("Verzonden vanaf mijn iPhone")."""
    return bool(_SENT_FROM.match(fold(text.strip())))


def _header_block_at(lines: list[_Line], index: int, *, any_first: bool = False) -> int:
    """Number of lines of an Outlook-style header block starting at ``index`` (0 if none).

    A block starts with From/Van/De/Von, or with any header field right after a separator
    (Thunderbird's forward starts with the subject)."""
    first = _HEADER_FIELD.match(fold(lines[index].body))
    if not first or (first.group(1) not in _HEADER_FROM and not any_first):
        return 0
    fields = 1
    end = index + 1
    scan = index + 1
    while scan < len(lines) and scan < index + 12:
        body = lines[scan].body.strip()
        if not body:
            scan += 1
            continue
        if _HEADER_FIELD.match(fold(body)):
            fields += 1
            end = scan + 1
            scan += 1
            continue
        break
    return end - index if fields >= 2 else 0


#: Every attribution line has one of these (a cheap test before the pattern).
_ATTRIBUTION_WORDS = ("schre", "schrieb", "wrote", "ecrit")


def _is_attribution(text: str) -> bool:
    stripped = text.strip()
    if not stripped.isascii() and not any(word in _rough(stripped) for word in _ATTRIBUTION_WORDS):
        return False  # (folding is slow, and most lines have none of the words)
    folded = fold(stripped)
    return len(folded) < 260 and any(word in folded for word in _ATTRIBUTION_WORDS) \
        and bool(_ATTRIBUTION.match(folded))


def _maybe_structure(body: str) -> bool:
    """False when ``body`` can be no attribution, separator, rule or header field line."""
    if "--" in body or "__" in body or "-_" in body or "_-" in body:
        return True  # (a rule, or a separator's or marker's dashes; a lone hyphen is none)
    stripped = body.strip()
    if stripped.isascii():
        return _structure_words(stripped.lower())
    return _rough_words(_rough(stripped).lstrip()) and _structure_words(fold(stripped))


@lru_cache(maxsize=1024)
def _rough(text: str) -> str:
    """``text`` lower case, decomposed, and cut to ASCII: every ASCII word the folded text
    has is in it (it may have a few more, where a letter it dropped stood between). Folding
    is slow, so a line that has none of some words in this form needs no folding."""
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()


def _structure_words(folded: str) -> bool:
    """Whether the folded, stripped line has what an attribution, separator or header
    field needs: an opener and a word after it, a colon, an attribution or separator word."""
    return ":" in folded or "schre" in folded or "schrieb" in folded or "wrote" in folded \
        or "ecrit" in folded or "bericht" in folded or "message" in folded \
        or "nachricht" in folded \
        or (folded[:2] in _ATTRIBUTION_OPENERS and _ATTRIBUTION_START.match(folded) is not None)


def _rough_words(rough: str) -> bool:
    """:func:`_structure_words` on a line's rough form (:func:`_rough`): true whenever it is
    on the folded line (the opener is not followed by a space where the rough form dropped
    a space that is not ASCII)."""
    return rough[:2] in _ATTRIBUTION_OPENERS or ":" in rough or "schre" in rough \
        or "schrieb" in rough or "wrote" in rough or "ecrit" in rough or "bericht" in rough \
        or "message" in rough or "nachricht" in rough


def _next_text(lines: list[_Line], index: int) -> int:
    while index < len(lines) and not lines[index].body.strip():
        index += 1
    return index


# -- pass 1: structure ----------------------------------------------------------------


def _attribution_span(lines: list[_Line], index: int) -> int:
    """1 or 2 when an attribution line (possibly wrapped over two lines) starts here."""
    body = lines[index].body.strip()
    if _is_attribution(body):
        # "... schrieb FibroRes vzw <" + "info@fibrores.org>:" wrapped by the client
        tail = lines[index + 1].body.strip() if index + 1 < len(lines) else ""
        if tail and len(tail) < 80 and tail.endswith(":") and "@" in tail and " " not in tail:
            return 2
        return 1
    if index + 1 < len(lines) and _ATTRIBUTION_START.match(fold(body)) \
            and _is_attribution(body + " " + lines[index + 1].body.strip()):
        return 2
    return 0


def _separator_block(lines: list[_Line], index: int) -> tuple[int, str] | None:
    """At a separator ("-----Original Message-----", "---------- Forwarded message"):
    how many lines the separator and its header block take, and the region after it."""
    line = lines[index]
    body = line.body.strip()
    folded = fold(body)
    separator = _SEPARATOR.match(folded) or body == OUTLOOK_REPLY_MARKER
    if not (separator or _RULE.match(body)):
        return None
    start = _next_text(lines, index + 1)
    block = _header_block_at(lines, start, any_first=True) if start < len(lines) else 0
    if block == 0 and not separator:
        return None
    forward = any(word in folded for word in _FORWARD_WORDS)
    return start + block - index, "forward" if forward else "original"


def _from_writer(lines: list[_Line], start: int, size: int, writer: tuple[str, ...]) -> bool:
    """Whether the From line of the header block at ``start`` names the writer."""
    for offset in range(size):
        match = _HEADER_FIELD.match(fold(lines[start + offset].body))
        if match and match.group(1) in _HEADER_FROM:
            value = match.group(2)
            return any(part and part in value for part in writer)
    return False


def _said_above(lines: list[_Line], index: int) -> bool:
    """Whether the writer wrote words of their own above line ``index``."""
    return any(line.region == "own" and line.depth == 0 and not line.role
               and len(line.body.split()) >= 4 for line in lines[:index])


def _quotes_earlier(lines: list[_Line], index: int, after: int,
                    sender: tuple[str, ...]) -> bool:
    """Whether the attribution at ``index`` names the writer, quoting below their own words
    a message of theirs ("Op ... schreef An Peeters <an@...>:")."""
    return bool(sender) and after < len(lines) and lines[after].depth > lines[index].depth \
        and _said_above(lines, index) and any(part in fold(lines[index].body) for part in sender)


def _header_block(lines: list[_Line], index: int, region: str, writer: tuple[str, ...],
                  sender: tuple[str, ...]) -> tuple[int, str] | None:
    """A header block at ``index`` (its size) and the region after it: the writer's own
    forwarded message, their earlier message below a follow-up, or an original."""
    size = _header_block_at(lines, index)
    if not size:
        return None
    own = bool(writer) and _from_writer(lines, index, size, writer)
    earlier = region == "earlier" or (not own and bool(sender) and _from_writer(
        lines, index, size, sender) and _said_above(lines, index))
    return size, "forward" if own else "earlier" if earlier else "original"


def _mark_structure(lines: list[_Line], writer: tuple[str, ...] = (),
                    sender: tuple[str, ...] = ()) -> None:
    """Roles of attribution lines, separators and header blocks; the region of every line.

    What follows a forward separator is the writer's own text: what someone forwards to the
    survey address is what they want to say (a spouse forwarding the patient's answers). So
    is a message of the writer's own below a header block when the writer forwards it
    (``writer``: their folded address and name, given only for a forward: "TR:", "Fwd:").
    Below a follow-up of the writer's own words, the writer's earlier message (``sender``
    named in its header block) is quoted: its answers were coded with that message."""
    region = "own"
    shift = 0  # quote marks a forward put on the forwarded message (Apple Mail: "> Van:")
    earlier_depth = 0  # quoted below "Op ... schreef <the writer>:" after a follow-up
    index = 0
    while index < len(lines):
        line = lines[index]
        if earlier_depth:
            if line.depth >= earlier_depth or not line.body.strip():
                line.region = "earlier"
                line.role = line.role or ("" if line.body.strip() else "blank")
                index += 1
                continue
            earlier_depth = 0
        if region == "forward" and shift and line.depth >= shift:
            line.depth -= shift
        if not line.body.strip():
            line.role = "blank"
            line.region = region
            index += 1
            continue
        if not _maybe_structure(line.body):
            line.region = region
            index += 1
            continue
        span = _attribution_span(lines, index)
        if span:
            for offset in range(span):
                lines[index + offset].role = "attribution"
                lines[index + offset].region = region
            after = _next_text(lines, index + span)
            if line.depth == 0 and after < len(lines) and lines[after].depth == 0:
                region = "original"
            elif region == "own" and _quotes_earlier(lines, index, after, sender):
                earlier_depth = lines[after].depth
            index += span
            continue
        block = _separator_block(lines, index) or _header_block(lines, index, region, writer,
                                                                 sender)
        if block is not None:
            size, after_region = block
            for offset in range(size):
                if lines[index + offset].body.strip():
                    lines[index + offset].role = "header"
                lines[index + offset].region = region
            after = _next_text(lines, index + size)
            quoted_after = after < len(lines) and lines[after].depth > 0
            if line.depth == 0 and not (after_region == "original" and quoted_after):
                # (an original that keeps its own quote marks leaves the unmarked lines
                # among them to the writer: answers typed between the quoted questions)
                region = after_region
                header = lines[_next_text(lines, index + 1)] if index + 1 < len(lines) else line
                shift = header.depth if region == "forward" else 0
            index += size
            continue
        line.region = region
        index += 1


# -- pass 2: mailing text and questions -----------------------------------------------


def _mark_mailing(lines: list[_Line], mailings: MailingSet) -> None:
    """Lines that are runs of a known mailing, its questions, and typed questions."""
    previous: Found | None = None
    last_question: tuple[int, int] | None = None  # (mailing, question number) of the line above
    known = bool(mailings)
    for index, line in enumerate(lines):
        if line.role:
            continue
        if not known:
            # nothing of a mailing to look up: only questions typed or quoted in words
            first = line.body.lstrip()[:1]
            if "?" in line.body or first in _LABEL_STARTS or first.isdecimal():
                _typed_question(line, [])  # (which tests the label itself)
            continue
        toks, ends = _tokens_of(line.body)
        if not toks:
            continue
        found = mailings.longest_prefix(toks, previous) if mailings else None
        labelled = found is not None and found.length < len(toks) and \
            line.body[ends[found.length - 1]:].lstrip()[:1] in (":", "?")
        if found is not None and _accept(line, found, len(toks), mailings, previous,
                                         labelled=labelled):
            whole = found.length == len(toks)
            question = mailings.last_question(found)
            line.found = found
            previous = found
            rest = "" if whole else _rest_after(line.body, ends[found.length - 1])
            following = lines[index + 1].body if index + 1 < len(lines) else ""
            if rest and line.depth and _mailing_text(rest, following, mailings):
                rest = ""  # a quote re-wrapped: the mailing's next words, not an answer
            if question is not None and last_question != (found.mailing, question.number):
                line.role = "question"
                line.question = question.number
                line.also = tuple(n for n in mailings.numbers(found) if n != question.number)
                line.rest = rest
            else:
                line.role = "sheet"
                line.rest = rest
            last_question = (found.mailing, question.number) if question else None
            continue
        last_question = None
        _typed_question(line, toks)
    _pasted_questions(lines)


@lru_cache(maxsize=8192)
def _tokens_of(body: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """A line's folded tokens and where each ends (the lines of a mailing come back quoted in
    reply after reply)."""
    _, found = line_tokens(body)
    return tuple(tok for tok, _, _ in found), tuple(end for _, _, end in found)


def _accept(line: _Line, found: Found, size: int, mailings: MailingSet,
            previous: Found | None, *, labelled: bool = False) -> bool:
    """Whether a mailing run found at the start of ``line`` is mailing text there.

    A whole line of mailing text is, when it continues the mailing line above (a wrapped
    line: any length), is long (a respondent does not retype six words of the mailing), or
    is a shorter run inside a quote. A line that only starts with mailing text (a question
    with the answer after it on the same line) needs a run of three tokens or more."""
    whole = found.length == size
    continues = mailings.continues(previous, found)
    if whole:
        # a few lines of the mailing left out (the writer deleted them) still leave the rest
        # of it in order: a run of three tokens a little further on is mailing text too
        skipped = previous is not None and previous.mailing == found.mailing \
            and 0 <= found.start - previous.end <= _SKIP and size >= _QUOTED_RUN
        return continues or skipped or size >= _FREE_RUN or (line.quoted and size >= _QUOTED_RUN)
    covered = mailings.covers_question(found)
    if covered >= 2 or (covered == 1 and labelled):
        # the mailing's question or form label, the answer after it ("Voorgeschreven door:
        # huisarts" in place of "Voorgeschreven door: ...", "Bijwerkingen: geen")
        return True
    if found.length < _QUOTED_RUN:
        return False
    # a line of the writer's own that only starts like the mailing ("J'ai moins mal aux
    # jambes" under a testimonial's "j'ai moins / mal aux épaules") needs a long run
    return continues or found.length >= (4 if line.quoted else _FREE_RUN)


def _mailing_text(text: str, following: str, mailings: MailingSet) -> bool:
    """Whether ``text`` (the tail of a quoted line) is itself mailing text: a run of it, or
    a word that runs on into the next line's mailing text (a quote wrapped anew)."""
    toks = [tok for tok, _, _ in line_tokens(text)[1]]
    if not toks:
        return True
    if len(toks) == 1:
        toks += [tok for tok, _, _ in line_tokens(following)[1][:3]]
        found = mailings.longest_prefix(toks)
        return found is not None and found.length >= 2
    found = mailings.longest_prefix(toks)
    return found is not None and found.length >= 2 and (
        found.length == len(toks) or found.length >= 4)


def _rest_after(body: str, end: int) -> str:
    """The text of ``body`` after character ``end``, without the punctuation closing the
    mailing's words."""
    rest = body[end:]
    return rest.lstrip(" \t?)!.:,;]–—-*").strip()


def _typed_question(line: _Line, toks: Sequence[str]) -> None:
    """A question of the survey in words no known mailing has: quoted from an unknown
    mailing, typed by the respondent with the answer after it ("Bijwerkingen? Geen"), or
    pasted among others (see :func:`_pasted_questions`)."""
    body = line.body.strip()
    if len(body) > 240 or ("?" not in body and not _labelled(body)):
        return
    if not toks and not _has_words(line.body):
        return  # (no mailing known: the line was not read into tokens)
    head, mark, after = body.partition("?")
    if not line.quoted and (not mark or after.strip()):
        # "1. Oui, je le prends" is a numbered answer; "3. Positief? Neen" or "Bijwerkingen?
        # geen" is the writer's own label: the line stays as written, for the list or label
        # it belongs to
        return
    head_tokens = [tok for tok, _, _ in line_tokens(head)[1]]
    scores = concept_scores(head_tokens)
    if not scores:
        return
    number = max(scores.items(), key=lambda item: item[1])[0]
    addressed = addresses_reader(head_tokens)
    # a question alone on its line, asking the reader or numbered ("(3) Positief?"): the
    # writer's copy of the questions, counted only as a set (:func:`_pasted_questions`)
    labelled = _labelled(body)
    pasted = (addressed or (labelled and not line.quoted)) and len(head_tokens) <= 16 \
        and not after.strip()
    if not (line.quoted and addressed) and not (after.strip() and len(head_tokens) <= 8) \
            and not (_labelled(body) and addressed) and not pasted:
        return
    line.role = "question"
    line.question = number
    line.generic = True
    line.pasted = pasted and not line.quoted and not (labelled and addressed)
    rest = after.lstrip(" \t?)!.:,;]–—-").strip() if mark else ""
    # the question's own examples, or a quoted line's tail, are no answer
    line.rest = "" if rest.startswith("(") or line.depth else rest


def _pasted_questions(lines: list[_Line]) -> None:
    """Questions pasted into the writer's own text without labels count only as a set: a
    lone question asking the reader something ("Weet u of er bijwerkingen zijn?") is the
    writer's own question, not the survey's."""
    pasted = [line for line in lines if line.pasted]
    if len({line.question for line in pasted}) >= 2:
        return
    for line in pasted:
        line.role, line.question, line.generic, line.pasted = "", 0, False, False


_QUESTION_WORD = re.compile(r"^\s*(?:vraag|question|frage|q|v)\s*\d", re.I)


#: What a labelled line starts with (after white space): see :func:`_labelled`.
_LABEL_STARTS = frozenset("abcdABCD(•·▪◦*-–—vVqQfF")


def _labelled(body: str) -> bool:
    stripped = body.lstrip()
    first = stripped[:1]
    if not first or not (first in _LABEL_STARTS or first.isdecimal()):
        return False
    if first in "abcdABCD" and stripped[1:2] not in (".", ")"):
        return False  # a word ("de", "Beste"), no label
    match = LINE_LABEL.match(body)
    return bool(match and (match.group("label") or match.group("plabel"))) \
        or bool(_QUESTION_WORD.match(body))


# -- pass 3: quoted lines: inline answers or quote ------------------------------------


def _answers_at_top_level(lines: list[_Line]) -> bool:
    """Whether the writer answers with unquoted lines between ``>``-quoted questions
    (Gmail, Apple Mail): then quoted lines that are not mailing text are never answers."""
    quoted = [i for i, line in enumerate(lines)
              if line.depth > 0 and line.role in ("question", "sheet")]
    first = next((i for i in quoted if lines[i].role == "question"), None)
    if first is None:
        return False
    return any(lines[i].depth == 0 and lines[i].region == "own" and not lines[i].role
               for i in range(first + 1, quoted[-1]))


def _mark_quoted(lines: list[_Line], mailings: MailingSet) -> None:
    """Roles of the lines left: own words, or quote."""
    top_level = _answers_at_top_level(lines)
    zone: dict[int, _Line] = {}  # depth -> the question whose answer is open there
    answered: dict[int, bool] = {}
    for index, line in enumerate(lines):
        if line.role in ("attribution", "header"):
            zone.clear()
            continue
        if line.role == "blank":
            opened = zone.get(line.depth)
            if opened is not None and opened.generic and answered.get(line.depth):
                del zone[line.depth]  # without the mailing, an answer ends at a blank line
            continue
        if line.role == "question":
            zone[line.depth] = line
            answered[line.depth] = bool(line.rest)
            continue
        if line.role == "sheet":
            opened = zone.get(line.depth)
            if opened is not None and not _same_question(opened, line, mailings):
                del zone[line.depth]
                line.closes = True
            continue
        if line.role:
            continue
        if not line.quoted:
            line.role = "own"
            continue
        opened = zone.get(line.depth)
        if opened is not None and not top_level and not _continues_question(lines, index):
            line.role = "own"
            line.inline = True
            answered[line.depth] = True
        else:
            line.role = "quote"


#: A quoted line of a run (:attr:`_Line.run`) without its "> ".
_AFTER_MARK = itemgetter(slice(2, None))


def _unexplained(lines: list[_Line]) -> list[str]:
    """The quoted lines (inline answers among them) that no known mailing explains: what
    a mailing not known yet is learned from."""
    material: list[str] = []
    for line in lines:
        if line.found is None and (line.depth > 0 or line.region in ("original", "earlier")) \
                and line.role not in ("attribution", "header", "blank"):
            if line.run is not None:
                material += map(str.strip, map(_AFTER_MARK, line.run))  # (none blank)
                continue
            body = line.body.strip()
            if body:
                material.append(body)
    return material


#: The longest line of mailing text right after a question that still belongs to it (its
#: translation).
_QUESTION_TAIL = 40


def _same_question(opened: _Line, line: _Line, mailings: MailingSet) -> bool:
    """Whether mailing line ``line`` still belongs to the question ``opened`` asked: a piece
    of it, or the mailing's words right after it before the next question ("B. Heeft u
    nevenwerkingen gehad?" / "En avez-vous ressenti des effets indésirables ?")."""
    if opened.found is None or line.found is None \
            or line.found.mailing != opened.found.mailing:
        return False
    question = mailings.question(line.found)
    if question is not None:
        return question.number == opened.question
    # the line right after the question in the mailing, and short: its translation
    after = opened.found.end
    return after <= line.found.start <= after + 2 and line.found.length <= _QUESTION_TAIL


def _continues_question(lines: list[_Line], index: int) -> bool:
    """A wrapped tail of a question no mailing knows: right under it, lower case or
    bracketed ("(bv. de huisarts, ...)")."""
    above = lines[index - 1] if index > 0 else None
    if above is None or above.role != "question" or not above.generic or above.rest:
        return False
    head = lines[index].body.lstrip()[:1]
    return head == "(" or head.islower()


# -- pass 4: signatures ---------------------------------------------------------------


#: Every postal address line has a postcode (four digits) or one of these words.
_FOUR_DIGITS = re.compile(r"\d{4}")
_STREET_WORDS = ("straat", "laan", "weg", "plein", "dreef", "lei", "baan", "dijk", "kaai",
                 "markt", "hof", "rue", "avenue", "chaussee", "boulevard", "place", "strasse",
                 "gasse")


def _may_be_address(body: str) -> bool:
    """:data:`_ADDRESS_LINE`, tested first for what it needs on an ASCII line (the pattern
    is slow; the test has no case rules for other characters)."""
    if body.isascii() and not _FOUR_DIGITS.search(body):
        lowered = body.lower()
        if not any(word in lowered for word in _STREET_WORDS):
            return False
    return bool(_ADDRESS_LINE.match(body))


#: Every disclaimer has one of these (lower case; a cheap test of an ASCII line before the
#: pattern, which is slow).
_DISCLAIMER_WORDS = ("disclaimer", "bericht", "vertrouwelijk", "this ", "message", "diese ",
                     "privileged", "gelieve", "please", "think", "milieu", "pensez", "bestemd",
                     "vergissing", "intended", "exclusivement", "erreur", "erhalten",
                     "adressat")


def _is_disclaimer(body: str) -> bool:
    """Whether :data:`_DISCLAIMER` is found in ``body``."""
    if body.isascii():
        lowered = body.lower()
        if not any(word in lowered for word in _DISCLAIMER_WORDS):
            return False
    return _DISCLAIMER.search(body) is not None


def _strip_signatures(lines: list[_Line]) -> None:
    own = [line for line in lines
           if line.role in ("own", "question", "blank", "attribution", "header")]
    in_signature = False
    closing_budget = 0
    for line in own:
        if line.role in ("attribution", "header"):
            # a forwarded or quoted message starts: the signature above it has ended
            in_signature = False
            closing_budget = 0
            continue
        if line.role == "question":
            in_signature = False
            closing_budget = 0
            continue
        body = line.body.strip()
        if line.role == "blank":
            continue
        if in_signature:
            line.role = "signature"
            continue
        if body in ("--", "-- ", "—", "__") or line.body.rstrip("\n") == "-- ":
            line.role = "signature"
            in_signature = True
            continue
        folded = fold(body)
        disclaimer = _is_disclaimer(body)
        if disclaimer or _SENT_FROM.match(folded):
            line.role = "signature"
            if disclaimer:
                in_signature = True
            continue
        if closing_budget > 0:
            if len(body) <= 60:
                line.role = "signature"
                closing_budget -= 1
                continue
            closing_budget = 0
        if len(body) <= 45 and _CLOSING.match(body):
            line.role = "signature"
            closing_budget = 6
            continue
        if _CONTACT_LINE.match(body) or (_DIGIT.search(body) and (
                (len(body) < 60 and _PHONE.search(body)) or _may_be_address(body))):
            line.role = "signature"


# -- assembly -------------------------------------------------------------------------


def isolate(text: str, *, mailings: MailingSet | None = None,
            forwarded_by: tuple[str, ...] = (), sender: tuple[str, ...] = ()) -> OwnText:
    """Split a plain-text body (quotes as ``>``) into the writer's own words and the rest,
    knowing the ``mailings`` the organisation sent (none: questions are recognised by what
    they ask, and nothing else of a mailing is known). ``forwarded_by``: the writer's folded
    address and name when the message is a forward: their own message below is their words;
    ``sender``: the same for any message, to know the writer's earlier message below a
    follow-up."""
    mailings = mailings or MailingSet()
    text = text.replace("\ufeff", "").replace("\xa0", " ").replace("\u200b", "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = _read_lines(text, runs=not mailings)
    _mark_structure(lines, forwarded_by, sender)
    _mark_mailing(lines, mailings)
    _mark_quoted(lines, mailings)
    if any(line.run is not None and line.role == "own" for line in lines):
        lines = _unrun(lines)  # (signatures are read line by line)
    _strip_signatures(lines)
    return _assemble(lines, mailings)


#: What a plain quoted line may not start with: white space (ASCII), or nothing.
_NOT_PLAIN = frozenset(char for char in map(chr, range(128)) if char.isspace()) | {""}
#: The first characters of a quoted line that make it plain unless it has a mark
#: (:data:`_MARKS`): ASCII that is no white space, no quote mark, no list label or its
#: start, no digit and no attribution's first letter. Other lines are tested in full.
_PLAIN_FIRST = frozenset(chr(code) for code in range(33, 127)) - _LABEL_STARTS \
    - set("0123456789>oOlLaA")


def _plain_pairs() -> frozenset[str]:
    """The first two characters of a quoted line starting with a letter that may begin a
    label, a question word or an attribution's opener that make it plain nonetheless
    (unless it has a mark): "de", "bij", "voor", "faible", "levendige"."""
    pairs = set()
    for first in "abcdABCDvVqQfFoOlL":
        for second in map(chr, range(128)):
            pair = first + second
            lower = pair.lower()
            if first in "abcdABCD" and second in ".)":
                continue  # "a)", "b."
            if first in "vVqQ" and (second.isspace() or second.isdecimal()):
                continue  # "v 2", "Q3"
            if lower in ("vr", "qu", "fr") or lower in _ATTRIBUTION_OPENERS:
                continue  # "Vraag 3", "Question 2", "Frage 1"; "Op", "On", "Le", "Am"
            pairs.add(pair)
    return frozenset(pairs)


#: How a plain quoted line starts: "> " and one of :data:`_PLAIN_FIRST` or two of
#: :func:`_plain_pairs`.
_PLAIN_HEADS = frozenset("> " + head for head in _PLAIN_FIRST | _plain_pairs())
#: What a line needs to be an attribution, separator, rule or header field line, in the
#: rough form (:func:`_rough`), but for the attribution's opener (see :func:`_maybe_structure`),
#: and the question mark a typed question needs; where "_" is read as "-" and "?" as ":"
#: (two dashes or underscores, a colon or a question mark).
_MARKS = (b"--", b":", b"schre", b"schrieb", b"wrote", b"ecrit", b"bericht", b"message",
          b"nachricht")


def _read_lines(text: str, *, runs: bool) -> list[_Line]:
    """The lines of ``text``; with ``runs``, each run of plain quoted lines after the first
    one as a single line (:attr:`_Line.run`).

    A plain line is quoted once ("> "), starts with ASCII that is no white space, no list
    label and no attribution's opener, has no question mark and none of the marks of
    structure: every pass gives all lines of such a run the same role and region (no line
    of one can be structure, a question or the tail of one, nor end a header block or an
    answer), so it is read as one. When no mailing is known (``runs``) a long quote is all
    such lines but for a few."""
    raws = text.split("\n")
    lines: list[_Line] = []
    if not runs:
        for raw in raws:
            if raw[:2] == "> " and raw[2:3] != ">":
                lines.append(_Line(raw, raw[2:].rstrip(), 1))  # (what strip_quote makes of it)
            else:
                depth, body = strip_quote(raw) if ">" in raw[:2] else (0, raw)
                lines.append(_Line(raw, body.rstrip(), depth))
        return lines
    marked = _marked_lines(text)
    plain_above = False  # the line above is plain
    run: list[str] | None = None
    for index, raw in enumerate(raws):
        if (raw[:3] in _PLAIN_HEADS or raw[:4] in _PLAIN_HEADS) and index not in marked:
            plain = True
        elif raw[:2] == "> " and raw[2:3] != ">":
            plain = index not in marked and _plain(raw[2:].rstrip())
            if not plain:
                lines.append(_Line(raw, raw[2:].rstrip(), 1))  # (what strip_quote makes of it)
        else:
            plain = False
            depth, body = strip_quote(raw) if ">" in raw[:2] else (0, raw)
            lines.append(_Line(raw, body.rstrip(), depth))
        if not plain:
            plain_above = False
            run = None
        elif run is not None:
            run.append(raw)
        elif plain_above:
            run = [raw]
            lines.append(_Line(raw, raw[2:].rstrip(), 1, run=run))
        else:
            plain_above = True
            lines.append(_Line(raw, raw[2:].rstrip(), 1))
    for line in lines:
        if line.run is not None:
            line.raw = "\n".join(line.run)
    return lines


def _plain(body: str) -> bool:
    """Whether the body of a line quoted once, without the marks of :data:`_MARKS`, is
    plain: it starts with no white space, no list label, and no attribution's opener."""
    head = body[:3]
    return head[:1] not in _NOT_PLAIN and head.isascii() and not _labelled(body) \
        and not (head[:2].lower() in _ATTRIBUTION_OPENERS and head[2:].isspace())


def _rough_error(error: UnicodeError) -> tuple[str, int]:
    """Encoding error handler giving the ASCII of :func:`_rough` for what is not Latin-1."""
    assert isinstance(error, UnicodeEncodeError)
    return _rough(error.object[error.start:error.end]), error.end


codecs.register_error("ldn_inbox.rough", _rough_error)


def _latin1_rough() -> tuple[bytes, bytes]:
    """A table making Latin-1 what :func:`_rough` makes of it (lower case, decomposed, cut
    to ASCII), and the characters it drops; for :data:`_MARKS`, "_" becomes "-" and "?"
    becomes ":", and ¼, ½ and ¾ their first digit (no mark has a digit)."""
    table = bytearray(range(256))
    dropped = bytearray()
    for code in range(256):
        rough = _rough(chr(code))
        if not rough:
            dropped.append(code)
        else:
            table[code] = ord({"_": "-", "?": ":"}.get(rough[0], rough[0]))
    return bytes(table), bytes(dropped)


_LATIN1_ROUGH, _LATIN1_DROPPED = _latin1_rough()


def _marked_lines(text: str) -> set[int]:
    """Numbers of the lines of ``text`` whose rough form (:func:`_rough`) has one of
    :data:`_MARKS`."""
    # lower case and decomposition work on each character, and none gives a line break: the
    # rough text has the lines of the text, each the rough form of one (Latin-1 by a table,
    # the rest by _rough)
    data = text.encode("latin-1", "ldn_inbox.rough").translate(_LATIN1_ROUGH, _LATIN1_DROPPED)
    hits: list[int] = []
    for mark in _MARKS:
        at = data.find(mark)
        while at >= 0:
            hits.append(at)
            end = data.find(b"\n", at)
            at = data.find(mark, end + 1) if end >= 0 else -1
    hits.sort()
    marked: set[int] = set()
    line = 0
    counted = 0
    for at in hits:
        line += data.count(b"\n", counted, at)
        counted = at
        marked.add(line)
    return marked


def _unrun(lines: list[_Line]) -> list[_Line]:
    """``lines`` with each run given back as its lines."""
    out: list[_Line] = []
    for line in lines:
        if line.run is None:
            out.append(line)
            continue
        for raw in line.run:
            out.append(_Line(raw, raw[2:].rstrip(), line.depth, line.role, line.region,
                             inline=line.inline))
    return out


def _assemble(lines: list[_Line], mailings: MailingSet) -> OwnText:
    own: list[str] = []
    quoted: list[str] = []
    anchors: list[int] = []
    used: dict[int, int] = {}
    for line in lines:
        if line.found is not None:
            used[line.found.mailing] = used.get(line.found.mailing, 0) + 1
        if line.region == "earlier":
            quoted.append(line.raw)  # the writer's earlier message, answers included
        elif line.role == "question":
            quoted.append(line.raw)
            anchors.append(line.question)
            numbers = "+".join(str(n) for n in (line.question, *line.also))
            own.append(f"{ANCHOR.format(n=numbers)} {line.rest}".rstrip())
        elif line.role == "sheet":
            quoted.append(line.raw)
            if line.closes:
                own.append(ANCHOR.format(n=0))
            if line.rest and not line.quoted:
                own.append(line.rest)
        elif line.role == "own":
            own.append(line.body)
        elif line.role == "blank":
            own.append("")
        else:
            quoted.append(line.raw)
    if anchors and not _any_anchor_answered(own):
        # The questions were only quoted below answers written elsewhere: no anchors.
        own = [line for line in own if not ANCHOR_RE.match(line)]
        anchors = []
    material = "\n".join(_unexplained(lines))
    unexplained = _token_count(material)
    order: tuple[int, ...] = (1, 2, 3, 4)
    labels: dict[str, int] = {}
    if used:
        main = max(used, key=lambda index: used[index])
        order = mailings.mailings[main].order
        labels = mailings.mailings[main].labels
    return OwnText(
        _tidy(own), "\n".join(quoted).strip("\n"), anchors,
        quoted_sheet=bool(used) or any(line.role == "question" and line.quoted
                                       for line in lines),
        order=order,
        labels=labels,
        mailings=sorted(mailings.mailings[index].key for index in used),
        unexplained=unexplained,
        material=material if unexplained >= UNEXPLAINED_MIN else "",
        inline_unknown=any(line.inline for line in lines) and not used,
        forwarded=any(line.region == "forward" and line.role == "own" for line in lines),
        earlier=any(line.region == "earlier" for line in lines),
    )


def _any_anchor_answered(own: list[str]) -> bool:
    current = 0
    for line in own:
        match = ANCHOR_RE.match(line)
        if match:
            current = int(match.group(1).split("+")[0])
            if current and _has_words(line[match.end():]):
                return True
        elif current and _has_words(line):
            return True  # an emoji or a dash alone ("👇", "-") answers nothing
    return False


#: A list label (not a bullet) at a line start, as :data:`LINE_LABEL` reads it.
_LABEL_AFTER_NEWLINE = re.compile(r"\n[ \t]*(?:(?:\d{1,2}|[a-dA-D])[.)]|\((?:\d|[a-dA-D])\))[ \t]")
#: Latin-1 letters and digits (what a token is made of) made "a", the rest spaces.
_LATIN1_WORDS = bytes(97 if chr(c).isalnum() else 32 for c in range(256))


def _token_count(text: str) -> int:
    """How many tokens :func:`line_tokens` finds in the lines of ``text``, together: a list
    label is one token ("12", "b") and bullets none."""
    labels = len(_LABEL_AFTER_NEWLINE.findall("\n" + text))
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        return len(TOKEN.findall(text)) - labels
    marked = data.translate(_LATIN1_WORDS)
    return marked.count(b" a") + marked.startswith(b"a") - labels


def _has_words(text: str) -> bool:
    """Whether ``text`` has a token after its list label (as :func:`line_tokens` reads it)."""
    match = LINE_LABEL.match(text)
    return TOKEN.search(text, match.end() if match else 0) is not None


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if not line.strip():
            if out and out[-1] != "":
                out.append("")
            continue
        out.append(line.rstrip())
    # anchors with nothing under them before the next anchor are kept: "question left blank"
    while out and (out[-1] == "" or out[-1] == ANCHOR.format(n=0)):
        out.pop()
    return "\n".join(out).strip("\n")
