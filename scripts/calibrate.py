#!/usr/bin/env python3
"""Fit the review flag's confidences on the measured-only labelled sets.

    .venv/bin/python scripts/calibrate.py            # fit, report, write the package data
    .venv/bin/python scripts/calibrate.py --check    # report only (leave-one-set-out)

Codes each set as a new user gets it (mailings learned from its replies), collects for every
coded field its calibration signature and whether it was right, fits the bins and thresholds
(``ldn_inbox.extract.calibration.fit``) on all sets and writes
``src/ldn_inbox/data/calibration.json``.
The report estimates what a volunteer gets on unseen replies by leaving one set out at a time:
fitted on the others, scored on it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ldn_inbox.codebook import MAIN_FIELDS  # noqa: E402
from ldn_inbox.extract.calibration import Sample, fit, signature  # noqa: E402
from ldn_inbox.extract.coding import code  # noqa: E402
from ldn_inbox.parse.mailing_learn import learn  # noqa: E402
from ldn_inbox.parse.mailings import MailingSet  # noqa: E402
from ldn_inbox.parse.mime import parse  # noqa: E402
from ldn_inbox.parse.textnorm import common_subject  # noqa: E402
from ldn_inbox.serve.evaluate import equal  # noqa: E402

#: The measured-only part (fixtures/measure/README.md): never read to write rules.
MEASURED = ("mb", "md", "me", "mf", "mg", "mh")
#: The rules part: its messages were read to write rules, so it is fitted on only with
#: ``--with-rules`` (the measured-only sets still score the result).
RULES = ("ma", "mc", "ra", "rb", "rc", "rd", "re", "rf", "rg", "rh", "ri", "rj", "rk", "rl", "rm",
         "rn", "ro", "rs", "rt", "ru", "rv")
OUTPUT = ROOT / "src" / "ldn_inbox" / "data" / "calibration.json"


def samples_of(folder: Path) -> list[Sample]:
    """Every coded field of the set in ``folder``, with its signature and correctness."""
    gold = [json.loads(line) for line in (folder / "gold.jsonl").read_text("utf-8").splitlines()
            if line.strip()]
    parsed = {row["file"]: parse((folder / "eml" / row["file"]).read_bytes()) for row in gold}
    first = {name: code(message) for name, message in parsed.items()}
    # named as the store names a learned mailing: after the subject its replies answer
    mailings = MailingSet(
        dataclasses.replace(item.mailing, name=common_subject(
            parsed[key].subject for key in item.sources[:200]))
        for item in learn((name, message.from_address or name, first[name].learn_text)
                          for name, message in parsed.items()))
    out: list[Sample] = []
    for row in gold:
        coded = code(parsed[row["file"]], mailings)
        fields = ["kind"]
        if row["kind"] == "reply" and coded.values.get("kind") == "reply":
            fields += [f for f in coded.raw_confidence if f not in ("kind", "language")]
        for field in fields:
            if field not in coded.raw_confidence:
                continue
            bins = signature(field, coded.values.get(field), coded.raw_confidence[field],
                             coded.context)
            out.append(Sample(field, tuple(bins),
                              equal(field, coded.values.get(field), row.get(field))))
    return out


def report(name: str, fitted_on: list[Sample], scored: list[Sample]) -> tuple[int, int, int]:
    fitted = fit(fitted_on)
    main = [s for s in scored if s.field in MAIN_FIELDS]
    kept = [s for s in main
            if fitted.probability(s.bins) >= fitted.thresholds.get(s.field, 1.01)]
    right = sum(s.right for s in kept)
    overall = sum(s.right for s in main) / max(1, len(main))
    print(f"  {name}: main fields {len(main)}, unflagged {len(kept)} "
          f"({len(kept) / max(1, len(main)):.1%}), right when unflagged "
          f"{right / max(1, len(kept)):.1%}; all main fields right {overall:.1%}")
    return len(main), len(kept), right


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report only, write nothing")
    parser.add_argument("--with-rules", action="store_true",
                        help="fit on the rules part too (scored on the measured-only sets)")
    args = parser.parse_args()
    sets = {name: samples_of(ROOT / "fixtures" / "measure" / name) for name in MEASURED}
    extra = [s for name in (RULES if args.with_rules else ())
             for s in samples_of(ROOT / "fixtures" / "measure" / name)]
    print("leave one set out (fitted on the others, scored on it):")
    totals = [0, 0, 0]
    for name, scored in sets.items():
        rest = extra + [s for other, samples in sets.items() if other != name for s in samples]
        for index, value in enumerate(report(name, rest, scored)):
            totals[index] += value
    print(f"  all: unflagged {totals[1] / totals[0]:.1%} of main fields, "
          f"{totals[2] / max(1, totals[1]):.1%} right")
    fitted = fit(extra + [s for samples in sets.values() for s in samples])
    print("thresholds:", {k: round(v, 3) for k, v in sorted(fitted.thresholds.items())})
    if not args.check:
        OUTPUT.write_text(json.dumps(fitted.as_dict(), indent=1, ensure_ascii=False) + "\n",
                          "utf-8")
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
