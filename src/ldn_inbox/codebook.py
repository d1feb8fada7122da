"""The survey codebook (CODEBOOK.md) as code: one source for the extractor, the database,
the review tool, the validator and every export.

Field names and values here are the contract; nothing else in the project spells them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ldn_inbox.errors import ValidationError


class Kind(StrEnum):
    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    NOT_SURVEY = "not_survey"


class Language(StrEnum):
    NL = "nl"
    FR = "fr"
    EN = "en"
    DE = "de"
    OTHER = "other"


class LdnUse(StrEnum):
    CURRENT = "current"
    PAST = "past"
    NEVER = "never"
    UNKNOWN = "unknown"


class Prescriber(StrEnum):
    GP = "gp"
    SPECIALIST = "specialist"
    OTHER = "other"
    UNKNOWN = "unknown"


class Specialty(StrEnum):
    RHEUMATOLOGY = "rheumatology"
    PHYSICAL_MEDICINE = "physical_medicine"
    NEUROLOGY = "neurology"
    PAIN_MEDICINE = "pain_medicine"
    INTERNAL_MEDICINE = "internal_medicine"
    PSYCHIATRY = "psychiatry"
    OTHER = "other"
    UNKNOWN = "unknown"


class Experience(StrEnum):
    POSITIVE = "positive"
    MIXED = "mixed"
    NO_EFFECT = "no_effect"
    NEGATIVE = "negative"
    UNKNOWN = "unknown"


class Benefit(StrEnum):
    PAIN = "pain"
    FATIGUE = "fatigue"
    SLEEP = "sleep"
    STIFFNESS = "stiffness"
    MOOD = "mood"
    COGNITION = "cognition"
    OTHER = "other"


class SideEffects(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class SideEffectCode(StrEnum):
    VIVID_DREAMS = "vivid_dreams"
    SLEEP_DISTURBANCE = "sleep_disturbance"
    HEADACHE = "headache"
    NAUSEA = "nausea"
    GASTROINTESTINAL = "gastrointestinal"
    DIZZINESS = "dizziness"
    ANXIETY_IRRITABILITY = "anxiety_irritability"
    FATIGUE = "fatigue"
    OTHER = "other"


@dataclass(frozen=True)
class FieldSpec:
    """One codebook field.

    :ivar type: ``enum`` (one value), ``list`` (several values), ``number`` or ``string``.
    :ivar values: allowed codes with their Dutch and English labels, in codebook order.
    :ivar nullable: whether ``null`` is an allowed value for a reply.
    :ivar question: the survey question (1-4) the field answers, 0 for per-message fields.
    """

    name: str
    label_nl: str
    label_en: str
    type: str
    rule: str
    values: tuple[tuple[str, str, str], ...] = ()
    nullable: bool = False
    question: int = 0

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _, _ in self.values)


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "kind", "Soort bericht", "Message kind", "enum",
        "auto_reply: automatic answers; bounce: delivery failures (also of auto-replies); "
        "not_survey: a human message answering none of the questions; reply: answers at "
        "least one question.",
        (
            ("reply", "antwoord", "reply"),
            ("auto_reply", "automatisch antwoord", "automatic reply"),
            ("bounce", "onbestelbaar", "bounce"),
            ("not_survey", "geen enquête-antwoord", "not a survey answer"),
        ),
    ),
    FieldSpec(
        "language", "Taal", "Language", "enum",
        "Language of the respondent's own text, not of the quoted questions.",
        (
            ("nl", "Nederlands", "Dutch"),
            ("fr", "Frans", "French"),
            ("en", "Engels", "English"),
            ("de", "Duits", "German"),
            ("other", "andere", "other"),
        ),
    ),
    FieldSpec(
        "ldn_use", "Gebruik van LDN", "LDN use", "enum",
        "past: used and stopped. A bare 'ja' is current. A prescription not yet started is "
        "never. unknown: the message does not say.",
        (
            ("current", "gebruikt het nu", "current user"),
            ("past", "gebruikte het vroeger", "past user"),
            ("never", "nooit gebruikt", "never used"),
            ("unknown", "niet vermeld", "not stated"),
        ),
        question=1,
    ),
    FieldSpec(
        "prescriber", "Voorschrijver", "Prescriber", "enum",
        "null when ldn_use = never. gp: huisarts; specialist: any medical specialist; other: "
        "anyone else (alternative practitioner, doctor abroad online, self-ordered); unknown: "
        "not stated or only 'mijn dokter'.",
        (
            ("gp", "huisarts", "general practitioner"),
            ("specialist", "specialist", "specialist"),
            ("other", "andere", "other"),
            ("unknown", "niet vermeld", "not stated"),
        ),
        nullable=True,
        question=2,
    ),
    FieldSpec(
        "prescriber_specialty", "Specialisatie voorschrijver", "Prescriber's specialty", "enum",
        "Only when prescriber = specialist, else null. unknown: a specialist of unstated kind; "
        "other: a specialty outside this list.",
        (
            ("rheumatology", "reumatologie", "rheumatology"),
            ("physical_medicine", "fysische geneeskunde", "physical medicine"),
            ("neurology", "neurologie", "neurology"),
            ("pain_medicine", "algologie / pijnkliniek", "pain medicine"),
            ("internal_medicine", "inwendige geneeskunde", "internal medicine"),
            ("psychiatry", "psychiatrie", "psychiatry"),
            ("other", "andere specialisatie", "other specialty"),
            ("unknown", "niet vermeld", "not stated"),
        ),
        nullable=True,
        question=2,
    ),
    FieldSpec(
        "experience", "Ervaring", "Experience", "enum",
        "null when ldn_use = never. positive: a benefit with at most mild side effects; mixed: "
        "a benefit with a drawback that weighs, or a benefit that faded; no_effect: no "
        "difference; negative: worse, or stopped for side effects without benefit; unknown: "
        "not said or too early.",
        (
            ("positive", "positief", "positive"),
            ("mixed", "gemengd", "mixed"),
            ("no_effect", "geen effect", "no effect"),
            ("negative", "negatief", "negative"),
            ("unknown", "niet vermeld", "not stated"),
        ),
        nullable=True,
        question=3,
    ),
    FieldSpec(
        "benefits", "Verbeteringen", "Benefits", "list",
        "What the respondent says improved, also when it later faded; [] when nothing is named.",
        (
            ("pain", "minder pijn", "less pain"),
            ("fatigue", "minder moe, meer energie", "less fatigue, more energy"),
            ("sleep", "beter slapen", "better sleep"),
            ("stiffness", "minder stijf", "less stiffness"),
            ("mood", "beter humeur", "better mood"),
            ("cognition", "helderder denken", "clearer thinking"),
            ("other", "andere", "other"),
        ),
        question=3,
    ),
    FieldSpec(
        "side_effects", "Bijwerkingen", "Side effects", "enum",
        "null when ldn_use = never. Mild or passing effects count as yes; not mentioned or not "
        "sure: unknown; 'niet dat ik weet', 'nothing so far': no.",
        (
            ("yes", "ja", "yes"),
            ("no", "nee", "no"),
            ("unknown", "niet vermeld", "not stated"),
        ),
        nullable=True,
        question=4,
    ),
    FieldSpec(
        "side_effect_codes", "Soorten bijwerkingen", "Side-effect types", "list",
        "Empty unless side_effects = yes. Effects of other drugs, feared effects and other "
        "people's effects are not coded.",
        (
            ("vivid_dreams", "levendige dromen, nachtmerries", "vivid dreams, nightmares"),
            ("sleep_disturbance", "slecht slapen", "sleep disturbance"),
            ("headache", "hoofdpijn", "headache"),
            ("nausea", "misselijkheid", "nausea"),
            ("gastrointestinal", "maag- en darmklachten", "gastrointestinal complaints"),
            ("dizziness", "duizeligheid", "dizziness"),
            ("anxiety_irritability", "onrust, prikkelbaarheid", "anxiety, irritability"),
            ("fatigue", "vermoeidheid", "fatigue"),
            ("other", "andere", "other"),
        ),
        question=4,
    ),
    FieldSpec(
        "dose_mg", "Dosis (mg/dag)", "Dose (mg/day)", "number",
        "The daily dose taken or last taken, in mg; planned or quoted doses and capsule counts "
        "without mg are null.",
        nullable=True,
        question=1,
    ),
)

FIELD_BY_NAME: dict[str, FieldSpec] = {f.name: f for f in FIELDS}
#: Fields that only a reply carries; null for every other kind.
ANSWER_FIELDS: tuple[str, ...] = (
    "ldn_use", "prescriber", "prescriber_specialty", "experience", "benefits",
    "side_effects", "side_effect_codes", "dose_mg",
)
#: The four fields averaged into the "main macro accuracy".
MAIN_FIELDS: tuple[str, ...] = ("ldn_use", "prescriber", "experience", "side_effects")
LIST_FIELDS: tuple[str, ...] = ("benefits", "side_effect_codes")
#: Fields a reviewer may correct.
CODED_FIELDS: tuple[str, ...] = ("kind", "language", *ANSWER_FIELDS)

#: The four questions as published (CODEBOOK.md), used as anchors in replies.
QUESTIONS: tuple[str, ...] = (
    "Gebruikt U Naltrexone of heeft U het gebruikt?",
    "Wie schreef U de Naltrexone voor? (bv. de huisarts, geneesheer specialist "
    "(welke specialisatie?), andere)",
    "Was Uw ervaring positief? (bv. minder pijn)",
    "Had U bepaalde bijwerkingen?",
)

Value = str | float | list[str] | None


@dataclass
class Coding:
    """The codebook values of one message (no evidence, no confidence)."""

    kind: str = Kind.REPLY.value
    language: str = Language.OTHER.value
    ldn_use: str | None = None
    prescriber: str | None = None
    prescriber_specialty: str | None = None
    experience: str | None = None
    benefits: list[str] | None = None
    side_effects: str | None = None
    side_effect_codes: list[str] | None = None
    dose_mg: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CODED_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Coding:
        coding = cls()
        for name in CODED_FIELDS:
            if name in data:
                setattr(coding, name, data[name])
        return coding


@dataclass
class Issue:
    field: str
    message: str


def parse_value(field_name: str, text: str | None) -> Value:
    """Turn a user's text (CLI, review tool) into a field value, or raise ValidationError.

    List fields take ``a,b,c`` (or ``[]``); ``null`` is null where the codebook allows it.
    """
    spec = FIELD_BY_NAME.get(field_name)
    if spec is None or field_name not in CODED_FIELDS:
        raise ValidationError(
            f"unknown field {field_name!r}; fields are: {', '.join(CODED_FIELDS)}"
        )
    raw = (text or "").strip()
    if raw.lower() in ("null", "none", ""):
        if spec.type == "list":
            return None if raw.lower() in ("null", "none") else []
        if not spec.nullable and spec.type != "number":
            raise ValidationError(f"{field_name} cannot be null; allowed: {', '.join(spec.codes)}")
        return None
    if spec.type == "number":
        try:
            number = float(raw.replace(",", "."))
        except ValueError:
            raise ValidationError(f"{field_name} takes a number in mg (e.g. 4.5) or null") from None
        if not 0 < number <= 500:
            raise ValidationError(f"{field_name} must be between 0 and 500 mg, got {raw}")
        return number
    if spec.type == "list":
        if raw == "[]":
            return []
        items = sorted({item.strip() for item in raw.strip("[]").split(",") if item.strip()})
        bad = [item for item in items if item not in spec.codes]
        if bad:
            raise ValidationError(
                f"{field_name}: {', '.join(bad)} not allowed; allowed: {', '.join(spec.codes)} "
                "(comma-separated, or [] for none)"
            )
        return items
    if raw not in spec.codes:
        allowed = ", ".join(spec.codes) + (", null" if spec.nullable else "")
        raise ValidationError(f"{field_name}: {raw!r} not allowed; allowed: {allowed}")
    return raw


def _value_issues(coding: dict[str, Any]) -> list[Issue]:
    """Values outside their field's codes."""
    issues: list[Issue] = []
    for name in CODED_FIELDS:
        spec = FIELD_BY_NAME[name]
        value = coding.get(name)
        if value is None:
            continue
        if spec.type == "list":
            if not isinstance(value, list) or any(v not in spec.codes for v in value):
                issues.append(Issue(name, f"values must be among {', '.join(spec.codes)}"))
        elif spec.type == "enum" and value not in spec.codes:
            issues.append(Issue(name, f"must be one of {', '.join(spec.codes)}"))
    return issues


def _reply_issues(coding: dict[str, Any]) -> list[Issue]:
    """The rules between the answer fields of a reply."""
    issues: list[Issue] = []
    if coding.get("ldn_use") == LdnUse.NEVER:
        issues += [Issue(name, "must be null when ldn_use = never")
                   for name in ("prescriber", "prescriber_specialty", "experience",
                                "side_effects", "dose_mg") if coding.get(name) is not None]
    elif coding.get("prescriber") is None:
        issues.append(Issue("prescriber", "null only when ldn_use = never; use unknown"))
    specialty = coding.get("prescriber_specialty")
    specialist = coding.get("prescriber") == Prescriber.SPECIALIST
    if specialty is None and specialist:
        issues.append(Issue("prescriber_specialty",
                            "prescriber = specialist needs a specialty (unknown if unstated)"))
    elif specialty is not None and not specialist:
        issues.append(Issue("prescriber_specialty", "a specialty needs prescriber = specialist"))
    if coding.get("side_effect_codes") and coding.get("side_effects") != SideEffects.YES:
        issues.append(Issue("side_effect_codes", "must be empty unless side_effects = yes"))
    return issues


def check_rules(coding: dict[str, Any]) -> list[Issue]:
    """The codebook's cross-field rules; an empty list when the record is consistent."""
    issues = _value_issues(coding)
    if coding.get("kind") != Kind.REPLY:
        return issues + [Issue(name, "only a reply carries answers: must be null")
                         for name in ANSWER_FIELDS if coding.get(name) is not None]
    return issues + _reply_issues(coding)


@dataclass(frozen=True)
class Span:
    """Evidence for one field: where in the own text it was read, and the words."""

    start: int
    end: int
    text: str


@dataclass
class FieldResult:
    """One field's value with its confidence (0..1) and evidence spans."""

    value: Value
    confidence: float
    evidence: list[Span] = field(default_factory=list)
