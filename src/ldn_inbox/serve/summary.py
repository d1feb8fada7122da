"""Counts for ``ldn-inbox stats`` and the HTML report, read from the analyst views.

The numbers are the ones an analyst gets from the views (human corrections applied), so
the report, the text tables and docs/analysts.md agree. Counts only: no message text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.codebook import CODED_FIELDS, FIELD_BY_NAME, LIST_FIELDS
from ldn_inbox.errors import ValidationError
from ldn_inbox.serve.article import ArticleTable, build, field_title, label
from ldn_inbox.serve.evaluate import equal
from ldn_inbox.serve.proportions import Share, shares
from ldn_inbox.serve.reliability import Observation, Reliability, format_tables, tabulate
from ldn_inbox.serve.views import flag_column
from ldn_inbox.serve.wording import WORDS
from ldn_inbox.store.models import Correction, Extraction, Message, Response

UNITS: tuple[str, ...] = ("respondents", "replies")
LANGS: tuple[str, ...] = ("en", "nl", "fr")
#: Which records a report counts: every coded one, the reviewed ones, or the reviewed ones
#: plus those the automatic coding did not flag.
RECORDS: tuple[str, ...] = ("all", "reviewed", "unflagged")
_RECORD_FILTER = {"all": "1 = 1", "reviewed": "reviewed = 1", "unflagged": "needs_review = 0"}
#: The view each unit counts.
_VIEW = {"respondents": "respondents", "replies": "survey_responses"}
#: Answer fields shown as a table each, in question order.
TABLE_FIELDS: tuple[str, ...] = (
    "language", "ldn_use", "prescriber", "prescriber_specialty", "experience", "side_effects",
)
#: Fields that are null by rule when ldn_use = never.
_NULL_WHEN_NEVER = ("prescriber", "experience", "side_effects")

#: Words around the numbers, per report language.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "FibroRes LDN survey: summary",
        "respondents": "respondents", "replies": "replies", "messages": "messages",
        "counted_in": "counted in", "kind": "Messages by kind", "not_coded": "not coded",
        "not_applicable": "not applicable (never used)", "not_set": "not set",
        "specialists_only": "prescribed by a specialist", "dose": "Dose (mg/day)",
        "dose_stated": "dose stated", "review": "Review progress", "reviewed": "reviewed",
        "flagged": "flagged for review", "queue": "messages in the review queue (any kind)",
        "dates": "Replies received", "to": "to", "no_data": "no data yet",
        "mentions_note": "one row can name several; percentages of all",
        "code": "code", "label": "label", "count": "count", "share": "%",
        "generated": "generated", "from": "from", "coded": "coded",
        "reliability": "How the coding held up in the reviewed replies (a field the reviewer "
                       "left as coded counts as right)",
    },
    "nl": {
        "title": "FibroRes LDN-bevraging: overzicht",
        "respondents": "respondenten", "replies": "antwoorden", "messages": "berichten",
        "counted_in": "geteld in", "kind": "Berichten per soort", "not_coded": "niet gecodeerd",
        "not_applicable": "niet van toepassing (nooit gebruikt)", "not_set": "niet ingevuld",
        "specialists_only": "voorgeschreven door een specialist", "dose": "Dosis (mg/dag)",
        "dose_stated": "dosis vermeld", "review": "Nakijken", "reviewed": "nagekeken",
        "flagged": "te bekijken",
        "queue": "berichten in de wachtrij om na te kijken (alle soorten)",
        "dates": "Antwoorden ontvangen", "to": "tot", "no_data": "nog geen gegevens",
        "mentions_note": "een rij kan er meerdere noemen; percentages van alle",
        "code": "code", "label": "omschrijving", "count": "aantal", "share": "%",
        "generated": "gemaakt", "from": "van", "coded": "gecodeerd",
        "reliability": "Hoe betrouwbaar de codering was in de nagekeken antwoorden (een veld "
                       "dat de nakijker liet staan telt als juist)",
    },
    "fr": {
        "title": "Enquête LDN de FibroRes : résumé",
        "respondents": "répondants", "replies": "réponses", "messages": "messages",
        "counted_in": "comptés en", "kind": "Messages par type", "not_coded": "non codé",
        "not_applicable": "sans objet (jamais utilisée)", "not_set": "non rempli",
        "specialists_only": "prescrite par un spécialiste", "dose": "Dose (mg/jour)",
        "dose_stated": "dose précisée", "review": "Vérification", "reviewed": "vérifiées",
        "flagged": "à vérifier",
        "queue": "messages en attente de vérification (tous types)",
        "dates": "Réponses reçues", "to": "au", "no_data": "pas encore de données",
        "mentions_note": "une ligne peut en citer plusieurs ; pourcentages de toutes",
        "code": "code", "label": "libellé", "count": "nombre", "share": "%",
        "generated": "créé le", "from": "de", "coded": "codés",
        "reliability": "Tenue du codage dans les réponses vérifiées (un champ laissé tel quel "
                       "par le vérificateur compte comme juste)",
    },
}


@dataclass(frozen=True)
class Count:
    """One line of a table: a code (None for an empty value), its label and its count."""

    code: str | None
    label: str
    count: int


@dataclass(frozen=True)
class Table:
    """Counts of one question or list.

    :ivar base: the rows counted (the denominator of the percentages).
    :ivar multi: a list field, where one row can count under several codes.
    """

    name: str
    title: str
    base: int
    counts: list[Count]
    multi: bool = False

    def share(self, count: int) -> float:
        return 100.0 * count / self.base if self.base else 0.0

    def cells(self) -> list[Share]:
        """The counts as shares of the base, small counts hidden (docs/analysts.md)."""
        return shares([c.count for c in self.counts], self.base, exclusive=not self.multi)


@dataclass(frozen=True)
class FieldReliability:
    """One field's coding record: how often the automatic coding flagged it (of the
    records coded) and how often a reviewer changed it (of the records reviewed)."""

    field: str
    coded: int
    flagged: int
    reviewed: int
    corrected: int

    @property
    def flagged_share(self) -> Share:
        return Share(self.flagged, self.coded)

    @property
    def corrected_share(self) -> Share:
        return Share(self.corrected, self.reviewed)


@dataclass(frozen=True)
class Summary:
    """Everything the report shows; built by :func:`collect`."""

    unit: str
    lang: str
    messages: int
    uncoded: int
    replies: int
    respondents: int
    first_date: str | None
    last_date: str | None
    reviewed: int
    flagged: int
    queue: int
    kinds: Table
    tables: list[Table] = field(default_factory=list)
    #: per field, for the reviewed replies: confidence bins and the review flag's record
    reliability: dict[str, Reliability] = field(default_factory=dict)
    #: which records count (one of RECORDS), how many of the unit's rows were kept, of all
    records: str = "all"
    kept: int = 0
    total: int = 0
    #: the cross-tables for publication
    article: list[ArticleTable] = field(default_factory=list)
    #: per field: share flagged, share corrected by reviewers
    fields: list[FieldReliability] = field(default_factory=list)

    def text(self, key: str) -> str:
        return TEXT[self.lang][key]


def _label(field_name: str, code: str, lang: str) -> str:
    return label(field_name, code, lang)


def _field_title(field_name: str, lang: str) -> str:
    return field_title(field_name, lang)


def _scalar(session: Session, sql: str) -> Any:
    return session.execute(sa.text(sql)).scalar()


def _code_counts(field_name: str, found: dict[str | None, int], lang: str,
                 empty_label: str) -> list[Count]:
    """Codebook order (zeros included), then codes the codebook lacks, then empty."""
    codes = FIELD_BY_NAME[field_name].codes
    counts = [Count(code, _label(field_name, code, lang), found.get(code, 0)) for code in codes]
    extra = sorted(str(code) for code in found if code is not None and code not in codes)
    counts += [Count(code, code, found[code]) for code in extra]
    if found.get(None):
        counts.append(Count(None, empty_label, found[None]))
    return counts


#: The view columns the article's tables read.
_ARTICLE_COLUMNS = ("ldn_use", "prescriber", "prescriber_specialty", "experience",
                    "side_effects", "dose_mg", "benefits", "side_effect_codes")


def _check(unit: str, lang: str, records: str) -> None:
    for name, value, allowed in (("unit", unit, UNITS), ("lang", lang, LANGS),
                                 ("records", records, RECORDS)):
        if value not in allowed:
            raise ValidationError(f"--{name} must be one of {', '.join(allowed)}")


def _field_tables(session: Session, view: str, selected: str, base: int,
                  lang: str) -> list[Table]:
    """One table per answer field and list, and the doses, over the selected rows."""
    text = TEXT[lang]
    tables: list[Table] = []
    for name in TABLE_FIELDS:
        where = f" WHERE {selected}"
        if name == "prescriber_specialty":
            where += " AND prescriber = 'specialist'"
        found = {
            code: int(n) for code, n in session.execute(
                sa.text(f"SELECT {name}, COUNT(*) FROM {view}{where} GROUP BY {name}"))
        }
        empty = text["not_applicable"] if name in _NULL_WHEN_NEVER else text["not_set"]
        title = _field_title(name, lang)
        if name == "prescriber_specialty":
            title += f" ({text['specialists_only']})"
        tables.append(Table(name, title, sum(found.values()),
                            _code_counts(name, found, lang, empty)))
    for name in LIST_FIELDS:
        codes = FIELD_BY_NAME[name].codes
        sums = ", ".join(f"SUM({flag_column(name, code)})" for code in codes)
        row = session.execute(sa.text(f"SELECT {sums} FROM {view} WHERE {selected}")).one()
        counts = [Count(code, _label(name, code, lang), int(n or 0))
                  for code, n in zip(codes, row, strict=True)]
        tables.append(Table(name, f"{_field_title(name, lang)} ({text['mentions_note']})",
                            base, counts, multi=True))
    doses = [
        Count(f"{float(dose):g}", f"{float(dose):g}", int(n)) for dose, n in session.execute(
            sa.text(f"SELECT dose_mg, COUNT(*) FROM {view} WHERE dose_mg IS NOT NULL "
                    f"AND {selected} GROUP BY dose_mg ORDER BY dose_mg"))
    ]
    tables.append(Table("dose_mg", f"{text['dose']} ({text['dose_stated']})",
                        sum(c.count for c in doses), doses))
    return tables


def collect(session: Session, *, unit: str = "respondents", lang: str = "en",
            records: str = "all") -> Summary:
    """Gather the report's counts from the views (per respondent or per reply), over the
    records ``records`` selects (see :data:`RECORDS`)."""
    _check(unit, lang, records)
    text = TEXT[lang]
    view = _VIEW[unit]
    selected = _RECORD_FILTER[records]
    messages = int(_scalar(session, "SELECT COUNT(*) FROM messages") or 0)
    kinds_found = {
        kind: int(n) for kind, n in
        session.execute(sa.text("SELECT kind, COUNT(*) FROM responses GROUP BY kind"))
    }
    coded = sum(kinds_found.values())
    kind_counts = _code_counts("kind", kinds_found, lang, text["not_set"])
    if messages > coded:
        kind_counts.append(Count(None, text["not_coded"], messages - coded))
    kinds = Table("kind", text["kind"], messages, kind_counts)
    replies_row = session.execute(sa.text(
        "SELECT COUNT(*), MIN(received_date), MAX(received_date), SUM(reviewed), "
        "SUM(needs_review) FROM survey_responses"
    )).one()
    total = int(_scalar(session, f"SELECT COUNT(*) FROM {view}") or 0)
    base = int(_scalar(session, f"SELECT COUNT(*) FROM {view} WHERE {selected}") or 0)
    rows = [dict(row._mapping) for row in session.execute(sa.text(
        f"SELECT {', '.join(_ARTICLE_COLUMNS)} FROM {view} WHERE {selected}"))]
    reliability = reviewed_reliability(session)
    return Summary(
        unit=unit, lang=lang, messages=messages, uncoded=messages - coded,
        replies=int(replies_row[0] or 0),
        respondents=int(_scalar(session, "SELECT COUNT(*) FROM respondents") or 0),
        first_date=replies_row[1], last_date=replies_row[2],
        reviewed=int(replies_row[3] or 0), flagged=int(replies_row[4] or 0),
        queue=int(_scalar(session, "SELECT COUNT(*) FROM review_queue") or 0),
        kinds=kinds, tables=_field_tables(session, view, selected, base, lang),
        reliability=reliability,
        records=records, kept=base, total=total, article=build(rows, lang),
        fields=field_reliability(session, reliability),
    )


def field_reliability(session: Session,
                      reviewed: dict[str, Reliability]) -> list[FieldReliability]:
    """Per field: how many coded records the automatic coding flagged (replies; every
    message for ``kind``), and of the reviewed ones how many a reviewer corrected."""
    names = [name for name in CODED_FIELDS if name != "language"]
    coded = dict.fromkeys(names, 0)
    flagged = dict.fromkeys(names, 0)
    for kind, review in session.execute(
            sa.select(Response.kind, Extraction.review_fields)
            .join(Extraction, Extraction.message_pk == Response.message_pk)):
        for name in names:
            if name == "kind" or kind == "reply":
                coded[name] += 1
                flagged[name] += name in (review or [])
    return [FieldReliability(name, coded[name], flagged[name],
                             reviewed[name].total if name in reviewed else 0,
                             reviewed[name].wrong if name in reviewed else 0)
            for name in names]


def reviewed_reliability(session: Session) -> dict[str, Reliability]:
    """How the coding held up where a volunteer looked: for every reviewed message, each
    field left as coded counts as right, each corrected one as wrong, in its confidence bin
    and with its review flag."""
    corrected: dict[int, dict[str, Any]] = {}
    for pk, name, value in session.execute(
            sa.select(Correction.message_pk, Correction.field, Correction.value)
            .join(Message, Message.id == Correction.message_pk)
            .where(Message.reviewed_at.is_not(None))):
        corrected.setdefault(pk, {})[name] = (value or {}).get("v")
    observed: list[Observation] = []
    rows = session.execute(
        sa.select(Message.id, Extraction.values, Extraction.confidence, Extraction.review_fields)
        .join(Extraction, Extraction.message_pk == Message.id)
        .where(Message.reviewed_at.is_not(None)).order_by(Message.id))
    for pk, values, confidence, review in rows:
        fixes = corrected.get(pk, {})
        reply = fixes.get("kind", values.get("kind")) == "reply"
        for name in CODED_FIELDS:
            if name == "language" or (name != "kind" and not reply):
                continue
            coded = values.get(name)
            right = name not in fixes or equal(name, coded, fixes[name])
            observed.append(Observation(name, (confidence or {}).get(name), right,
                                        name in (review or [])))
    return tabulate(observed)


def overview_lines(summary: Summary) -> list[str]:
    """The report's opening facts as sentences (no message content)."""
    t = TEXT[summary.lang]
    lines = [
        f"{t['messages']}: {summary.messages} ({t['coded']} {summary.messages - summary.uncoded}"
        f", {t['not_coded']} {summary.uncoded})",
        f"{t['replies']}: {summary.replies}; {t['respondents']}: {summary.respondents}",
    ]
    if summary.first_date:
        lines.append(f"{t['dates']}: {summary.first_date} {t['to']} {summary.last_date}")
    else:
        lines.append(f"{t['dates']}: {t['no_data']}")
    share = 100.0 * summary.reviewed / summary.replies if summary.replies else 0.0
    lines.append(
        f"{t['review']}: {summary.reviewed}/{summary.replies} {t['replies']} {t['reviewed']} "
        f"({share:.0f}%), {summary.flagged} {t['flagged']}, {summary.queue} {t['queue']}"
    )
    lines.append(f"{t['counted_in']}: {t[summary.unit]}")
    lines.append(records_line(summary))
    return lines


def records_line(summary: Summary) -> str:
    """Which records count and how many were left out, e.g. "Counted: reviewed records
    only (112 of 230 respondents; 118 left out)"."""
    w = WORDS[summary.lang]
    return w["records_line"].format(
        which=w[f"records_{summary.records}"], kept=summary.kept, total=summary.total,
        unit=summary.text(summary.unit), left=summary.total - summary.kept)


def _text_table(table: Table, lang: str) -> list[str]:
    t = TEXT[lang]
    header = (t["code"], t["label"], t["count"], t["share"])
    rows = [(c.code if c.code is not None else "-", c.label, str(c.count),
             f"{table.share(c.count):.1f}") for c in table.counts]
    if not rows:
        return [f"{table.title}: {t['no_data']}"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [f"{table.title} (n = {table.base})"]
    for row in [header, *rows]:
        lines.append("  " + "  ".join(
            cell.rjust(widths[i]) if i >= 2 else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip())
    return lines


def format_text(summary: Summary) -> str:
    """The report as plain-text tables (what ``ldn-inbox stats`` prints)."""
    lines = [TEXT[summary.lang]["title"], "", *overview_lines(summary), ""]
    for table in [summary.kinds, *summary.tables]:
        lines += [*_text_table(table, summary.lang), ""]
    lines += [TEXT[summary.lang]["reliability"], *format_tables(summary.reliability), ""]
    return "\n".join(lines).rstrip() + "\n"
