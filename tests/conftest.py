"""Shared fixtures: databases (SQLite files and a real PostgreSQL), real servers, paths.

Every test that takes ``db_url`` runs twice: on a fresh SQLite file and on a fresh database
of a private PostgreSQL server started for the session. Without PostgreSQL installed the
second run is skipped with the reason, except under CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
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
