"""The language model mapped from the cache: the same answers as py3langid's own identifier
restricted to the same languages, made once, made again when it does not match, and
loaded the library's way where nothing can be written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ldn_inbox.parse import langmodel
from ldn_inbox.parse.classify import IDENTIFIED

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [p.read_bytes().decode("utf-8", "replace")[:4000]
         for p in sorted((ROOT / "fixtures" / "emails").glob("*.eml"))] + [
    "Ik gebruik LDN sinds twee jaar, minder pijn.", "Je prends du naltrexone depuis un an.",
    "Uso il naltrexone da due anni.", "", "12345 !!", "LDN", "ÉÈÊ ÀÂ çà ü ß ø"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "ldn-inbox"


@pytest.fixture(scope="module")
def library() -> object:
    return langmodel._loaded(IDENTIFIED)


def answers(identifier: object) -> list[object]:
    return [(identifier.classify(t), [(label, round(float(p), 12))  # type: ignore[attr-defined]
                                      for label, p in identifier.rank(t)])  # type: ignore[attr-defined]
            for t in TEXTS]


def test_the_mapped_model_answers_as_the_library_does(cache: Path, library: object) -> None:
    mapped = langmodel.identifier(IDENTIFIED)
    assert len(TEXTS) > 100
    assert answers(mapped) == answers(library)
    files = list(cache.glob("langid-*.bin"))
    assert len(files) == 1
    assert os.path.getsize(files[0]) > 10 * 2**20


def test_the_file_is_made_once_and_mapped_after(cache: Path) -> None:
    langmodel.identifier(IDENTIFIED)
    (made,) = cache.glob("langid-*.bin")
    stamp = made.stat().st_mtime_ns
    langmodel.identifier(IDENTIFIED)
    assert made.stat().st_mtime_ns == stamp
    # other languages: another file
    langmodel.identifier(("nl", "fr"))
    assert len(list(cache.glob("langid-*.bin"))) == 2


@pytest.mark.parametrize("damage", ["cut", "other", "garbage"])
def test_a_damaged_file_is_made_again(cache: Path, library: object, damage: str) -> None:
    langmodel.identifier(IDENTIFIED)
    (made,) = cache.glob("langid-*.bin")
    data = made.read_bytes()
    if damage == "cut":
        made.write_bytes(data[:len(data) // 2])
    elif damage == "other":  # a header naming another model
        made.write_bytes(data.replace(b'"size": ', b'"size": 1', 1))
    else:
        made.write_bytes(b"\0" * 100)
    again = langmodel.identifier(IDENTIFIED)
    assert answers(again) == answers(library)
    assert made.read_bytes() == data


def test_without_a_writable_cache_the_model_is_loaded(tmp_path: Path, library: object,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    found = langmodel.identifier(IDENTIFIED)
    assert answers(found) == answers(library)
