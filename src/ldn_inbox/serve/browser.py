"""A headless Chromium for what a browser draws best: charts as PNG, the page as PDF.

The SVG charts are the source; Chromium renders them with the same fonts and text, so the
PNG carries exactly the labels of the SVG. It runs with a throw-away profile, loads only the
local file it is given, and is never left running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ldn_inbox.errors import ConfigError

#: Names the Chromium binary goes by (Debian, other distributions, Google's build).
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Seconds one render may take (a cold start is 2-3 s).
TIMEOUT = 90


def find_chromium() -> str:
    """The Chromium binary: ``$LDN_INBOX_CHROMIUM`` or the first on PATH."""
    configured = os.environ.get("LDN_INBOX_CHROMIUM", "")
    if configured:
        if shutil.which(configured) is None:
            raise ConfigError(f"LDN_INBOX_CHROMIUM={configured} is not an executable; set it "
                              "to the Chromium binary or unset it")
        return configured
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError("PNG charts need Chromium: install it (Debian: apt install chromium) "
                      "or set LDN_INBOX_CHROMIUM to its binary")


def _run(args: list[str], target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="ldn-inbox-chromium-") as profile:
        command = [find_chromium(), "--headless", "--disable-gpu", "--hide-scrollbars",
                   # an infobar (e.g. the --no-sandbox warning) would take viewport height
                   "--disable-infobars", "--no-first-run", "--disable-extensions",
                   "--disable-sync",
                   "--disable-background-networking", "--mute-audio",
                   f"--user-data-dir={profile}", *args]
        if os.geteuid() == 0:  # Chromium's sandbox refuses to start as root
            command.insert(2, "--no-sandbox")
        try:
            result = subprocess.run(command, capture_output=True, timeout=TIMEOUT,
                                    check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise ConfigError(f"Chromium did not finish within {TIMEOUT} s") from exc
    if result.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        raise ConfigError(f"Chromium could not render {target.name} "
                          f"(exit {result.returncode})")


def screenshot(page: Path, target: Path, *, width: int, height: int, scale: float) -> None:
    """A PNG of ``page`` (a local HTML file) at ``width`` x ``height`` CSS pixels, times
    ``scale`` device pixels each."""
    _run([f"--window-size={width},{height}", f"--force-device-scale-factor={scale}",
          f"--screenshot={target}", page.resolve().as_uri()], target)


def print_pdf(page: Path, target: Path) -> None:
    """``page`` printed to PDF as a browser's print dialog would, with its print styles."""
    _run(["--no-pdf-header-footer", f"--print-to-pdf={target}", page.resolve().as_uri()],
         target)
