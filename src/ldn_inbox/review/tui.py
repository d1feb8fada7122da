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
from rich.text import Text
from sqlalchemy.orm import Session
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, OptionList, SelectionList, Static
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from ldn_inbox import review
from ldn_inbox.codebook import FIELD_BY_NAME, FieldSpec, Value
from ldn_inbox.errors import LdnInboxError
from ldn_inbox.store.privacy import open_private
from ldn_inbox.terminal import strip, strip_mapped

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


def field_row(view: review.FieldView) -> Text:
    """One line of the field list: mark, name, effective value."""
    mark, style = _mark(view)
    value = strip(review.format_value(view.effective), lines=False)
    if len(value) > VALUE_WIDTH:
        value = value[:VALUE_WIDTH - 1] + "…"
    row = Text(no_wrap=True, overflow="ellipsis")
    row.append(mark + " ", style)
    row.append(view.name.ljust(21))
    row.append(value, style)
    return row


def field_detail(view: review.FieldView) -> Text:
    """The status line for the chosen field: value, coder's value, who, evidence."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{view.name}: ", "bold")
    text.append(strip(review.format_value(view.effective), lines=False))
    coder = f"  coder: {strip(review.format_value(view.extracted), lines=False)}"
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
    DEFAULT_CSS = """
    _Dialog { align: center middle; }
    _Dialog > Vertical {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    _Dialog .title { text-style: bold; }
    _Dialog .rule { color: $text-muted; margin-bottom: 1; }
    _Dialog OptionList, _Dialog SelectionList { height: auto; max-height: 14; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


def _heading(spec: FieldSpec, keys: str) -> list[Static]:
    return [Static(Text(f"{spec.name}: {spec.label_en} / {spec.label_nl}  ({keys})"),
                   classes="title"),
            Static(Text(spec.rule), classes="rule")]


def _label(code: str, nl: str, en: str, current: bool, coder: bool) -> Text:
    text = Text(f"{code:<21}", "bold" if current else "")
    text.append(f"{nl} / {en}")
    if coder:
        text.append("  (coder)", "dim")
    return text


class ValuePicker(_Dialog):
    """Pick one codebook value (or null where the codebook allows it)."""

    def __init__(self, spec: FieldSpec, current: Value, extracted: Value) -> None:
        super().__init__()
        self.spec, self.current, self.extracted = spec, current, extracted

    def compose(self) -> ComposeResult:
        options = [Option(_label(code, nl, en, code == self.current, code == self.extracted),
                          id=code) for code, nl, en in self.spec.values]
        if self.spec.nullable:
            options.append(Option(_label("null", "niet van toepassing", "not applicable",
                                         self.current is None, self.extracted is None),
                                  id="null"))
        with Vertical():
            yield from _heading(self.spec, "Enter picks, Esc cancels")
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


class ListPicker(_Dialog):
    """Tick the values of a list field; nothing ticked is ``[]``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "save", "Save", priority=True),
    ]

    def __init__(self, spec: FieldSpec, current: Value, extracted: Value) -> None:
        super().__init__()
        self.spec = spec
        self.current = list(current) if isinstance(current, list) else []
        self.extracted = list(extracted) if isinstance(extracted, list) else []

    def compose(self) -> ComposeResult:
        selections = [Selection(_label(code, nl, en, False, code in self.extracted), code,
                                code in self.current) for code, nl, en in self.spec.values]
        with Vertical():
            yield from _heading(self.spec, "space ticks, Enter saves, Esc cancels")
            yield SelectionList[str](*selections, id="values")

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
    #detail { height: 1; padding: 0 1; background: $boost; }
    #status { height: 1; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "Accept"),
        Binding("c", "change", "Change"),
        Binding("n", "note", "Note"),
        Binding("s", "skip", "Skip"),
        Binding("u", "undo", "Undo"),
        Binding("b", "back", "Back", show=False),
        Binding("z", "fold", "Quoted"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_review", "Quit"),
        Binding("pageup", "scroll_text(-1)", "Scroll up", show=False, priority=True),
        Binding("pagedown", "scroll_text(1)", "Scroll down", show=False, priority=True),
    ]

    def __init__(self, sessions: Callable[[], Session], reviewer: str,
                 position: Position, *, database: str = "") -> None:
        super().__init__()
        self.sessions = sessions
        self.reviewer = reviewer
        self.position = position
        #: the database reviewed, shown in the top bar (so a wrong one is seen at once)
        self.database = database
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
        self._open(start or (ids[0] if ids else None))
        self.query_one("#fields", OptionList).focus()

    # ------------------------------------------------------------------ data
    def _queue_ids(self) -> list[str]:
        with self.sessions() as session:
            ids = [item.message_id for item in review.queue(session)]
        self.remaining = len(ids)
        self.position.skipped = [m for m in self.position.skipped if m in ids]
        skipped = set(self.position.skipped)
        return [m for m in ids if m not in skipped] + self.position.skipped

    def _open(self, message_id: str | None, *, remember: bool = True) -> None:
        self.position.current = message_id
        self.position.save()
        if message_id is not None and remember and (
                not self.visited or self.visited[-1] != message_id):
            self.visited.append(message_id)
        self.show_quoted = False
        self._reload(first_open=True)
        self.query_one("#text", VerticalScroll).scroll_home(animate=False)

    def _reload(self, *, first_open: bool = False) -> None:
        """Read the record again; a record just opened starts at its first field to check."""
        fields = self.query_one("#fields", OptionList)
        keep = fields.highlighted
        message_id = self.position.current
        self.view = None
        if message_id is not None:
            try:
                with self.sessions() as session:
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
        fields.add_options([Option(field_row(f), id=f.name) for f in self.view.fields])
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
        title.append(strip(f"{self._where()} · {when} · {view.message_id}{state}",
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
            field_detail(selected) if selected else Text())

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status_text = Text(strip(text, lines=False), STYLE_CONFLICT if error else "",
                                no_wrap=True, overflow="ellipsis")
        self.query_one("#status", Static).update(self.status_text)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._render_text()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_change()

    # ------------------------------------------------------------------ actions
    def _run(self, action: Callable[[Session], review.Outcome]) -> review.Outcome | None:
        try:
            with self.sessions() as session:
                return action(session)
        except LdnInboxError as exc:
            self._say(str(exc), error=True)
            return None

    def action_change(self) -> None:
        chosen = self._selected()
        if chosen is None:
            self._say("nothing to review", error=True)
            return
        spec = FIELD_BY_NAME[chosen.name]
        dialog: _Dialog
        if spec.type == "list":
            dialog = ListPicker(spec, chosen.effective, chosen.extracted)
        elif spec.type == "number":
            current = "" if chosen.effective is None else review.format_value(chosen.effective)
            dialog = TextPrompt(f"{spec.name}: {spec.label_en} / {spec.label_nl}",
                                spec.rule + " Enter saves (empty = null), Esc cancels.",
                                current)
        else:
            dialog = ValuePicker(spec, chosen.effective, chosen.extracted)
        self.app.push_screen(dialog, lambda text: self._apply(chosen, text))

    def _apply(self, chosen: review.FieldView, text: str | None) -> None:
        if text is None or self.view is None:
            self._say("not changed")
            return
        message_id = self.view.message_id
        outcome = self._run(lambda s: review.set_field(
            s, message_id, chosen.name, text, reviewer=self.reviewer,
            expect=chosen.effective))
        if outcome is not None:
            if outcome.changes:
                first = outcome.changes[0]
                said = (f"✎ {first.field}: {review.format_value(first.old)} → "
                        f"{review.format_value(first.new)}")
                follows = [c.field for c in outcome.changes if c.follows]
                if follows:
                    said += f" (also {', '.join(follows)})"
                self._say(said + "   u undoes")
            else:
                self._say(f"{chosen.name} unchanged")
        self._reload()

    def action_accept(self) -> None:
        if self.view is None:
            self._say("nothing to review", error=True)
            return
        message_id = self.view.message_id
        outcome = self._run(lambda s: review.accept(s, message_id, reviewer=self.reviewer))
        if outcome is None:
            return
        self._say(f"✓ accepted {message_id}" + (f"; {outcome.detail}" if outcome.detail else "")
                  + "   b goes back")
        self._next()

    def action_skip(self) -> None:
        if self.view is None:
            return
        self.position.skip(self.view.message_id)
        self._say(f"skipped {self.view.message_id}: it waits at the back of the queue")
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
                 position: Position | None = None, *, database: str = "",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.review_screen = ReviewScreen(sessions, reviewer, position or Position(),
                                          database=database)

    def on_mount(self) -> None:
        self.push_screen(self.review_screen)


def run_review(sessions: Callable[[], Session], reviewer: str, db_url: str, *,
               database: str = "") -> None:
    """Open the review screen; the position is kept per database and reviewer.
    ``database`` names the database in the top bar (a file's path, or host/dbname)."""
    ReviewApp(sessions, reviewer, Position.load(state_path(db_url, reviewer)),
              database=database).run()
