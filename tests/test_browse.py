"""The analyst copy (`export --format sqlite`) and `ldn-inbox browse` (Datasette).

A real `ldn-inbox browse` process serves the bundled sample mailbox on a free loopback port;
its pages and JSON API are read with httpx and one page is rendered by a real headless
Chromium. The copy is walked cell by cell for the identities a seeded database holds, and
made from SQLite and PostgreSQL alike.

``LDN_INBOX_SCREENSHOTS=1`` also writes the screenshot of docs/analysts.md (docs/browse.png).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from analyst_data import KEY, ROOT, identities, import_files, leak_finder, loaded_url
from conftest import run_cli
from servers import free_port
from sqlalchemy.orm import Session

from ldn_inbox.codebook import FIELD_BY_NAME
from ldn_inbox.flow.pipeline import Settings, ingest
from ldn_inbox.flow.workflows import sample_mailbox
from ldn_inbox.serve.analyst_copy import FACETS, SMALL_COUNT, label_table, metadata_path
from ldn_inbox.serve.views import VIEW_NAMES, documented_queries
from ldn_inbox.sources.base import RawItem
from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import Message, RawSource

DOCS = ROOT / "docs"
WRITE_DOCS = os.environ.get("LDN_INBOX_SCREENSHOTS") == "1"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def invoke(runner: Any, url: str, *args: str) -> Any:
    return run_cli(runner, args, db=url, code=None)


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(_plain(v) for v in row) for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) or type(value).__name__ == "Decimal":
        return round(float(value), 6)
    return value


def _table(path: Path, table: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
    finally:
        conn.close()
    return [tuple(_plain(v) for v in row) for row in rows]


# --------------------------------------------------------------------------- the server
@pytest.fixture(scope="module")
def sample_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The bundled sample mailbox, imported and coded by the extractor."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sample') / 'sample.sqlite'}"
    import_files(url, [sample_mailbox()], code=False)
    return url


class Browse:
    """A running `ldn-inbox browse` process."""

    def __init__(self, url: str, base: str, tmp: Path) -> None:
        self.db_url = url
        self.base = base
        self.tmp = tmp

    def get(self, path: str, **params: Any) -> httpx.Response:
        response = httpx.get(self.base + path, params=params, timeout=30)
        response.raise_for_status()
        return response


@pytest.fixture(scope="module")
def server(sample_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browse]:
    """`ldn-inbox browse` on a free 127.0.0.1 port; always stopped, and checked to leave
    nothing behind in its temporary directory."""
    home = tmp_path_factory.mktemp("browse-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_INBOX_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".data"), TMPDIR=str(home))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ldn_inbox", "--db", sample_url, "browse", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"browse exited with {process.returncode}: "
                            f"{process.stderr.read() if process.stderr else ''}")
            try:
                if httpx.get(base + "/-/versions.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("browse did not answer within 90 s")
            time.sleep(0.3)
        assert list(home.glob("ldn-inbox-browse-*/ldn_survey.sqlite"))
        yield Browse(sample_url, base, home)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert f"http://127.0.0.1:{port}/" in err
        assert not list(home.glob("ldn-inbox-browse-*")), "the temporary copy was left"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_tables_have_codebook_labels_and_descriptions(server: Browse) -> None:
    meta = server.get("/-/metadata.json").json()
    tables = meta["databases"]["ldn_survey"]["tables"]
    ldn_use = FIELD_BY_NAME["ldn_use"]
    assert ldn_use.label_nl in tables["survey_responses"]["columns"]["ldn_use"]
    assert ldn_use.rule in tables["survey_responses"]["columns"]["ldn_use"]
    page = server.get("/ldn_survey/survey_responses").text
    assert ldn_use.label_nl in page  # the column's description on the table page
    # Every code of a survey field has its lookup row with both labels.
    for field in ("ldn_use", "prescriber", "prescriber_specialty", "experience",
                  "side_effects", "benefits", "side_effect_codes"):
        rows = server.get(f"/ldn_survey/{label_table(field)}.json",
                          _shape="array").json()
        assert [(r["code"], r["label_nl"], r["label_en"]) for r in rows] == \
            [tuple(v) for v in FIELD_BY_NAME[field].values]
    # And the API shows the label beside each code.
    rows = server.get("/ldn_survey/survey_responses.json", _labels="on", _shape="array",
                      _size="max").json()
    labels = {code: f"{en} / {nl}" for code, nl, en in ldn_use.values}
    assert rows
    assert all(r["ldn_use"]["label"] == labels[r["ldn_use"]["value"]] for r in rows)
    assert {"license", "source"} <= set(meta)


def test_facets_match_the_data_and_small_counts_are_marked(server: Browse) -> None:
    data = server.get("/ldn_survey/survey_responses.json").json()
    assert list(data["facet_results"]) == FACETS["survey_responses"]
    for column in ("ldn_use", "prescriber", "side_effects"):
        facet = {r["value"]: r["count"] for r in data["facet_results"][column]["results"]}
        expected = dict(_query(server.db_url, f"SELECT {column}, COUNT(*) FROM "
                               f"survey_responses WHERE {column} IS NOT NULL GROUP BY 1"))
        assert facet == expected
    small = sum(1 for facet in data["facet_results"].values() for r in facet["results"]
                if r["count"] < SMALL_COUNT)
    assert small > 0, "the sample data should have small counts to mark"
    page = server.get("/ldn_survey/survey_responses").text
    assert page.count('class="small-count"') == small
    shown = re.findall(r'<div class="facet-info [^"]*" id="[^"]*" data-column="(\w+)"', page)
    assert shown == FACETS["survey_responses"]  # in the order an analyst needs them


def test_canned_queries_are_the_documented_ones(server: Browse) -> None:
    listed = server.get("/ldn_survey.json").json()["queries"]
    queries = documented_queries()
    assert [q["name"] for q in listed] == [q["name"] for q in queries]
    assert [q["title"] for q in listed] == [q["title"] for q in queries]
    for query in queries:
        rows = server.get(f"/ldn_survey/{query['name']}.json", _shape="arrays").json()["rows"]
        assert [tuple(_plain(v) for v in row) for row in rows] == \
            _query(server.db_url, query["sql"]), query["name"]
    page = server.get("/ldn_survey/specialists").text
    counts = [row[1] for row in _query(server.db_url, "SELECT prescriber_specialty, COUNT(*) "
                                       "FROM respondents WHERE prescriber = 'specialist' "
                                       "GROUP BY 1")]
    assert page.count('class="small-count"') == sum(1 for c in counts if c < SMALL_COUNT)


def test_the_copy_is_read_only(server: Browse) -> None:
    databases = server.get("/-/databases.json").json()
    assert [(d["name"], d["is_mutable"]) for d in databases] == [("ldn_survey", False)]
    response = httpx.get(server.base + "/ldn_survey.json",
                         params={"sql": "DELETE FROM respondents"}, timeout=30)
    assert response.status_code == 400
    assert server.get("/ldn_survey/respondents.json").json()["filtered_table_rows_count"] > 0


def test_the_server_listens_on_loopback_only(server: Browse) -> None:
    port = int(server.base.rsplit(":", 1)[1])
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    listening = [line.split()[1] for table in tables if table.exists()
                 for line in table.read_text().splitlines()[1:]
                 if line.split()[3] == "0A" and int(line.split()[1].rsplit(":", 1)[1], 16) == port]
    assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1, nothing else


def test_chromium_renders_the_browse_page(server: Browse, tmp_path: Path) -> None:
    """A real headless Chromium: the page's script folds the column descriptions, the facets
    show labels and marked small counts; a screenshot is taken."""
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("chromium is missing (.ci/system-deps.sh installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    url = server.base + "/ldn_survey/survey_responses?_size=20"
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert re.search(r"<details><summary>What each column holds \(\d+\)</summary>"
                     r"<dl class=\"column-descriptions\">", dom)
    assert "current user / gebruikt het nu" in dom
    assert 'class="small-count"' in dom
    target = (DOCS if WRITE_DOCS else tmp_path) / "browse.png"
    subprocess.run([*common, "--window-size=1280,1000", f"--screenshot={target}", url],
                   capture_output=True, timeout=120, check=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size > 20_000


# --------------------------------------------------------------------------- the copy
def _mail(sender: str, name: str, message_id: str, body: str, day: int) -> bytes:
    return (
        f"From: {name} <{sender}>\r\nTo: info@fibrores.org\r\n"
        f"Subject: Re: enquete naltrexone ({name})\r\n"
        f"Date: Tue, {day:02d} Mar 2024 09:00:00 +0100\r\n"
        f"Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


SEEDED = [
    ("jan.peeters52@example.org", "Jan Peeters", "jan-peeters-1@mail.example.org",
     "1. ja\n2. de huisarts\n3. ja, minder pijn en beter slapen\n4. neen\n\n"
     "Met vriendelijke groeten,\nJan Peeters\nKerkstraat 12, 9000 Gent\nGSM 0476 11 22 33",
     "/home/vera/mail/Antwoord van Jan Peeters.eml"),
    ("els.maes@example.be", "Els Maes", "CAF=els.maes.xyz@mail.gmail.com",
     "1. Ja, sinds een jaar.\n2. De reumatoloog.\n3. Minder moe.\n4. Levendige dromen.\n\n"
     "Els Maes - tel. +32 9 234 56 78", "/srv/inbox/els-maes-2024-03.eml"),
    ("marie.dubois@example.fr", "Marie Dubois", "marie.dubois.1711@example.fr",
     "1. Oui, je le prends.\n2. Mon médecin traitant.\n3. Moins de douleurs.\n4. Non.\n\n"
     "Marie Dubois\n06 12 34 56 78", "/srv/inbox/Marie_Dubois.eml"),
]


def _seed(url: str) -> None:
    engine = open_database(url)
    try:
        items = [RawItem(data=_mail(address, name, mid, body, day), source_type="file",
                         location=location)
                 for day, (address, name, mid, body, location) in enumerate(SEEDED, 5)]
        ingest(session_factory(engine), items, Settings(pseudonym_key=KEY))
    finally:
        engine.dispose()


def _cells(path: Path) -> Iterator[tuple[str, str]]:
    """Every table name, column name and cell of a SQLite file, as (where, text)."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN "
                                             "('table', 'index', 'view', 'trigger')")]
        for table in tables:
            yield f"name {table}", table
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            yield from ((f"{table} column", c) for c in columns)
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if value is not None:
                        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                        yield f"{table}.{column}", text
    finally:
        conn.close()


def test_copy_holds_no_identity(db_url: str, runner: Any, env: Path, tmp_path: Path) -> None:
    """Seeded senders (addresses, names, phone numbers, signatures, file names,
    Message-IDs): none of them in any table, column or cell of the copy or its metadata."""
    _seed(db_url)
    engine = open_database(db_url)
    with Session(engine) as session:
        addresses, names, phones = identities(session)
        message_ids = set(session.scalars(sa.select(Message.message_id)))
        locations = set(session.scalars(sa.select(RawSource.location)))
        replies = session.scalar(sa.text("SELECT COUNT(*) FROM survey_responses"))
    engine.dispose()
    assert len(addresses) == len(names) == 3
    assert len(phones) >= 3
    assert len(message_ids) == 3
    assert len(locations) == 3
    assert replies == 3
    path = tmp_path / "survey.sqlite"
    result = invoke(runner, db_url, "export", "--format", "sqlite", "--output", str(path))
    assert result.exit_code == 0, result.output
    assert _table(path, "survey_responses")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    leaks = leak_finder(addresses, names, phones)
    forbidden = {m.lower() for m in message_ids} | {m.split("@")[0].lower() for m in message_ids}
    forbidden |= {Path(p).name.lower() for p in locations} | {Path(p).stem.lower()
                                                               for p in locations}
    forbidden |= {n.split()[-1].lower() for n in names}  # surnames alone
    texts = list(_cells(path))
    texts.append(("metadata", metadata_path(path).read_text("utf-8")))
    found = {where: hits + [f for f in forbidden if f in text.lower()]
             for where, text in texts if (hits := leaks(text)) or
             any(f in text.lower() for f in forbidden)}
    assert not found
    assert len(texts) > 500  # the walk did see the data


def test_copy_is_the_same_from_sqlite_and_postgres(postgres: Any, runner: Any, env: Path,
                                                   tmp_path: Path,
                                                   tmp_path_factory: pytest.TempPathFactory) \
        -> None:
    """PostgreSQL users browse the same way: `export --format sqlite` from either backend
    gives the same tables, and each table is its view."""
    def pg(name: str) -> str:
        return str(postgres.create_database(name))

    def tmp() -> Path:
        return tmp_path_factory.mktemp("analysts")

    urls = {"sqlite": loaded_url("sqlite", tmp, pg), "postgres": loaded_url("postgres", tmp, pg)}
    paths = {}
    for backend, url in urls.items():
        paths[backend] = tmp_path / f"{backend}.sqlite"
        result = invoke(runner, url, "export", "-f", "sqlite", "-o", str(paths[backend]))
        assert result.exit_code == 0, result.output
    for view in VIEW_NAMES:
        assert _table(paths["sqlite"], view) == _table(paths["postgres"], view), view
        source = sorted(_query(urls["postgres"], f"SELECT * FROM {view}"),
                        key=lambda row: tuple((v is None, str(v)) for v in row[:2]))
        copied = sorted(_table(paths["postgres"], view),
                        key=lambda row: tuple((v is None, str(v)) for v in row[:2]))
        assert copied == source, view
    meta = json.loads(metadata_path(paths["postgres"]).read_text("utf-8"))
    assert list(meta["databases"]) == ["postgres"]


def test_reviewed_only_copy(runner: Any, env: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coded.sqlite'}"
    import_files(url, [sample_mailbox()])  # every third message reviewed
    path = tmp_path / "reviewed.sqlite"
    result = invoke(runner, url, "export", "-f", "sqlite", "--reviewed-only", "-o", str(path))
    assert result.exit_code == 0, result.output
    expected = _query(url, "SELECT COUNT(*) FROM survey_responses WHERE reviewed = 1")
    assert expected[0][0] > 0
    assert [(len(_table(path, "survey_responses")),)] == expected
    assert "reviewed records only" in metadata_path(path).read_text("utf-8")


# --------------------------------------------------------------------------- the commands
def test_queries_file_is_the_documented_queries() -> None:
    """data/analyst_queries.toml holds exactly the SQL blocks of docs/analysts.md, each
    under its heading."""
    text = (DOCS / "analysts.md").read_text("utf-8")
    documented = []
    for match in re.finditer(r"```sql\n(.*?)```", text, re.DOTALL):
        heading = re.findall(r"^#+ (.+)$", text[: match.start()], re.MULTILINE)[-1]
        documented.append((heading, match.group(1)))
    assert [(q["title"], q["sql"]) for q in documented_queries()] == documented
    names = [q["name"] for q in documented_queries()]
    assert len(set(names)) == len(names)


def test_export_sqlite_options(sample_url: str, runner: Any, env: Path) -> None:
    result = invoke(runner, sample_url, "export", "-f", "sqlite")
    assert result.exit_code == 2
    assert "sqlite needs --output" in result.output
    result = invoke(runner, sample_url, "export", "-f", "sqlite", "--view", "respondents",
                    "-o", "x.sqlite")
    assert result.exit_code == 2
    assert "--view" in result.output


def test_browse_without_datasette_says_how_to_install(
        sample_url: str, runner: Any, env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasette", None)
    result = invoke(runner, sample_url, "browse")
    assert result.exit_code == 3
    assert "pip install 'ldn-inbox[browse]'" in result.output


def test_browse_refuses_a_port_in_use_and_a_file_that_is_no_copy(
        sample_url: str, runner: Any, env: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = invoke(runner, sample_url, "browse", "--port", str(port))
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.output
    plain = tmp_path / "plain.sqlite"
    sqlite3.connect(plain).close()
    result = invoke(runner, sample_url, "browse", "--copy", str(plain))
    assert result.exit_code == 2
    assert "export --format sqlite" in result.output
    result = invoke(runner, sample_url, "browse", "--copy", str(plain), "--reviewed-only")
    assert result.exit_code == 2
    assert "--reviewed-only" in result.output


def test_a_renamed_copy_keeps_its_metadata(sample_url: str, runner: Any, env: Path,
                                           tmp_path: Path) -> None:
    """`browse --copy` serves a copy under the name of its file, whatever it was called
    when exported."""
    from ldn_inbox.flow.browse import load_metadata

    made = tmp_path / "survey.sqlite"
    assert invoke(runner, sample_url, "export", "-f", "sqlite", "-o", str(made)).exit_code == 0
    moved = tmp_path / "analyse_2024.sqlite"
    made.rename(moved)
    metadata_path(made).rename(metadata_path(moved))
    meta = load_metadata(moved)
    assert list(meta["databases"]) == ["analyse_2024"]
    assert set(meta["databases"]["analyse_2024"]["queries"]) == \
        {q["name"] for q in documented_queries()}


def test_copy_has_label_tables_foreign_keys_and_facet_indexes(
        sample_url: str, runner: Any, env: Path, tmp_path: Path) -> None:
    path = tmp_path / "survey.sqlite"
    assert invoke(runner, sample_url, "export", "-f", "sqlite", "-o", str(path)).exit_code == 0
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = "
                                             "'table' AND name NOT LIKE 'sqlite_%'")}
        labels = {t for t in tables if t.startswith("labels_")}
        assert tables - labels == set(VIEW_NAMES)
        for view in VIEW_NAMES:
            indexed = {conn.execute(f"PRAGMA index_info('{name}')").fetchone()[2] for (name,) in
                       conn.execute(f"SELECT name FROM pragma_index_list('{view}') "
                                    "WHERE origin = 'c'")}
            primary = {r[1] for r in conn.execute(f"PRAGMA table_info('{view}')") if r[5]}
            assert set(FACETS[view]) - primary <= indexed, view
        keys = {(r[3], r[2]) for r in conn.execute("PRAGMA foreign_key_list('survey_responses')")}
        assert ("ldn_use", label_table("ldn_use")) in keys
        assert all(target in labels for _, target in keys)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []  # every code labelled
    finally:
        conn.close()
