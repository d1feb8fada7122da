"""``ldn-inbox browse``: the analyst copy served by Datasette, read-only, on loopback.

The copy (serve/analyst_copy.py) is built in a private temporary directory, or an existing
copy made by ``export --format sqlite`` is served as it is; Datasette runs in this process
(uvicorn) with the file immutable, and the directory goes when the server stops (Ctrl-C,
SIGTERM).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import signal
import socket
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from ldn_inbox.errors import ConfigError, ValidationError
from ldn_inbox.flow.app import Context
from ldn_inbox.serve.analyst_copy import build, metadata_path

DATABASE = "ldn_survey"
MISSING = ("ldn-inbox browse needs Datasette, an optional extra: "
           "pip install 'ldn-inbox[browse]'")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValidationError(f"cannot listen on {host}:{port} ({exc.strerror}); "
                              "choose another with --port or --host") from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def load_metadata(path: Path) -> dict[str, Any]:
    """The copy's metadata file, its database entry named after the file as Datasette
    names it (the copy may have been renamed since the export)."""
    source = metadata_path(path)
    if not path.is_file() or not source.is_file():
        raise ValidationError(f"{path} is not an analyst copy with its {source.name} beside "
                              "it; make one with `ldn-inbox export --format sqlite -o FILE`")
    meta: dict[str, Any] = json.loads(source.read_text("utf-8"))
    meta["databases"] = {path.stem: next(iter(meta.get("databases", {}).values()), {})}
    return meta


def serve(path: Path, *, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve the copy ``path`` with Datasette until interrupted."""
    try:
        import uvicorn
        from datasette.app import Datasette
        from datasette.plugins import pm
    except ImportError:
        raise ConfigError(MISSING) from None
    from ldn_inbox.serve import datasette_plugin

    meta = load_metadata(path)
    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name="ldn_inbox")
    templates = resources.files("ldn_inbox").joinpath("data/browse/templates")
    ds = Datasette(immutables=[str(path)], metadata=meta, template_dir=str(templates),
                   settings={"default_facet_size": 30, "sql_time_limit_ms": 3000})
    sock = _bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    announce(f"analyst copy at http://{shown}:{sock.getsockname()[1]}/ "
             "(read-only; Ctrl-C to stop)")
    if not is_loopback(host):
        announce(f"warning: {host} is not a loopback address: anyone who can reach this "
                 "machine can read the data (Datasette has no login)")

    async def run() -> None:
        await ds.invoke_startup()
        config = uvicorn.Config(ds.app(), log_level="warning", lifespan="off")
        await uvicorn.Server(config).serve(sockets=[sock])

    # uvicorn stops gracefully on SIGINT and SIGTERM, then raises the signal again: turn
    # that into a normal return, so that the temporary copy is removed and the exit is 0.
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        asyncio.run(run())
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()


class _Stopped(Exception):
    """SIGTERM arrived: stop serving."""


def _stop(signum: int, frame: Any) -> None:
    raise _Stopped


def browse(ctx: Context | None, *, copy: Path | None = None, host: str = "127.0.0.1",
           port: int = 8001, reviewed_only: bool = False,
           announce: Callable[[str], None] = print) -> None:
    """Build the analyst copy of ``ctx``'s database in a temporary directory (or take
    ``copy``) and serve it until interrupted."""
    try:
        import datasette  # noqa: F401
    except ImportError:
        raise ConfigError(MISSING) from None
    if copy is not None:
        if reviewed_only:
            raise ValidationError("--reviewed-only selects what goes into a new copy; make "
                                  "that copy with `export --format sqlite --reviewed-only`")
        serve(copy, host=host, port=port, announce=announce)
        return
    assert ctx is not None
    with tempfile.TemporaryDirectory(prefix="ldn-inbox-browse-") as tmp:
        path = Path(tmp) / f"{DATABASE}.sqlite"
        with ctx.read_sessions() as session:
            counts = build(session, path, reviewed_only=reviewed_only)
        ctx.close()
        announce(f"{counts['survey_responses']} replies, {counts['respondents']} respondents")
        serve(path, host=host, port=port, announce=announce)
