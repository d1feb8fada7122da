"""Engine and session factory; the schema is brought to Alembic's head by every command."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ldn_inbox.config import hide_url_password
from ldn_inbox.errors import ConfigError, DatabaseError, MissingDatabaseError
from ldn_inbox.store.revision import head_revision as head_revision
from ldn_inbox.store.revision import migrations_dir as migrations_dir

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

#: How long a SQLite writer waits for another one (review during fetch) before giving up.
SQLITE_BUSY_TIMEOUT_S = 30


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit mode while setting pragmas: journal_mode cannot change inside a transaction.
    previous = dbapi_conn.isolation_level
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # deleted content is overwritten with zeros, whatever the build's default: erased data
    # must not stay readable in free pages of the file
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()
    dbapi_conn.isolation_level = previous


#: Execution option of read-only work (exports, reports): a plain BEGIN, no write lock.
READ_ONLY = "ldn_inbox_read_only"


def _on_sqlite_begin(conn: sa.Connection) -> None:
    # pysqlite starts transactions lazily; BEGIN IMMEDIATE takes the write lock up front so two
    # writers queue on busy_timeout instead of failing with "database is locked" mid-way.
    # Readers take no lock at all in WAL mode: a long export never holds up a fetch.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _create_private(path: Path) -> None:
    """Create a new SQLite file with mode 0600 whatever the umask (an empty file is an empty
    database); its -wal and -shm files get the same mode from SQLite. An existing file is
    left as it is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise DatabaseError(f"cannot create the database {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


#: The database URLs ldn-inbox works with, as a message shows them.
SUPPORTED_URLS = ("sqlite:///path/to/file.sqlite", "postgresql+psycopg://user@host/dbname")


def parse_url(url: str) -> sa.URL:
    """``url`` as a SQLAlchemy URL of a supported database (plain ``postgresql://`` uses
    psycopg 3, the driver of the ``postgres`` extra).

    :raises ConfigError: not a URL, or a database or driver ldn-inbox does not support
    """
    supported = " or ".join(SUPPORTED_URLS)
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"database URL {hide_url_password(url)!r} is not a URL: use "
                          f"{supported}") from None
    # the names only: asking SQLAlchemy for the dialect would import it (or fail to)
    backend, _, driver = parsed.drivername.partition("+")
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if (backend, driver) in (("sqlite", ""), ("sqlite", "pysqlite"), ("postgresql", "psycopg")):
        return parsed
    hint = " (postgres:// is written postgresql+psycopg://)" if backend == "postgres" else ""
    raise ConfigError(f"database URL scheme {parsed.drivername!r} is not supported{hint}: "
                      f"use {supported}")


def sqlite_path(url: str | sa.URL) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory databases)."""
    parsed = make_url(url) if isinstance(url, str) else url
    database = parsed.database or ""
    if (parsed.get_backend_name() != "sqlite" or not database or database == ":memory:"
            or database.startswith("file:")):
        return None
    return Path(database).expanduser()


def make_engine(url: str, *, create: bool = True) -> sa.Engine:
    """An engine for a SQLAlchemy URL; SQLite files get WAL, foreign keys and a busy timeout.

    ``create=False``: a SQLite file that does not exist is not made (MissingDatabaseError).
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is not None:
            if not create and not path.is_file():
                raise MissingDatabaseError(f"no database at {path.resolve()}")
            if not path.resolve().parent.is_dir():
                raise DatabaseError(f"database directory {path.resolve().parent} does not "
                                    "exist")
            _create_private(path)
        engine = sa.create_engine(
            parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None}
        )
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        sa.event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise DatabaseError(
            f"no driver for {parsed.get_backend_name()}: {exc.name} is not installed "
            "(pip install 'ldn-inbox[postgres]')"
        ) from None


#: Tables that hold message content or identities: rewritten by a PostgreSQL vacuum.
_CONTENT_TABLES = ("raw_messages", "raw_sources", "messages", "contacts", "extractions",
                   "corrections", "responses", "response_items", "audit_log", "imap_ledger")
#: How long a checkpoint after an erasure waits for readers before it says they hold it up.
CHECKPOINT_WAIT_MS = 2000


def clear_old_copies(engine: sa.Engine, *, vacuum: bool = False) -> list[str]:
    """After deleting or emptying rows (``forget``, ``purge``): make the old content leave
    the database's files; returns warnings about what could not be done.

    SQLite overwrites deleted content (``secure_delete``), but the write-ahead log keeps
    the pages as they were until a checkpoint: it is checkpointed and truncated here, which
    another connection reading an older state (a review screen, an export) holds up.
    ``vacuum`` also rewrites the file (SQLite ``VACUUM``). PostgreSQL keeps deleted rows in
    its table files until they are vacuumed: ``vacuum`` runs ``VACUUM FULL`` on the tables
    that hold content; without it, a warning says so.
    """
    if engine.dialect.name != "sqlite":
        if not vacuum:
            return ["PostgreSQL keeps the deleted rows in its table files until they are "
                    "vacuumed: run `ldn-inbox db vacuum` (VACUUM FULL) to remove them"]
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM (FULL, ANALYZE) {', '.join(_CONTENT_TABLES)}")
        return []
    # the DB-API connection itself: pysqlite runs it in autocommit mode, outside any
    # transaction, as VACUUM and a checkpoint need
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if vacuum:
            cursor.execute("VACUUM")
        cursor.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
        busy, logged, copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot clear the database's old pages: {exc}") from None
    finally:
        raw.close()
    if busy or logged != copied:
        return ["another connection to the database (a review screen, an export, a fetch) "
                "reads an older state: copies of the erased data stay in its write-ahead "
                "log until that connection closes; close it, then run `ldn-inbox db vacuum`"]
    return []


def _alembic_config() -> AlembicConfig:
    # alembic is imported only to migrate: every command checks the revision, few migrate
    from alembic.config import Config as AlembicConfig

    # stdout given now: alembic's default is the sys.stdout of the moment it was imported
    cfg = AlembicConfig(stdout=sys.stdout)
    cfg.set_main_option("script_location", str(migrations_dir()))
    return cfg


def current_revision(engine: sa.Engine) -> str | None:
    """The database's schema revision, None for an empty database."""
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot open the database: {exc.orig}") from None


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest)."""
    from alembic import command

    cfg = _alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot migrate the database: {exc.orig}") from None


def downgrade(engine: sa.Engine, revision: str) -> None:
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def open_database(url: str, *, migrate: bool = True, create: bool = True) -> sa.Engine:
    """Engine for ``url`` with the schema at head (migrating an older one in place).

    ``create=False`` (commands that read, or change stored records): a database that does
    not exist, or holds no ldn-inbox schema yet, is refused rather than made.
    """
    engine = make_engine(url, create=create)
    current = current_revision(engine)
    if current is None and not create:
        engine.dispose()
        where = sqlite_path(url)
        raise MissingDatabaseError(
            f"no ldn-inbox data in {where.resolve() if where else hide_url_password(url)}")
    head = head_revision()
    if current != head:
        if not migrate:
            raise DatabaseError(
                f"database schema is at {current or 'nothing'}, not {head}: "
                "run `ldn-inbox db upgrade`"
            )
        upgrade(engine)
    return engine


def session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    """Sessions for work that only reads: on SQLite they never take the write lock."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with session_factory(engine)() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
