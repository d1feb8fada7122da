"""clinlp's ConText against the hand-written negation and scope code (docs/benchmarks.md).

clinlp is not a project dependency. Run this script in a virtualenv of its own (never the
project's .venv):

    python3 -m venv /tmp/clinlp-venv
    /tmp/clinlp-venv/bin/pip install -e . "clinlp==0.10.0"    # from the repository root
    /tmp/clinlp-venv/bin/python -P bench/clinlp_eval.py         # --rounds N, --sets ..., --json F

Variants, switched by monkeypatching inside this process only (nothing under src/ changes):

- ``hand``: the extractor as shipped (``negated()`` and ``in_context()`` of extract/_text.py).
- ``clinlp-neg``: for a message coded as Dutch, every ``negated(doc, hit, ...)`` the question
  modules ask is answered by clinlp's Context Algorithm with its default Dutch rules instead:
  the hit is negated when clinlp qualifies it ``Presence.Absent``. The project's own tokens,
  clauses and lexicon hits are kept; each hit becomes a clinlp entity (its character span),
  the text goes through clinlp's tokenizer, normalizer and sentencizer once per message.
  ``window``/``pre`` of the call are not used: clinlp's triggers have their own scopes.
  Other languages keep the hand-written negation (clinlp's rules are Dutch only).
- ``clinlp-ctx``: as ``clinlp-neg``, and for Dutch messages ``in_context(doc, hit,
  "other_person")`` is clinlp's Experiencer (``Family`` or ``Other``: "mijn zus had
  nachtmerries") and ``in_context(doc, hit, "fear")`` its hypothetical
  ``Temporality.Future`` ("kans op", "indien", "als ..."), at either scope.
- ``clinlp-lex``: clinlp's algorithm with the project's own Dutch negation lexicon (nl.toml
  ``[negation]``: pre, post, pseudo, terminators) as its rules instead of clinlp's, to tell
  the algorithm (sentence scope, termination) from the trigger lists.

Each set is scored as ``ldn-inbox eval DIR`` scores it (``workflows.evaluate_directory``:
imported into a throw-away SQLite database, mailings learned from the replies, in this
process). Coding time is the CPU time (``time.process_time``) of ``coding.code(parsed,
mailings)`` per message, with the mailings learned as ``tests/golden.py::learned_mailings``
learns them, over ``--rounds`` rounds after one untimed round (variants interleaved per
round); "clinlp" is the part of it spent inside clinlp. Only aggregate figures are printed:
the measured sets (mb, md, me, mf) are looked at by their scores alone. ``--explain SET``
lists the negation decisions clinlp changes, with their clauses, for a rules set only
(emails, ma, mc), to debug the adapter.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # this checkout's code, as bench/extract_bench.py
sys.path.insert(0, str(ROOT / "bench"))

from machine import describe  # noqa: E402

from ldn_inbox.codebook import MAIN_FIELDS  # noqa: E402
from ldn_inbox.extract import EXTRACTOR_VERSION, _text  # noqa: E402
from ldn_inbox.extract.coding import code  # noqa: E402
from ldn_inbox.flow.workflows import evaluate_directory  # noqa: E402
from ldn_inbox.parse.mailing_learn import learn  # noqa: E402
from ldn_inbox.parse.mailings import MailingSet  # noqa: E402
from ldn_inbox.parse.mime import parse  # noqa: E402

SETS = {
    "emails": ROOT / "fixtures" / "emails",
    "ma": ROOT / "fixtures" / "measure" / "ma",
    "mc": ROOT / "fixtures" / "measure" / "mc",
    "mb": ROOT / "fixtures" / "measure" / "mb",
    "md": ROOT / "fixtures" / "measure" / "md",
    "me": ROOT / "fixtures" / "measure" / "me",
    "mf": ROOT / "fixtures" / "measure" / "mf",
}
RULES_SETS = ("emails", "ma", "mc")
MEASURED_SETS = ("mb", "md", "me", "mf")
VARIANTS = ("hand", "clinlp-neg", "clinlp-ctx", "clinlp-lex")
#: modules that imported negated / in_context by name from extract._text
PATCHED_MODULES = ("_common", "_mentions", "dose", "experience", "prescriber",
                   "side_effects", "use")
ORIGINAL_NEGATED = _text.negated
ORIGINAL_IN_CONTEXT = _text.in_context
DEFAULTS = {"Presence": "Present", "Temporality": "Current", "Experiencer": "Patient"}


def lexicon_rules() -> dict[str, Any]:
    """The project's Dutch negation lexicon (nl.toml [negation]) as clinlp Context rules,
    with the hand-written code's reach: a pre-trigger up to 6 tokens before the hit, a
    one-word post-trigger up to 3 after it and a longer one up to 6 (clinlp's max_scope
    counts one more), terminators and clause punctuation end a scope."""
    lexicon = _text.load_lexicon("nl")
    posts = lexicon.words("negation", "post")
    return {
        "qualifiers": [{"name": "Presence", "values": ["Absent", "Present"],
                        "priorities": {"Present": 0, "Absent": 1}, "default": "Present"}],
        "rules": [
            {"qualifier": "Presence.Absent", "direction": "preceding", "max_scope": 7,
             "patterns": lexicon.words("negation", "pre")},
            {"qualifier": "Presence.Absent", "direction": "following", "max_scope": 4,
             "patterns": [w for w in posts if " " not in w.strip()]},
            {"qualifier": "Presence.Absent", "direction": "following", "max_scope": 7,
             "patterns": [w for w in posts if " " in w.strip()]},
            {"qualifier": "Presence.Absent", "direction": "pseudo",
             "patterns": lexicon.words("negation", "pseudo")},
            {"qualifier": "Presence.Absent", "direction": "termination",
             "patterns": [*sorted(set(lexicon.words("negation", "terminators"))),
                          ",", ";", ":", "(", ")", "...", "\u2026", "\u2013", "\u2014"]},
        ],
    }


class Clinlp:
    """clinlp's pipeline (blank "clinlp" language, normalizer, sentencizer, Context
    Algorithm with the default rules, matched on the normalized form as documented), and a
    second Context Algorithm with the project's negation lexicon as its rules."""

    def __init__(self) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        import clinlp  # registers the "clinlp" language and its components
        import spacy
        from clinlp.ie.qualifier.qualifier import get_qualifiers

        self.import_seconds = time.perf_counter() - started
        built = time.perf_counter()
        self.nlp = spacy.blank("clinlp")
        self.nlp.add_pipe("clinlp_normalizer")
        self.nlp.add_pipe("clinlp_sentencizer")
        self.context = self.nlp.add_pipe("clinlp_context_algorithm",
                                         config={"phrase_matcher_attr": "NORM"})
        self.build_seconds = time.perf_counter() - built
        self.lexicon_context = self.nlp.add_pipe(
            "clinlp_context_algorithm", name="lexicon_context",
            config={"phrase_matcher_attr": "NORM", "rules": lexicon_rules()})
        self.contexts = {"default": self.context, "lexicon": self.lexicon_context}
        self.setup_cpu = time.process_time() - cpu
        self._get_qualifiers = get_qualifiers
        self.seconds = 0.0  # CPU inside clinlp, accumulated
        self.version = clinlp.__version__ if hasattr(clinlp, "__version__") else "?"
        self.spacy_version = spacy.__version__

    def qualifiers(self, doc: _text.Doc, rules: str = "default") -> dict[
            tuple[int, int], dict[str, str]]:
        """clinlp's qualifiers of every lexicon hit of ``doc``, by character span (computed
        once per message, on the first question asked)."""
        attribute = f"_clinlp_{rules}"
        cached: dict[tuple[int, int], dict[str, str]] | None = getattr(doc, attribute, None)
        if cached is not None:
            return cached
        cpu = time.process_time()
        sdoc = self.nlp.make_doc(doc.text)
        for name in ("clinlp_normalizer", "clinlp_sentencizer"):
            sdoc = self.nlp.get_pipe(name)(sdoc)
        spans = []
        seen: set[tuple[int, int]] = set()
        for hit in doc.hits:
            if hit.section == "negation" or (hit.start, hit.end) in seen:
                continue
            span = sdoc.char_span(hit.start, hit.end, alignment_mode="expand")
            if span is not None and len(span):
                seen.add((hit.start, hit.end))
                spans.append((hit.start, hit.end, span))
        sdoc.spans["ents"] = [span for _, _, span in spans]
        self.contexts[rules](sdoc)
        out: dict[tuple[int, int], dict[str, str]] = {}
        for start, end, span in spans:
            found = self._get_qualifiers(span) or set()
            out[(start, end)] = {q.name: q.value for q in found}
        setattr(doc, attribute, out)
        self.seconds += time.process_time() - cpu
        return out

    def of(self, doc: _text.Doc, hit: _text.Hit, rules: str = "default") -> dict[str, str]:
        return self.qualifiers(doc, rules).get((hit.start, hit.end), DEFAULTS)


class Tally:
    """Where a clinlp variant decided otherwise than the hand-written code (Dutch only)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: list[dict[str, Any]] = []
        self.keep_examples = False


def _clause(doc: _text.Doc, hit: _text.Hit) -> str:
    clause = doc.clause_of(hit.first)
    if clause is None:
        return ""
    return doc.text[clause.start:clause.end].strip()


def _sentence(doc: _text.Doc, hit: _text.Hit) -> str:
    clause = doc.clause_of(hit.first)
    if clause is None:
        return ""
    start, end = doc.sentence_spans[clause.sentence]
    return doc.text[start:end].strip()


def make_negated(engine: Clinlp, tally: Tally | None,
                 rules: str = "default") -> Callable[..., bool]:
    def negated(doc: _text.Doc, hit: _text.Hit, *, window: int = 6, pre: bool = True) -> bool:
        if doc.language != "nl":
            return ORIGINAL_NEGATED(doc, hit, window=window, pre=pre)
        value = engine.of(doc, hit, rules).get("Presence") == "Absent"
        if tally is not None:
            hand = ORIGINAL_NEGATED(doc, hit, window=window, pre=pre)
            tally.counts["negated: asked"] += 1
            tally.counts["negated: hand yes"] += hand
            tally.counts["negated: clinlp yes"] += value
            if hand != value:
                tally.counts[f"negated: {'hand only' if hand else 'clinlp only'}"] += 1
                if tally.keep_examples:
                    tally.examples.append({"what": "negated", "hand": hand, "clinlp": value,
                                           "hit": hit.concept, "text": hit.term,
                                           "clause": _clause(doc, hit)})
        return value
    return negated


def make_in_context(engine: Clinlp, tally: Tally | None) -> Callable[..., _text.Hit | None]:
    def in_context(doc: _text.Doc, hit: _text.Hit, key: str, *,
                   scope: str = "sentence") -> _text.Hit | None:
        if doc.language != "nl" or key not in ("other_person", "fear"):
            return ORIGINAL_IN_CONTEXT(doc, hit, key, scope=scope)
        qualifiers = engine.of(doc, hit)
        if key == "other_person":
            value = qualifiers.get("Experiencer", "Patient") != "Patient"
        else:
            value = qualifiers.get("Temporality") == "Future"
        if tally is not None:
            hand = ORIGINAL_IN_CONTEXT(doc, hit, key, scope=scope) is not None
            tally.counts[f"{key}: asked"] += 1
            tally.counts[f"{key}: hand yes"] += hand
            tally.counts[f"{key}: clinlp yes"] += value
            if hand != value:
                tally.counts[f"{key}: {'hand only' if hand else 'clinlp only'}"] += 1
                if tally.keep_examples:
                    tally.examples.append({"what": key, "hand": hand, "clinlp": value,
                                           "hit": hit.concept, "text": hit.term,
                                           "sentence": _sentence(doc, hit)})
        # the callers only ask whether there is one: the hit itself stands for it
        return hit if value else None
    return in_context


@contextlib.contextmanager
def variant(name: str, engine: Clinlp | None, tally: Tally | None = None) -> Iterator[None]:
    """Swap the extractor's negation (and scope) functions for the variant's, then back."""
    import importlib

    modules = [importlib.import_module(f"ldn_inbox.extract.{m}") for m in PATCHED_MODULES]
    saved = [(m, {"negated": getattr(m, "negated", None),
                  "in_context": getattr(m, "in_context", None)}) for m in modules]
    try:
        if name != "hand":
            assert engine is not None
            negated = make_negated(engine, tally,
                                   "lexicon" if name == "clinlp-lex" else "default")
            in_context = make_in_context(engine, tally) if name == "clinlp-ctx" else None
            for module in modules:
                if getattr(module, "negated", None) is ORIGINAL_NEGATED:
                    module.negated = negated  # type: ignore[attr-defined]
                if in_context is not None \
                        and getattr(module, "in_context", None) is ORIGINAL_IN_CONTEXT:
                    module.in_context = in_context  # type: ignore[attr-defined]
        yield
    finally:
        for module, functions in saved:
            for attribute, function in functions.items():
                if function is not None:
                    setattr(module, attribute, function)


def eml_files(directory: Path) -> list[Path]:
    eml_dir = directory / "eml" if (directory / "eml").is_dir() else directory
    return sorted(eml_dir.glob("*.eml"))


def learned_mailings(parsed: list[Any], names: list[str]) -> MailingSet:
    """As tests/golden.py::learned_mailings: code without mailings, learn from the quotes."""
    quotes = [(name, p.from_address or name, code(p).learn_text)
              for name, p in zip(names, parsed, strict=True)]
    return MailingSet(item.mailing for item in learn(quotes))


def summarize(scores: Any) -> dict[str, Any]:
    accuracy = {f: scores.accuracy.get(f) for f in MAIN_FIELDS}
    return {"n": scores.n, "matched": scores.matched, "accuracy": accuracy,
            "main_macro": scores.main_macro,
            "side_effect_codes_f1": scores.f1["side_effect_codes"]["f1"],
            "unflagged_precision": scores.unflagged_precision,
            "unflagged_coverage": scores.unflagged_coverage}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run_set(name: str, engine: Clinlp, variants: tuple[str, ...], rounds: int,
            explain: bool) -> dict[str, Any]:
    directory = SETS[name]
    out: dict[str, Any] = {"set": name, "variants": {}}
    # scores, exactly as `ldn-inbox eval DIR`
    for label in variants:
        with variant(label, engine):
            out["variants"][label] = {"scores": summarize(evaluate_directory(directory))}
    # timing, pure path
    files = eml_files(directory)
    names = [f.name for f in files]
    parsed = [parse(f.read_bytes()) for f in files]
    mailings = learned_mailings(parsed, names)
    languages = Counter(str(code(p, mailings).values.get("language")) for p in parsed)
    out["messages"] = len(parsed)
    out["dutch"] = languages.get("nl", 0)
    times: dict[str, list[float]] = {label: [] for label in variants}
    inside: dict[str, float] = dict.fromkeys(variants, 0.0)
    for number in range(rounds + 1):
        for label in variants:
            tally = Tally() if number == 0 and label != "hand" else None
            if tally is not None:
                tally.keep_examples = explain
            with variant(label, engine, tally):
                before = engine.seconds
                for p in parsed:
                    cpu = time.process_time()
                    code(p, mailings)
                    if number:
                        times[label].append((time.process_time() - cpu) * 1000)
                if number:
                    inside[label] += engine.seconds - before
            if tally is not None:
                out["variants"][label]["changed"] = dict(tally.counts)
                if explain:
                    out["variants"][label]["examples"] = tally.examples
    for label in variants:
        values = times[label]
        out["variants"][label]["cpu_ms"] = {
            "median": round(statistics.median(values), 3),
            "p95": round(percentile(values, 0.95), 3),
            "mean": round(statistics.fmean(values), 3),
            "clinlp_mean": round(inside[label] * 1000 / len(values), 3),
        }
    return out


def print_table(results: list[dict[str, Any]]) -> None:
    head = ("| set | variant | ldn_use | prescriber | experience | side_effects | main macro "
            "| codes F1 | CPU median | CPU p95 | in clinlp (mean) |")
    print(head)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        for label, data in result["variants"].items():
            s, t = data["scores"], data["cpu_ms"]
            a = s["accuracy"]
            print(f"| {result['set']} | {label} | {a['ldn_use']:.3f} | {a['prescriber']:.3f} "
                  f"| {a['experience']:.3f} | {a['side_effects']:.3f} | {s['main_macro']:.3f} "
                  f"| {s['side_effect_codes_f1']:.3f} | {t['median']:.2f} ms "
                  f"| {t['p95']:.2f} ms | {t['clinlp_mean']:.2f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per set")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--explain", choices=RULES_SETS,
                        help="list the decisions clinlp changes in this rules set")
    args = parser.parse_args()
    info = describe()
    engine = Clinlp()
    print(f"date: {info['date']}  machine: {info['nproc']} cores, {info['cpu']}, {info['ram']}"
          f" RAM, load {info['load']}, Python {info['python']}")
    print(f"ldn-inbox {info['ldn_inbox']} (extractor {EXTRACTOR_VERSION}), clinlp "
          f"{engine.version}, spaCy {engine.spacy_version}")
    print(f"clinlp: import {engine.import_seconds:.2f} s, pipeline built in "
          f"{engine.build_seconds:.2f} s ({len(engine.context.rules)} Context rules)")
    sets = [args.explain] if args.explain else args.sets
    results = []
    for name in sets:
        started = time.perf_counter()
        result = run_set(name, engine, tuple(args.variants), args.rounds,
                         explain=bool(args.explain))
        results.append(result)
        changed = {label: data.get("changed", {}) for label, data in result["variants"].items()
                   if label != "hand"}
        print(f"{name}: {result['messages']} messages, {result['dutch']} coded Dutch, "
              f"{time.perf_counter() - started:.0f} s; changed decisions: "
              f"{json.dumps(changed)}", flush=True)
    print()
    print_table(results)
    if args.explain:
        for label, data in results[0]["variants"].items():
            for example in data.get("examples", []):
                print(label, json.dumps(example, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "clinlp": engine.version,
                                         "spacy": engine.spacy_version,
                                         "clinlp_import_s": engine.import_seconds,
                                         "clinlp_build_s": engine.build_seconds,
                                         "results": results}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
