"""Message in, codebook record out: every golden file in fixtures/emails/."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden import cases, code_file, differences, expected_record, load_known, write_known

from ldn_inbox.codebook import check_rules
from ldn_inbox.serve.evaluate import score

CASES = cases()
_RESULTS: dict[str, list[str]] = {}


@pytest.fixture(scope="module")
def known() -> dict[str, list[str]]:
    return load_known()


@pytest.mark.parametrize("expected_path", CASES, ids=[p.name.split(".")[0] for p in CASES])
def test_golden(expected_path: Path, known: dict[str, list[str]],
                request: pytest.FixtureRequest) -> None:
    want = expected_record(expected_path)
    eml = expected_path.with_name(want["file"])
    got = code_file(eml)
    assert got["message_id"] == want["message_id"]
    assert not check_rules(got), f"record breaks the codebook rules: {check_rules(got)}"
    diff = differences(got, want)
    name = expected_path.name.split(".")[0]
    _RESULTS[name] = sorted(diff)
    if request.config.getoption("--update-known-errors"):
        return
    allowed = set(known.get(name, []))
    unexpected = {k: v for k, v in diff.items() if k not in allowed}
    assert not unexpected, "wrong fields (expected, got): " + ", ".join(
        f"{k}={v[0]!r}/{v[1]!r}" for k, v in unexpected.items())
    fixed = sorted(allowed - set(diff))
    assert not fixed, (f"{fixed} now right: remove them from KNOWN_ERRORS.json "
                       "(pytest --update-known-errors)")


def test_write_known_errors(request: pytest.FixtureRequest) -> None:
    """With --update-known-errors, rewrite the ledger from this run (runs last)."""
    if not request.config.getoption("--update-known-errors"):
        pytest.skip("only with --update-known-errors")
    assert len(_RESULTS) == len(CASES), "run the whole golden module to update the ledger"
    write_known(_RESULTS)


def test_scores_on_golden_files() -> None:
    """The whole set, scored like `ldn-inbox eval`: a floor that only goes up."""
    records = {}
    gold = []
    for path in CASES:
        want = expected_record(path)
        gold.append(want)
        records[want["message_id"]] = code_file(path.with_name(want["file"]))
    scores = score(records, gold)
    assert scores.matched == len(CASES)
    assert scores.accuracy["kind"] >= 0.98
    assert scores.main_macro >= 0.95, scores.accuracy
    assert scores.accuracy["dose_mg"] >= 0.97
    assert scores.f1["benefits"]["f1"] >= 0.9
    assert scores.f1["side_effect_codes"]["f1"] >= 0.9
    assert scores.unflagged_precision >= 0.97
    assert scores.unflagged_coverage >= 0.60  # see test_dev_set.test_review_flag_is_useful
