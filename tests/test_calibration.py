"""The review flag's confidences: fitted probabilities per signature, a threshold that keeps
unflagged fields right, and the shipped fit in use."""

from __future__ import annotations

import pytest

from ldn_inbox.extract.calibration import (
    Context,
    Sample,
    calibrated,
    choose_threshold,
    fit,
    shipped,
    signature,
)


def _samples(bins: tuple[str, ...], right: int, wrong: int, field: str = "ldn_use"
             ) -> list[Sample]:
    return [Sample(field, bins, True)] * right + [Sample(field, bins, False)] * wrong


SURE = tuple(signature("ldn_use", "current", 0.92, Context("numbered", frozenset({1}), 20)))
DOUBT = tuple(signature("ldn_use", "past", 0.62, Context("narrative", frozenset(), 300)))


def test_the_signature_runs_from_general_to_specific() -> None:
    bins = signature("experience", "positive", 0.88, Context("numbered", frozenset({3}), 30))
    assert bins[0] == "experience"
    assert all(bins[i + 1].startswith(bins[i]) for i in range(len(bins) - 1))
    assert bins[-1].endswith("|list|a|short")


def test_a_bin_of_mostly_right_fields_gets_a_high_probability() -> None:
    fitted = fit(_samples(SURE, 60, 1) + _samples(DOUBT, 6, 6))
    assert fitted.probability(SURE) > 0.95
    assert fitted.probability(DOUBT) < 0.7


def test_a_rare_bin_leans_on_its_parent() -> None:
    fitted = fit(_samples(SURE, 60, 1))
    rare = tuple(signature("ldn_use", "current", 0.92,
                           Context("numbered", frozenset({1}), 500)))
    # one level more specific than anything seen: the parent's estimate
    assert fitted.probability(rare) == pytest.approx(fitted.probability(rare[:-1]))


def test_a_sample_is_not_evidence_for_itself() -> None:
    fitted = fit(_samples(SURE, 1, 0))
    assert fitted.probability(SURE, leave_out=True) < fitted.probability(SURE)


def test_the_threshold_is_the_lowest_that_keeps_the_target() -> None:
    scored = [(0.99, True)] * 50 + [(0.9, True)] * 20 + [(0.9, False)] + [(0.5, False)] * 5
    assert choose_threshold(scored, 0.97) == 0.9
    assert choose_threshold(scored, 0.999) == 0.99
    assert choose_threshold([(0.5, False)], 0.97) == 1.01  # nothing can stay unflagged


def test_low_probability_fields_are_flagged() -> None:
    fitted = fit(_samples(SURE, 60, 1) + _samples(DOUBT, 6, 6))
    probabilities, flagged = calibrated(
        {"ldn_use": "past"}, {"ldn_use": 0.62},
        Context("narrative", frozenset(), 300), fitted)
    assert flagged == ["ldn_use"]
    assert probabilities["ldn_use"] < 0.7
    _, flagged = calibrated({"ldn_use": "current"}, {"ldn_use": 0.92},
                            Context("numbered", frozenset({1}), 20), fitted)
    assert flagged == []


def test_the_shipped_fit_is_used_and_flags_some_fields() -> None:
    fitted = shipped()
    assert fitted is not None, "src/ldn_inbox/data/calibration.json is missing"
    for field in ("ldn_use", "prescriber", "experience", "side_effects"):
        assert 0.5 < fitted.thresholds[field] <= 1.0
    # an answer given under its question in a list: not flagged; a doubtful story: flagged
    _, sure = calibrated({"ldn_use": "current"}, {"ldn_use": 0.92},
                         Context("numbered", frozenset({1, 2, 3, 4}), 25))
    # (0.62: the rules' constant for statements of use that disagree)
    _, doubt = calibrated({"ldn_use": "current"}, {"ldn_use": 0.62},
                          Context("narrative", frozenset(), 400))
    assert sure == []
    assert doubt == ["ldn_use"]
