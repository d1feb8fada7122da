"""Datasette hooks for ``ldn-inbox browse``: small counts marked, as docs/analysts.md asks.

Facet counts are marked by the package's ``_facet_results.html`` template (it reads
``small_count``); cells of the canned queries' count columns by :func:`render_cell`. The
JSON API keeps the exact numbers: the marks are a reminder for whoever copies a number
into a publication, not a protection of the data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from datasette import hookimpl as datasette_hookimpl
from markupsafe import Markup, escape

from ldn_inbox.serve.analyst_copy import SMALL_COUNT, count_columns

_COUNT_COLUMNS = count_columns()
_Hook = TypeVar("_Hook", bound=Callable[..., Any])


def hookimpl(function: _Hook) -> _Hook:
    """Datasette's hook marker, typed."""
    return cast(_Hook, datasette_hookimpl(function))


def mark(count: int) -> Markup:
    """A count below the threshold, marked."""
    return Markup(
        f'<span class="small-count" style="background:#fde68a" title="fewer than '
        f'{SMALL_COUNT}: do not publish">{escape(count)} (&lt;{SMALL_COUNT})</span>'
    )


@hookimpl
def extra_template_vars() -> dict[str, Any]:
    return {"small_count": SMALL_COUNT}


@hookimpl
def render_cell(value: Any, column: str, table: str | None) -> Markup | None:
    if (table is None and column in _COUNT_COLUMNS and isinstance(value, int)
            and not isinstance(value, bool) and 0 < value < SMALL_COUNT):
        return mark(value)
    return None


#: The column descriptions (from the codebook) folded under one line, so that the facets
#: stay on the first screen; without scripts they show in full.
_FOLD_DESCRIPTIONS = """
const list = document.querySelector("dl.column-descriptions");
if (list) {
  const fold = document.createElement("details");
  const title = document.createElement("summary");
  title.textContent = "What each column holds (" + list.querySelectorAll("dt").length + ")";
  list.replaceWith(fold);
  fold.append(title, list);
}
"""


@hookimpl
def extra_body_script(view_name: str) -> str:
    return _FOLD_DESCRIPTIONS if view_name == "table" else ""
