"""The review screen (``ldn-inbox review``): the review queue, one record at a time.

Keyboard only and readable at 80x24, so it works over SSH. Message content is always
shown as plain text, never interpreted as markup, and without the escape sequences and
control characters it may hold (:func:`ldn_inbox.terminal.strip`): a message cannot retitle
the window, write the clipboard, hide text or clear the screen. Where the reviewer stopped
is kept per database and reviewer in the user state directory: the record on screen and
the skipped ones (a skipped record goes to the back of the queue, also in the next
session).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import platformdirs
import sqlalchemy as sa
from rich.segment import Segment
from rich.text import Text
from sqlalchemy.orm import Session
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.strip import Strip
from textual.widgets import Checkbox, Footer, Input, OptionList, SelectionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist
from textual.widgets.selection_list import Selection

from ldn_inbox import review
from ldn_inbox.codebook import FIELD_BY_NAME, FieldSpec, Value
from ldn_inbox.errors import ChangedError, LdnInboxError
from ldn_inbox.store.privacy import open_private
from ldn_inbox.terminal import strip, strip_mapped

#: The boxes of a list field's values: ticked, not ticked (shapes, not only colours).
TICKED = "✓"
UNTICKED = " "
#: Styles of the marks in the field list; the docs (docs/review.md) explain them.
STYLE_CONFLICT = "bold red"
STYLE_CHANGED = "bold green"
STYLE_CONFIRMED = "green"
STYLE_CHECK = "bold yellow"
STYLE_EVIDENCE = "underline"
STYLE_EVIDENCE_SELECTED = "bold reverse"

HELP = """\
Keys (Esc, q or ? closes this help)
  up / down     choose a field (its evidence lights up in the text)
  enter or c    change the chosen field: pick a value, Enter saves,
                Esc cancels; lists: space ticks a value, Enter saves
  a             accept the record as shown and go to the next one
  s             skip: go to the next one, this one waits at the back
  b             back to the record shown before
  u             undo your last change on this record (repeatable)
  t             take the newer coding's value for a field marked !
  n             add a note to this record
  z             show or hide the quoted part of the message
  PgUp / PgDn   scroll the message text
  q             quit; the next time you start where you stopped
Marks before the fields
  ?  yellow     the computer is unsure: please check this field
  !  red        a newer coding disagrees with a person's value
  ✎  green      changed by a person
  ✓  green      confirmed by a person (accepted)
In the text, underlined words are the evidence for a field; the
chosen field's evidence is shown in reverse."""


# --------------------------------------------------------------------------- position
def state_path(db_url: str, reviewer: str) -> Path:
    """Where the review position of ``reviewer`` on ``db_url`` is kept."""
    url = sa.engine.make_url(db_url).render_as_string(hide_password=True)
    digest = hashlib.sha256(f"{url}\0{reviewer}".encode()).hexdigest()[:16]
    return Path(platformdirs.user_state_dir("ldn-inbox")) / f"review-{digest}.json"


@dataclass
class Position:
    """The record on screen and the skipped ones, saved after every move."""

    path: Path | None = None
    current: str | None = None
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | None) -> Position:
        if path is None or not path.is_file():
            return cls(path)
        try:
            data = json.loads(path.read_text("utf-8"))
            return cls(path, data.get("current"), [str(m) for m in data.get("skipped", [])])
        except (OSError, ValueError, AttributeError):
            return cls(path)  # a damaged position file only costs the position

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open_private(tmp, "w", encoding="utf-8") as handle:
            handle.write(json.dumps({"current": self.current, "skipped": self.skipped}))
        os.replace(tmp, self.path)

    def skip(self, message_id: str) -> None:
        if message_id in self.skipped:
            self.skipped.remove(message_id)
        self.skipped.append(message_id)


# --------------------------------------------------------------------------- rendering
def _mark(view: review.FieldView) -> tuple[str, str]:
    if view.conflict:
        return "!", STYLE_CONFLICT
    if view.corrected:
        if review.identical(view.human, view.extracted):
            return "✓", STYLE_CONFIRMED
        return "✎", STYLE_CHANGED
    if view.flagged:
        return "?", STYLE_CHECK
    return " ", ""


#: Room for a value in the field list; the line below the panes shows it whole.
VALUE_WIDTH = 20


#: Room for a field's label in the field list.
LABEL_WIDTH = 21
#: What the screen says for "no value", per language.
NO_VALUE = {"nl": "—", "en": "—"}


def field_label(name: str, lang: str) -> str:
    """The codebook's label of a field in ``lang`` (nl or en)."""
    spec = FIELD_BY_NAME[name]
    return spec.label_nl if lang == "nl" else spec.label_en


def value_label(name: str, value: Value, lang: str) -> str:
    """A value as the volunteer reads it: the codebook's label of each code in ``lang``."""
    spec = FIELD_BY_NAME[name]
    labels = {code: (nl if lang == "nl" else en) for code, nl, en in spec.values}
    if value is None or value == []:
        return NO_VALUE[lang]
    if isinstance(value, list):
        return ", ".join(labels.get(str(code), str(code)) for code in value)
    if isinstance(value, str):
        return labels.get(value, value)
    return review.format_value(value)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def field_row(view: review.FieldView, lang: str = "en") -> Text:
    """One line of the field list: mark, label, effective value (in ``lang``)."""
    mark, style = _mark(view)
    value = _fit(strip(value_label(view.name, view.effective, lang), lines=False),
                 VALUE_WIDTH)
    row = Text(no_wrap=True, overflow="ellipsis")
    row.append(mark + " ", style)
    row.append(_fit(field_label(view.name, lang), LABEL_WIDTH - 1).ljust(LABEL_WIDTH))
    row.append(value, style)
    return row


def field_detail(view: review.FieldView, lang: str = "en") -> Text:
    """The line below the panes for the chosen field: value, coder's value, who, evidence
    (wrapped: nothing is cut at 80 columns)."""
    text = Text()
    text.append(f"{field_label(view.name, lang)}: ", "bold")
    text.append(strip(value_label(view.name, view.effective, lang), lines=False))
    coder = f"  coder: {strip(value_label(view.name, view.extracted, lang), lines=False)}"
    if view.confidence is not None:
        coder += f" ({view.confidence:.2f})"
    text.append(coder, "dim")
    if view.corrected:
        text.append(f"  by {strip(view.corrected_by or '', lines=False)}", STYLE_CHANGED)
    if view.evidence:
        said = " … ".join(strip(span.text, lines=False) for span in view.evidence)
        text.append("  « " + said + " »", "italic")
    return text


def message_text(view: review.MessageView, selected: str | None, show_quoted: bool) -> Text:
    """The left pane: own text with evidence, quoted part, the sender's other messages,
    notes and rule problems. Built from plain strings: nothing is read as markup."""
    out = Text()
    if view.subject:
        out.append("Subject: ", "bold")
        out.append(strip(view.subject, lines=False) + "\n\n")
    shown, where = strip_mapped(view.own_text or "(no text of their own)")
    own = Text(shown)
    for f in view.fields:
        for span in f.evidence:
            if 0 <= span.start <= span.end < len(where):
                own.stylize(STYLE_EVIDENCE_SELECTED if f.name == selected else STYLE_EVIDENCE,
                            where[span.start], where[span.end])
    out.append_text(own)
    quoted = strip(view.quoted_text).strip("\n")
    if quoted:
        lines = len(quoted.splitlines())
        if show_quoted:
            out.append(f"\n\n▾ quoted part ({lines} lines, z hides it)\n", "bold dim")
            out.append(quoted, "dim")
        else:
            out.append(f"\n\n▸ quoted part folded ({lines} lines, z shows it)", "bold dim")
    if view.others:
        out.append(f"\n\n── other messages from this sender ({len(view.others)}) ──\n", "bold")
        for other in view.others:
            when = other.received_at.strftime("%Y-%m-%d") if other.received_at else "?"
            subject = strip(other.subject or "", lines=False)
            out.append(f"{when} · {other.kind or '-'} · {subject}\n", "bold cyan")
            out.append(strip(other.own_text or "").strip() + "\n\n", "cyan")
    if view.notes:
        out.append("\n── notes ──\n", "bold")
        for note in view.notes:
            about = f" [{note.field}]" if note.field else ""
            who = strip(note.reviewer, lines=False)
            out.append(f"{note.at:%Y-%m-%d} {who}{about}: ", "bold")
            out.append(strip(note.text) + "\n")
    if view.issues:
        out.append("\n── problems (codebook rules) ──\n", STYLE_CONFLICT)
        out.append(strip("\n".join(view.issues)) + "\n", "red")
    return out


# --------------------------------------------------------------------------- dialogs
class _Dialog(ModalScreen[str | None]):
    # over the field list, on the right: the message and its evidence stay in view
    DEFAULT_CSS = """
    _Dialog { align: right middle; }
    _Dialog > Vertical {
        width: 45; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    _Dialog .title { text-style: bold; }
    _Dialog .rule { color: $text-muted; margin-bottom: 1; }
    _Dialog OptionList, _Dialog SelectionList { height: auto; max-height: 14; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


def _heading(spec: FieldSpec, keys: str, lang: str) -> list[Static]:
    return [Static(Text(f"{field_label(spec.name, lang)} ({spec.name})"), classes="title"),
            Static(Text(f"{keys}. {spec.rule}"), classes="rule")]


def _label(code: str, nl: str, en: str, current: bool, coder: bool, lang: str) -> Text:
    """A value in a picker: its label in ``lang``, the computer's choice marked, the code
    dim after it."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(nl if lang == "nl" else en, "bold" if current else "")
    if coder:
        text.append(" (coder)", "italic")
    text.append(f"  {code}", "dim")
    return text


class ValuePicker(_Dialog):
    """Pick one codebook value (or null where the codebook allows it)."""

    def __init__(self, spec: FieldSpec, current: Value, extracted: Value,
                 lang: str = "en") -> None:
        super().__init__()
        self.spec, self.current, self.extracted = spec, current, extracted
        self.lang = lang

    def compose(self) -> ComposeResult:
        options = [Option(_label(code, nl, en, code == self.current, code == self.extracted,
                                 self.lang), id=code) for code, nl, en in self.spec.values]
        if self.spec.nullable:
            options.append(Option(_label("null", "niet van toepassing", "not applicable",
                                         self.current is None, self.extracted is None,
                                         self.lang), id="null"))
        with Vertical():
            yield from _heading(self.spec, "Enter picks, Esc cancels", self.lang)
            yield OptionList(*options, id="values")

    def on_mount(self) -> None:
        values = self.query_one("#values", OptionList)
        wanted = "null" if self.current is None else str(self.current)
        try:
            values.highlighted = values.get_option_index(wanted)
        except LookupError:
            values.highlighted = 0
        values.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class TickList(SelectionList[str]):
    """A selection list whose boxes differ by glyph, not only by colour: ✓ ticked, blank
    not (the stock list draws an X in both, coloured)."""

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        segments = list(line)
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return line
        if len(segments) < 2 or segments[1].text != Checkbox.BUTTON_INNER:
            return line
        glyph = TICKED if selection.value in self.selected else UNTICKED
        segments[1] = Segment(glyph, segments[1].style)
        return Strip(segments, line.cell_length)


class ListPicker(_Dialog):
    """Tick the values of a list field; nothing ticked is ``[]``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "save", "Save", priority=True),
    ]

    def __init__(self, spec: FieldSpec, current: Value, extracted: Value,
                 lang: str = "en") -> None:
        super().__init__()
        self.spec = spec
        self.current = list(current) if isinstance(current, list) else []
        self.extracted = list(extracted) if isinstance(extracted, list) else []
        self.lang = lang

    def compose(self) -> ComposeResult:
        selections = [Selection(_label(code, nl, en, False, code in self.extracted, self.lang),
                                code, code in self.current)
                      for code, nl, en in self.spec.values]
        with Vertical():
            yield from _heading(self.spec, "space ticks, Enter saves, Esc cancels", self.lang)
            yield TickList(*selections, id="values")

    def on_mount(self) -> None:
        self.query_one("#values", SelectionList).focus()

    def action_save(self) -> None:
        chosen = self.query_one("#values", SelectionList).selected
        self.dismiss(",".join(str(code) for code in chosen) or "[]")


class TextPrompt(_Dialog):
    """One line of text: a note, or a number (dose)."""

    def __init__(self, title: str, rule: str, value: str = "") -> None:
        super().__init__()
        self.title_text, self.rule_text, self.value = title, rule, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text), classes="title")
            yield Static(Text(self.rule_text), classes="rule")
            yield Input(value=self.value, id="text")

    def on_mount(self) -> None:
        self.query_one("#text", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class HelpScreen(ModalScreen[None]):
    """The keys and what the marks mean."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static {
        width: 74; max-width: 100%; height: auto; border: round $accent;
        background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(Text(HELP))

    def action_close(self) -> None:
        self.dismiss(None)


# --------------------------------------------------------------------------- main screen
class ReviewScreen(Screen[None]):
    """One record: the message on the left, its fields on the right."""

    DEFAULT_CSS = """
    #title { height: 1; background: $primary; color: $text; padding: 0 1; }
    #main { height: 1fr; }
    #text { width: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }
    #fields, #fields:focus {
        width: 45; height: 1fr; border: none; border-left: vkey $primary; padding: 0;
    }
    #detail { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    #status { height: auto; max-height: 3; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "Accept"),
        Binding("c", "change", "Change"),
        Binding("n", "note", "Note"),
        Binding("s", "skip", "Skip"),
        Binding("u", "undo", "Undo"),
        Binding("t", "take_newer", "Take newer", show=False),
        Binding("b", "back", "Back", show=False),
        Binding("z", "fold", "Quoted"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_review", "Quit"),
        Binding("pageup", "scroll_text(-1)", "Scroll up", show=False, priority=True),
        Binding("pagedown", "scroll_text(1)", "Scroll down", show=False, priority=True),
    ]

    #: Seconds between looks at whether the record on screen changed elsewhere.
    FOLLOW_S = 3.0

    def __init__(self, sessions: Callable[[], Session], reviewer: str,
                 position: Position, *, database: str = "", lang: str = "en",
                 read_sessions: Callable[[], Session] | None = None) -> None:
        super().__init__()
        self.sessions = sessions
        #: for looking only (the queue, the record, changes elsewhere): on SQLite these
        #: never wait for a fetch that holds the write lock
        self.read_sessions = read_sessions or sessions
        self.reviewer = reviewer
        self.position = position
        #: the database reviewed, shown in the top bar (so a wrong one is seen at once)
        self.database = database
        #: labels of fields and values: the codebook's Dutch (nl) or English (en) ones
        self.lang = lang
        #: records with a newer coding that disagrees with a person's value
        self.conflicted: set[str] = set()
        self.view: review.MessageView | None = None
        self.visited: list[str] = []
        self.show_quoted = False
        self.remaining = 0
        #: the left pane's content and the status line, kept for tests
        self.message_text = Text()
        self.status_text = Text()

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        with Horizontal(id="main"):
            with VerticalScroll(id="text"):
                yield Static(id="message")
            yield OptionList(id="fields")
        yield Static(id="detail")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        ids = self._queue_ids()
        start = self.position.current if self.position.current in ids else None
        if ids and ids[0] in self.conflicted and start not in self.conflicted:
            start = ids[0]  # after a re-coding: the conflicts first, not where one stopped
        self._open(start or (ids[0] if ids else None))
        self.query_one("#fields", OptionList).focus()
        self.set_interval(self.FOLLOW_S, self._follow)

    def on_unmount(self) -> None:
        try:
            with self.sessions() as session:
                review.release(session, self.reviewer)
        except LdnInboxError:
            pass

    # ------------------------------------------------------------------ data
    def _queue_ids(self) -> list[str]:
        """The queue, less the records open on other reviewers' screens."""
        with self.read_sessions() as session:
            items = review.queue(session)
            busy = review.claimed_by_others(session, self.reviewer)
        ids = [item.message_id for item in items if item.message_id not in busy]
        self.conflicted = {item.message_id for item in items if item.conflicts}
        self.remaining = len(ids)
        self.position.skipped = [m for m in self.position.skipped if m in ids]
        skipped = set(self.position.skipped)
        return [m for m in ids if m not in skipped] + self.position.skipped

    def _open(self, message_id: str | None, *, remember: bool = True) -> None:
        if message_id is not None:
            message_id = self._claim(message_id)
        self.position.current = message_id
        self.position.save()
        if message_id is not None and remember and (
                not self.visited or self.visited[-1] != message_id):
            self.visited.append(message_id)
        self.show_quoted = False
        self._reload(first_open=True)
        self.query_one("#text", VerticalScroll).scroll_home(animate=False)

    def _claim(self, message_id: str) -> str | None:
        """``message_id`` claimed for this reviewer, or (when another screen was first) the
        next record nobody holds."""
        tried: set[str] = set()
        candidate: str | None = message_id
        while candidate is not None:
            try:
                with self.sessions() as session:
                    holder = review.claim(session, candidate, self.reviewer)
            except LdnInboxError:
                return candidate  # shown with its error by _reload
            if holder is None:
                return candidate
            tried.add(candidate)
            candidate = next((m for m in self._queue_ids() if m not in tried), None)
        return None

    def _follow(self) -> None:
        """Show changes made elsewhere (another reviewer, a re-coding) to the record on
        screen, unless a dialog is open on it."""
        if self.view is None or self.app.screen is not self:
            return
        try:
            with self.read_sessions() as session:
                now = review.show(session, self.view.message_id)
        except LdnInboxError:
            return
        if now.version != self.view.version:
            self._say(f"#{now.record} changed elsewhere: {self._changes(self.view, now)}",
                      error=True)
            self._reload()

    def _changes(self, before: review.MessageView, after: review.MessageView) -> str:
        """What differs between two views of one record, in words."""
        said = []
        for old, new in zip(before.fields, after.fields, strict=True):
            if not review.identical(old.effective, new.effective) or old.conflict != new.conflict:
                who = f" (by {new.corrected_by})" if new.corrected and new.corrected_by else ""
                said.append(f"{field_label(new.name, self.lang)} "
                            f"{value_label(new.name, old.effective, self.lang)} → "
                            f"{value_label(new.name, new.effective, self.lang)}{who}")
        if before.reviewed_by != after.reviewed_by:
            said.append(f"accepted by {after.reviewed_by}" if after.reviewed_by
                        else "no longer accepted")
        return strip("; ".join(said) or "its coding was renewed", lines=False)

    def _reload(self, *, first_open: bool = False) -> None:
        """Read the record again; a record just opened starts at its first field to check."""
        fields = self.query_one("#fields", OptionList)
        keep = fields.highlighted
        message_id = self.position.current
        self.view = None
        if message_id is not None:
            try:
                with self.read_sessions() as session:
                    self.view = review.show(session, message_id)
            except LdnInboxError as exc:
                self._say(str(exc), error=True)
        fields.clear_options()
        if self.view is None:
            self.message_text = Text("Nothing left to review. Press q to quit.")
            self.query_one("#message", Static).update(self.message_text)
            self.query_one("#title", Static).update(
                Text(strip(f"review · {self.reviewer}{self._where()}", lines=False),
                     no_wrap=True, overflow="ellipsis"))
            self.query_one("#detail", Static).update(Text())
            return
        fields.add_options([Option(field_row(f, self.lang), id=f.name)
                            for f in self.view.fields])
        if first_open or keep is None:
            marked = [i for i, f in enumerate(self.view.fields)
                      if f.conflict or (f.flagged and not f.corrected)]
            keep = marked[0] if marked else 0
        fields.highlighted = keep
        self._render_text()
        self._render_title()

    def _selected(self) -> review.FieldView | None:
        if self.view is None:
            return None
        index = self.query_one("#fields", OptionList).highlighted
        return self.view.fields[index] if index is not None else None

    # ------------------------------------------------------------------ drawing
    def _render_title(self) -> None:
        view = self.view
        assert view is not None
        when = view.received_at.strftime("%Y-%m-%d") if view.received_at else "?"
        state = f" · accepted by {view.reviewed_by}" if view.reviewed_by else ""
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"{self.remaining} to review", "bold")
        title.append(strip(f"{self._where()} · {when} · #{view.record}{state}",
                           lines=False))
        self.query_one("#title", Static).update(title)

    def _where(self) -> str:
        return f" · {self.database}" if self.database else ""

    def _render_text(self) -> None:
        if self.view is None:
            return
        selected = self._selected()
        self.message_text = message_text(self.view, selected.name if selected else None,
                                         self.show_quoted)
        self.query_one("#message", Static).update(self.message_text)
        self.query_one("#detail", Static).update(
            field_detail(selected, self.lang) if selected else Text())

    def _say(self, text: str, *, error: bool = False) -> None:
        if self.view is not None:  # record numbers, not Message-IDs, on screen
            text = text.replace(self.view.message_id, f"#{self.view.record}")
        self.status_text = Text(strip(text, lines=False), STYLE_CONFLICT if error else "")
        self.query_one("#status", Static).update(self.status_text)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._render_text()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_change()

    # ------------------------------------------------------------------ actions
    def _run(self, action: Callable[[Session], review.Outcome]) -> review.Outcome | None:
        shown = self.view
        try:
            with self.sessions() as session:
                result = action(session)
        except ChangedError:
            self._reload()
            if shown is not None and self.view is not None:
                self._say(f"not saved: #{shown.record} changed since it was shown: "
                          f"{self._changes(shown, self.view)}; look again", error=True)
            return None
        except LdnInboxError as exc:
            self._say(str(exc), error=True)
            return None
        if self.view is not None:
            self._claim(self.view.message_id)  # renew: the reviewer is still on it
        return result

    def action_change(self) -> None:
        chosen = self._selected()
        if chosen is None:
            self._say("nothing to review", error=True)
            return
        spec = FIELD_BY_NAME[chosen.name]
        dialog: _Dialog
        if spec.type == "list":
            dialog = ListPicker(spec, chosen.effective, chosen.extracted, self.lang)
        elif spec.type == "number":
            current = "" if chosen.effective is None else review.format_value(chosen.effective)
            dialog = TextPrompt(f"{field_label(spec.name, self.lang)} ({spec.name})",
                                spec.rule + " Enter saves (empty = null), Esc cancels.",
                                current)
        else:
            dialog = ValuePicker(spec, chosen.effective, chosen.extracted, self.lang)
        self.app.push_screen(dialog, lambda text: self._apply(chosen, text))

    def _apply(self, chosen: review.FieldView, text: str | None) -> None:
        if text is None or self.view is None:
            self._say("not changed")
            return
        message_id, version = self.view.message_id, self.view.version
        outcome = self._run(lambda s: review.set_field(
            s, message_id, chosen.name, text, reviewer=self.reviewer,
            expect=chosen.effective, version=version))
        if outcome is not None:
            if outcome.changes:
                first = outcome.changes[0]
                said = (f"✎ {field_label(first.field, self.lang)}: "
                        f"{value_label(first.field, first.old, self.lang)} → "
                        f"{value_label(first.field, first.new, self.lang)}")
                follows = [field_label(c.field, self.lang) for c in outcome.changes
                           if c.follows]
                if follows:
                    said += f" (also {', '.join(follows)})"
                self._say(said + "   u undoes")
            else:
                self._say(f"{field_label(chosen.name, self.lang)} unchanged: nothing saved")
        self._reload()

    def action_accept(self) -> None:
        if self.view is None:
            self._say("nothing to review", error=True)
            return
        message_id, version = self.view.message_id, self.view.version
        outcome = self._run(lambda s: review.accept(s, message_id, reviewer=self.reviewer,
                                                    version=version))
        if outcome is None:
            return
        detail = f"; {outcome.detail}" if outcome.detail else ""
        self._say(f"✓ accepted {message_id}{detail}   b goes back")
        self._next()

    def action_skip(self) -> None:
        if self.view is None:
            return
        self.position.skip(self.view.message_id)
        self._say(f"skipped #{self.view.record}: it waits at the back of the queue")
        self._next()

    def _next(self) -> None:
        current = self.position.current
        ids = self._queue_ids()
        following = [m for m in ids if m != current]
        self._open(following[0] if following else (ids[0] if ids else None))

    def action_back(self) -> None:
        if len(self.visited) < 2:
            self._say("this is the first record of this session", error=True)
            return
        self.visited.pop()
        self._queue_ids()
        self._open(self.visited[-1], remember=False)

    def action_undo(self) -> None:
        if self.view is None:
            return
        message_id = self.view.message_id
        outcome = self._run(lambda s: review.undo(s, message_id, reviewer=self.reviewer))
        if outcome is not None:
            said = ", ".join(f"{c.field}: {review.format_value(c.old)} → "
                             f"{review.format_value(c.new)}" for c in outcome.changes)
            self._say("↶ undone " + (said or outcome.detail))
            self._queue_ids()
        self._reload()

    def action_take_newer(self) -> None:
        """Take the newer coding's value over a person's value for the chosen field."""
        chosen = self._selected()
        if chosen is None or self.view is None:
            return
        if not chosen.conflict:
            self._say(f"{field_label(chosen.name, self.lang)}: no newer coding disagrees "
                      "with a person's value here", error=True)
            return
        self._apply(chosen, review.format_value(chosen.extracted))

    def action_note(self) -> None:
        if self.view is None:
            return
        message_id = self.view.message_id

        def save(text: str | None) -> None:
            if not text or not text.strip():
                self._say("no note added")
                return
            if self._run(lambda s: review.add_note(s, message_id, text,
                                                   reviewer=self.reviewer)):
                self._say("note added")
            self._reload()

        self.app.push_screen(TextPrompt("Note on this message",
                                        "Kept with the message and in the history. "
                                        "Enter saves, Esc cancels."), save)

    def action_fold(self) -> None:
        self.show_quoted = not self.show_quoted
        self._render_text()

    def action_scroll_text(self, direction: int) -> None:
        pane = self.query_one("#text", VerticalScroll)
        if direction < 0:
            pane.scroll_page_up()
        else:
            pane.scroll_page_down()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_quit_review(self) -> None:
        self.position.save()
        self.app.exit()


class ReviewApp(App[None]):
    """The review screen over ``sessions``' database, for ``reviewer``."""

    TITLE = "ldn-inbox review"
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, sessions: Callable[[], Session], reviewer: str,
                 position: Position | None = None, *, database: str = "", lang: str = "en",
                 read_sessions: Callable[[], Session] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.review_screen = ReviewScreen(sessions, reviewer, position or Position(),
                                          database=database, lang=lang,
                                          read_sessions=read_sessions)

    def on_mount(self) -> None:
        self.push_screen(self.review_screen)


def run_review(sessions: Callable[[], Session], reviewer: str, db_url: str, *,
               database: str = "", lang: str = "en",
               read_sessions: Callable[[], Session] | None = None) -> None:
    """Open the review screen; the position is kept per database and reviewer.
    ``database`` names the database in the top bar (a file's path, or host/dbname);
    ``lang`` (nl or en) the language of the labels."""
    ReviewApp(sessions, reviewer, Position.load(state_path(db_url, reviewer)),
              database=database, lang=lang, read_sessions=read_sessions).run()
