"""Start-up: a run loads only what its command uses.

The nightly ``ldn-inbox fetch`` with nothing new is mostly interpreter start-up and imports,
so ``--help`` and a no-op fetch must not load the extractor, the review screen, the
spreadsheet readers or the migrations. What a process imported is read from
``python -X importtime`` (a property of the run, not a timing).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from servers import DovecotServer
from test_imap import ALICE_PW, fill, imap_options, message, new_folder

#: Modules a no-op run never needs: coding, review, browse, spreadsheets, documents.
HEAVY = ("ldn_inbox.extract", "ldn_inbox.parse.mime", "ldn_inbox.parse.reply",
         "ldn_inbox.parse.mailing_learn", "ldn_inbox.review", "ldn_inbox.serve", "textual",
         "rapidfuzz", "mailparser", "mailparser_reply", "openpyxl", "lxml", "inscriptis",
         "pypdf", "docx", "odf", "py3langid", "datasette", "pandas", "rich", "pydantic")


def imported(args: list[str], env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """The modules ``python -m ldn_inbox ARGS`` imported, and its stdout."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-P", "-m", "ldn_inbox", *args],
                          capture_output=True, text=True, timeout=120,
                          env=env if env is not None else dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    assert "ldn_inbox.cli" in modules, done.stderr[-3000:]
    return modules, done.stdout


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The modules of ``names`` (packages with their submodules) that were imported."""
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_cli_import_loads_no_database_layer() -> None:
    """Importing the command line (every command's start) loads neither SQLAlchemy nor the
    flow layer: ``--help`` is start-up only."""
    code = ("import sys, ldn_inbox.cli; print('\\n'.join(sys.modules))")
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    modules = set(done.stdout.split())
    assert "ldn_inbox.cli" in modules
    assert loaded(modules, ("sqlalchemy", "alembic", "ldn_inbox.flow", "ldn_inbox.store",
                            "imapclient", *HEAVY)) == []


def test_help_loads_nothing_heavy() -> None:
    modules, out = imported(["--help"])
    assert "fetch" in out
    assert loaded(modules, ("sqlalchemy", "alembic", *HEAVY)) == []


@pytest.mark.imap
def test_noop_fetch_loads_nothing_heavy(dovecot: DovecotServer, tmp_path: Path) -> None:
    """The first fetch codes (and so loads the extractor and the migrations); the second,
    with nothing new, loads neither."""
    folder = new_folder(dovecot, "Startup")
    fill(dovecot, folder, [message(n, "startup") for n in range(1, 4)])
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("LDN_INBOX_", "XDG_"))}
    env.update(HOME=str(home), LDN_INBOX_IMAP_PASSWORD=ALICE_PW,
               LDN_INBOX_PRIVACY_KEY_FILE=str(tmp_path / "pseudonym.key"))
    args = ["--db", f"sqlite:///{tmp_path / 'startup.sqlite'}", "fetch", "--verbose",
            *imap_options(dovecot, folder)]

    first, out = imported(args, env)
    assert "3 new" in out
    # the probe sees what a coding run loads
    assert "ldn_inbox.extract" in first
    assert "alembic" in first

    second, out = imported(args, env)
    assert "0 fetched" in out
    assert loaded(second, ("alembic", "multiprocessing", "concurrent.futures.process",
                           *HEAVY)) == []
