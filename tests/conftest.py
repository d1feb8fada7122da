"""Shared fixtures: databases (SQLite files and a real PostgreSQL), real servers, paths.

Every test that takes ``db_url`` runs twice: on a fresh SQLite file and on a fresh database
of a private PostgreSQL server started for the session. Without PostgreSQL installed the
second run is skipped with the reason, except under CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from click.testing import Result
from servers import DovecotServer, PostgresServer, dovecot_available, postgres_available
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI must run this: .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    reason = postgres_available()
    if reason is not None:
        _unavailable(f"PostgreSQL not available: {reason}")
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    reason = dovecot_available()
    if reason is not None:
        _unavailable(f"Dovecot not available: {reason}")
    with DovecotServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = "t_" + uuid.uuid4().hex[:12]
    url = server.create_database(name)
    yield url
    server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated environment: no user config, a private pseudonym key and data dir."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in list(os.environ):
        if name.startswith("LDN_INBOX_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LDN_INBOX_PRIVACY_KEY_FILE", str(tmp_path / "pseudonym.key"))
    from ldn_inbox import config  # the machine's shared config is not the test's

    monkeypatch.setattr(config, "SYSTEM_CONFIG", tmp_path / "etc" / "config.toml")
    return home


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run_cli(runner: CliRunner, args: Sequence[str], *, db: str | None = None,
            code: int | None = 0, env: Mapping[str, str] | None = None,
            input: str | None = None) -> Result:
    """The one way tests run ``ldn-inbox [--db DB] ARGS`` in-process: the exit code is
    checked unless ``code`` is None, with what the command printed when it differs. The
    database a command opened is closed by the command itself when it ends."""
    from ldn_inbox.cli import app

    argv = [*(["--db", db] if db is not None else []), *args]
    result = runner.invoke(app, argv, env=dict(env) if env is not None else None,
                           input=input)
    if code is not None:
        assert result.exit_code == code, (
            f"{list(args)}: exit {result.exit_code}, expected {code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}\n{result.exception!r}")
    return result


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared from the project root (survey dev set, real-world corpus)."""
    if not SHARED.is_dir():
        pytest.skip(
            f"{SHARED} is absent: the shared survey/corpus data is only on the "
            "developers' and CI machines"
        )
    return SHARED


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-known-errors", action="store_true", default=False,
                     help="rewrite fixtures/emails/KNOWN_ERRORS.json from this run")
    parser.addoption("--accept-regression", action="append", default=[],
                     metavar="NAME:FIELD",
                     help="with --update-known-errors: record this field of this golden "
                          "file as wrong although it was right before (repeat per field)")
