"""Command line: parse arguments, call the core, turn its errors into exit codes.

The only module that imports Typer. Exit codes are documented in the README (errors.py).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from ldn_inbox import __version__
from ldn_inbox.app import Context
from ldn_inbox.errors import ExitCode, LdnInboxError, ValidationError

app = typer.Typer(
    name="ldn-inbox",
    help="Turn the survey mailbox into a clean, reviewable dataset.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="Database schema operations.", no_args_is_help=True)
config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")


class State:
    config_path: str | None = None
    db: str | None = None
    verbose: bool = False
    _context: Context | None = None

    def context(self) -> Context:
        if self._context is None:
            self._context = Context.load(self.config_path, self.db)
        return self._context


STATE = State()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ldn-inbox {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    db: Annotated[str | None, typer.Option(
        "--db", help="SQLAlchemy database URL (else $LDN_INBOX_DB, the config's db key, "
        "else sqlite:///ldn-inbox.sqlite).", show_default=False)] = None,
    config: Annotated[str | None, typer.Option(
        "--config", help="TOML config file (else $LDN_INBOX_CONFIG, else the user config "
        "dir).", show_default=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")]
    = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Turn the survey mailbox into a clean, reviewable dataset.

    Examples:
      ldn-inbox import ./mail/                       # .eml files, mbox files, maildirs
      ldn-inbox export --format csv --output answers.csv
      ldn-inbox eval ../shared/survey/dev
    """
    STATE.config_path = config
    STATE.db = db
    STATE.verbose = verbose
    STATE._context = None
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def fail(message: str, code: ExitCode) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(int(code))


@contextmanager
def handled() -> Iterator[None]:
    """Map the core's errors to messages on stderr and documented exit codes."""
    try:
        yield
    except LdnInboxError as exc:
        raise fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def _is_tty() -> bool:
    return sys.stderr.isatty()


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Any]:
    """A progress display on a terminal; nothing under cron or with --quiet."""
    if quiet or not _is_tty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda summary: progress.update(task, completed=summary.seen,
                                              description=f"{label} ({summary.new} new)")


def _print_skipped(skipped: list[Any]) -> None:
    for item in skipped[:20]:
        typer.echo(f"warning: skipped {item.path}: {item.reason}", err=True)
    if len(skipped) > 20:
        typer.echo(f"warning: {len(skipped) - 20} more files skipped", err=True)


# --------------------------------------------------------------------------- import
@app.command("import")
def import_command(
    paths: Annotated[list[Path], typer.Argument(
        help=".eml files, directories (searched recursively), mbox files or maildirs.",
        show_default=False)],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
) -> None:
    """Import messages from files into the raw store and code them.

    Importing the same files again changes nothing. Exit 6 when some messages could not be
    parsed or coded (they are kept raw; `ldn-inbox errors` lists them).

    Examples:
      ldn-inbox import ../shared/survey/dev/eml
      ldn-inbox import ~/Mail/fibrores.mbox ~/Maildir
    """
    from ldn_inbox.pipeline import ingest
    from ldn_inbox.sources.files import iter_paths

    with handled():
        ctx = STATE.context()
        settings = ctx.pipeline_settings()
        skipped: list[Any] = []
        with _progress("importing", quiet) as on_item:
            summary = ingest(ctx.sessions, iter_paths(paths, skipped), settings,
                             on_item=on_item)
        summary.skipped = skipped
        _print_skipped(skipped)
        if not quiet:
            typer.echo(summary.line())
        if summary.quarantined:
            raise fail(f"{summary.quarantined} message(s) quarantined: see `ldn-inbox errors`",
                       ExitCode.QUARANTINED)


# --------------------------------------------------------------------------- export
@app.command("export")
def export_command(
    format: Annotated[str, typer.Option("--format", "-f", help="jsonl, csv or xlsx.")]
    = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o",
                      help="File to write (default: standard output).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only messages of this kind.")] = None,
    reviewed_only: Annotated[bool, typer.Option("--reviewed-only",
                             help="Only records a reviewer accepted.")] = False,
    delimiter: Annotated[str, typer.Option(help="CSV delimiter (';' for Belgian Excel).")]
    = ",",
) -> None:
    """Export one row per message with the codebook's fields (human corrections applied).

    Examples:
      ldn-inbox export --format jsonl --output out.jsonl
      ldn-inbox export --format csv --delimiter ';' --kind reply -o antwoorden.csv
    """
    from ldn_inbox import export
    from ldn_inbox.codebook import FIELD_BY_NAME

    with handled():
        if format not in ("jsonl", "csv", "xlsx"):
            raise ValidationError("--format must be jsonl, csv or xlsx")
        if kind is not None and kind not in FIELD_BY_NAME["kind"].codes:
            raise ValidationError(f"--kind must be one of {', '.join(FIELD_BY_NAME['kind'].codes)}")
        if len(delimiter) != 1:
            raise ValidationError("--delimiter must be one character")
        ctx = STATE.context()
        with ctx.sessions() as session:
            rows = export.iter_rows(session, kind=kind, reviewed_only=reviewed_only)
            if format == "xlsx":
                if output is None:
                    raise ValidationError("xlsx needs --output FILE")
                count = export.write_xlsx(rows, output)
            elif output is None:
                count = (export.write_jsonl(rows, sys.stdout) if format == "jsonl"
                         else export.write_csv(rows, sys.stdout, delimiter=delimiter))
            else:
                with output.open("w", encoding="utf-8", newline="") as handle:
                    count = (export.write_jsonl(rows, handle) if format == "jsonl"
                             else export.write_csv(rows, handle, delimiter=delimiter))
        if output is not None:
            typer.echo(f"{count} rows written to {output}", err=True)


# --------------------------------------------------------------------------- errors
@app.command("errors")
def errors_command(
    format: Annotated[str, typer.Option("--format", help="table or jsonl.")] = "table",
) -> None:
    """List messages kept raw because they could not be parsed or coded.

    Example:
      ldn-inbox errors --format jsonl
    """
    from ldn_inbox.queries import quarantined

    with handled():
        ctx = STATE.context()
        with ctx.sessions() as session:
            rows = quarantined(session)
        if format == "jsonl":
            for row in rows:
                typer.echo(json.dumps(row, ensure_ascii=False))
            return
        if not rows:
            typer.echo("no quarantined messages")
            return
        for row in rows:
            typer.echo(f"{row['message_id']}\t{row['stored_at']}\t{row['error']}")


# --------------------------------------------------------------------------- eval
@app.command("eval")
def eval_command(
    directory: Annotated[Path, typer.Argument(help="A directory with eml/ and gold.jsonl.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    min_macro: Annotated[float | None, typer.Option(
        "--min-macro", help="Exit 1 when the main macro accuracy is below this.")] = None,
    show_errors: Annotated[bool, typer.Option("--errors", help="List every wrong field.")]
    = False,
) -> None:
    """Score the coding against a labelled set, in a throw-away database.

    Examples:
      ldn-inbox eval ../shared/survey/dev
      ldn-inbox eval fixtures/emails --json --min-macro 0.9
    """
    from ldn_inbox.evaluate import format_scores
    from ldn_inbox.workflows import evaluate_directory

    with handled():
        scores = evaluate_directory(directory)
        if as_json:
            typer.echo(json.dumps(scores.as_dict(), indent=2, ensure_ascii=False))
        else:
            typer.echo(format_scores(scores))
            if show_errors:
                for error in scores.errors:
                    typer.echo(f"  {error['file']}: {error['field']} gold={error['gold']} "
                               f"got={error['got']}")
        if min_macro is not None and scores.main_macro < min_macro:
            raise fail(f"main macro accuracy {scores.main_macro:.3f} < {min_macro}",
                       ExitCode.BUG)


# --------------------------------------------------------------------------- demo
@app.command("demo")
def demo_command() -> None:
    """Import the bundled sample mailbox (fictional replies) and print a summary.

    Uses the configured database (default ./ldn-inbox.sqlite).

    Example:
      ldn-inbox demo
    """
    from ldn_inbox.workflows import run_demo

    with handled():
        typer.echo(run_demo(STATE.context()))


# --------------------------------------------------------------------------- db / config
@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head")\
        -> None:
    """Bring the database schema to the newest (or the given) revision.

    Example:
      ldn-inbox --db postgresql+psycopg://ldn@localhost/ldn db upgrade
    """
    from ldn_inbox.db import current_revision, make_engine, upgrade

    with handled():
        engine = make_engine(STATE.context().db_url)
        upgrade(engine, revision)
        typer.echo(f"database at revision {current_revision(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the newest one.

    Example:
      ldn-inbox db current
    """
    from ldn_inbox.db import current_revision, head_revision, make_engine

    with handled():
        engine = make_engine(STATE.context().db_url)
        current = current_revision(engine)
        head = head_revision()
        state = "up to date" if current == head else "run `ldn-inbox db upgrade`"
        typer.echo(f"current: {current or 'empty database'}\nhead: {head}\n{state}")


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration, secrets masked, with where each value came from.

    Example:
      LDN_INBOX_IMAP_HOST=imap.example.org ldn-inbox config show
    """
    with handled():
        cfg = STATE.context().config
        typer.echo(f"# config file: {cfg.path or 'none'}")
        for section, values in cfg.redacted().items():
            typer.echo(f"[{section}]")
            for key, value in values.items():
                name = key if section == "general" else f"{section}.{key}"
                typer.echo(f"{key} = {json.dumps(value)}  # {cfg.origins[name]}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    finally:
        if STATE._context is not None:
            STATE._context.close()


__all__ = ["app", "main"]
