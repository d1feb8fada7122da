"""Wiring shared by the commands: configuration, database, pipeline settings.

The CLI calls these; so can a script or a test, without Typer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox import config as config_module
from ldn_inbox.errors import MissingDatabaseError
from ldn_inbox.flow.coder import set_message_memory
from ldn_inbox.flow.pipeline import Settings, use_overlay
from ldn_inbox.flow.quick import load_config, lock_file
from ldn_inbox.store.db import open_database, read_session_factory, session_factory, sqlite_path
from ldn_inbox.store.privacy import checked_key, key_path

P = ParamSpec("P")
T = TypeVar("T")

#: What to do about a missing database, after where the URL came from.
MISSING_FIX = ("point --db, $LDN_INBOX_DB or the config file's db at the database that "
               "`import` and `fetch` fill (set it once in the shared config file, e.g. "
               "/etc/ldn-inbox/config.toml), or run `ldn-inbox import` or `fetch` first")


@dataclass
class Context:
    """A loaded configuration and, once asked for, an open database."""

    config: config_module.Config
    _engine: sa.Engine | None = None
    #: False for commands that read or change stored records: a missing database is an
    #: error, not a new empty one (a mistyped path would look like finished work)
    create: bool = True

    @classmethod
    def load(cls, config_path: str | None = None, db: str | None = None, *,
             create: bool = True) -> Context:
        return cls(load_config(config_path, db), create=create)

    @property
    def db_url(self) -> str:
        return str(self.config["db"])

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            try:
                self._engine = open_database(self.db_url, create=self.create)
            except MissingDatabaseError as exc:
                raise self.explained(exc) from None
        return self._engine

    def explained(self, exc: MissingDatabaseError) -> MissingDatabaseError:
        """A missing database's error with where its URL came from and what to do."""
        return MissingDatabaseError(f"{exc} ({self.db_source()}): {MISSING_FIX}")

    def db_source(self) -> str:
        """Where the database URL came from, for messages."""
        origin = self.config.origins["db"]
        if origin == "default":
            return "the default, in the current folder"
        if origin in ("environment", "command line"):
            return {"environment": "$LDN_INBOX_DB", "command line": "--db"}[origin]
        return f"db in {origin}"

    def db_label(self) -> str:
        """The database as a person recognises it: a file's path, or host/dbname."""
        url = sa.engine.make_url(self.db_url)
        path = sqlite_path(url)
        if path is not None:
            shown = str(path.resolve())
            home = str(Path.home())
            return "~" + shown[len(home):] if shown.startswith(home + "/") else shown
        return f"{url.host or 'localhost'}/{url.database or ''}"

    @property
    def sessions(self) -> Callable[[], Session]:
        return session_factory(self.engine)

    @property
    def read_sessions(self) -> Callable[[], Session]:
        """Sessions for commands that only read (exports, reports, listings)."""
        return read_session_factory(self.engine)

    def read(self, query: Callable[Concatenate[Session, P], T], /, *args: P.args,
             **kwargs: P.kwargs) -> T:
        """``query(session, ...)`` in a read-only session, closed before returning."""
        with self.read_sessions() as session:
            return query(session, *args, **kwargs)

    def write(self, action: Callable[Concatenate[Session, P], T], /, *args: P.args,
              **kwargs: P.kwargs) -> T:
        """``action(session, ...)`` in one transaction, committed when it returns (rolled
        back when it raises)."""
        with self.sessions() as session:
            result = action(session, *args, **kwargs)
            session.commit()
            return result

    def rehearse(self, action: Callable[Concatenate[Session, P], T], /, *args: P.args,
                 **kwargs: P.kwargs) -> T:
        """``action(session, ...)`` in a transaction that is rolled back: a dry run."""
        with self.sessions() as session:
            try:
                return action(session, *args, **kwargs)
            finally:
                session.rollback()

    def pipeline_settings(self) -> Settings:
        set_message_memory(int(self.config["run.message_memory"]))
        self.use_overlays()
        return Settings(pseudonym_key=self.pseudonym_key(),
                        convert_timeout=float(self.config["run.convert_timeout"]),
                        message_timeout=float(self.config["run.message_timeout"]),
                        workers=int(self.config["run.workers"]))

    def pseudonym_key(self) -> bytes:
        """The pseudonym key, checked against the fingerprint the database recorded."""
        with self.sessions() as session:
            return checked_key(session, key_path(self.config))

    def use_overlays(self) -> None:
        """Code with the lexicon overlays the database has active (``learn --apply``)."""
        from ldn_inbox.store.overlays import active_entries

        with self.read_sessions() as session:
            entries = active_entries(session)
        use_overlay(entries)

    def lock_path(self) -> Path:
        url = sa.engine.make_url(self.db_url)
        sqlite = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        return lock_file(self.config, Path(str(url.database)) if sqlite else None)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
