"""The code checks the project keeps: ruff (style, imports, complexity) and mypy (strict)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)


@pytest.mark.parametrize("module", ["ruff", "mypy"])
def test_checker_is_installed(module: str) -> None:
    result = _run(module, "--version")
    assert result.returncode == 0, f"{module} missing: pip install -e '.[test]'"


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", "--no-cache", "src", "tests", "bench", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
