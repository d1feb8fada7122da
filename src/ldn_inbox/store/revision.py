"""Where the schema migrations are and which one is the newest, read without SQLAlchemy or
Alembic (a fetch with nothing new checks the revision with the ``sqlite3`` module alone)."""

from __future__ import annotations

import re
from pathlib import Path

from ldn_inbox.errors import DatabaseError


def migrations_dir() -> Path:
    """Where the Alembic scripts are: inside the installed package (a wheel ships the
    repository's top-level ``alembic/`` as ``ldn_inbox/migrations``), else the checkout's
    ``alembic/`` (editable install, running from source)."""
    package = Path(__file__).resolve().parent.parent  # ldn_inbox/
    for candidate in (package / "migrations", package.parent.parent / "alembic"):
        if (candidate / "env.py").is_file() and (candidate / "versions").is_dir():
            return candidate
    raise DatabaseError("the schema migrations are missing from this installation: "
                        "reinstall ldn-inbox")


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*['\"]?([\w]+|None)", re.M)


def head_revision() -> str:
    """The newest migration, read from the scripts without importing alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (migrations_dir() / "versions").glob("*.py"):
        found = dict(_REVISION.findall(script.read_text("utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            if found.get("down_revision") not in (None, "None"):
                parents.add(found["down_revision"])
    heads = sorted(revisions - parents)
    if len(heads) != 1:
        raise DatabaseError(f"the migrations have {len(heads)} heads ({', '.join(heads)}); "
                            "expected one")
    return heads[0]


__all__ = ["head_revision", "migrations_dir"]
