"""What a volunteer, an analyst and a cron admin meet on the command line: a missing
database is an error (never a new empty one), one shared configuration and database, a
pseudonym key that cannot change silently, bad database URLs explained.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_cli import FIXTURE, assert_error_line, invoke
from typer.testing import CliRunner

from ldn_inbox import config
from ldn_inbox.store.db import open_database
from ldn_inbox.store.privacy import FINGERPRINT_FACT, key_fingerprint

FIXTURES = FIXTURE.parent


def imported(runner: CliRunner, url: str, count: int = 3) -> None:
    """``count`` golden messages imported into ``url``."""
    for path in sorted(FIXTURES.glob("*.eml"))[:count]:
        invoke(runner, "--db", url, "import", "-q", str(path))


def scalar(url: str, sql: str) -> Any:
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- missing database
#: Commands that only read or change stored records, with the arguments they need.
READERS = [
    pytest.param(["review"], id="review-screen"),
    pytest.param(["review", "list"], id="review-list"),
    pytest.param(["review", "show", "x@example.org"], id="review-show"),
    pytest.param(["review", "accept", "x@example.org"], id="review-accept"),
    pytest.param(["stats"], id="stats"),
    pytest.param(["export", "--format", "csv"], id="export"),
    pytest.param(["report", "-o", "{tmp}/report.html"], id="report"),
    pytest.param(["forget", "--dry-run", "jan@example.org"], id="forget"),
    pytest.param(["purge", "--raw-older-than", "90d", "--dry-run"], id="purge"),
    pytest.param(["errors"], id="errors"),
    pytest.param(["reparse", "--all"], id="reparse"),
    pytest.param(["db", "current"], id="db-current"),
    pytest.param(["raw", "x@example.org"], id="raw"),
    pytest.param(["mailing", "list"], id="mailing-list"),
]


@pytest.mark.parametrize("args", READERS)
def test_a_reading_command_never_creates_a_database(env: Path, runner: CliRunner,
                                                    tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "typo" / ".." / "ldn-inbox.sqlit"
    args = [arg.format(tmp=tmp_path) for arg in args]
    result = invoke(runner, "--db", f"sqlite:///{missing}", *args, code=5)
    line = assert_error_line(result, str(missing.resolve()), "--db", "`ldn-inbox import`")
    assert "no database at" in line
    assert not missing.exists(), "a database file was created"
    assert not list(tmp_path.glob("*.sqlit*"))


def test_the_default_database_is_named_with_where_it_came_from(
        env: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Started from another folder with no configuration: the message says which file was
    looked for and that it is the default in the current folder."""
    elsewhere = tmp_path / "elders"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke(runner, "stats", code=5)
    assert_error_line(result, str(elsewhere / "ldn-inbox.sqlite"),
                      "the default, in the current folder", "config file's db")
    assert list(elsewhere.iterdir()) == []


def test_an_empty_database_is_not_filled_by_a_reading_command(env: Path, runner: CliRunner,
                                                              db_url: str) -> None:
    """A PostgreSQL database that exists but holds nothing of ldn-inbox (or a SQLite file
    left empty) is refused the same way, and stays empty."""
    if db_url.startswith("sqlite"):
        Path(db_url.removeprefix("sqlite:///")).touch()
    result = invoke(runner, "--db", db_url, "export", code=5)
    assert_error_line(result, "no ldn-inbox data", "--db")
    engine = sa.create_engine(db_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_commands_that_fill_the_database_still_create_it(env: Path, runner: CliRunner,
                                                         tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    invoke(runner, "--db", url, "import", "-q", str(FIXTURE))
    assert invoke(runner, "--db", url, "stats").stdout.strip()
    assert (tmp_path / "new.sqlite").is_file()


def test_volunteer_and_cron_share_the_machine_config(
        env: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`db` set once in the shared config (relative to it): a run in one folder and the
    review listing in another open the same database, and the key sits beside the config."""
    etc = tmp_path / "etc"
    etc.mkdir()
    shared = etc / "config.toml"
    shared.write_text('db = "sqlite:///data/ldn.sqlite"\n', encoding="utf-8")
    (etc / "data").mkdir()
    monkeypatch.setattr(config, "SYSTEM_CONFIG", shared)
    monkeypatch.delenv("LDN_INBOX_PRIVACY_KEY_FILE")
    for folder in ("cron", "volunteer"):
        (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / "cron")
    invoke(runner, "import", "-q", str(FIXTURE))
    monkeypatch.chdir(tmp_path / "volunteer")
    listing = invoke(runner, "review", "list", "--all", "--format", "jsonl").stdout
    assert len(listing.splitlines()) == 1
    assert (etc / "data" / "ldn.sqlite").is_file()
    assert list((tmp_path / "volunteer").iterdir()) == []
    shown = invoke(runner, "config", "show").stdout
    assert f"# config file: {shared}" in shown
    assert f'db = "sqlite:///{etc}/data/ldn.sqlite"' in shown
    key = etc / "ldn-inbox.key"
    assert key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_users_own_config_wins_over_the_machine_config(
        env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared.toml"
    shared.write_text('db = "sqlite:////srv/ldn.sqlite"\n', encoding="utf-8")
    monkeypatch.setattr(config, "SYSTEM_CONFIG", shared)
    assert config.load().path == shared
    own = env / ".config" / "ldn-inbox" / "config.toml"
    own.parent.mkdir(parents=True)
    own.write_text("", encoding="utf-8")
    assert config.load().path == own
    assert config.load().values["db"] == "sqlite:///ldn-inbox.sqlite"


def test_review_screen_shows_the_database(env: Path, tmp_path: Path) -> None:
    import asyncio

    from ldn_inbox.review.tui import Position, ReviewApp
    from ldn_inbox.store.db import session_factory

    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    imported(CliRunner(), url, 1)
    engine = open_database(url)
    shown: list[str] = []

    async def play() -> None:
        app = ReviewApp(session_factory(engine), "anne", Position(),
                        database="~/verein/ldn.sqlite")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            shown.append(str(app.review_screen.query_one("#title").render()))

    try:
        asyncio.run(play())
    finally:
        engine.dispose()
    assert "~/verein/ldn.sqlite" in shown[0]
    assert "1 to review" in shown[0]


# --------------------------------------------------------------------------- pseudonym key
def respondent_ids(url: str) -> list[str]:
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(
                "SELECT respondent_id FROM messages ORDER BY id")).scalars())
    finally:
        engine.dispose()


def test_the_database_records_the_keys_fingerprint(env: Path, runner: CliRunner,
                                                   db_url: str, tmp_path: Path) -> None:
    imported(runner, db_url, 1)
    key = bytes.fromhex((tmp_path / "pseudonym.key").read_text().strip())
    recorded = scalar(db_url, f"SELECT value FROM database_facts WHERE name = "
                              f"'{FINGERPRINT_FACT}'")
    assert recorded == key_fingerprint(key)
    assert key.hex() not in str(recorded)
    assert stat.S_IMODE((tmp_path / "pseudonym.key").stat().st_mode) == 0o600


@pytest.mark.parametrize("command", [
    pytest.param(["reparse", "--all", "-q"], id="reparse"),
    pytest.param(["import", "-q", "{fixture}"], id="import"),
])
def test_another_key_is_refused(env: Path, runner: CliRunner, tmp_path: Path,
                                command: list[str]) -> None:
    """Run as another OS user (another key file): refused with exit 3, nothing changes,
    and no new key is made."""
    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    imported(runner, url)
    before = respondent_ids(url)
    args = [arg.format(fixture=sorted(FIXTURES.glob("*.eml"))[5]) for arg in command]
    other = tmp_path / "other-user" / "ldn-inbox.key"
    result = invoke(runner, "--db", url, *args, code=3,
                    env={"LDN_INBOX_PRIVACY_KEY_FILE": str(other)})
    assert_error_line(result, str(other), "does not exist", "fingerprint", "respondent_id")
    assert not other.exists(), "a new key was made"
    other.parent.mkdir()
    other.write_text("ab" * 32 + "\n")
    result = invoke(runner, "--db", url, *args, code=3,
                    env={"LDN_INBOX_PRIVACY_KEY_FILE": str(other)})
    assert_error_line(result, str(other), "another key", "respondent_id")
    assert respondent_ids(url) == before
    invoke(runner, "--db", url, *args)  # the right key still works


def test_forget_is_not_held_up_by_a_key_problem(env: Path, runner: CliRunner,
                                                tmp_path: Path) -> None:
    """Erasure goes by the stored address when the key is missing or another one; it says
    so, and makes no key."""
    url = f"sqlite:///{tmp_path / 'f.sqlite'}"
    imported(runner, url)
    address = scalar(url, "SELECT address FROM contacts ORDER BY address LIMIT 1")
    other = tmp_path / "missing.key"
    result = invoke(runner, "--db", url, "forget", "--yes", address,
                    env={"LDN_INBOX_PRIVACY_KEY_FILE": str(other)})
    assert "erasing by the stored address only" in result.stderr
    assert "erased:" in result.stdout
    assert not other.exists()
    assert scalar(url, f"SELECT COUNT(*) FROM contacts WHERE address = '{address}'") == 0


def test_a_database_from_before_fingerprints_checks_the_key_on_its_contacts(
        env: Path, runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    imported(runner, url)
    engine = open_database(url)
    with engine.begin() as conn:  # as a database migrated from 0005 is
        conn.execute(sa.text("DELETE FROM database_facts"))
    engine.dispose()
    other = tmp_path / "other.key"
    other.write_text("cd" * 32 + "\n")
    result = invoke(runner, "--db", url, "reparse", "--all", "-q", code=3,
                    env={"LDN_INBOX_PRIVACY_KEY_FILE": str(other)})
    assert_error_line(result, str(other), "does not give the respondent ids")
    assert scalar(url, "SELECT COUNT(*) FROM database_facts") == 0
    invoke(runner, "--db", url, "reparse", "--all", "-q")
    key = bytes.fromhex((tmp_path / "pseudonym.key").read_text().strip())
    assert scalar(url, "SELECT value FROM database_facts") == key_fingerprint(key)


def test_a_copied_database_keeps_its_key(env: Path, runner: CliRunner, tmp_path: Path) -> None:
    """A fresh database gets whatever key is configured; the copy of a used one does not."""
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    imported(runner, url, 1)
    shutil.copyfile(tmp_path / "a.sqlite", tmp_path / "b.sqlite")
    fresh = tmp_path / "fresh.key"
    invoke(runner, "--db", f"sqlite:///{tmp_path / 'c.sqlite'}", "import", "-q",
           str(FIXTURE), env={"LDN_INBOX_PRIVACY_KEY_FILE": str(fresh)})
    assert fresh.is_file()
    invoke(runner, "--db", f"sqlite:///{tmp_path / 'b.sqlite'}", "reparse", "--all", "-q",
           code=3, env={"LDN_INBOX_PRIVACY_KEY_FILE": str(fresh)})


# --------------------------------------------------------------------------- database URLs
@pytest.mark.parametrize("url", [
    pytest.param("not a url", id="not-a-url"),
    pytest.param("sqlit:///x.sqlite", id="typo"),
    pytest.param("postgres://ldn:pw@127.0.0.1/ldn", id="postgres-scheme"),
    pytest.param("mysql://ldn:pw@127.0.0.1/ldn", id="mysql"),
    pytest.param("postgresql+psycopg2://ldn:pw@127.0.0.1/ldn", id="other-driver"),
])
def test_a_bad_database_url_is_a_config_error(env: Path, runner: CliRunner, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              url: str) -> None:
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    result = invoke(runner, "--db", url, "errors", code=3)
    line = assert_error_line(result, "sqlite:///", "postgresql+psycopg://")
    assert line.count("\n") == 1, "one line"
    assert ":pw@" not in line, "the password is printed"
    assert "[postgres]" not in line
    assert list(folder.iterdir()) == []


def test_plain_postgresql_url_uses_the_installed_driver() -> None:
    from ldn_inbox.store.db import parse_url

    assert parse_url("postgresql://u@h/d").drivername == "postgresql+psycopg"
    assert parse_url("sqlite:///x.sqlite").drivername == "sqlite"


# --------------------------------------------------------------------------- exports
IDENTIFYING = ("source",)


@pytest.fixture
def named_file_db(env: Path, runner: CliRunner, tmp_path: Path) -> tuple[str, str]:
    """A database holding a message imported from a file named after its sender."""
    named = tmp_path / "mail" / "Jan Peeters jan.peeters@example.org.eml"
    named.parent.mkdir()
    shutil.copyfile(FIXTURE, named)
    url = f"sqlite:///{tmp_path / 'e.sqlite'}"
    invoke(runner, "--db", url, "import", "-q", str(named.parent))
    address = scalar(url, "SELECT address FROM contacts")
    return url, address


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "xlsx"])
def test_the_default_export_identifies_nobody(named_file_db: tuple[str, str],
                                              runner: CliRunner, tmp_path: Path,
                                              fmt: str) -> None:
    import pandas as pd

    url, address = named_file_db
    path = tmp_path / f"out.{fmt}"
    result = invoke(runner, "--db", url, "export", "-f", fmt, "-o", str(path))
    assert "warning" not in result.stderr
    frame = (pd.read_json(path, lines=True) if fmt == "jsonl" else
             pd.read_csv(path, encoding="utf-8-sig") if fmt == "csv" else pd.read_excel(path))
    assert len(frame) == 1
    assert not set(IDENTIFYING) & set(frame.columns), list(frame.columns)
    text = frame.to_csv()
    for secret in ("Peeters", "jan.peeters", address, address.split("@")[0]):
        assert secret not in text, f"{secret!r} in the {fmt} export"
    for name in ("reviewed", "needs_review"):
        assert frame[name].dtype == bool, f"{fmt} {name}: {frame[name].dtype}"


def test_full_export_says_what_it_adds(named_file_db: tuple[str, str], runner: CliRunner,
                                       tmp_path: Path) -> None:
    import pandas as pd

    url, _ = named_file_db
    path = tmp_path / "full.xlsx"
    result = invoke(runner, "--db", url, "export", "--full", "-f", "xlsx", "-o", str(path))
    warning = result.stderr.splitlines()[0]
    assert warning.startswith("warning: --full adds ")
    for name in IDENTIFYING:
        assert f"{name}:" in warning
    assert "file's name" in warning
    frame = pd.read_excel(path)
    assert set(IDENTIFYING) <= set(frame.columns)
    assert "jan.peeters@example.org.eml" in frame["source"][0]
    assert frame["reviewed"].dtype == bool
    result = invoke(runner, "--db", url, "export", "--full", "--view", "respondents",
                    code=2)
    assert_error_line(result, "--full", "views")


@pytest.mark.parametrize("args", [
    pytest.param(["export", "-f", "csv"], id="csv"),
    pytest.param(["export", "-f", "jsonl"], id="jsonl"),
    pytest.param(["export", "-f", "xlsx"], id="xlsx"),
    pytest.param(["export", "-f", "sav"], id="sav"),
    pytest.param(["report", "--lang", "nl"], id="report"),
    pytest.param(["codebook", "-f", "csv"], id="codebook"),
])
def test_dash_output_is_standard_output(named_file_db: tuple[str, str], runner: CliRunner,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        args: list[str]) -> None:
    url, _ = named_file_db
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    data = invoke(runner, "--db", url, *args, "-o", "-").stdout_bytes
    assert not (folder / "-").exists(), "a file named - was written"
    assert list(folder.iterdir()) == []
    starts = {"csv": b"\xef\xbb\xbf", "jsonl": b"{", "xlsx": b"PK\x03\x04",
              "report": b"<!DOCTYPE html>", "codebook": b"\xef\xbb\xbf"}
    fmt = args[-1] if args[0] != "report" else "report"
    if fmt == "sav":
        import pyreadstat

        out = tmp_path / "x.sav"
        out.write_bytes(data)
        frame, _meta = pyreadstat.read_sav(str(out))
        assert len(frame) == 1
    else:
        assert data.startswith(starts[fmt]), data[:40]


# --------------------------------------------------------------------------- config, logs, errors
def test_config_show_loads_back(env: Path, runner: CliRunner, tmp_path: Path) -> None:
    """What `config show` prints is a config file giving the same values (a secret, shown
    masked, is commented out rather than loaded as "********")."""
    path = tmp_path / "c.toml"
    path.write_text('db = "sqlite:////srv/ldn/ldn.sqlite"\n[imap]\nhost = "imap.example.org"\n'
                    'folder = "Enquête \\"2024\\""\npassword = "file-secret"\nport = 993\n'
                    '[run]\nmessage_timeout = 30.5\n', encoding="utf-8")
    path.chmod(0o600)
    shown = invoke(runner, "--config", str(path), "config", "show",
                   env={"LDN_INBOX_IMAP_KEYRING": "true"}).stdout
    assert "[general]" not in shown
    assert "file-secret" not in shown
    again = tmp_path / "again.toml"
    again.write_text(shown, encoding="utf-8")
    original = config.load(path, env={**os.environ, "LDN_INBOX_IMAP_KEYRING": "true"})
    reloaded = config.load(again, env={})
    for name, value in original.values.items():
        if name == "imap.password":
            assert reloaded[name] == "", "the masked secret was loaded"
        else:
            assert reloaded[name] == value, name
    assert reloaded["imap.folder"] == 'Enquête "2024"'
    assert reloaded["imap.keyring"] is True


def test_a_url_with_a_password_is_commented_out(env: Path, runner: CliRunner,
                                                tmp_path: Path) -> None:
    shown = invoke(runner, "config", "show", env={
        "LDN_INBOX_DB": "postgresql+psycopg://ldn:hunter2@db.example.org/ldn"}).stdout
    assert '# db = "postgresql+psycopg://ldn:***@db.example.org/ldn"  # environment' in shown
    assert "hunter2" not in shown
    again = tmp_path / "again.toml"
    again.write_text(shown, encoding="utf-8")
    assert config.load(again, env={})["db"] == "sqlite:///ldn-inbox.sqlite"


def test_errors_names_the_file(env: Path, runner: CliRunner, tmp_path: Path) -> None:
    import json

    mail = tmp_path / "mail"
    mail.mkdir()
    broken = mail / "kapot.eml"
    broken.write_bytes(b"\x00\x01\x02 not mail \xff" * 50)
    url = f"sqlite:///{tmp_path / 'q.sqlite'}"
    invoke(runner, "--db", url, "import", "-q", str(mail), code=6)
    table = invoke(runner, "--db", url, "errors").stdout
    assert f"file:{broken}" in table
    row = json.loads(invoke(runner, "--db", url, "errors", "--format", "jsonl").stdout)
    assert row["source"] == f"file:{broken}"
