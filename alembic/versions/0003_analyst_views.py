"""analyst views

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 16:10:00.000000

Read-only views for analysts, documented in docs/analysts.md: ``survey_responses``,
``respondents``, ``benefits_long``, ``side_effects_long``, ``review_queue`` and
``codebook_values``. They read the effective records (``responses``, ``response_items``:
human corrections applied) and never select an address, a name, a subject, own text or
quoted text.

The column lists were generated from ``codebook.FIELDS`` when this migration was written
and are frozen here as literal SQL, so the schema does not change when the code does; a
codebook change needs a new migration (tests/test_analysts.py fails until then). The SQL is
the same on SQLite and PostgreSQL except for turning a timestamp into its UTC date.
"""

from collections.abc import Sequence

from alembic import op


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _received_date(column: str) -> str:
    """SQL for the UTC date of a timestamp column, as text ``YYYY-MM-DD``."""
    if op.get_context().dialect.name == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    # SQLite keeps UTC timestamps as text 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return f"substr({column}, 1, 10)"


#: View name -> CREATE VIEW statement, in creation order. ``{received_date}`` stands for
#: the date of ``m.received_at``.
VIEWS: dict[str, str] = {
    "codebook_values": """
CREATE VIEW codebook_values AS
SELECT 'kind' AS field, 1 AS position, 'reply' AS code, 'antwoord' AS label_nl, 'reply' AS label_en
UNION ALL SELECT 'kind' AS field, 2 AS position, 'auto_reply' AS code, 'automatisch antwoord' AS label_nl, 'automatic reply' AS label_en
UNION ALL SELECT 'kind' AS field, 3 AS position, 'bounce' AS code, 'onbestelbaar' AS label_nl, 'bounce' AS label_en
UNION ALL SELECT 'kind' AS field, 4 AS position, 'not_survey' AS code, 'geen enquête-antwoord' AS label_nl, 'not a survey answer' AS label_en
UNION ALL SELECT 'language' AS field, 1 AS position, 'nl' AS code, 'Nederlands' AS label_nl, 'Dutch' AS label_en
UNION ALL SELECT 'language' AS field, 2 AS position, 'fr' AS code, 'Frans' AS label_nl, 'French' AS label_en
UNION ALL SELECT 'language' AS field, 3 AS position, 'en' AS code, 'Engels' AS label_nl, 'English' AS label_en
UNION ALL SELECT 'language' AS field, 4 AS position, 'de' AS code, 'Duits' AS label_nl, 'German' AS label_en
UNION ALL SELECT 'language' AS field, 5 AS position, 'other' AS code, 'andere' AS label_nl, 'other' AS label_en
UNION ALL SELECT 'ldn_use' AS field, 1 AS position, 'current' AS code, 'gebruikt het nu' AS label_nl, 'current user' AS label_en
UNION ALL SELECT 'ldn_use' AS field, 2 AS position, 'past' AS code, 'gebruikte het vroeger' AS label_nl, 'past user' AS label_en
UNION ALL SELECT 'ldn_use' AS field, 3 AS position, 'never' AS code, 'nooit gebruikt' AS label_nl, 'never used' AS label_en
UNION ALL SELECT 'ldn_use' AS field, 4 AS position, 'unknown' AS code, 'niet vermeld' AS label_nl, 'not stated' AS label_en
UNION ALL SELECT 'prescriber' AS field, 1 AS position, 'gp' AS code, 'huisarts' AS label_nl, 'general practitioner' AS label_en
UNION ALL SELECT 'prescriber' AS field, 2 AS position, 'specialist' AS code, 'specialist' AS label_nl, 'specialist' AS label_en
UNION ALL SELECT 'prescriber' AS field, 3 AS position, 'other' AS code, 'andere' AS label_nl, 'other' AS label_en
UNION ALL SELECT 'prescriber' AS field, 4 AS position, 'unknown' AS code, 'niet vermeld' AS label_nl, 'not stated' AS label_en
UNION ALL SELECT 'prescriber_specialty' AS field, 1 AS position, 'rheumatology' AS code, 'reumatologie' AS label_nl, 'rheumatology' AS label_en
UNION ALL SELECT 'prescriber_specialty' AS field, 2 AS position, 'physical_medicine' AS code, 'fysische geneeskunde' AS label_nl, 'physical medicine' AS label_en
UNION ALL SELECT 'prescriber_specialty' AS field, 3 AS position, 'neurology' AS code, 'neurologie' AS label_nl, 'neurology' AS label_en
UNION ALL SELECT 'prescriber_specialty' AS field, 4 AS position, 'pain_medicine' AS code, 'algologie / pijnkliniek' AS label_nl, 'pain medicine' AS label_en
UNION ALL SELECT 'prescriber_specialty' AS field, 5 AS position, 'internal_medicine' AS code, 'inwendige geneeskunde' AS label_nl, 'internal medicine' AS label_en
UNION ALL SELECT 'prescriber_specialty' AS field, 6 AS position, 'psychiatry' AS code, 'psychiatrie' AS label_nl, 'psychiatry' AS label_en
UNION ALL SELECT 'prescriber_specialty' AS field, 7 AS position, 'other' AS code, 'andere specialisatie' AS label_nl, 'other specialty' AS label_en
UNION ALL SELECT 'prescriber_specialty' AS field, 8 AS position, 'unknown' AS code, 'niet vermeld' AS label_nl, 'not stated' AS label_en
UNION ALL SELECT 'experience' AS field, 1 AS position, 'positive' AS code, 'positief' AS label_nl, 'positive' AS label_en
UNION ALL SELECT 'experience' AS field, 2 AS position, 'mixed' AS code, 'gemengd' AS label_nl, 'mixed' AS label_en
UNION ALL SELECT 'experience' AS field, 3 AS position, 'no_effect' AS code, 'geen effect' AS label_nl, 'no effect' AS label_en
UNION ALL SELECT 'experience' AS field, 4 AS position, 'negative' AS code, 'negatief' AS label_nl, 'negative' AS label_en
UNION ALL SELECT 'experience' AS field, 5 AS position, 'unknown' AS code, 'niet vermeld' AS label_nl, 'not stated' AS label_en
UNION ALL SELECT 'benefits' AS field, 1 AS position, 'pain' AS code, 'minder pijn' AS label_nl, 'less pain' AS label_en
UNION ALL SELECT 'benefits' AS field, 2 AS position, 'fatigue' AS code, 'minder moe, meer energie' AS label_nl, 'less fatigue, more energy' AS label_en
UNION ALL SELECT 'benefits' AS field, 3 AS position, 'sleep' AS code, 'beter slapen' AS label_nl, 'better sleep' AS label_en
UNION ALL SELECT 'benefits' AS field, 4 AS position, 'stiffness' AS code, 'minder stijf' AS label_nl, 'less stiffness' AS label_en
UNION ALL SELECT 'benefits' AS field, 5 AS position, 'mood' AS code, 'beter humeur' AS label_nl, 'better mood' AS label_en
UNION ALL SELECT 'benefits' AS field, 6 AS position, 'cognition' AS code, 'helderder denken' AS label_nl, 'clearer thinking' AS label_en
UNION ALL SELECT 'benefits' AS field, 7 AS position, 'other' AS code, 'andere' AS label_nl, 'other' AS label_en
UNION ALL SELECT 'side_effects' AS field, 1 AS position, 'yes' AS code, 'ja' AS label_nl, 'yes' AS label_en
UNION ALL SELECT 'side_effects' AS field, 2 AS position, 'no' AS code, 'nee' AS label_nl, 'no' AS label_en
UNION ALL SELECT 'side_effects' AS field, 3 AS position, 'unknown' AS code, 'niet vermeld' AS label_nl, 'not stated' AS label_en
UNION ALL SELECT 'side_effect_codes' AS field, 1 AS position, 'vivid_dreams' AS code, 'levendige dromen, nachtmerries' AS label_nl, 'vivid dreams, nightmares' AS label_en
UNION ALL SELECT 'side_effect_codes' AS field, 2 AS position, 'sleep_disturbance' AS code, 'slecht slapen' AS label_nl, 'sleep disturbance' AS label_en
UNION ALL SELECT 'side_effect_codes' AS field, 3 AS position, 'headache' AS code, 'hoofdpijn' AS label_nl, 'headache' AS label_en
UNION ALL SELECT 'side_effect_codes' AS field, 4 AS position, 'nausea' AS code, 'misselijkheid' AS label_nl, 'nausea' AS label_en
UNION ALL SELECT 'side_effect_codes' AS field, 5 AS position, 'gastrointestinal' AS code, 'maag- en darmklachten' AS label_nl, 'gastrointestinal complaints' AS label_en
UNION ALL SELECT 'side_effect_codes' AS field, 6 AS position, 'dizziness' AS code, 'duizeligheid' AS label_nl, 'dizziness' AS label_en
UNION ALL SELECT 'side_effect_codes' AS field, 7 AS position, 'anxiety_irritability' AS code, 'onrust, prikkelbaarheid' AS label_nl, 'anxiety, irritability' AS label_en
UNION ALL SELECT 'side_effect_codes' AS field, 8 AS position, 'fatigue' AS code, 'vermoeidheid' AS label_nl, 'fatigue' AS label_en
UNION ALL SELECT 'side_effect_codes' AS field, 9 AS position, 'other' AS code, 'andere' AS label_nl, 'other' AS label_en
""",
    "survey_responses": """
CREATE VIEW survey_responses AS
SELECT
    s.response_id,
    s.respondent_id,
    s.received_date,
    s.language,
    s.ldn_use,
    s.prescriber,
    s.prescriber_specialty,
    s.experience,
    rtrim(
        CASE WHEN s.benefit_pain = 1 THEN 'pain;' ELSE '' END ||
        CASE WHEN s.benefit_fatigue = 1 THEN 'fatigue;' ELSE '' END ||
        CASE WHEN s.benefit_sleep = 1 THEN 'sleep;' ELSE '' END ||
        CASE WHEN s.benefit_stiffness = 1 THEN 'stiffness;' ELSE '' END ||
        CASE WHEN s.benefit_mood = 1 THEN 'mood;' ELSE '' END ||
        CASE WHEN s.benefit_cognition = 1 THEN 'cognition;' ELSE '' END ||
        CASE WHEN s.benefit_other = 1 THEN 'other;' ELSE '' END,
        ';') AS benefits,
    s.side_effects,
    rtrim(
        CASE WHEN s.side_effect_vivid_dreams = 1 THEN 'vivid_dreams;' ELSE '' END ||
        CASE WHEN s.side_effect_sleep_disturbance = 1 THEN 'sleep_disturbance;' ELSE '' END ||
        CASE WHEN s.side_effect_headache = 1 THEN 'headache;' ELSE '' END ||
        CASE WHEN s.side_effect_nausea = 1 THEN 'nausea;' ELSE '' END ||
        CASE WHEN s.side_effect_gastrointestinal = 1 THEN 'gastrointestinal;' ELSE '' END ||
        CASE WHEN s.side_effect_dizziness = 1 THEN 'dizziness;' ELSE '' END ||
        CASE WHEN s.side_effect_anxiety_irritability = 1 THEN 'anxiety_irritability;' ELSE '' END ||
        CASE WHEN s.side_effect_fatigue = 1 THEN 'fatigue;' ELSE '' END ||
        CASE WHEN s.side_effect_other = 1 THEN 'other;' ELSE '' END,
        ';') AS side_effect_codes,
    s.dose_mg,
    s.reviewed,
    s.needs_review,
    s.benefit_pain,
    s.benefit_fatigue,
    s.benefit_sleep,
    s.benefit_stiffness,
    s.benefit_mood,
    s.benefit_cognition,
    s.benefit_other,
    s.side_effect_vivid_dreams,
    s.side_effect_sleep_disturbance,
    s.side_effect_headache,
    s.side_effect_nausea,
    s.side_effect_gastrointestinal,
    s.side_effect_dizziness,
    s.side_effect_anxiety_irritability,
    s.side_effect_fatigue,
    s.side_effect_other
FROM (
    SELECT
        m.id AS response_id,
        m.respondent_id AS respondent_id,
        {received_date} AS received_date,
        r.language AS language,
        r.ldn_use AS ldn_use,
        r.prescriber AS prescriber,
        r.prescriber_specialty AS prescriber_specialty,
        r.experience AS experience,
        r.side_effects AS side_effects,
        r.dose_mg AS dose_mg,
        CASE WHEN r.reviewed THEN 1 ELSE 0 END AS reviewed,
        CASE WHEN r.needs_review THEN 1 ELSE 0 END AS needs_review,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'benefits' AND i.code = 'pain') THEN 1 ELSE 0 END AS benefit_pain,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'benefits' AND i.code = 'fatigue') THEN 1 ELSE 0 END AS benefit_fatigue,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'benefits' AND i.code = 'sleep') THEN 1 ELSE 0 END AS benefit_sleep,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'benefits' AND i.code = 'stiffness') THEN 1 ELSE 0 END AS benefit_stiffness,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'benefits' AND i.code = 'mood') THEN 1 ELSE 0 END AS benefit_mood,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'benefits' AND i.code = 'cognition') THEN 1 ELSE 0 END AS benefit_cognition,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'benefits' AND i.code = 'other') THEN 1 ELSE 0 END AS benefit_other,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'side_effect_codes' AND i.code = 'vivid_dreams') THEN 1 ELSE 0 END AS side_effect_vivid_dreams,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'side_effect_codes' AND i.code = 'sleep_disturbance') THEN 1 ELSE 0 END AS side_effect_sleep_disturbance,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'side_effect_codes' AND i.code = 'headache') THEN 1 ELSE 0 END AS side_effect_headache,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'side_effect_codes' AND i.code = 'nausea') THEN 1 ELSE 0 END AS side_effect_nausea,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'side_effect_codes' AND i.code = 'gastrointestinal') THEN 1 ELSE 0 END AS side_effect_gastrointestinal,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'side_effect_codes' AND i.code = 'dizziness') THEN 1 ELSE 0 END AS side_effect_dizziness,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'side_effect_codes' AND i.code = 'anxiety_irritability') THEN 1 ELSE 0 END AS side_effect_anxiety_irritability,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'side_effect_codes' AND i.code = 'fatigue') THEN 1 ELSE 0 END AS side_effect_fatigue,
        CASE WHEN EXISTS (SELECT 1 FROM response_items i WHERE i.message_pk = m.id
                AND i.field = 'side_effect_codes' AND i.code = 'other') THEN 1 ELSE 0 END AS side_effect_other
    FROM messages m
    JOIN responses r ON r.message_pk = m.id
    WHERE r.kind = 'reply'
) s
""",
    "respondents": """
CREATE VIEW respondents AS
SELECT
    c.respondent_id,
    c.replies,
    c.first_reply_date,
    c.last_reply_date,
    c.language,
    c.ldn_use,
    c.prescriber,
    CASE WHEN c.prescriber = 'specialist' THEN COALESCE(
        (SELECT r.prescriber_specialty
            FROM messages m JOIN responses r ON r.message_pk = m.id
            WHERE m.respondent_id = c.respondent_id AND r.kind = 'reply'
            AND r.prescriber = 'specialist' AND r.prescriber_specialty IS NOT NULL
            AND r.prescriber_specialty <> 'unknown'
            ORDER BY CASE WHEN m.received_at IS NULL THEN 0 ELSE 1 END DESC, m.received_at DESC, m.id DESC LIMIT 1),
        'unknown') END AS prescriber_specialty,
    c.experience,
    rtrim(
        CASE WHEN c.benefit_pain = 1 THEN 'pain;' ELSE '' END ||
        CASE WHEN c.benefit_fatigue = 1 THEN 'fatigue;' ELSE '' END ||
        CASE WHEN c.benefit_sleep = 1 THEN 'sleep;' ELSE '' END ||
        CASE WHEN c.benefit_stiffness = 1 THEN 'stiffness;' ELSE '' END ||
        CASE WHEN c.benefit_mood = 1 THEN 'mood;' ELSE '' END ||
        CASE WHEN c.benefit_cognition = 1 THEN 'cognition;' ELSE '' END ||
        CASE WHEN c.benefit_other = 1 THEN 'other;' ELSE '' END,
        ';') AS benefits,
    c.side_effects,
    rtrim(
        CASE WHEN c.side_effect_vivid_dreams = 1 THEN 'vivid_dreams;' ELSE '' END ||
        CASE WHEN c.side_effect_sleep_disturbance = 1 THEN 'sleep_disturbance;' ELSE '' END ||
        CASE WHEN c.side_effect_headache = 1 THEN 'headache;' ELSE '' END ||
        CASE WHEN c.side_effect_nausea = 1 THEN 'nausea;' ELSE '' END ||
        CASE WHEN c.side_effect_gastrointestinal = 1 THEN 'gastrointestinal;' ELSE '' END ||
        CASE WHEN c.side_effect_dizziness = 1 THEN 'dizziness;' ELSE '' END ||
        CASE WHEN c.side_effect_anxiety_irritability = 1 THEN 'anxiety_irritability;' ELSE '' END ||
        CASE WHEN c.side_effect_fatigue = 1 THEN 'fatigue;' ELSE '' END ||
        CASE WHEN c.side_effect_other = 1 THEN 'other;' ELSE '' END,
        ';') AS side_effect_codes,
    c.dose_mg,
    c.reviewed,
    c.needs_review,
    c.benefit_pain,
    c.benefit_fatigue,
    c.benefit_sleep,
    c.benefit_stiffness,
    c.benefit_mood,
    c.benefit_cognition,
    c.benefit_other,
    c.side_effect_vivid_dreams,
    c.side_effect_sleep_disturbance,
    c.side_effect_headache,
    c.side_effect_nausea,
    c.side_effect_gastrointestinal,
    c.side_effect_dizziness,
    c.side_effect_anxiety_irritability,
    c.side_effect_fatigue,
    c.side_effect_other
FROM (
    SELECT
        p.respondent_id,
        p.replies,
        p.first_reply_date,
        p.last_reply_date,
        p.reviewed,
        p.needs_review,
        (SELECT r.language
                FROM messages m JOIN responses r ON r.message_pk = m.id
                WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND r.language IS NOT NULL
                ORDER BY CASE WHEN m.received_at IS NULL THEN 0 ELSE 1 END DESC, m.received_at DESC, m.id DESC LIMIT 1) AS language,
        COALESCE(
            (SELECT r.ldn_use
                FROM messages m JOIN responses r ON r.message_pk = m.id
                WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND r.ldn_use IS NOT NULL AND r.ldn_use <> 'unknown'
                ORDER BY CASE WHEN m.received_at IS NULL THEN 0 ELSE 1 END DESC, m.received_at DESC, m.id DESC LIMIT 1),
            (SELECT MAX(r.ldn_use)
                FROM messages m JOIN responses r ON r.message_pk = m.id
                WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply')) AS ldn_use,
        COALESCE(
            (SELECT r.prescriber
                FROM messages m JOIN responses r ON r.message_pk = m.id
                WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND r.prescriber IS NOT NULL AND r.prescriber <> 'unknown'
                ORDER BY CASE WHEN m.received_at IS NULL THEN 0 ELSE 1 END DESC, m.received_at DESC, m.id DESC LIMIT 1),
            (SELECT MAX(r.prescriber)
                FROM messages m JOIN responses r ON r.message_pk = m.id
                WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply')) AS prescriber,
        COALESCE(
            (SELECT r.experience
                FROM messages m JOIN responses r ON r.message_pk = m.id
                WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND r.experience IS NOT NULL AND r.experience <> 'unknown'
                ORDER BY CASE WHEN m.received_at IS NULL THEN 0 ELSE 1 END DESC, m.received_at DESC, m.id DESC LIMIT 1),
            (SELECT MAX(r.experience)
                FROM messages m JOIN responses r ON r.message_pk = m.id
                WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply')) AS experience,
        COALESCE(
            (SELECT r.side_effects
                FROM messages m JOIN responses r ON r.message_pk = m.id
                WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND r.side_effects IS NOT NULL AND r.side_effects <> 'unknown'
                ORDER BY CASE WHEN m.received_at IS NULL THEN 0 ELSE 1 END DESC, m.received_at DESC, m.id DESC LIMIT 1),
            (SELECT MAX(r.side_effects)
                FROM messages m JOIN responses r ON r.message_pk = m.id
                WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply')) AS side_effects,
        (SELECT r.dose_mg
                FROM messages m JOIN responses r ON r.message_pk = m.id
                WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND r.dose_mg IS NOT NULL
                ORDER BY CASE WHEN m.received_at IS NULL THEN 0 ELSE 1 END DESC, m.received_at DESC, m.id DESC LIMIT 1) AS dose_mg,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'benefits' AND i.code = 'pain'
        ) THEN 1 ELSE 0 END AS benefit_pain,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'benefits' AND i.code = 'fatigue'
        ) THEN 1 ELSE 0 END AS benefit_fatigue,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'benefits' AND i.code = 'sleep'
        ) THEN 1 ELSE 0 END AS benefit_sleep,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'benefits' AND i.code = 'stiffness'
        ) THEN 1 ELSE 0 END AS benefit_stiffness,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'benefits' AND i.code = 'mood'
        ) THEN 1 ELSE 0 END AS benefit_mood,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'benefits' AND i.code = 'cognition'
        ) THEN 1 ELSE 0 END AS benefit_cognition,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'benefits' AND i.code = 'other'
        ) THEN 1 ELSE 0 END AS benefit_other,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'side_effect_codes' AND i.code = 'vivid_dreams'
        ) THEN 1 ELSE 0 END AS side_effect_vivid_dreams,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'side_effect_codes' AND i.code = 'sleep_disturbance'
        ) THEN 1 ELSE 0 END AS side_effect_sleep_disturbance,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'side_effect_codes' AND i.code = 'headache'
        ) THEN 1 ELSE 0 END AS side_effect_headache,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'side_effect_codes' AND i.code = 'nausea'
        ) THEN 1 ELSE 0 END AS side_effect_nausea,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'side_effect_codes' AND i.code = 'gastrointestinal'
        ) THEN 1 ELSE 0 END AS side_effect_gastrointestinal,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'side_effect_codes' AND i.code = 'dizziness'
        ) THEN 1 ELSE 0 END AS side_effect_dizziness,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'side_effect_codes' AND i.code = 'anxiety_irritability'
        ) THEN 1 ELSE 0 END AS side_effect_anxiety_irritability,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'side_effect_codes' AND i.code = 'fatigue'
        ) THEN 1 ELSE 0 END AS side_effect_fatigue,
        CASE WHEN EXISTS (
            SELECT 1 FROM response_items i
            JOIN responses r ON r.message_pk = i.message_pk
            JOIN messages m ON m.id = i.message_pk
            WHERE m.respondent_id = p.respondent_id AND r.kind = 'reply'
                AND i.field = 'side_effect_codes' AND i.code = 'other'
        ) THEN 1 ELSE 0 END AS side_effect_other
    FROM (
        SELECT
            m.respondent_id AS respondent_id,
            COUNT(*) AS replies,
            MIN({received_date}) AS first_reply_date,
            MAX({received_date}) AS last_reply_date,
            MIN(CASE WHEN r.reviewed THEN 1 ELSE 0 END) AS reviewed,
            MAX(CASE WHEN r.needs_review THEN 1 ELSE 0 END) AS needs_review
        FROM messages m
        JOIN responses r ON r.message_pk = m.id
        WHERE r.kind = 'reply' AND m.respondent_id IS NOT NULL
        GROUP BY m.respondent_id
    ) p
) c
""",
    "benefits_long": """
CREATE VIEW benefits_long AS
SELECT
    m.id AS response_id,
    m.respondent_id AS respondent_id,
    {received_date} AS received_date,
    r.language AS language,
    r.ldn_use AS ldn_use,
    r.prescriber AS prescriber,
    r.prescriber_specialty AS prescriber_specialty,
    r.experience AS experience,
    r.side_effects AS side_effects,
    i.code AS benefit,
    CASE WHEN r.reviewed THEN 1 ELSE 0 END AS reviewed
FROM response_items i
JOIN messages m ON m.id = i.message_pk
JOIN responses r ON r.message_pk = i.message_pk
WHERE r.kind = 'reply' AND i.field = 'benefits'
""",
    "side_effects_long": """
CREATE VIEW side_effects_long AS
SELECT
    m.id AS response_id,
    m.respondent_id AS respondent_id,
    {received_date} AS received_date,
    r.language AS language,
    r.ldn_use AS ldn_use,
    r.prescriber AS prescriber,
    r.prescriber_specialty AS prescriber_specialty,
    r.experience AS experience,
    r.side_effects AS side_effects,
    i.code AS side_effect,
    CASE WHEN r.reviewed THEN 1 ELSE 0 END AS reviewed
FROM response_items i
JOIN messages m ON m.id = i.message_pk
JOIN responses r ON r.message_pk = i.message_pk
WHERE r.kind = 'reply' AND i.field = 'side_effect_codes'
""",
    "review_queue": """
CREATE VIEW review_queue AS
SELECT
    m.id AS response_id,
    m.respondent_id AS respondent_id,
    {received_date} AS received_date,
    r.kind AS kind,
    r.language AS language,
    replace(replace(replace(replace(CAST(r.review_fields AS VARCHAR(2000)), '[', ''), ']', ''), '"', ''), ', ', ';') AS review_fields,
    replace(replace(replace(replace(CAST(r.conflicts AS VARCHAR(2000)), '[', ''), ']', ''), '"', ''), ', ', ';') AS conflicts,
    r.min_confidence AS min_confidence,
    CASE WHEN r.needs_review THEN 1 ELSE 0 END AS needs_review
FROM messages m
JOIN responses r ON r.message_pk = m.id
WHERE NOT r.reviewed AND (r.needs_review OR CAST(r.conflicts AS VARCHAR(2000)) <> '[]')
""",
}


def upgrade() -> None:
    received_date = _received_date("m.received_at")
    for sql in VIEWS.values():
        op.execute(sql.format(received_date=received_date))


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
