"""The package's layers along the data path, lowest first; a module imports only from its
own layer or lower ones, and the pure layers never touch the database.

    base (errors, codebook, config, limits, terminal) -> sources -> parse -> extract
    -> store -> review, serve -> flow -> cli

docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "ldn_inbox"
RANK = {"base": 0, "sources": 1, "parse": 2, "extract": 3, "store": 4, "review": 5,
        "serve": 5, "flow": 6, "cli": 7}
BASE_MODULES = {"__init__", "errors", "codebook", "config", "limits", "terminal"}
PURE = ("parse", "extract")


def layer_of(module: str) -> str:
    """The layer of a dotted module name inside ldn_inbox ("ldn_inbox.parse.mime")."""
    parts = module.split(".")[1:]
    if not parts:
        return "base"
    head = parts[0]
    if head in RANK:
        return head
    if head in ("cli", "__main__"):
        return "cli"
    if head in BASE_MODULES or head == "migrations":
        return "base"
    raise AssertionError(f"{module}: no layer; add it to tests/test_layers.py and the docs")


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts)
        out.append((name.removesuffix(".__init__"), path))
    return out


def imports_of(path: Path, module: str) -> list[str]:
    """Every module ``path`` imports (top level and inside functions), absolute names."""
    tree = ast.parse(path.read_text("utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(target)
            if target == "ldn_inbox":  # "from ldn_inbox import review": the submodule
                found += [f"ldn_inbox.{alias.name}" for alias in node.names]
    return found


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_a_module_imports_only_its_own_layer_or_lower(module: str, path: Path) -> None:
    own = layer_of(module)
    wrong = []
    for target in imports_of(path, module):
        if target == "ldn_inbox" or not target.startswith("ldn_inbox."):
            continue
        if target.split(".")[1] in ("__version__",):
            continue
        other = layer_of(target)
        if RANK[other] > RANK[own]:
            wrong.append(f"{target} ({other})")
    assert not wrong, f"{module} ({own}) imports a higher layer: {', '.join(wrong)}"


@pytest.mark.parametrize(("module", "path"), [
    (m, p) for m, p in modules() if layer_of(m) in PURE], ids=lambda v: str(v))
def test_pure_layers_import_no_database_code(module: str, path: Path) -> None:
    banned = [t for t in imports_of(path, module)
              if t.split(".")[0] in ("sqlalchemy", "alembic", "psycopg", "imapclient")]
    assert not banned, f"{module} imports {banned}"


def test_coding_a_message_loads_no_database_code() -> None:
    """What is imported at run time, not only what is written: coding a message pulls in
    neither SQLAlchemy nor the store."""
    code = ("import sys; from ldn_inbox.extract.coding import code; "
            "from ldn_inbox.parse.mime import parse; "
            "code(parse(b'Subject: x\\n\\n1. ja\\n2. huisarts\\n3. ja\\n4. nee\\n')); "
            "bad = sorted(m for m in sys.modules if m.startswith(('sqlalchemy', "
            "'ldn_inbox.store', 'ldn_inbox.flow', 'ldn_inbox.serve'))); print(bad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
