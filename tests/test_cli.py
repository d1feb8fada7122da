"""The command line: every command documented and helpful, `--version`, one exit code per
kind of failure (each provoked for real), errors on stderr, secrets masked, env over file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from conftest import run_cli
from servers import free_port
from typer.testing import CliRunner

from ldn_inbox import __version__
from ldn_inbox.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")
FIXTURE = sorted((ROOT / "fixtures" / "emails").glob("*.eml"))[0]
CONSOLE_SCRIPT = Path(sys.executable).with_name("ldn-inbox")


def invoke(runner: CliRunner, *args: str, code: int = 0, env: dict[str, str] | None = None,
           ) -> Any:
    return run_cli(runner, args, code=code, env=env)


def assert_error_line(result: Any, *words: str) -> str:
    """The failure is reported once on stderr as ``error: ...`` naming ``words`` (a driver's
    message may continue on the next lines); stdout is empty, no traceback."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in result.stderr, f"{word!r} not in {result.stderr!r}"
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return str(result.stderr[result.stderr.index("error: "):])


# --------------------------------------------------------------------------- commands, help
def command_paths() -> Iterator[tuple[str, Any]]:
    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield " ".join((*path, name)), sub
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


COMMANDS = dict(command_paths())


def documented_commands(readme: str) -> set[str]:
    """Command paths named in the first column of the README's Commands table.

    ``ldn-inbox db upgrade`` / ``db current`` give ``db``, ``db upgrade`` and ``db current``;
    words after the first option or argument (``--format``, ``PATH...``) are not commands.
    """
    section = readme.split("\n## Commands", 1)[1].split("\n## ", 1)[0]
    found: set[str] = set()
    for line in section.splitlines():
        cells = re.split(r"(?<!\\)\|", line)
        if len(cells) < 3 or "`" not in cells[1]:
            continue
        for span in re.findall(r"`([^`]+)`", cells[1]):
            words = span.replace("\\|", "|").split()
            if words and words[0] == "ldn-inbox":
                words = words[1:]
            path: list[str] = []
            for word in words:
                if not re.fullmatch(r"[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)*", word):
                    break
                path.append(word)
            prefixes: list[str] = [""]
            for word in path:
                prefixes = [f"{p} {alt}".strip() for p in prefixes for alt in word.split("|")]
                found.update(prefixes)
    return found


DOCUMENTED = documented_commands(README)


def test_readme_commands_table_is_parsed() -> None:
    assert {"import", "export", "eval", "errors", "demo", "db", "db upgrade", "db current",
            "config", "config show"} <= DOCUMENTED
    assert not DOCUMENTED - set(COMMANDS), "README names commands that do not exist"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_is_in_the_readme(path: str) -> None:
    assert path in DOCUMENTED, f"`ldn-inbox {path}` is missing from README.md's Commands table"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_has_help(runner: CliRunner, path: str) -> None:
    command = COMMANDS[path]
    assert (command.help or "").strip(), f"{path} has no help text"
    result = invoke(runner, *path.split(), "--help")
    assert "Usage:" in result.stdout
    if not hasattr(command, "commands") or getattr(command, "invoke_without_command", False):
        assert "Example" in result.stdout, f"`{path} --help` shows no example"
        shown = [line.strip() for line in result.stdout.splitlines()]
        for example in documented_examples(command.callback.__doc__ or ""):
            assert example in shown, f"`{path} --help` does not show {example!r} on its own line"
    for param in command.params:
        if param.param_type_name == "option" and not param.hidden:
            assert (param.help or "").strip(), f"{path} {param.opts[0]} has no help"


def test_top_level_help_lists_every_command(runner: CliRunner) -> None:
    out = invoke(runner, "--help").stdout
    for path in COMMANDS:
        if " " not in path:
            assert re.search(rf"^\s+{re.escape(path)}\b", out, re.MULTILINE), path


def documented_examples(docstring: str) -> list[str]:
    """The example lines under "Example:" / "Examples:" in a command's docstring."""
    lines = docstring.splitlines()
    for index, line in enumerate(lines):
        if line.strip() in ("Example:", "Examples:"):
            block = []
            for follow in lines[index + 1:]:
                if not follow.strip():
                    break
                block.append(follow.strip())
            return block
    return []


# --------------------------------------------------------------------------- version
def test_version(runner: CliRunner) -> None:
    assert invoke(runner, "--version").stdout == f"ldn-inbox {__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)


def test_python_m_ldn_inbox_from_the_project_root() -> None:
    """`python -m ldn_inbox` works, also from a clone's root (where alembic/ lives)."""
    done = subprocess.run([sys.executable, "-m", "ldn_inbox", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f"ldn-inbox {__version__}\n"), done.stderr


# --------------------------------------------------------------------------- exit codes
def test_exit_0_import(env: Path, runner: CliRunner, db_url: str) -> None:
    result = invoke(runner, "--db", db_url, "import", str(FIXTURE))
    assert result.stdout.startswith("1 seen: 1 new")
    assert result.stderr == ""


@pytest.mark.parametrize(("args", "words"), [
    pytest.param(["import", "--bogus", "x.eml"], ["No such option", "--bogus"], id="option"),
    pytest.param(["--frobnicate", "errors"], ["No such option"], id="global-option"),
    pytest.param(["import"], ["Missing argument"], id="missing-argument"),
    pytest.param(["no-such-command"], ["No such command"], id="command"),
    pytest.param(["export", "--format", "xml"], ["error: --format must be jsonl, csv"],
                 id="bad-format"),
    pytest.param(["export", "--kind", "spam"], ["error: --kind must be one of reply"],
                 id="bad-kind"),
])
def test_exit_2_usage(env: Path, runner: CliRunner, sqlite_url: str, args: list[str],
                      words: list[str]) -> None:
    result = invoke(runner, "--db", sqlite_url, *args, code=2)
    for word in words:
        assert word in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("config", "env_vars", "words"), [
    pytest.param('colour = "blue"\n', {}, ["unknown key 'colour'", "imap.host"],
                 id="unknown-key"),
    pytest.param('[imap]\nhostname = "x"\n', {}, ["unknown key 'imap.hostname'"],
                 id="unknown-section-key"),
    pytest.param('[imap]\ntls = "maybe"\n', {},
                 ["imap.tls", "'maybe'", "implicit, starttls, none"], id="bad-choice"),
    pytest.param('[imap]\nport = "imaps"\n', {}, ["imap.port", "a whole number"],
                 id="bad-type"),
    pytest.param("[imap\n", {}, ["not valid TOML"], id="not-toml"),
    pytest.param("", {"LDN_INBOX_IMAP_PORT": "abc"},
                 ["$LDN_INBOX_IMAP_PORT", "imap.port", "a whole number"], id="bad-env"),
])
def test_exit_3_config(env: Path, runner: CliRunner, tmp_path: Path, config: str,
                       env_vars: dict[str, str], words: list[str]) -> None:
    path = tmp_path / "ldn-inbox.toml"
    path.write_text(config, encoding="utf-8")
    result = invoke(runner, "--config", str(path), "config", "show", code=3, env=env_vars)
    assert_error_line(result, *words)


def test_exit_3_missing_config_file(env: Path, runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = invoke(runner, "errors", code=3, env={"LDN_INBOX_CONFIG": str(missing)})
    assert_error_line(result, str(missing), "does not exist")


def test_exit_4_missing_path(env: Path, runner: CliRunner, sqlite_url: str,
                             tmp_path: Path) -> None:
    missing = tmp_path / "geen-mail"
    result = invoke(runner, "--db", sqlite_url, "import", str(missing), code=4)
    assert_error_line(result, str(missing), "does not exist")


@pytest.mark.parametrize("url", [
    pytest.param("sqlite:////nonexistent-dir/sub/ldn.sqlite", id="sqlite-missing-directory"),
    pytest.param("postgresql+psycopg://ldn:pw@127.0.0.1:{port}/ldn", id="postgres-closed-port"),
])
def test_exit_5_database(env: Path, runner: CliRunner, url: str) -> None:
    url = url.format(port=free_port())
    result = invoke(runner, "--db", url, "errors", code=5)
    line = assert_error_line(result)
    assert ":pw@" not in line, "the password is printed"


def test_exit_6_quarantined(env: Path, runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    mail.mkdir()
    shutil.copyfile(FIXTURE, mail / "ok.eml")
    (mail / "kapot.eml").write_bytes(b"\x00\x01\x02 not mail \xff" * 50)
    result = invoke(runner, "--db", db_url, "import", str(mail), code=6)
    assert result.stderr.strip().splitlines()[-1] == (
        "error: 1 message(s) quarantined: see `ldn-inbox errors`")
    assert result.stdout.startswith("2 seen: 2 new")
    assert "missing-" in invoke(runner, "--db", db_url, "errors").stdout


def test_console_script_exit_code(env: Path, tmp_path: Path) -> None:
    """The installed entry point (not only the in-process runner) exits with the code."""
    missing = tmp_path / "missing"
    done = subprocess.run([str(CONSOLE_SCRIPT), "--db", f"sqlite:///{tmp_path}/t.sqlite",
                           "import", str(missing)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (4, ""), done.stderr
    assert done.stderr == f"error: {missing} does not exist\n"


# --------------------------------------------------------------------------- config show
def test_config_show_masks_passwords(env: Path, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[imap]\nusername = "info@example.org"\npassword = "file-secret"\n',
                    encoding="utf-8")
    out = invoke(runner, "--config", str(path), "config", "show").stdout
    assert "file-secret" not in out
    assert 'password = "********"' in out
    out = invoke(runner, "config", "show", env={
        "LDN_INBOX_IMAP_PASSWORD": "secret",
        "LDN_INBOX_DB": "postgresql+psycopg://ldn:hunter2@db.example.org/ldn"}).stdout
    assert "secret" not in out
    assert "hunter2" not in out
    assert 'password = "********"  # environment' in out
    assert 'db = "postgresql+psycopg://ldn:***@db.example.org/ldn"  # environment' in out


def test_env_wins_over_file_and_option_over_env(env: Path, runner: CliRunner,
                                                tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('db = "sqlite:///from-file.sqlite"\n[imap]\nhost = "file.example.org"\n'
                    'folder = "Enquete"\n', encoding="utf-8")
    out = invoke(runner, "--db", "sqlite:///from-option.sqlite", "--config", str(path),
                 "config", "show",
                 env={"LDN_INBOX_IMAP_HOST": "env.example.org",
                      "LDN_INBOX_DB": "sqlite:///from-env.sqlite"}).stdout
    assert f"# config file: {path}" in out
    assert 'host = "env.example.org"  # environment' in out
    assert "file.example.org" not in out
    assert f'folder = "Enquete"  # {path}' in out
    assert 'db = "sqlite:///from-option.sqlite"  # command line' in out


def test_config_from_env_variable_path(env: Path, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "elders.toml"
    path.write_text('[imap]\nhost = "via-env-path.example.org"\n', encoding="utf-8")
    out = invoke(runner, "config", "show", env={"LDN_INBOX_CONFIG": str(path)}).stdout
    assert 'host = "via-env-path.example.org"' in out


def test_control_characters_never_reach_the_terminal(env: Path, runner: CliRunner,
                                                     sqlite_url: str, tmp_path: Path) -> None:
    # An escape sequence that would clear the screen and retitle the window, in the subject
    # and the body of a reply, and a NUL.
    hostile = tmp_path / "escape.eml"
    hostile.write_bytes(
        b"From: A <a@example.org>\r\nSubject: Re: LDN \x1b]0;owned\x07\r\n"
        b"Message-ID: <escape@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"1. Ja, ik gebruik LDN \x1b[2J\x1b[31msinds 2021\x00.\r\n2. De huisarts.\r\n")
    invoke(runner, "--db", sqlite_url, "import", str(hostile))
    shown = invoke(runner, "--db", sqlite_url, "review", "show", "escape@example.org").stdout
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert "\\x1b[2J" in shown, "the characters are shown, not dropped"
    assert "sinds 2021" in shown
