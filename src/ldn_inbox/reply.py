"""Reply isolation: the respondent's own words, apart from quotes, the info sheet,
attribution lines, header blocks, signatures and disclaimers.

Mail clients quote in many ways, and respondents type answers *inside* the quote, right
under each question. So rather than cutting at the first quote header (what
mail-parser-reply and its kind do, which loses every inline answer), each line gets a role:

* ``>``-quoted lines are quote; unquoted lines between them are the writer's (inline
  answers, bottom-posting);
* after an attribution line ("Op ... schreef ...:", "On ... wrote:", "Le ... a écrit :",
  "Am ... schrieb ...:") or an Outlook header block (Van:/From:/De :/Von: ...), an
  unprefixed original follows: its lines are quote, except non-sheet lines typed under a
  published question (answers inside the original);
* lines that are pieces of the published sheet are never the writer's, wherever they stand
  (a short piece only where it continues the sheet line above it: a one-word answer such as
  "huisarts" or "geen" under a question is a sheet word too, but not the question's next one);
  the four questions become anchors ``[Q1]``..``[Q4]`` in the own text, so segmentation can
  attach each answer to its question;
* a forwarded message is the writer's own when its From is the sender.

mail-parser-reply's header patterns (12 languages) are used to spot Outlook header blocks
besides our own; the rest is here because the library has no notion of inline answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ldn_inbox.htmltext import OUTLOOK_REPLY_MARKER
from ldn_inbox.sheet import Sheet, default_sheet, fold, match_question

ANCHOR = "[Q{n}]"
ANCHOR_RE = re.compile(r"^\[Q([1-4])\]\s?")

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


@dataclass
class OwnText:
    """Result of reply isolation.

    :ivar text: the writer's own words, with ``[Qn]`` anchor lines where a published
        question stood above an answer; the coding reads only this.
    :ivar quoted: everything else (quotes, sheet, headers, signatures), kept for review.
    :ivar anchors: numbers of the questions found as anchors.
    :ivar quoted_sheet: whether the published sheet was quoted at all.
    """

    text: str
    quoted: str
    anchors: list[int] = field(default_factory=list)
    quoted_sheet: bool = False
    parts: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Line:
    raw: str
    body: str
    depth: int
    role: str = "own"  # own, quote, sheet, attribution, header, signature, question, blank
    question: int = 0
    rest: str = ""


def _split_quote(line: str) -> tuple[int, str]:
    match = _QUOTE_PREFIX.match(line)
    if not match:
        return 0, line
    return match.group(1).count(">"), line[match.end():]


@lru_cache(maxsize=1)
def _library_header_regex() -> re.Pattern[str] | None:
    try:
        from mailparser_reply.parser import EmailMessage
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    message = EmailMessage(text="", languages=["nl", "fr", "de", "en"])
    pattern: re.Pattern[str] = message.HEADER_REGEX
    return pattern


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


def _is_attribution(text: str) -> bool:
    folded = fold(text.strip())
    return len(folded) < 260 and bool(_ATTRIBUTION.match(folded))


def _mark_structure(lines: list[_Line], sender: str, sender_name: str, sheet: Sheet) -> None:
    region = "own"  # or "original": an unprefixed quoted original
    inline_zone = False
    index = 0
    while index < len(lines):
        line = lines[index]
        body = line.body.strip()
        folded = fold(body)
        if not body:
            line.role = "blank"
            index += 1
            continue
        # Attribution line, possibly wrapped over two lines.
        wrapped = (
            index + 1 < len(lines)
            and _ATTRIBUTION_START.match(folded)
            and not _is_attribution(body)
            and _is_attribution(body + " " + lines[index + 1].body.strip())
        )
        if _is_attribution(body) or wrapped:
            span = 2 if wrapped else 1
            for offset in range(span):
                lines[index + offset].role = "attribution"
            nxt = index + span
            while nxt < len(lines) and not lines[nxt].body.strip():
                nxt += 1
            if nxt < len(lines) and lines[nxt].depth <= line.depth and line.depth == 0:
                region, inline_zone = "original", False
            index += span
            continue
        separator = _SEPARATOR.match(folded) or body == OUTLOOK_REPLY_MARKER
        if separator or _RULE.match(body):
            is_forward = any(word in folded for word in _FORWARD_WORDS)
            line.role = "header"
            block_start = index + 1
            while block_start < len(lines) and not lines[block_start].body.strip():
                block_start += 1
            block = (_header_block_at(lines, block_start, any_first=True)
                     if block_start < len(lines) else 0)
            if block == 0 and not separator:
                line.role = "own" if region == "own" else "quote"
                if _RULE.match(body):
                    line.role = "signature" if region == "own" else "quote"
                index += 1
                continue
            own_forward = False
            for offset in range(block):
                header_line = lines[block_start + offset]
                header_line.role = "header"
                match = _HEADER_FIELD.match(fold(header_line.body))
                if match and match.group(1) in _HEADER_FROM:
                    value = match.group(2)
                    own_forward = bool(
                        (sender and sender in value)
                        or (sender_name and len(sender_name) > 3 and fold(sender_name) in value)
                    )
            if line.depth == 0:
                if is_forward and own_forward:
                    region = "own"
                else:
                    region, inline_zone = "original", False
            index = block_start + block
            continue
        block = _header_block_at(lines, index)
        if block:
            for offset in range(block):
                lines[index + offset].role = "header"
            if line.depth == 0:
                region, inline_zone = "original", False
            index += block
            continue
        question = match_question(body)
        if question is not None:
            line.role = "question"
            line.question = question.number
            rest = body[question.rest_start:].strip() if question.rest_start < len(body) else ""
            if rest and line.depth == 0:
                line.rest = rest
            if region == "original" or line.depth:
                inline_zone = True
            index += 1
            continue
        if line.depth:
            line.role = "sheet" if sheet.is_fragment(body) else "quote"
        elif region == "own" and len(body) <= 45 and _CLOSING.match(body):
            line.role = "own"  # the writer's "Met vriendelijke groeten," (also sheet text)
        elif sheet.covers(body):
            line.role = "sheet"
            if region == "original" and inline_zone and "vertrouwelijk" in folded:
                inline_zone = False  # the sheet's closing: answers end above it
        elif region == "original":
            short_fragment = sheet.is_fragment(body) and _continues_sheet(lines, index, sheet)
            if short_fragment:
                line.role = "sheet"
            else:
                line.role = "own" if inline_zone else "quote"
        else:
            cover = sheet.leading_cover(body)
            if cover and len(body) - cover > 0 and cover >= 15:
                line.role = "own"
                line.body = body[cover:].strip()
            elif sheet.is_fragment(body) and _continues_sheet(lines, index, sheet):
                line.role = "sheet"
            else:
                line.role = "own"
        index += 1


def _continues_sheet(lines: list[_Line], index: int, sheet: Sheet) -> bool:
    """Whether the short sheet fragment at ``index`` is the wrapped continuation of the
    sheet line or question above it (or the first line under a header block).

    Being a piece of the sheet is not enough: answers typed under a question are often
    single sheet words ("huisarts", "positief", "geen", "De huisarts"). A continuation
    is the sheet text that *follows* the line above, so the two joined must be a
    contiguous run of the sheet."""
    pos = index - 1
    while pos >= 0 and not lines[pos].body.strip():
        pos -= 1
    if pos < 0:
        return False
    previous = lines[pos]
    if previous.role == "header":
        return True
    if previous.role == "sheet":
        return sheet.continues(previous.body, lines[index].body)
    if previous.role == "question" and not previous.rest:
        # the question matched fuzzily (typos): only its last words need to be exact
        return sheet.continues(previous.body, lines[index].body, tail=2)
    return False


def _strip_signatures(lines: list[_Line]) -> None:
    own = [line for line in lines if line.role in ("own", "question", "blank")]
    in_signature = False
    closing_budget = 0
    for line in own:
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
        if _SENT_FROM.match(folded) or _DISCLAIMER.search(body):
            line.role = "signature"
            if _DISCLAIMER.search(body):
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
        if (_CONTACT_LINE.match(body) or (_PHONE.search(body) and len(body) < 60)
                or _ADDRESS_LINE.match(body)):
            line.role = "signature"


def isolate(text: str, *, sender: str = "", sender_name: str = "",
            sheet: Sheet | None = None) -> OwnText:
    """Split a plain-text body (quotes as ``>``) into the writer's own words and the rest."""
    sheet = sheet or default_sheet()
    lines: list[_Line] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        raw = raw.replace("\ufeff", "").replace("\xa0", " ").replace("\u200b", "")
        depth, body = _split_quote(raw)
        lines.append(_Line(raw, body.rstrip(), depth))
    _mark_structure(lines, sender.lower(), sender_name, sheet)
    _strip_signatures(lines)
    own: list[str] = []
    quoted: list[str] = []
    anchors: list[int] = []
    quoted_sheet = False
    for line in lines:
        if line.role == "question":
            quoted.append(line.raw)
            anchors.append(line.question)
            marker = ANCHOR.format(n=line.question)
            own.append(f"{marker} {line.rest}".rstrip())
        elif line.role == "own":
            own.append(line.body)
        elif line.role == "blank":
            own.append("")
        else:
            if line.role == "sheet":
                quoted_sheet = True
            quoted.append(line.raw)
    if anchors and not _any_anchor_answered(own):
        # The questions were only quoted below answers written elsewhere: no anchors.
        own = [line for line in own if not ANCHOR_RE.match(line)]
        anchors = []
    own_text = _tidy(own)
    return OwnText(own_text, "\n".join(quoted).strip("\n"), anchors, quoted_sheet)


def _any_anchor_answered(own: list[str]) -> bool:
    seen_anchor = False
    for line in own:
        match = ANCHOR_RE.match(line)
        if match:
            seen_anchor = True
            if line[match.end():].strip():
                return True
        elif seen_anchor and line.strip():
            return True
    return False


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if not line.strip():
            if out and out[-1] != "":
                out.append("")
            continue
        out.append(line.rstrip())
    # anchors with nothing under them before the next anchor are kept: "question left blank"
    return "\n".join(out).strip("\n")
