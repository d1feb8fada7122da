"""The HTML report: one self-contained page, bar charts drawn as inline SVG.

No script, no external file, no network: a Content-Security-Policy in the page forbids
loading anything. Every string from the data is HTML-escaped (codes a reviewer or the
extractor wrote can be anything), so a value holding ``<script>`` shows as text.
"""

from __future__ import annotations

from html import escape

from ldn_inbox.serve.reliability import EDGES
from ldn_inbox.serve.summary import TEXT, Summary, Table, overview_lines

#: Chart geometry in SVG user units (the SVG scales to the page width).
_WIDTH = 720
_LABEL_WIDTH = 300
_BAR_HEIGHT = 20
_GAP = 6
_COUNT_WIDTH = 90

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 58rem; padding: 0 1rem; color: #1d2329; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; margin-top: 2.2rem; border-bottom: 1px solid #d5dbe1; }
.facts li { margin: .15rem 0; }
.muted { color: #5b6670; font-size: .9rem; }
svg { width: 100%; height: auto; display: block; margin: .6rem 0; }
svg text { font-size: 13px; fill: #1d2329; }
svg .bar { fill: #2f6f9f; }
svg .bar.empty { fill: #a9b4be; }
svg .track { fill: #eef1f4; }
table { border-collapse: collapse; font-size: .9rem; margin: .4rem 0 1rem; }
th, td { padding: .2rem .7rem; border-bottom: 1px solid #e3e7eb; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
details summary { cursor: pointer; color: #2f6f9f; font-size: .9rem; }
@media print { details { display: block; } details > * { display: block; } }
"""


def bar_chart(table: Table, *, title: str) -> str:
    """A horizontal bar chart of a table's counts as an SVG element."""
    rows = table.counts
    height = max(len(rows), 1) * (_BAR_HEIGHT + _GAP) + _GAP
    track = _WIDTH - _LABEL_WIDTH - _COUNT_WIDTH
    largest = max((c.count for c in rows), default=0) or 1
    parts = [
        f'<svg viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, count in enumerate(rows):
        y = _GAP + i * (_BAR_HEIGHT + _GAP)
        width = round(track * count.count / largest, 1)
        css = "bar" if count.code is not None else "bar empty"
        text_y = y + _BAR_HEIGHT * 0.72
        parts += [
            f'<text x="{_LABEL_WIDTH - 8}" y="{text_y:.1f}" text-anchor="end">'
            f"{escape(_shorten(count.label))}</text>",
            f'<rect class="track" x="{_LABEL_WIDTH}" y="{y}" width="{track}" '
            f'height="{_BAR_HEIGHT}" rx="2"/>',
            f'<rect class="{css}" x="{_LABEL_WIDTH}" y="{y}" width="{width}" '
            f'height="{_BAR_HEIGHT}" rx="2"/>',
            f'<text x="{_LABEL_WIDTH + track + 8}" y="{text_y:.1f}">{count.count} '
            f"({table.share(count.count):.0f}%)</text>",
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def _shorten(label: str, limit: int = 40) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _table_html(table: Table, lang: str) -> str:
    t = TEXT[lang]
    rows = "\n".join(
        f"<tr><td>{escape(c.code) if c.code is not None else '–'}</td>"
        f"<td>{escape(c.label)}</td><td class=\"n\">{c.count}</td>"
        f"<td class=\"n\">{table.share(c.count):.1f}</td></tr>"
        for c in table.counts
    )
    return (f"<table><thead><tr><th>{t['code']}</th><th>{t['label']}</th>"
            f"<th>{t['count']}</th><th>{t['share']}</th></tr></thead>"
            f"<tbody>\n{rows}\n</tbody></table>")


def _section(table: Table, lang: str) -> str:
    t = TEXT[lang]
    title = escape(table.title)
    if not table.counts or not table.base:
        return f"<section><h2>{title}</h2><p class=\"muted\">{t['no_data']}</p></section>"
    return (
        f"<section><h2>{title}</h2>"
        f"<p class=\"muted\">n = {table.base}</p>\n"
        f"{bar_chart(table, title=table.title)}\n"
        f"<details><summary>{t['count']}</summary>{_table_html(table, lang)}</details>"
        "</section>"
    )


def _review_chart(summary: Summary) -> str:
    """Reviewed share of the replies as one stacked bar."""
    total = summary.replies or 1
    track = _WIDTH - _COUNT_WIDTH
    done = round(track * summary.reviewed / total, 1)
    label = f"{summary.reviewed}/{summary.replies} {summary.text('reviewed')}"
    return (
        f'<svg viewBox="0 0 {_WIDTH} 34" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<rect class="track" x="0" y="6" width="{track}" height="22" rx="2"/>'
        f'<rect class="bar" x="0" y="6" width="{done}" height="22" rx="2"/>'
        f'<text x="{track + 8}" y="22">{100.0 * summary.reviewed / total:.0f}%</text></svg>'
    )


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
    facts = "\n".join(f"<li>{escape(line)}</li>" for line in overview_lines(summary))
    stamp = (f"<p class=\"muted\">{t['generated']} {escape(generated)}</p>"
             if generated else "")
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
<section><h2>{escape(t['review'])}</h2>
{_review_chart(summary)}
</section>
{sections}
{_reliability_html(summary)}
</body>
</html>
"""
