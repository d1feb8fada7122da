"""Command line: parse arguments, call the core, turn its errors into exit codes.

The only module that imports Typer. Exit codes are documented in the README (errors.py).
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, cast

import typer

from ldn_inbox import __version__
from ldn_inbox.errors import ConfigError, ExitCode, LdnInboxError, ValidationError
from ldn_inbox.terminal import one_line, printable

if TYPE_CHECKING:
    # imported when a command first needs it: --help and a no-op fetch load only what
    # their command uses (tests/test_startup.py)
    from ldn_inbox.flow.app import Context
    from ldn_inbox.flow.summary import FetchSummary

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
mailing_app = typer.Typer(
    help="What the organisation sent: add a mailing, list the known and learned ones.",
    no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(mailing_app, name="mailing")


class State:
    """The global options of one invocation, kept on Click's root context (``ctx.obj``);
    the database is opened on first use and closed when the command ends."""

    def __init__(self, config_path: str | None, db: str | None, verbose: bool) -> None:
        self.config_path = config_path
        self.db = db
        self.verbose = verbose
        self._context: Context | None = None

    def context(self) -> Context:
        if self._context is None:
            from ldn_inbox.flow.app import Context

            self._context = Context.load(self.config_path, self.db)
        return self._context

    def existing(self) -> Context:
        """The context of a command that reads or changes stored records: a missing
        database is an error (exit 5), never a new empty one."""
        context = self.context()
        context.create = False
        return context

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
            self._context = None


def _state(ctx: typer.Context) -> State:
    """The running command's :class:`State` (set by the main callback)."""
    state = ctx.find_object(State)
    if state is None:  # a command called without the app's callback
        state = State(None, None, False)
        ctx.obj = state
        ctx.call_on_close(state.close)
    return state


def _context(ctx: typer.Context) -> Context:
    return _state(ctx).context()


def _existing(ctx: typer.Context) -> Context:
    """The context of a command that reads or changes stored records (no new database)."""
    return _state(ctx).existing()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ldn-inbox {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
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
    state = State(config, db, verbose)
    ctx.obj = state
    ctx.call_on_close(state.close)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    handler.addFilter(_own_progress_only)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        handlers=[handler])


def _own_progress_only(record: logging.LogRecord) -> bool:
    """Libraries' INFO lines (imapclient's "Connection closed", alembic's migration
    steps) never reach stderr: under cron each line is mail about a problem."""
    return record.levelno >= logging.WARNING or record.name.startswith("ldn_inbox")


class _OneLineFormatter(logging.Formatter):
    """Log messages on one line with control characters shown as \\xNN: a folder name or
    an error text can neither forge a log line nor drive the terminal."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)


def _json(value: Any, indent: int | None = None) -> str:
    """JSON as written for people and scripts alike, with C1 controls and DEL escaped (JSON
    escapes C0 controls itself): the same data, inert on a terminal."""
    return re.sub(r"[\x7f-\x9f]", lambda m: f"\\u{ord(m.group(0)):04x}",
                  json.dumps(value, ensure_ascii=False, indent=indent))


def fail(message: str, code: ExitCode) -> typer.Exit:
    typer.echo(f"error: {one_line(message)}", err=True)
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


def _emit(items: Sequence[Any], format: str, as_table: Callable[[Any], str]) -> None:
    """Print review items as JSON lines or as the core's table text."""
    if format == "jsonl":
        for item in items:
            typer.echo(_json(item.as_dict()))
    else:
        typer.echo(as_table(items))


def _is_tty() -> bool:
    return sys.stderr.isatty()


def _stdout_is_tty() -> bool:
    return sys.stdout.isatty()


class _Inert(io.TextIOBase):
    """Standard output when it is a terminal: data written to it (an export, a raw
    message) has its control characters shown as \\xNN, so a message cannot drive the
    terminal; redirected to a file or a pipe, the data goes out unchanged."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, text: str) -> int:
        self.out.write(printable(text.replace("\r\n", "\n")))
        return len(text)


def _terminal_safe(out: IO[str]) -> IO[str]:
    return cast(IO[str], _Inert(out)) if _stdout_is_tty() else out


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
        typer.echo(f"warning: skipped {one_line(item.path)}: {one_line(item.reason)}",
                   err=True)
    if len(skipped) > 20:
        typer.echo(f"warning: {len(skipped) - 20} more files skipped", err=True)


# --------------------------------------------------------------------------- import
@app.command("import")
def import_command(
    ctx: typer.Context,
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
    from ldn_inbox.flow.pipeline import ingest
    from ldn_inbox.sources.files import iter_paths

    with handled():
        context = _context(ctx)
        settings = context.pipeline_settings()
        skipped: list[Any] = []
        too_big: set[tuple[str, str]] = set()

        def on_stored(_session: Any, batch: list[tuple[Any, Any]]) -> None:
            too_big.update((item.location, item.key) for item, stored in batch
                           if item.store_error and stored.status == "new")  # header only

        found = iter_paths(paths, skipped, max_bytes=context.config["imap.max_message_bytes"])
        with _progress("importing", quiet) as on_item:
            summary = ingest(context.sessions, found, settings, on_item=on_item,
                             on_stored=on_stored)
        summary.skipped = skipped
        _print_skipped(skipped)
        if not quiet:
            typer.echo(summary.line())
        problems = [f"{count} {what}" for count, what in (
            (summary.quarantined, "message(s) quarantined"),
            (len(too_big), "too big (only the header was stored)")) if count]
        if problems:
            raise fail("; ".join(problems) + ": see `ldn-inbox errors`", ExitCode.QUARANTINED)


# --------------------------------------------------------------------------- check / fetch
def _imap_help(key: str) -> str:
    from ldn_inbox.config import SETTING_BY_NAME

    return SETTING_BY_NAME[f"imap.{key}"].help + f" [imap] {key}, $LDN_INBOX_IMAP_{key.upper()}."


# Every [imap] key but the password is also an option of `check` and `fetch`; secrets come
# from the environment, a file, a command or the keyring, never from the command line.
AccountOpt = Annotated[str | None, typer.Option(help=_imap_help("account"), show_default=False)]
HostOpt = Annotated[str | None, typer.Option(help=_imap_help("host"), show_default=False)]
PortOpt = Annotated[int | None, typer.Option(help=_imap_help("port"), show_default=False)]
TlsOpt = Annotated[str | None, typer.Option(help=_imap_help("tls"), show_default=False)]
CaFileOpt = Annotated[str | None, typer.Option(help=_imap_help("ca_file"), show_default=False)]
UsernameOpt = Annotated[str | None, typer.Option(help=_imap_help("username"),
                                                 show_default=False)]
PasswordFileOpt = Annotated[str | None, typer.Option(help=_imap_help("password_file"),
                                                     show_default=False)]
PasswordCommandOpt = Annotated[str | None, typer.Option(help=_imap_help("password_command"),
                                                        show_default=False)]
KeyringOpt = Annotated[bool | None, typer.Option("--keyring/--no-keyring",
                                                 help=_imap_help("keyring"),
                                                 show_default=False)]
AuthOpt = Annotated[str | None, typer.Option(help=_imap_help("auth"), show_default=False)]
TokenCommandOpt = Annotated[str | None, typer.Option(help=_imap_help("token_command"),
                                                     show_default=False)]
FolderOpt = Annotated[str | None, typer.Option(help=_imap_help("folder"), show_default=False)]
AfterOpt = Annotated[str | None, typer.Option(help=_imap_help("after"), show_default=False)]
BatchSizeOpt = Annotated[int | None, typer.Option(help=_imap_help("batch_size"),
                                                  show_default=False)]
MaxMessageBytesOpt = Annotated[int | None, typer.Option(help=_imap_help("max_message_bytes"),
                                                        show_default=False)]
TimeoutOpt = Annotated[float | None, typer.Option(help=_imap_help("timeout"),
                                                  show_default=False)]


def _imap_context(ctx: typer.Context, **options: Any) -> Context:
    """The context with the command line's [imap] options applied over file and env."""
    context = _context(ctx)
    context.config = context.config.with_overrides(
        {f"imap.{key}": value for key, value in options.items() if value is not None})
    return context


def _quick_fetch(ctx: typer.Context, options: dict[str, Any]) -> FetchSummary | None:
    """A fetch with nothing new, without loading the database layer (None: there is
    something to do)."""
    from ldn_inbox.flow.quick import load_config, quick_fetch

    state = _state(ctx)
    cfg = load_config(state.config_path, state.db)
    return quick_fetch(cfg.with_overrides(
        {f"imap.{key}": value for key, value in options.items() if value is not None}))


@contextmanager
def _fetch_progress() -> Iterator[Any]:
    """A progress bar on a terminal; nothing under cron."""
    if not _is_tty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("fetching"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("fetching", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@app.command("check")
def check_command(
    ctx: typer.Context,
    account: AccountOpt = None, host: HostOpt = None, port: PortOpt = None, tls: TlsOpt = None,
    ca_file: CaFileOpt = None, username: UsernameOpt = None,
    password_file: PasswordFileOpt = None, password_command: PasswordCommandOpt = None,
    keyring: KeyringOpt = None, auth: AuthOpt = None, token_command: TokenCommandOpt = None,
    folder: FolderOpt = None, after: AfterOpt = None, batch_size: BatchSizeOpt = None,
    max_message_bytes: MaxMessageBytesOpt = None, timeout: TimeoutOpt = None,
) -> None:
    """Connect to the IMAP server, log in and open the folder; say what is wrong.

    Nothing is fetched and nothing changes, on the server or in the database. Exit 3 for a
    configuration problem, 4 when the server cannot be reached, the certificate is not
    trusted, the login is refused or the folder does not exist.

    Examples:
      export LDN_INBOX_IMAP_PASSWORD=...
      ldn-inbox check --host imap.example.org --username info@example.org
      ldn-inbox --config /etc/ldn-inbox.toml check --folder Enquête
    """
    from ldn_inbox.flow.fetch import check

    with handled():
        context = _imap_context(
            ctx,
            account=account, host=host, port=port, tls=tls, ca_file=ca_file,
            username=username, password_file=password_file,
            password_command=password_command, keyring=keyring, auth=auth,
            token_command=token_command, folder=folder, after=after, batch_size=batch_size,
            max_message_bytes=max_message_bytes, timeout=timeout)
        for line in check(context).lines():
            typer.echo(one_line(line))


@app.command("fetch")
def fetch_command(
    ctx: typer.Context,
    account: AccountOpt = None, host: HostOpt = None, port: PortOpt = None, tls: TlsOpt = None,
    ca_file: CaFileOpt = None, username: UsernameOpt = None,
    password_file: PasswordFileOpt = None, password_command: PasswordCommandOpt = None,
    keyring: KeyringOpt = None, auth: AuthOpt = None, token_command: TokenCommandOpt = None,
    folder: FolderOpt = None, after: AfterOpt = None, batch_size: BatchSizeOpt = None,
    max_message_bytes: MaxMessageBytesOpt = None, timeout: TimeoutOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                       help="Print a one-line summary (`ldn-inbox -v fetch` also logs).")]
    = False,
) -> None:
    """Fetch new messages from the IMAP folder into the raw store and code them.

    Each message is stored exactly once, even when a run is killed or the connection drops;
    the next run picks up where the last one stopped. Silent when not on a terminal (cron)
    unless something failed; --verbose prints a one-line summary. Exit codes: 0 ok, 3
    configuration, 4 server/TLS/login/folder, 5 database, 6 some messages quarantined, too big
    or not delivered by the server, 7 another run holds the lock.

    Examples:
      export LDN_INBOX_IMAP_PASSWORD=...
      ldn-inbox fetch --host imap.example.org --username info@example.org
      ldn-inbox fetch --after move:Verwerkt --verbose
    """
    verbose = verbose or _state(ctx).verbose
    options: dict[str, Any] = {
        "account": account, "host": host, "port": port, "tls": tls, "ca_file": ca_file,
        "username": username, "password_file": password_file,
        "password_command": password_command, "keyring": keyring, "auth": auth,
        "token_command": token_command, "folder": folder, "after": after,
        "batch_size": batch_size, "max_message_bytes": max_message_bytes, "timeout": timeout}
    with handled():
        summary = _quick_fetch(ctx, options)
        if summary is None:  # something to do: the full run
            from ldn_inbox.flow.fetch import fetch

            context = _imap_context(ctx, **options)
            with _fetch_progress() as on_progress:
                summary = fetch(context, progress=on_progress)
        if verbose or summary.problems or _is_tty():
            typer.echo(one_line(summary.line()))
        if summary.problems:
            parts = [f"{count} {what}" for count, what in (
                (summary.quarantined, "quarantined (could not be parsed or coded)"),
                (summary.too_big, "too big (only the header was stored)"),
                (summary.failed, "not delivered by the server (retried by the next run)"),
            ) if count]
            where = ": see `ldn-inbox errors`" if summary.quarantined or summary.too_big else ""
            raise fail("; ".join(parts) + where, ExitCode.QUARANTINED)


# --------------------------------------------------------------------------- export
def _to_stdout(output: Path | None) -> bool:
    """``-o -`` (or no ``-o``) means standard output."""
    return output is None or str(output) == "-"


@contextmanager
def _binary_output(output: Path | None, suffix: str) -> Iterator[Path]:
    """A path for a writer that needs a file name (XLSX, Stata, SPSS): ``output`` itself,
    or for ``-o -`` a private temporary file copied to standard output afterwards."""
    import shutil
    import tempfile

    if not _to_stdout(output):
        assert output is not None
        yield output
        return
    if _stdout_is_tty():
        raise ValidationError(f"a {suffix} file is binary: redirect standard output "
                              f"(-o - > file.{suffix}) or give -o FILE")
    with tempfile.TemporaryDirectory(prefix="ldn-inbox-") as folder:
        path = Path(folder) / f"export.{suffix}"
        yield path
        with path.open("rb") as handle:
            shutil.copyfileobj(handle, sys.stdout.buffer)
        sys.stdout.buffer.flush()


@app.command("export")
def export_command(
    ctx: typer.Context,
    format: Annotated[str, typer.Option(
        "--format", "-f", help="jsonl, csv or xlsx; dta (Stata) or sav (SPSS) with the "
        "stats extra; sqlite: the analyst copy (every view, labels, Datasette metadata); "
        "gold: the reviewed records as a labelled set (--output DIR) for `ldn-inbox eval`.")]
    = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o",
                      help="File to write; - or none: standard output.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only messages of this kind.")] = None,
    reviewed_only: Annotated[bool, typer.Option("--reviewed-only",
                             help="Only records a reviewer accepted.")] = False,
    delimiter: Annotated[str, typer.Option(help="CSV delimiter (';' for Belgian Excel).")]
    = ",",
    view: Annotated[str | None, typer.Option(
        "--view", help="Export an analyst view instead (survey_responses, respondents, "
        "benefits_long, side_effects_long, review_queue, codebook_values); dta and sav "
        "always do, survey_responses by default.", show_default=False)] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="Add what can identify a person, for reviewers and administrators, "
        "not analysts: where each message was found (source: the imported file's name, "
        "which can be the sender's, or the IMAP folder/UID).")] = False,
) -> None:
    """Export one row per message with the codebook's fields (human corrections applied),
    or an analyst view (docs/analysts.md). No address or name is in it; where a message
    was found only with --full. CSV files start with a UTF-8 BOM for Excel.
    `--format sqlite` writes the analyst copy: every view as a table, code labels, and
    FILE's metadata beside it (survey.metadata.json) for `ldn-inbox browse --copy FILE`.

    Examples:
      ldn-inbox export --format jsonl --output out.jsonl
      ldn-inbox export --format csv --delimiter ';' --kind reply -o antwoorden.csv
      ldn-inbox export --view respondents --format xlsx --reviewed-only -o respondents.xlsx
      ldn-inbox export --format sav -o survey.sav
      ldn-inbox export --full --format csv -o review-copy.csv
      ldn-inbox export --format sqlite -o survey.sqlite
      ldn-inbox export --format gold --output our-set/     # then: ldn-inbox eval our-set
    """
    from ldn_inbox.serve import export, views

    with handled():
        if format == "sqlite":
            _export_sqlite(ctx, output, view=view, kind=kind, reviewed_only=reviewed_only)
            return
        if format == "gold":
            _export_gold(ctx, output)
            return
        view = _export_view(format, output, kind=kind, delimiter=delimiter, view=view,
                            full=full)
        if full:
            typer.echo("warning: --full adds " + "; ".join(
                f"{name}: {why}" for name, why in export.FULL_COLUMNS.items())
                + ". Keep this file where the messages are kept.", err=True)
        context = _existing(ctx)
        with context.read_sessions() as session:
            if view is not None:
                columns, rows = views.read_view(session, view, reviewed_only=reviewed_only)
            else:
                columns = list(export.FULL_EXPORT_COLUMNS if full else export.EXPORT_COLUMNS)
                rows = export.iter_rows(session, kind=kind, reviewed_only=reviewed_only)
            if format in ("dta", "sav", "xlsx"):
                with _binary_output(output, format) as path:
                    count = (views.write_stats_file(columns, rows, path, format)
                             if format != "xlsx" else
                             export.write_xlsx(rows, path, columns=columns,
                                               sheet_name=view or "responses"))
            elif _to_stdout(output):
                stdout = _terminal_safe(sys.stdout)
                count = (export.write_jsonl(rows, stdout, columns=columns) if format == "jsonl"
                         else export.write_csv(rows, stdout, delimiter=delimiter,
                                               columns=columns))
            else:
                from ldn_inbox.store.privacy import open_private

                assert output is not None
                with open_private(output, "w", encoding="utf-8", newline="") as handle:
                    count = (export.write_jsonl(rows, handle, columns=columns)
                             if format == "jsonl" else
                             export.write_csv(rows, handle, delimiter=delimiter,
                                              columns=columns))
        if not _to_stdout(output):
            typer.echo(f"{count} rows written to {one_line(str(output))}", err=True)


def _export_view(format: str, output: Path | None, *, kind: str | None, delimiter: str,
                 view: str | None, full: bool) -> str | None:
    """Check the options of a file export; the view to export (None: one row per
    message)."""
    from ldn_inbox.codebook import FIELD_BY_NAME
    from ldn_inbox.serve import views

    if format not in ("jsonl", "csv", "xlsx", "dta", "sav"):
        raise ValidationError("--format must be jsonl, csv, xlsx, dta, sav, sqlite or gold")
    if kind is not None and kind not in FIELD_BY_NAME["kind"].codes:
        raise ValidationError(f"--kind must be one of {', '.join(FIELD_BY_NAME['kind'].codes)}")
    if len(delimiter) != 1:
        raise ValidationError("--delimiter must be one character")
    if format in ("xlsx", "dta", "sav") and output is None:
        raise ValidationError(f"{format} needs --output FILE (-o - for standard output)")
    if format in ("dta", "sav"):
        view = view or "survey_responses"
    if view is not None:
        views.check_view(view)
        if kind is not None:
            raise ValidationError("--kind selects messages; it does not apply to --view")
        if full:
            raise ValidationError("--full adds identifying columns to the per-message "
                                  "export; the analyst views have none (drop --view, and "
                                  "use jsonl, csv or xlsx)")
    return view


def _export_sqlite(ctx: typer.Context, output: Path | None, *, view: str | None,
                   kind: str | None, reviewed_only: bool) -> None:
    from ldn_inbox.serve.analyst_copy import build, metadata_path

    if output is None:
        raise ValidationError("sqlite needs --output FILE")
    if view is not None or kind is not None:
        raise ValidationError("the sqlite copy holds every view; --view and --kind do not "
                              "apply")
    counts = _existing(ctx).read(build, output, reviewed_only=reviewed_only)
    typer.echo(f"{counts['survey_responses']} replies, {counts['respondents']} respondents "
               f"written to {one_line(str(output))} (metadata: "
               f"{one_line(str(metadata_path(output)))})", err=True)


# --------------------------------------------------------------------------- browse
@app.command("browse")
def browse_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on; keep it a loopback one.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    copy: Annotated[Path | None, typer.Option(
        "--copy", help="Serve this analyst copy (from `export --format sqlite`) instead of "
        "building one from the database.", show_default=False)] = None,
    reviewed_only: Annotated[bool, typer.Option("--reviewed-only",
                             help="Only records a reviewer accepted.")] = False,
) -> None:
    """Browse the analyst views in a web browser (Datasette), read-only.

    Builds the analyst copy (as `export --format sqlite`) in a temporary directory and
    serves it on 127.0.0.1 until Ctrl-C; needs the browse extra
    (pip install 'ldn-inbox[browse]'). Counts below 5 are marked: do not publish them.

    Examples:
      ldn-inbox browse                               # then open http://127.0.0.1:8001/
      ldn-inbox browse --port 8002 --reviewed-only
      ldn-inbox browse --copy survey.sqlite          # a copy made on another machine
    """
    from ldn_inbox.flow.browse import browse

    def announce(line: str) -> None:
        typer.echo(one_line(line), err=True)

    with handled():
        browse(None if copy is not None else _existing(ctx), copy=copy, host=host,
               port=port, reviewed_only=reviewed_only, announce=announce)


def _export_gold(ctx: typer.Context, output: Path | None) -> None:
    from ldn_inbox.serve.gold import write_gold

    if output is None:
        raise ValidationError("--format gold needs --output DIR")
    count = _existing(ctx).read(write_gold, output)
    typer.echo(f"{count} reviewed records written to {one_line(str(output))} (eml/ and "
               "gold.jsonl; the messages keep their addresses: share with care)", err=True)


# --------------------------------------------------------------------------- errors
@app.command("errors")
def errors_command(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="table or jsonl.")] = "table",
) -> None:
    """List messages kept raw because they could not be parsed or coded: Message-ID, where
    it was found (the file, or the IMAP account/folder and UID), when, and the error.

    Example:
      ldn-inbox errors --format jsonl
    """
    from ldn_inbox.store.queries import quarantined

    with handled():
        context = _existing(ctx)
        rows = context.read(quarantined)
        if format == "jsonl":
            for row in rows:
                typer.echo(_json(row))
            return
        if not rows:
            typer.echo("no quarantined messages")
            return
        for row in rows:
            typer.echo(one_line(f"{row['message_id']}\t{row['source'] or '-'}\t"
                                f"{row['stored_at']}\t{row['error']}"))


# --------------------------------------------------------------------------- raw
@app.command("raw")
def raw_command(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(
        help="The Message-ID (with or without <>), or a missing-... id.", show_default=False)],
    sha256: Annotated[str | None, typer.Option(
        "--sha256", help="Pick one raw copy by its sha256 (or a unique prefix) when several "
        "are stored for the Message-ID.", show_default=False)] = None,
) -> None:
    """Write a stored message's exact bytes to standard output.

    When several raw copies share the Message-ID (same id, different bytes) the candidates
    are listed on stderr (exit 2): pick one with --sha256. Exit 8 when the message is
    unknown or its bytes were purged.

    Examples:
      ldn-inbox raw '<20240101.1234@example.org>' > message.eml
      ldn-inbox raw 20240101.1234@example.org --sha256 3f5a9c01
    """
    from ldn_inbox.store.queries import AmbiguousRaw, raw_message

    with handled():
        with _existing(ctx).read_sessions() as session:
            try:
                raw = raw_message(session, message_id, sha256)
            except AmbiguousRaw as exc:
                typer.echo(f"error: {one_line(str(exc))}", err=True)
                for copy in exc.candidates:
                    state = "purged" if copy.stored is None else f"{copy.size} bytes"
                    typer.echo(f"  {copy.sha256}  {copy.first_seen_at.isoformat()}  {state}",
                               err=True)
                raise typer.Exit(int(ExitCode.USAGE)) from None
            data = raw.original() or b""
            if raw.store_error:
                typer.echo(f"warning: stored incomplete: {one_line(raw.store_error)}",
                           err=True)
        if _stdout_is_tty():
            typer.echo("warning: standard output is a terminal: control characters are shown "
                       "as \\xNN; redirect it to a file for the exact bytes", err=True)
            _terminal_safe(sys.stdout).write(data.decode("utf-8", "replace"))
            return
        out = sys.stdout.buffer
        out.write(data)
        out.flush()


# --------------------------------------------------------------------------- eval
@app.command("eval")
def eval_command(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="A directory with eml/ and gold.jsonl.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    min_macro: Annotated[float | None, typer.Option(
        "--min-macro", help="Exit 1 when the main macro accuracy is below this.")] = None,
    show_errors: Annotated[bool, typer.Option("--errors", help="List every wrong field.")]
    = False,
    mailings: Annotated[Path | None, typer.Option(
        "--mailings", help="A mailing file, or a directory of them, to add first (else the "
        "mailings are learned from the replies).", show_default=False)] = None,
    overlay: Annotated[Path | None, typer.Option(
        "--overlay", help="Code with the packaged lexicons plus this overlay file (as "
        "`ldn-inbox learn` writes it).", show_default=False)] = None,
    stored: Annotated[bool, typer.Option(
        "--stored", help="Score the records stored in the database (--db), human values "
        "applied, instead of coding the messages afresh.")] = False,
) -> None:
    """Score the coding against a labelled set, in a throw-away database.

    Examples:
      ldn-inbox eval ../shared/survey/dev
      ldn-inbox eval fixtures/emails --json --min-macro 0.9
      ldn-inbox eval fixtures/measure/ma --mailings fixtures/measure/ma/mailings
      ldn-inbox eval ../shared/survey/dev --overlay proposals.toml
      ldn-inbox eval our-set --stored          # a set written by export --format gold
    """
    from ldn_inbox.flow.teach import evaluate_stored, evaluation_overlay
    from ldn_inbox.flow.workflows import evaluate_directory
    from ldn_inbox.serve.evaluate import format_scores

    with handled():
        if stored:
            scores = evaluate_stored(_existing(ctx), directory)
        else:
            evaluation_overlay(overlay)
            scores = evaluate_directory(directory, mailings=mailings)
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


# --------------------------------------------------------------------------- mailings
@mailing_app.command("add")
def mailing_add(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(
        help="The mailing as sent: an .eml file, or its text (.txt).")],
    name: Annotated[str | None, typer.Option(
        "--name", help="A name for it (default: the e-mail's subject or the file name).",
        show_default=False)] = None,
    no_recode: Annotated[bool, typer.Option(
        "--no-recode", help="Do not re-code now; the next import or fetch does it.")] = False,
) -> None:
    """Add a mailing the organisation sent (repeatable: a French version and a reminder
    are mailings too). Its text is never read as a respondent's words, and its questions
    are found by what they ask, whatever their wording, numbering or order. Records that
    it may code otherwise are re-coded; values a reviewer set are kept.

    Examples:
      ldn-inbox mailing add nieuwsbrief-januari.eml
      ldn-inbox mailing add herinnering.txt --name "Herinnering februari"
    """
    from ldn_inbox.flow.workflows import add_mailing
    from ldn_inbox.review import default_reviewer
    from ldn_inbox.store import mailing_store

    with handled():
        result = add_mailing(_context(ctx), path, name=name,
                             added_by=default_reviewer(None), recode=not no_recode)
        record = result.added.record
        verb = "added" if result.added.created else "already known:"
        typer.echo(f"{verb} {mailing_store.describe(record)}")
        if result.added.replaced:
            typer.echo(f"set aside learned mailing {', '.join(result.added.replaced)} "
                       "(the same text)")
        if not record.questions:
            typer.echo("warning: no survey question was found in this mailing", err=True)
        if result.recoded.recoded:
            typer.echo(f"re-coded {result.recoded.recoded} record(s); values set by a "
                       "reviewer are kept")


@mailing_app.command("list")
def mailing_list(
    ctx: typer.Context,
    all_statuses: Annotated[bool, typer.Option(
        "--all", help="Also the mailings set aside (removed, replaced).")] = False,
    full: Annotated[bool, typer.Option("--text", help="Print each mailing's text.")] = False,
) -> None:
    """The mailings known: added ones, and those learned from the replies' quotes (with
    how many senders quote them and which records), with the questions found in each.

    Examples:
      ldn-inbox mailing list
      ldn-inbox mailing list --all --text
    """
    from ldn_inbox.flow.workflows import list_mailings
    from ldn_inbox.store import mailing_store

    with handled():
        records = list_mailings(_existing(ctx), all_statuses=all_statuses)
        if not records:
            typer.echo("no mailings known yet: add one with `ldn-inbox mailing add FILE`, or "
                       "import replies (a mailing quoted by 3 senders is learned)")
            return
        typer.echo("\n\n".join(mailing_store.describe(r, full=full) for r in records))


@mailing_app.command("remove")
def mailing_remove(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument(help="The mailing's number (#3) or key.")],
) -> None:
    """Set a mailing aside (a learned one is not learned again) and re-code the records
    that quoted it.

    Example:
      ldn-inbox mailing remove 3
    """
    from ldn_inbox.flow.workflows import remove_mailing

    with handled():
        record, summary = remove_mailing(_existing(ctx), ident)
        typer.echo(f"removed mailing #{record.id} {record.name}; re-coded {summary.recoded} "
                   "record(s)")


# --------------------------------------------------------------------------- demo
@app.command("demo")
def demo_command(ctx: typer.Context) -> None:
    """Import the bundled sample mailbox (fictional replies) and print a summary.

    Uses the configured database (default ./ldn-inbox.sqlite).

    Example:
      ldn-inbox demo
    """
    from ldn_inbox.flow.workflows import run_demo

    with handled():
        typer.echo(run_demo(_context(ctx)))


# --------------------------------------------------------------------------- db / config
@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context,
               revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
               ) -> None:
    """Bring the database schema to the newest (or the given) revision.

    Example:
      ldn-inbox --db postgresql+psycopg://ldn@localhost/ldn db upgrade
    """
    from ldn_inbox.store.db import current_revision, make_engine, upgrade

    with handled():
        engine = make_engine(_context(ctx).db_url)
        upgrade(engine, revision)
        typer.echo(f"database at revision {current_revision(engine)}")


@db_app.command("vacuum")
def db_vacuum(ctx: typer.Context) -> None:
    """Rewrite the database without free space and clear SQLite's write-ahead log, so that
    what `forget` and `purge` removed leaves the files (PostgreSQL: VACUUM FULL of the tables
    that hold messages). Other runs wait meanwhile.

    Example:
      ldn-inbox db vacuum
    """
    with handled():
        if _clear_old_copies(_existing(ctx), vacuum=True):
            typer.echo("database vacuumed")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the database's schema revision and the newest one.

    Example:
      ldn-inbox db current
    """
    from ldn_inbox.errors import MissingDatabaseError
    from ldn_inbox.store.db import current_revision, head_revision, make_engine

    with handled():
        context = _context(ctx)
        try:
            engine = make_engine(context.db_url, create=False)
        except MissingDatabaseError as exc:
            raise context.explained(exc) from None
        current = current_revision(engine)
        head = head_revision()
        state = "up to date" if current == head else "run `ldn-inbox db upgrade`"
        typer.echo(f"current: {current or 'empty database'}\nhead: {head}\n{state}")


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print the effective configuration, secrets masked, with where each value came from.
    The output is a valid config file (a masked secret is commented out).

    Example:
      LDN_INBOX_IMAP_HOST=imap.example.org ldn-inbox config show
    """
    from ldn_inbox.config import MASK

    with handled():
        cfg = _context(ctx).config
        typer.echo(f"# config file: {cfg.path or 'none'}")
        for section, values in cfg.redacted().items():
            if section:
                typer.echo(f"\n[{section}]")
            for key, value in values.items():
                name = f"{section}.{key}" if section else key
                # a masked secret (or a URL with its password masked) is commented out, so
                # that the output loads back as a config file
                hide = "# " if value == MASK or value != cfg[name] else ""
                typer.echo(f"{hide}{key} = {_json(value)}  # {cfg.origins[name]}")


# --------------------------------------------------------------------------- review
# No help= here: it would hide the callback's docstring and its examples from `review --help`.
review_app = typer.Typer(invoke_without_command=True)
app.add_typer(review_app, name="review")

ReviewerOption = Annotated[str | None, typer.Option(
    "--reviewer", help="Who makes the change (else $LDN_INBOX_REVIEWER, else the OS user).",
    show_default=False)]


@review_app.callback()
def review_main(
    ctx: typer.Context,
    reviewer: Annotated[str | None, typer.Option(
        "--reviewer", help="Who reviews in the screen (else $LDN_INBOX_REVIEWER, else the OS "
        "user); subcommands take their own --reviewer.", show_default=False)] = None,
    lang: Annotated[str | None, typer.Option(
        "--lang", help="Labels of fields and values in nl or en (else Dutch when the "
        "locale, $LANG, is Dutch).", show_default=False)] = None,
) -> None:
    """Open the review screen over the queue (keys: ? in the screen), or run a subcommand.

    Examples:
      ldn-inbox review                                   # the review screen
      ldn-inbox review --lang nl                         # with Dutch labels
      ldn-inbox review list --needs-review
      ldn-inbox review set 'CAPV...@mail.gmail.com' prescriber specialist
    """
    if ctx.invoked_subcommand is not None:
        return
    from ldn_inbox.review import default_language, default_reviewer
    from ldn_inbox.review.tui import run_review

    with handled():
        if lang not in (None, "nl", "en"):
            raise ValidationError("--lang must be nl or en")
        context = _existing(ctx)
        context.engine  # noqa: B018  (a missing database is said before anything else)
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise ValidationError("the review screen needs a terminal; in scripts use "
                                  "`ldn-inbox review list`, `show`, `set` and `accept`")
        run_review(context.sessions, default_reviewer(reviewer), context.db_url,
                   database=context.db_label(), lang=lang or default_language(),
                   read_sessions=context.read_sessions)


@review_app.command("list")
def review_list(
    ctx: typer.Context,
    needs_review: Annotated[bool, typer.Option(
        "--needs-review", help="Only records the coder flagged for checking.")] = False,
    field: Annotated[str | None, typer.Option(
        "--field", help="Only records where this field is flagged or in conflict.",
        show_default=False)] = None,
    conflicts: Annotated[bool, typer.Option(
        "--conflicts", help="Only records where a re-coding disagrees with a human value.")]
    = False,
    all_records: Annotated[bool, typer.Option(
        "--all", help="Include accepted records.")] = False,
    format: Annotated[str, typer.Option("--format", help="table or jsonl.")] = "table",
) -> None:
    """List the review queue: conflicts first, then flagged records (lowest confidence
    first), then the other records nobody accepted yet.

    Examples:
      ldn-inbox review list --needs-review --field prescriber
      ldn-inbox review list --conflicts --format jsonl
    """
    from ldn_inbox import review

    with handled():
        if format not in ("table", "jsonl"):
            raise ValidationError("--format must be table or jsonl")
        items = _existing(ctx).read(review.queue, needs_review=needs_review, field_name=field,
                                    conflicts=conflicts, include_reviewed=all_records)
        _emit(items, format, review.format_queue)


@review_app.command("show")
def review_show(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help="Message-ID (or its unique beginning).")],
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Show a message: own text, quoted text, evidence, the sender's other messages and
    every field (effective value, the coder's value, the human value).

    Example:
      ldn-inbox review show 'CAPV...@mail.gmail.com'
    """
    from ldn_inbox import review

    with handled():
        if format not in ("text", "json"):
            raise ValidationError("--format must be text or json")
        view = _existing(ctx).read(review.show, message_id)
        if format == "json":
            typer.echo(_json(view.as_dict(), indent=2))
        else:
            typer.echo(review.format_view(view))


@review_app.command("set")
def review_set(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help="Message-ID (or its unique beginning).")],
    field: Annotated[str, typer.Argument(help="A codebook field, e.g. prescriber.")],
    value: Annotated[str, typer.Argument(
        help="A codebook value; lists as a,b,c or [] for none; null where allowed.")],
    note: Annotated[str | None, typer.Option("--note", help="Why (kept in the history).",
                                             show_default=False)] = None,
    reviewer: ReviewerOption = None,
) -> None:
    """Correct one field. Fields that depend on it follow (e.g. kind auto_reply empties
    the answers); a value the codebook does not allow is refused with the allowed ones.

    Examples:
      ldn-inbox review set 'CAPV...@mail.gmail.com' prescriber specialist
      ldn-inbox review set 'CAPV...@mail.gmail.com' benefits pain,sleep --note "see PS"
      ldn-inbox review set 'CAPV...@mail.gmail.com' side_effect_codes []
    """
    from ldn_inbox import review

    with handled():
        name = review.default_reviewer(reviewer)
        outcome = _existing(ctx).write(review.set_field, message_id, field, value,
                                       reviewer=name, note=note)
        if not outcome.changes:
            typer.echo(f"{field} already {value}: nothing changed")
        for change in outcome.changes:
            typer.echo(f"{change.field}: {review.format_value(change.old)} -> "
                       f"{review.format_value(change.new)}"
                       + (f" (follows {field})" if change.follows else ""))
        for warning in outcome.warnings:
            typer.echo(f"warning: {one_line(warning)}", err=True)


@review_app.command("accept")
def review_accept(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help="Message-ID (or its unique beginning).")],
    note: Annotated[str | None, typer.Option("--note", help="A remark for the history.",
                                             show_default=False)] = None,
    reviewer: ReviewerOption = None,
) -> None:
    """Mark a record reviewed: its values are confirmed and survive any re-coding.

    Example:
      ldn-inbox review accept 'CAPV...@mail.gmail.com' --reviewer anne
    """
    from ldn_inbox import review

    with handled():
        name = review.default_reviewer(reviewer)
        outcome = _existing(ctx).write(review.accept, message_id, reviewer=name, note=note)
        typer.echo(one_line(f"accepted {outcome.message_id} (by {name})"))
        if outcome.detail:
            typer.echo(printable(outcome.detail))


@review_app.command("undo")
def review_undo(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help="Message-ID (or its unique beginning).")],
    reviewer: ReviewerOption = None,
) -> None:
    """Undo your last change (set or accept) on a message; run again to go further back.

    Example:
      ldn-inbox review undo 'CAPV...@mail.gmail.com'
    """
    from ldn_inbox import review

    with handled():
        name = review.default_reviewer(reviewer)
        outcome = _existing(ctx).write(review.undo, message_id, reviewer=name)
        for change in outcome.changes:
            typer.echo(f"{change.field}: {review.format_value(change.old)} -> "
                       f"{review.format_value(change.new)} (undone)")
        if outcome.detail:
            typer.echo(printable(outcome.detail))


@review_app.command("note")
def review_note(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help="Message-ID (or its unique beginning).")],
    text: Annotated[str, typer.Argument(help="The note.")],
    field: Annotated[str | None, typer.Option("--field", help="The field it is about.",
                                              show_default=False)] = None,
    reviewer: ReviewerOption = None,
) -> None:
    """Add a note to a message (shown by `review show` and in the history).

    Example:
      ldn-inbox review note 'CAPV...@mail.gmail.com' "asks for a call back" --field kind
    """
    from ldn_inbox import review

    with handled():
        name = review.default_reviewer(reviewer)
        _existing(ctx).write(review.add_note, message_id, text, reviewer=name,
                             field_name=field)
        typer.echo("note added")


@review_app.command("history")
def review_history(
    ctx: typer.Context,
    message_id: Annotated[str | None, typer.Argument(
        help="Message-ID (or its unique beginning); all messages when left out.",
        show_default=False)] = None,
    format: Annotated[str, typer.Option("--format", help="table or jsonl.")] = "table",
) -> None:
    """Show who changed what and when (UTC): corrections, undos, acceptances, notes,
    re-codings.

    Examples:
      ldn-inbox review history
      ldn-inbox review history 'CAPV...@mail.gmail.com' --format jsonl
    """
    from ldn_inbox import review

    with handled():
        if format not in ("table", "jsonl"):
            raise ValidationError("--format must be table or jsonl")
        entries = _existing(ctx).read(review.history, message_id)
        _emit(entries, format, review.format_history)


@app.command("reparse")
def reparse_command(
    ctx: typer.Context,
    message_ids: Annotated[list[str] | None, typer.Argument(
        help="Message-IDs to re-code.", show_default=False)] = None,
    all_messages: Annotated[bool, typer.Option("--all", help="Re-code every message.")]
    = False,
    since: Annotated[str | None, typer.Option(
        "--since", help="Re-code messages received on or after this date (YYYY-MM-DD).",
        show_default=False)] = None,
    reviewer: ReviewerOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
) -> None:
    """Re-code stored messages with the current extractor. Human values are never
    overwritten: where the new coding disagrees with one, the record is listed by
    `ldn-inbox review list --conflicts`.

    Examples:
      ldn-inbox reparse --all
      ldn-inbox reparse --since 2024-03-01
      ldn-inbox reparse 'CAPV...@mail.gmail.com'
    """
    from datetime import UTC, datetime

    from ldn_inbox import review
    from ldn_inbox.flow.reparse import reparse_messages

    with handled():
        since_at: datetime | None = None
        if since is not None:
            try:
                since_at = datetime.fromisoformat(since)
            except ValueError:
                raise ValidationError(f"--since {since!r} is not a date like 2024-03-01") \
                    from None
            if since_at.tzinfo is None:
                since_at = since_at.replace(tzinfo=UTC)
        summary = reparse_messages(_existing(ctx), all_messages=all_messages, since=since_at,
                                   idents=message_ids or (),
                                   reviewer=review.default_reviewer(reviewer))
        for message_id, error in summary.failed[:20]:
            typer.echo(f"warning: {one_line(message_id)}: {one_line(error)}", err=True)
        if not quiet:
            typer.echo(summary.line())
        if summary.failed:
            raise fail(f"{len(summary.failed)} message(s) could not be re-coded; their old "
                       "coding is kept", ExitCode.BUG)


# --------------------------------------------------------------------------- learn
@app.command("learn")
def learn_command(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the proposed overlay (TOML) here (default: standard "
        "output).", show_default=False)] = None,
    dev: Annotated[list[Path] | None, typer.Option(
        "--dev", help="A labelled set (eml/ + gold.jsonl) to measure each proposal on; "
        "repeatable.", show_default=False)] = None,
    min_respondents: Annotated[int, typer.Option(
        "--min-respondents", help="Different respondents a proposal needs (2 or more).")]
    = 2,
    apply: Annotated[Path | None, typer.Option(
        "--apply", help="Install this checked overlay file and re-code what it may change.",
        show_default=False)] = None,
    list_: Annotated[bool, typer.Option("--list", help="The overlays applied and removed.")]
    = False,
    remove: Annotated[str | None, typer.Option(
        "--remove", help="Set the overlay with this number aside and re-code.",
        show_default=False)] = None,
    reviewer: ReviewerOption = None,
) -> None:
    """Learn lexicon entries from the reviewers' corrections: each proposal is an
    expression that at least two respondents used where a person set the same value, with
    its effect measured on messages it was not learned from. Check the file, then apply it
    (docs/review.md).

    Examples:
      ldn-inbox learn --output proposals.toml --dev ../shared/survey/dev
      ldn-inbox eval ../shared/survey/dev --overlay proposals.toml
      ldn-inbox learn --apply proposals.toml
      ldn-inbox learn --list
      ldn-inbox learn --remove 2
    """
    from ldn_inbox import review
    from ldn_inbox.flow import teach

    with handled():
        if sum((apply is not None, list_, remove is not None)) > 1:
            raise ValidationError("give one of --apply, --list and --remove")
        if min_respondents < 2:
            raise ValidationError("--min-respondents must be 2 or more")
        context = _context(ctx)
        who = review.default_reviewer(reviewer)
        if list_:
            found = teach.list_overlays(context)
            typer.echo("\n".join(teach.describe(o) for o in found) if found
                       else "no overlay applied yet")
            return
        if apply is not None or remove is not None:
            if apply is not None:
                overlay, summary = teach.apply_overlay(context, apply, applied_by=who)
                done = f"applied overlay #{overlay.id} ({len(overlay.entries)} entries)"
            else:
                overlay, summary = teach.remove_overlay(context, str(remove), removed_by=who)
                done = f"removed overlay #{overlay.id}"
            typer.echo(f"{done}; re-coded {summary.recoded} record(s); values set by a "
                       "reviewer are kept")
            return
        run = teach.learn_from_reviews(
            context, dev_sets=dev or (), min_respondents=min_respondents,
            progress=(lambda text: typer.echo(text, err=True)) if _state(ctx).verbose else None)
        if not dev:
            typer.echo("warning: no --dev set: proposals are measured on the reviewed "
                       "records only", err=True)
        if output is None:
            _terminal_safe(sys.stdout).write(run.text)
        else:
            from ldn_inbox.store.privacy import open_private

            with open_private(output, "w", encoding="utf-8") as handle:
                handle.write(run.text)
        learned = run.learned
        typer.echo(f"{len(learned.proposals)} proposal(s) from {learned.corrected} corrected "
                   f"of {learned.reviewed} reviewed records", err=True)


# --------------------------------------------------------------------------- analysts
@app.command("codebook")
def codebook_command(
    format: Annotated[str, typer.Option("--format", "-f", help="md, csv or json.")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o",
                      help="File to write; - or none: standard output.")] = None,
    delimiter: Annotated[str, typer.Option(help="CSV delimiter (';' for Belgian Excel).")]
    = ",",
) -> None:
    """Write the data dictionary: each field with its Dutch and English label, type,
    allowed values with their labels, and coding rule.

    Examples:
      ldn-inbox codebook > codebook.md
      ldn-inbox codebook --format csv --delimiter ';' -o codebook.csv
    """
    from ldn_inbox.serve import datadict
    with handled():
        if len(delimiter) != 1:
            raise ValidationError("--delimiter must be one character")
        text = datadict.render(format, delimiter=delimiter)
        if _to_stdout(output):
            sys.stdout.write(text)
        else:
            assert output is not None
            output.write_text(text, encoding="utf-8", newline="")
            typer.echo(f"data dictionary written to {one_line(str(output))}", err=True)


UnitOption = Annotated[str, typer.Option(
    "--unit", help="Count respondents (their replies combined) or single replies.")]
LangOption = Annotated[str, typer.Option("--lang", help="Labels in en, nl or fr.")]
RecordsOption = Annotated[str, typer.Option(
    "--records", help="Which records count: all (every coded one), reviewed (reviewed "
    "only) or unflagged (reviewed plus those the coding did not flag).")]


@app.command("stats")
def stats_command(ctx: typer.Context, unit: UnitOption = "respondents",
                  lang: LangOption = "en", records: RecordsOption = "all") -> None:
    """Print the report's numbers as text tables: counts per question, language,
    prescriber, benefits, side effects, dose, review progress and date range.

    Examples:
      ldn-inbox stats
      ldn-inbox stats --unit replies --lang nl
      ldn-inbox stats --records reviewed
    """
    from ldn_inbox.serve.gold import correction_rates, format_rates
    from ldn_inbox.serve.report import stats_text

    with handled():
        with _existing(ctx).read_sessions() as session:
            typer.echo(stats_text(session, unit=unit, lang=lang, records=records), nl=False)
            rates = format_rates(correction_rates(session))
            if rates:
                typer.echo("\n" + rates, nl=False)


@app.command("report")
def report_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o",
                                         help="HTML file to write; - for standard output.")]
    = Path("report.html"),
    unit: UnitOption = "respondents",
    lang: LangOption = "en",
    records: RecordsOption = "all",
    charts: Annotated[Path | None, typer.Option(
        "--charts", help="Also write every chart to this folder as SVG and PNG, one "
        "magazine column wide (PNG needs Chromium).", show_default=False)] = None,
) -> None:
    """Write one self-contained HTML page (inline SVG charts, no scripts, nothing loaded
    from the network): shares with 95% intervals, the cross-tables for an article with a
    sentence each, the coding's reliability per field, every answer; counts under 5
    hidden. Prints cleanly to PDF from a browser.

    Examples:
      ldn-inbox report --output report.html
      ldn-inbox report --lang nl --records reviewed -o verslag.html
      ldn-inbox report --lang fr --charts grafieken/ -o rapport.html
    """
    from datetime import UTC, datetime

    from ldn_inbox.serve.report import make_report, write_charts
    from ldn_inbox.store.privacy import open_private

    with handled():
        generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        report = _existing(ctx).read(make_report, unit=unit, lang=lang, records=records,
                                     generated=generated)
        if _to_stdout(output):
            sys.stdout.write(report.page)
        else:
            with open_private(output, "w", encoding="utf-8") as handle:
                handle.write(report.page)
            typer.echo(f"report written to {one_line(str(output))}", err=True)
        if charts is not None:
            written = write_charts(report.charts, charts)
            typer.echo(f"{len(written)} chart files written to {one_line(str(charts))}",
                       err=True)


# --------------------------------------------------------------------------- privacy
VacuumOption = Annotated[bool, typer.Option(
    "--vacuum", help="Also rewrite the database without free space (SQLite VACUUM, "
    "PostgreSQL VACUUM FULL): takes a while and locks out other runs meanwhile.")]


def _clear_old_copies(ctx: Context, vacuum: bool) -> bool:
    """After an erasure: old copies of the data out of the database files; False (and the
    reason on stderr) when some may remain."""
    from ldn_inbox.store.db import clear_old_copies

    warnings = clear_old_copies(ctx.engine, vacuum=vacuum)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    return not warnings


@app.command("forget")
def forget_command(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(
        help="The respondent's e-mail address; '-' reads it from standard input.",
        show_default=False)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
    = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go.")]
    = False,
    vacuum: VacuumOption = False,
    reviewer: ReviewerOption = None,
) -> None:
    """Erase everything held about one respondent (right to erasure): raw messages,
    messages, codings, corrections, contact, ledger links; audit rows are kept but blanked.
    Hashes of the erased messages are kept so a later import does not add them again.
    Prints counts only. Deleted content is overwritten in a SQLite file and its write-ahead
    log is cleared; --vacuum also rewrites the database (PostgreSQL: VACUUM FULL).

    Examples:
      ldn-inbox forget --dry-run jan.peeters@example.org
      echo jan.peeters@example.org | ldn-inbox forget --yes -
    """
    from ldn_inbox.review import default_reviewer
    from ldn_inbox.store.erasure import forget
    with handled():
        if address == "-":
            address = sys.stdin.readline().strip()
            if not yes and not dry_run:
                raise ValidationError("with '-' (address on standard input) pass --yes")
        name = default_reviewer(reviewer)
        context = _existing(ctx)
        key: bytes | None = None
        try:
            key = context.pseudonym_key()
        except ConfigError as exc:
            typer.echo(f"warning: {one_line(str(exc))}; erasing by the stored address only",
                       err=True)
        counts = context.rehearse(forget, address, key, by=name, dry_run=True)
        if not dry_run and not yes:
            typer.echo("\n".join(counts.lines()))
            typer.confirm("erase all of this?", abort=True, err=True)
        if not dry_run:
            counts = context.write(forget, address, key, by=name)
        typer.echo("would erase (dry run):" if dry_run else "erased:")
        typer.echo("\n".join(f"  {line}" for line in counts.lines()))
        if not dry_run:
            _clear_old_copies(context, vacuum)


@app.command("purge")
def purge_command(
    ctx: typer.Context,
    raw_older_than: Annotated[str, typer.Option(
        "--raw-older-than", help="Age of the stored copy, e.g. 90d or 12w.",
        show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go.")]
    = False,
    vacuum: VacuumOption = False,
    reviewer: ReviewerOption = None,
) -> None:
    """Drop the raw bytes and the quoted text of coded messages stored longer ago than the
    given age; the coded record, the own text and its evidence stay. Messages that could
    not be coded keep their bytes.

    Examples:
      ldn-inbox purge --raw-older-than 90d --dry-run
      ldn-inbox purge --raw-older-than 90d
    """
    from ldn_inbox.review import default_reviewer
    from ldn_inbox.store.erasure import parse_age, purge

    with handled():
        age = parse_age(raw_older_than)
        name = default_reviewer(reviewer)
        context = _existing(ctx)
        run = context.rehearse if dry_run else context.write
        counts = run(purge, age, by=name, dry_run=dry_run)
        typer.echo("would purge (dry run):" if dry_run else "purged:")
        typer.echo("\n".join(f"  {line}" for line in counts.lines()))
        if not dry_run:
            _clear_old_copies(context, vacuum)


def _examples_verbatim(group: typer.Typer) -> None:
    """Keep each docstring's "Examples:" block as written in --help: click rewraps a
    paragraph (running the examples into one line) unless it starts with a \\b line."""
    callbacks = [info.callback for info in group.registered_commands]
    if group.registered_callback is not None:
        callbacks.append(group.registered_callback.callback)
    for callback in callbacks:
        if callback is not None and callback.__doc__ and "\b" not in callback.__doc__:
            callback.__doc__ = re.sub(r"\n([ \t]*)(Examples?:)", "\n\\1\b\n\\1\\2",
                                      callback.__doc__, count=1)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _examples_verbatim(sub.typer_instance)


_examples_verbatim(app)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
