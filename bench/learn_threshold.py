#!/usr/bin/env python3
"""How many senders must share a quoted passage before it is learned as mailing text.

    .venv/bin/python bench/learn_threshold.py [--sizes 8,16,all]

For every labelled set with its mailings (``fixtures/measure/*``, ``fixtures/final`` is left
alone) and each threshold, learns the mailings from the first N replies of the set (as a
new user's first runs would) and reports:

* spurious: the share of learned tokens that are not in the mailing as sent (text of the
  respondents' own taken for the mailing);
* missed: the share of the sent mailing's question tokens not learned;
* main right: the share of main fields coded right, the whole set coded with what was learned.

Results are written in docs/extraction.md ("Learning a mailing").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ldn_inbox.codebook import MAIN_FIELDS  # noqa: E402
from ldn_inbox.extract.coding import code  # noqa: E402
from ldn_inbox.parse.mailing_learn import learn  # noqa: E402
from ldn_inbox.parse.mailings import Mailing, MailingSet  # noqa: E402
from ldn_inbox.parse.mime import parse  # noqa: E402
from ldn_inbox.serve.evaluate import equal  # noqa: E402
from ldn_inbox.store.mailing_store import read_mailing_file  # noqa: E402

SETS = ("ma", "mb", "mc", "md", "me", "mf", "ra", "rb", "rc", "rd", "re", "rf")
THRESHOLDS = (2, 3, 4, 5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="8,16,all",
                        help="replies learned from: numbers, or 'all'")
    args = parser.parse_args()
    sizes = args.sizes.split(",")
    print(f"{'threshold':>9} {'replies':>7} {'spurious':>9} {'missed':>7} {'main right':>10}")
    for size in sizes:
        for threshold in THRESHOLDS:
            spurious = learned_total = missed = question_total = 0
            right = fields = 0
            for name in SETS:
                folder = ROOT / "fixtures" / "measure" / name
                gold = [json.loads(line) for line in
                        (folder / "gold.jsonl").read_text("utf-8").splitlines() if line]
                sent = [Mailing(read_mailing_file(p)[0])
                        for p in sorted((folder / "mailings").glob("*"))]
                sent_tokens = {t for m in sent for t in m.tokens}
                question_tokens = [t for m in sent for q in m.questions
                                   for t in m.tokens[q.start:q.end]]
                parsed = {row["file"]: parse((folder / "eml" / row["file"]).read_bytes())
                          for row in gold}
                first = {f: code(p) for f, p in parsed.items()}
                order = list(parsed)[: None if size == "all" else int(size)]
                found = learn([(f, parsed[f].from_address or f, first[f].learn_text)
                               for f in order], min_senders=threshold)
                known = MailingSet(item.mailing for item in found)
                tokens = [t for m in known.mailings for t in m.tokens]
                learned_total += len(tokens)
                spurious += sum(1 for t in tokens if t not in sent_tokens)
                learned_set = set(tokens)
                question_total += len(question_tokens)
                missed += sum(1 for t in question_tokens if t not in learned_set)
                for row in gold:
                    if row["kind"] != "reply":
                        continue
                    values = code(parsed[row["file"]], known).values
                    for field in MAIN_FIELDS:
                        fields += 1
                        right += equal(field, values.get(field), row.get(field))
            print(f"{threshold:>9} {size:>7} {spurious / max(1, learned_total):>9.1%} "
                  f"{missed / max(1, question_total):>7.1%} {right / max(1, fields):>10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
