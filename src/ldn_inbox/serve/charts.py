"""Bar charts as clean hand-made SVG: in the page, and stand-alone for print.

Every bar is a share of its group on one scale, 0 to 100% across the same track, with its
95% interval as a line; a hidden (small) count shows ``<5`` and no bar. The same SVG goes
into the page and into ``--charts DIR``; there it is sized for a magazine column
(:data:`COLUMN_MM` wide) and also rendered to PNG at :data:`DPI` by headless Chromium.
Styling is in presentation attributes, so a file opens the same anywhere.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from dataclasses import dataclass
from html import escape
from pathlib import Path

from ldn_inbox.serve.proportions import Share
from ldn_inbox.serve.wording import WORDS, percent

#: Width of a magazine column in millimetres, and the print resolution of the PNGs.
COLUMN_MM = 80
DPI = 300
#: Geometry in SVG user units.
WIDTH = 500
LABEL_WIDTH = 200
TRACK_X = LABEL_WIDTH + 6
TRACK = 190
ROW = 19
BAR = 11
_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
_INK = "#1d2329"
_BAR = "#2f6f9f"
_TRACK = "#e8edf1"
_GRID = "#b8c2cb"


@dataclass(frozen=True)
class Chart:
    """What one chart shows: groups (a header, possibly '') of labelled shares."""

    key: str
    title: str
    groups: tuple[tuple[str, tuple[tuple[str, Share], ...]], ...]
    lang: str

    def labels(self) -> list[str]:
        """Every text label the chart carries (group headers and categories)."""
        out = [self.title]
        for header, rows in self.groups:
            out += [header] if header else []
            out += [name for name, _ in rows]
        return out


def _wrap(text: str, limit: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _text(x: float, y: float, content: str, *, anchor: str = "start", size: float = 10.5,
          weight: str = "normal", fill: str = _INK) -> str:
    return (f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}" font-size="{size:g}" '
            f'font-weight="{weight}" fill="{fill}">{escape(content)}</text>')


def _row(y: float, name: str, share: Share, lang: str) -> list[str]:
    """One labelled bar at ``y`` (the row's top)."""
    mid = y + ROW / 2
    parts = [_text(LABEL_WIDTH, mid + 3.5, name, anchor="end"),
             f'<rect class="track" x="{TRACK_X}" y="{mid - BAR / 2:g}" width="{TRACK}" '
             f'height="{BAR}" fill="{_TRACK}"/>']
    if share.hidden:
        return [*parts, _text(TRACK_X + 4, mid + 3.5, share.mark, fill="#5b6670")]
    width = round(TRACK * share.value, 2)
    low, high = (TRACK_X + TRACK * v for v in share.interval)
    parts += [
        f'<rect class="bar" x="{TRACK_X}" y="{mid - BAR / 2:g}" width="{width:g}" '
        f'height="{BAR}" fill="{_BAR}"/>',
        f'<path class="ci" d="M{low:.2f} {mid:g}H{high:.2f}M{low:.2f} {mid - 4:g}v8'
        f'M{high:.2f} {mid - 4:g}v8" stroke="{_INK}" stroke-width="1.2" fill="none"/>',
    ]
    if share.base:
        lo, hi = (round(100 * v) for v in share.interval)
        parts.append(_text(TRACK_X + TRACK + 6, mid + 3.5,
                           f"{percent(round(100 * share.value), lang)} ({lo}–{hi})",
                           size=10))
    return parts


def svg(chart: Chart, *, standalone: bool = False) -> str:
    """The chart as an SVG element; ``standalone`` adds the XML header, the title on top and
    a print size of one magazine column."""
    words = WORDS[chart.lang]
    parts: list[str] = []
    y = 4.0
    if standalone:
        for line in _wrap(chart.title, 62):
            y += 15
            parts.append(_text(0, y, line, size=12.5, weight="bold"))
        y += 6
    for header, rows in chart.groups:
        if header:
            for line in _wrap(header, 80):
                y += 14
                parts.append(_text(0, y, line, size=10.5, weight="bold"))
            y += 3
        for name, share in rows:
            parts += _row(y, name, share, chart.lang)
            y += ROW
        y += 4
    y += 2
    for tick in (0, 50, 100):
        x = TRACK_X + TRACK * tick / 100
        parts.append(f'<path class="grid" d="M{x:g} {y:g}v4" stroke="{_GRID}" '
                     'stroke-width="1"/>')
        parts.append(_text(x, y + 14, percent(tick, chart.lang), anchor="middle", size=9))
    y += 30
    parts.append(_text(0, y, words["chart_scale"], size=9, fill="#5b6670"))
    if any(share.hidden for _, rows in chart.groups for _, share in rows):
        for line in _wrap(words["shown_as"], 95):
            y += 12
            parts.append(_text(0, y, line, size=9, fill="#5b6670"))
    height = round(y + 6)
    size = (f' width="{COLUMN_MM}mm" height="{COLUMN_MM * height / WIDTH:.1f}mm"'
            if standalone else "")
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else ""
    return (f'{head}<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}"'
            f'{size} role="img" aria-label="{escape(chart.title)}" '
            f'font-family="{_FONT}" class="chart" data-key="{escape(chart.key)}">'
            f"<title>{escape(chart.title)}</title>"
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>'
            + "".join(parts) + "</svg>")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def tag_png(data: bytes, *, dpi: int, text: dict[str, str]) -> bytes:
    """A PNG with its print resolution (pHYs) and international text chunks (iTXt) added
    after the header, replacing any resolution it had."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    chunks = []
    position = 8
    while position < len(data):
        length = struct.unpack(">I", data[position:position + 4])[0]
        end = position + 12 + length
        chunks.append(data[position:end])
        position = end
    per_metre = round(dpi / 0.0254)
    extra = [_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1))]
    extra += [_chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8"))
              for key, value in text.items()]
    kept = [c for c in chunks[1:] if c[4:8] != b"pHYs"]
    return data[:8] + chunks[0] + b"".join(extra) + b"".join(kept)


def png(chart: Chart, target: Path) -> None:
    """Render the chart to a PNG one column wide at DPI, with its labels as metadata."""
    from ldn_inbox.serve.browser import screenshot
    from ldn_inbox.store.privacy import open_private

    drawing = svg(chart, standalone=True).split("?>", 1)[1]
    height = int(drawing.split('viewBox="0 0 ', 1)[1].split('"', 1)[0].split()[1])
    pixels = round(COLUMN_MM / 25.4 * DPI)
    with tempfile.TemporaryDirectory(prefix="ldn-inbox-chart-") as work:
        page = Path(work) / "chart.html"
        page.write_text(
            "<!DOCTYPE html><html><head><meta charset='utf-8'><style>html,body{margin:0;"
            f"background:#fff}}svg{{display:block;width:{WIDTH}px;height:{height}px}}"
            f"</style></head><body>{drawing}"
            "</body></html>", "utf-8")
        shot = Path(work) / "chart.png"
        screenshot(page, shot, width=WIDTH, height=height, scale=pixels / WIDTH)
        data = tag_png(shot.read_bytes(), dpi=DPI, text={
            "Title": chart.title, "Description": " | ".join(chart.labels()[1:])})
    with open_private(target, "wb") as handle:
        handle.write(data)
