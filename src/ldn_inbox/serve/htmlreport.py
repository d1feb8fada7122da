"""The HTML report: one self-contained page, bar charts drawn as inline SVG.

No script, no external file, no network: a Content-Security-Policy in the page forbids
loading anything. Every string from the data is HTML-escaped (codes a reviewer or the
extractor wrote can be anything), so a value holding ``<script>`` shows as text. A print
stylesheet makes a browser's "print to PDF" give clean A4 pages.
"""

from __future__ import annotations

from html import escape

from ldn_inbox.serve.article import ArticleTable, field_title
from ldn_inbox.serve.charts import Chart, svg
from ldn_inbox.serve.proportions import MIN_COUNT, Share
from ldn_inbox.serve.reliability import EDGES
from ldn_inbox.serve.summary import TEXT, Summary, Table, overview_lines
from ldn_inbox.serve.wording import WORDS, percent

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       margin: 2rem auto; max-width: 58rem; padding: 0 1rem; color: #1d2329;
       line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; margin-top: 2.2rem; border-bottom: 1px solid #d5dbe1; }
h2.part { font-size: 1.35rem; margin-top: 3rem; border-bottom: 2px solid #1d2329; }
.facts li { margin: .15rem 0; }
.muted { color: #5b6670; font-size: .9rem; }
.plain { font-size: 1rem; background: #f4f7f9; padding: .5rem .8rem; border-left: 3px solid
         #2f6f9f; }
svg.chart { width: 100%; max-width: 40rem; height: auto; display: block; margin: .6rem 0; }
table { border-collapse: collapse; font-size: .9rem; margin: .4rem 0 1rem; }
th, td { padding: .2rem .7rem; border-bottom: 1px solid #e3e7eb; text-align: left;
         vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
@page { size: A4; margin: 16mm 15mm 18mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  h1 { font-size: 17pt; }
  h2 { font-size: 12.5pt; margin-top: 1.2rem; break-after: avoid; }
  h2.part { break-before: page; font-size: 14pt; }
  section { break-inside: avoid; }
  table, svg.chart, .plain { break-inside: avoid; }
  svg.chart { max-width: 125mm; }
  table { font-size: 8.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def field_chart(table: Table, lang: str) -> Chart:
    """A one-way table as a chart: one bar per value, share of the table's base."""
    rows = tuple((c.label, cell) for c, cell in zip(table.counts, table.cells(), strict=True))
    return Chart(table.name, table.title, (("", rows),), lang)


def article_chart(table: ArticleTable, lang: str) -> Chart:
    """A cross-table as a chart: a block of bars per group."""
    words = WORDS[lang]
    groups = []
    for group in table.groups:
        header = (f"{group.label} ({words['n']} = {_n(group.n)})" if group.label
                  else f"{words['n']} = {_n(group.n)}")
        groups.append((header, tuple(zip(table.categories, group.cells, strict=True))))
    return Chart(table.key, table.title, tuple(groups), lang)


def review_chart(summary: Summary) -> Chart:
    """The reviewed share of the replies as one bar."""
    share = Share(summary.reviewed, summary.replies)
    return Chart("review", summary.text("review"),
                 (("", ((summary.text("reviewed"), share),)),), summary.lang)


def charts(summary: Summary) -> list[Chart]:
    """Every chart of the page, in page order."""
    return [*(article_chart(t, summary.lang) for t in summary.article if t.groups),
            review_chart(summary),
            *(field_chart(t, summary.lang) for t in [summary.kinds, *summary.tables]
              if t.counts and t.base)]


def _n(n: int) -> str:
    return f"<{MIN_COUNT}" if 0 < n < MIN_COUNT else str(n)


def _cell(share: Share, lang: str) -> str:
    """Count, share and interval as three cells; one spanning cell when hidden or empty."""
    if share.hidden:
        return f'<td class="n" colspan="3">{escape(share.mark)}</td>'
    if not share.base:
        return '<td class="n" colspan="3">–</td>'
    low, high = share.interval
    return (f'<td class="n">{share.count}</td><td class="n">'
            f"{percent(round(100 * share.value), lang)}</td>"
            f'<td class="n">{round(100 * low)}–{percent(round(100 * high), lang)}</td>')


def _article_html(table: ArticleTable, lang: str) -> str:
    w = WORDS[lang]
    t = TEXT[lang]
    if not table.groups:
        return (f"<section><h2>{escape(table.title)}</h2>"
                f"<p class=\"muted\">{escape(t['no_data'])}</p></section>")
    head = "".join(
        f'<th class="n" colspan="3">{escape(g.label or w["all_users"])}<br>'
        f'{w["n"]} = {_n(g.n)}</th>' for g in table.groups)
    sub = "".join(f'<th class="n">{t["count"]}</th><th class="n">%</th>'
                  f'<th class="n">{escape(w["ci"])}</th>' for _ in table.groups)
    rows = "".join(
        f"<tr><th>{escape(name)}</th>"
        + "".join(_cell(g.cells[i], lang) for g in table.groups) + "</tr>"
        for i, name in enumerate(table.categories))
    note = f'<p class="muted">{escape(table.note)}</p>' if table.note else ""
    return (f'<section class="article" id="{escape(table.key)}"><h2>{escape(table.title)}</h2>'
            f'{note}<p class="plain">{escape(table.paragraph())}</p>'
            f"{svg(article_chart(table, lang))}"
            f"<table><thead><tr><th></th>{head}</tr><tr><th></th>{sub}</tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")


def _table_html(table: Table, lang: str) -> str:
    t = TEXT[lang]
    w = WORDS[lang]
    rows = "\n".join(
        f"<tr><td>{escape(c.code) if c.code is not None else '–'}</td>"
        f"<td>{escape(c.label)}</td>{_cell(cell, lang)}</tr>"
        for c, cell in zip(table.counts, table.cells(), strict=True)
    )
    return (f"<table><thead><tr><th>{t['code']}</th><th>{t['label']}</th>"
            f"<th class=\"n\">{t['count']}</th><th class=\"n\">{t['share']}</th>"
            f"<th class=\"n\">{escape(w['ci'])}</th></tr></thead>"
            f"<tbody>\n{rows}\n</tbody></table>")


def _section(table: Table, lang: str) -> str:
    t = TEXT[lang]
    title = escape(table.title)
    if not table.counts or not table.base:
        return f"<section><h2>{title}</h2><p class=\"muted\">{t['no_data']}</p></section>"
    return (
        f"<section><h2>{title}</h2>"
        f"<p class=\"muted\">n = {_n(table.base)}</p>\n"
        f"{svg(field_chart(table, lang))}\n{_table_html(table, lang)}</section>"
    )


def _pct(share: Share) -> str:
    if not share.base:
        return "<td class=\"n\">–</td><td class=\"n\">–</td>"
    low, high = share.interval
    return (f'<td class="n">{share.count}/{share.base} ({share.value:.0%})</td>'
            f'<td class="n">{low:.0%}–{high:.0%}</td>')


def _fields_html(summary: Summary) -> str:
    """Per field: share flagged by the automatic coding, share corrected by reviewers."""
    w = WORDS[summary.lang]
    rows = "".join(
        f"<tr><th>{escape(field_title(f.field, summary.lang))}</th>"
        f"{_pct(f.flagged_share)}{_pct(f.corrected_share)}</tr>" for f in summary.fields)
    ci = escape(w["ci"])
    return (f"<section><h2>{escape(w['field_reliability'])}</h2>"
            f"<p class=\"muted\">{escape(w['reliability_note'])}</p>"
            f"<table><thead><tr><th>{escape(w['field'])}</th>"
            f"<th class=\"n\">{escape(w['flagged_share'])}</th><th class=\"n\">{ci}</th>"
            f"<th class=\"n\">{escape(w['corrected_share'])}</th><th class=\"n\">{ci}</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></section>")


def _reliability_html(summary: Summary) -> str:
    """Per field, for the reviewed replies: right/count per confidence bin and the flag."""
    t = TEXT[summary.lang]
    if not summary.reliability:
        return f"<section><h2>{escape(t['reliability'])}</h2><p>{escape(t['no_data'])}</p>" \
            "</section>"
    lows = (0.0, *EDGES[:-1])
    head = "".join(f"<th>{low:.2f}-{high:.2f}</th>" for low, high in zip(lows, EDGES,
                                                                          strict=True))
    rows = []
    for name, table in summary.reliability.items():
        data = table.as_dict()
        cells = "".join(f"<td>{b['right']}/{b['count']}</td>" if b["count"] else "<td>-</td>"
                        for b in data["bins"])

        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value:.0%}"

        rows.append(f"<tr><th>{escape(name)}</th>{cells}<td>{pct(data['coverage'])}</td>"
                    f"<td>{pct(data['unflagged_precision'])}</td>"
                    f"<td>{table.flagged_wrong}/{table.wrong}</td></tr>")
    return (f"<section><h2>{escape(t['reliability'])}</h2>"
            f"<table><thead><tr><th></th>{head}<th>unflagged</th><th>right when unflagged</th>"
            f"<th>errors flagged</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "</section>")


def render(summary: Summary, *, generated: str | None = None) -> str:
    """The whole page as a string (UTF-8 when written)."""
    t = TEXT[summary.lang]
    w = WORDS[summary.lang]
    facts = "\n".join(f"<li>{escape(line)}</li>"
                      for line in overview_lines(summary))
    stamp = (f"<p class=\"muted\">{t['generated']} {escape(generated)}</p>"
             if generated else "")
    article = "\n".join(_article_html(table, summary.lang) for table in summary.article)
    limits = "".join(f"<li>{escape(item)}</li>" for item in w["limits_text"].split("|"))
    sections = "\n".join(_section(table, summary.lang)
                         for table in [summary.kinds, *summary.tables])
    return f"""<!DOCTYPE html>
<html lang="{escape(summary.lang)}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{escape(t['title'])}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{escape(t['title'])}</h1>
{stamp}
<ul class="facts">
{facts}
</ul>
<p class="muted">{escape(w['shown_as'])}</p>
<section><h2>{escape(w['limits'])}</h2><ul>{limits}</ul></section>
<h2 class="part">{escape(w['article'])}</h2>
{article}
<h2 class="part">{escape(t['review'])}</h2>
<section>{svg(review_chart(summary))}</section>
{_fields_html(summary)}
{_reliability_html(summary)}
<h2 class="part">{escape(w['answers'])}</h2>
{sections}
</body>
</html>
"""
