"""Wiring shared by the commands: configuration, database, pipeline settings.

The CLI calls these; so can a script or a test, without Typer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox import config as config_module
from ldn_inbox.flow.coder import set_message_memory
from ldn_inbox.flow.pipeline import Settings, use_overlay
from ldn_inbox.store.db import open_database, read_session_factory, session_factory
from ldn_inbox.store.privacy import key_path, load_key


@dataclass
class Context:
    """A loaded configuration and, once asked for, an open database."""

    config: config_module.Config
    _engine: sa.Engine | None = None

    @classmethod
    def load(cls, config_path: str | None = None, db: str | None = None) -> Context:
        cfg = config_module.load(config_path)
        if db:
            cfg = cfg.with_overrides({"db": db})
        return cls(cfg)

    @property
    def db_url(self) -> str:
        return str(self.config["db"])

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = open_database(self.db_url)
        return self._engine

    @property
    def sessions(self) -> Callable[[], Session]:
        return session_factory(self.engine)

    @property
    def read_sessions(self) -> Callable[[], Session]:
        """Sessions for commands that only read (exports, reports, listings)."""
        return read_session_factory(self.engine)

    def pipeline_settings(self) -> Settings:
        set_message_memory(int(self.config["run.message_memory"]))
        self.use_overlays()
        return Settings(pseudonym_key=load_key(key_path(self.config)),
                        convert_timeout=float(self.config["run.convert_timeout"]),
                        message_timeout=float(self.config["run.message_timeout"]),
                        workers=int(self.config["run.workers"]))

    def use_overlays(self) -> None:
        """Code with the lexicon overlays the database has active (``learn --apply``)."""
        from ldn_inbox.store.overlays import active_entries

        with self.read_sessions() as session:
            entries = active_entries(session)
        use_overlay(entries)

    def lock_path(self) -> Path:
        configured = self.config["run.lock_file"]
        if configured:
            return Path(configured).expanduser()
        url = sa.engine.make_url(self.db_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            database = Path(str(url.database)).expanduser().resolve()
            return database.with_name(database.name + ".lock")
        return config_module.user_data_dir() / "ldn-inbox.lock"

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
