"""Words of the published report in Dutch, French and English (no data, no logic).

The codebook holds Dutch and English labels; the French ones for the magazine's French
edition live here, by field and code.
"""

from __future__ import annotations

#: French field titles and code labels (the codebook has nl and en).
FRENCH: dict[str, tuple[str, dict[str, str]]] = {
    "kind": ("Type de message", {"reply": "réponse", "auto_reply": "réponse automatique",
                                 "bounce": "non distribuable",
                                 "not_survey": "pas une réponse à l'enquête"}),
    "language": ("Langue", {"nl": "néerlandais", "fr": "français", "en": "anglais",
                            "de": "allemand", "other": "autre"}),
    "ldn_use": ("Usage de la LDN", {"current": "l'utilise actuellement",
                                    "past": "l'a utilisée", "never": "jamais utilisée",
                                    "unknown": "non précisé"}),
    "prescriber": ("Prescripteur", {"gp": "médecin généraliste", "specialist": "spécialiste",
                                    "other": "autre", "unknown": "non précisé"}),
    "prescriber_specialty": ("Spécialité du prescripteur", {
        "rheumatology": "rhumatologie", "physical_medicine": "médecine physique",
        "neurology": "neurologie", "pain_medicine": "algologie / centre de la douleur",
        "internal_medicine": "médecine interne", "psychiatry": "psychiatrie",
        "other": "autre spécialité", "unknown": "non précisée"}),
    "experience": ("Expérience", {"positive": "positive", "mixed": "mitigée",
                                  "no_effect": "sans effet", "negative": "négative",
                                  "unknown": "non précisée"}),
    "benefits": ("Améliorations", {"pain": "moins de douleur",
                                   "fatigue": "moins de fatigue, plus d'énergie",
                                   "sleep": "meilleur sommeil", "stiffness": "moins de raideur",
                                   "mood": "meilleure humeur", "cognition": "pensée plus claire",
                                   "other": "autre"}),
    "side_effects": ("Effets secondaires", {"yes": "oui", "no": "non",
                                            "unknown": "non précisé"}),
    "side_effect_codes": ("Types d'effets secondaires", {
        "vivid_dreams": "rêves intenses, cauchemars", "sleep_disturbance": "mauvais sommeil",
        "headache": "maux de tête", "nausea": "nausées",
        "gastrointestinal": "troubles digestifs", "dizziness": "vertiges",
        "anxiety_irritability": "agitation, irritabilité", "fatigue": "fatigue",
        "other": "autre"}),
    "dose_mg": ("Dose (mg/jour)", {}),
}

#: The report's own words, per language.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "records_all": "all coded records",
        "records_reviewed": "reviewed records only",
        "records_unflagged": "reviewed records and those the automatic coding did not flag",
        "records_line": "Counted: {which} ({kept} of {total} {unit}; {left} left out)",
        "ci": "95% CI", "n": "n", "colon": ": ",
        "shown_as": "<5: fewer than 5, not shown. ×: held back so that a count under 5 "
                    "cannot be worked out by subtraction.",
        "merged": "other (smaller groups)",
        "merged_all": "all together (each group under 10)",
        "all_users": "all users who answered",
        "article": "Figures for publication", "answers": "All answers, field by field",
        "too_few": "{group}{colon}fewer than 5 answered, so no share is given.",
        "hidden": "{group}{colon}the figure for “{label}” is held back to protect small numbers.",
        "sentence": "{group}about {k} in {d} of the {n} {who} {said} ({pct}; {ci} {low}–{high}).",
        "sentence_all": "{group}all {n} {who} {said} ({pct}; {ci} {low}–{high}).",
        "sentence_none": "{group}none of the {n} {who} {said} ({pct}; {ci} {low}–{high}).",
        "caveat": "These are the people who chose to answer, not a random sample of everyone "
                  "who uses LDN; the interval shows the play of chance only, not that bias.",
        "t_experience": "Experience of users",
        "t_experience_by_prescriber": "Experience by who prescribed LDN",
        "t_experience_by_specialty": "Experience by the prescribing specialist's field",
        "t_side_effects_by_dose": "Side effects by daily dose",
        "t_stopping": "Stopping: past users beside current users",
        "t_benefits_positive": "What improved, among users with a positive experience",
        "who_experience": "users who described their experience",
        "said_experience": "called it {label}",
        "who_side_effects": "users who said whether they had side effects",
        "said_side_effects": "named {label}",
        "who_stopping": "users", "said_stopping": "{label}",
        "who_benefits": "users with a positive experience", "said_benefits": "named {label}",
        "any_side_effect": "at least one side effect",
        "stop_no_effect": "found no effect", "stop_negative": "had a negative experience",
        "stop_mixed": "had a mixed experience", "stop_positive": "had a positive experience",
        "stop_side_effects": "named side effects",
        "past_users": "Stopped (past users)", "current_users": "Still using (current users)",
        "stopping_note": "The survey does not ask why people stopped and the codebook codes "
                         "no reason; what past users said about the effect and side effects "
                         "is the nearest the coded data gets.",
        "dose_le_1_5": "1.5 mg or less", "dose_1_5_3": "over 1.5 to 3 mg",
        "dose_3_4_5": "over 3 to 4.5 mg", "dose_gt_4_5": "over 4.5 mg",
        "dose_none": "dose not stated",
        "field_reliability": "How reliable the coding is, per field",
        "field": "field", "coded": "replies coded", "flagged_share": "flagged for review",
        "reviewed_n": "reviewed", "corrected_share": "corrected by a reviewer",
        "reliability_note": "Flagged: the automatic coding was unsure and asked for a check. "
                            "Corrected: among the replies a volunteer reviewed, the share "
                            "where the volunteer changed the field.",
        "limits": "What these figures can and cannot say",
        "limits_text": "They describe the people who wrote back to FibroRes, in their own "
                       "words, coded by a program and partly checked by volunteers.|"
                       "They cannot say how many people with fibromyalgia LDN helps: those "
                       "who answered chose to, and people with a clear story to tell may "
                       "answer more often.|"
                       "The 95% interval shows how far chance alone could move a share in a "
                       "group this size; it does not correct for who chose to answer or for "
                       "coding errors.|"
                       "Differences between groups (by prescriber, by dose) are not causes: "
                       "people who get LDN from a specialist or take a higher dose may differ "
                       "in other ways.|"
                       "Counts under 5 are not shown, to protect the people behind them; "
                       "groups under 10 are merged.",
        "chart_scale": "share of the group, 0–100%; line: 95% interval",
    },
    "nl": {
        "records_all": "alle gecodeerde records",
        "records_reviewed": "alleen nagekeken records",
        "records_unflagged": "nagekeken records en records die de automatische codering "
                             "niet markeerde",
        "records_line": "Geteld: {which} ({kept} van {total} {unit}; {left} weggelaten)",
        "ci": "95%-BI", "n": "n", "colon": ": ",
        "shown_as": "<5: minder dan 5, niet getoond. ×: weggelaten zodat een aantal onder 5 "
                    "niet uit te rekenen is.",
        "merged": "andere (kleinere groepen)",
        "merged_all": "allemaal samen (elke groep onder 10)",
        "all_users": "alle gebruikers die antwoordden",
        "article": "Cijfers om te publiceren", "answers": "Alle antwoorden, per veld",
        "too_few": "{group}{colon}minder dan 5 antwoordden, dus geen percentage.",
        "hidden": "{group}{colon}het cijfer voor „{label}” wordt niet getoond, om kleine aantallen "
                  "te beschermen.",
        "sentence": "{group}ongeveer {k} op {d} van de {n} {who} {said} ({pct}; {ci} "
                    "{low}–{high}).",
        "sentence_all": "{group}alle {n} {who} {said} ({pct}; {ci} {low}–{high}).",
        "sentence_none": "{group}geen van de {n} {who} {said} ({pct}; {ci} {low}–{high}).",
        "caveat": "Dit zijn de mensen die zelf kozen om te antwoorden, geen toevallige "
                  "steekproef van iedereen die LDN gebruikt; het interval toont alleen het "
                  "toeval, niet die vertekening.",
        "t_experience": "Ervaring van gebruikers",
        "t_experience_by_prescriber": "Ervaring naar wie LDN voorschreef",
        "t_experience_by_specialty": "Ervaring naar de specialisatie van de voorschrijver",
        "t_side_effects_by_dose": "Bijwerkingen naar dagdosis",
        "t_stopping": "Stoppen: vroegere gebruikers naast huidige",
        "t_benefits_positive": "Wat verbeterde, bij gebruikers met een positieve ervaring",
        "who_experience": "gebruikers die hun ervaring beschreven",
        "said_experience": "vonden ze {label}",
        "who_side_effects": "gebruikers die zeiden of ze bijwerkingen hadden",
        "said_side_effects": "noemden {label}",
        "who_stopping": "gebruikers", "said_stopping": "{label}",
        "who_benefits": "gebruikers met een positieve ervaring", "said_benefits": "noemden {label}",
        "any_side_effect": "minstens één bijwerking",
        "stop_no_effect": "merkten geen effect", "stop_negative": "hadden een negatieve ervaring",
        "stop_mixed": "hadden een gemengde ervaring",
        "stop_positive": "hadden een positieve ervaring",
        "stop_side_effects": "noemden bijwerkingen",
        "past_users": "Gestopt (vroegere gebruikers)",
        "current_users": "Nog in gebruik (huidige gebruikers)",
        "stopping_note": "De bevraging vraagt niet waarom mensen stopten en het codeboek "
                         "codeert geen reden; wat vroegere gebruikers over het effect en de "
                         "bijwerkingen zeiden, komt er het dichtst bij.",
        "dose_le_1_5": "1,5 mg of minder", "dose_1_5_3": "meer dan 1,5 tot 3 mg",
        "dose_3_4_5": "meer dan 3 tot 4,5 mg", "dose_gt_4_5": "meer dan 4,5 mg",
        "dose_none": "dosis niet vermeld",
        "field_reliability": "Hoe betrouwbaar de codering is, per veld",
        "field": "veld", "coded": "gecodeerde antwoorden", "flagged_share": "gemarkeerd",
        "reviewed_n": "nagekeken", "corrected_share": "verbeterd door een nakijker",
        "reliability_note": "Gemarkeerd: de automatische codering twijfelde en vroeg om "
                            "nakijken. Verbeterd: bij de nagekeken antwoorden, het deel waar "
                            "de vrijwilliger het veld veranderde.",
        "limits": "Wat deze cijfers wel en niet zeggen",
        "limits_text": "Ze beschrijven de mensen die FibroRes terugschreven, in hun eigen "
                       "woorden, gecodeerd door een programma en deels nagekeken door "
                       "vrijwilligers.|"
                       "Ze zeggen niet hoeveel mensen met fibromyalgie baat hebben bij LDN: "
                       "wie antwoordde, koos daar zelf voor, en wie een duidelijk verhaal "
                       "heeft, antwoordt misschien vaker.|"
                       "Het 95%-interval toont hoever het toeval alleen een percentage kan "
                       "verschuiven bij een groep van die grootte; het corrigeert niet voor "
                       "wie koos te antwoorden of voor codeerfouten.|"
                       "Verschillen tussen groepen (naar voorschrijver, naar dosis) zijn geen "
                       "oorzaken: wie LDN van een specialist krijgt of een hogere dosis neemt, "
                       "kan ook op andere punten verschillen.|"
                       "Aantallen onder 5 worden niet getoond, om de mensen erachter te "
                       "beschermen; groepen onder 10 worden samengevoegd.",
        "chart_scale": "deel van de groep, 0–100%; lijn: 95%-interval",
    },
    "fr": {
        "records_all": "tous les enregistrements codés",
        "records_reviewed": "seulement les enregistrements vérifiés",
        "records_unflagged": "les enregistrements vérifiés et ceux que le codage automatique "
                             "n'a pas signalés",
        "records_line": "Comptés : {which} ({kept} sur {total} {unit} ; {left} laissés de côté)",
        "ci": "IC à 95 %", "n": "n", "colon": "\u00a0: ",
        "shown_as": "<5 : moins de 5, non affiché. × : masqué pour qu'un nombre inférieur à 5 "
                    "ne puisse pas être déduit par soustraction.",
        "merged": "autres (petits groupes)",
        "merged_all": "tous ensemble (chaque groupe sous 10)",
        "all_users": "tous les utilisateurs ayant répondu",
        "article": "Chiffres à publier", "answers": "Toutes les réponses, champ par champ",
        "too_few": "{group}{colon}moins de 5 personnes ont répondu, pas de pourcentage.",
        "hidden": "{group}{colon}le chiffre pour « {label} » n'est pas affiché, pour protéger les "
                  "petits nombres.",
        "sentence": "{group}environ {k} sur {d} des {n} {who} {said} ({pct} ; {ci} "
                    "{low}–{high}).",
        "sentence_all": "{group}les {n} {who} {said}, tous ({pct} ; {ci} {low}–{high}).",
        "sentence_none": "{group}aucun des {n} {who} ne {said} ({pct} ; {ci} {low}–{high}).",
        "caveat": "Ce sont les personnes qui ont choisi de répondre, pas un échantillon au "
                  "hasard de tous les utilisateurs de LDN ; l'intervalle ne reflète que le "
                  "hasard, pas ce biais.",
        "t_experience": "Expérience des utilisateurs",
        "t_experience_by_prescriber": "Expérience selon le prescripteur",
        "t_experience_by_specialty": "Expérience selon la spécialité du prescripteur",
        "t_side_effects_by_dose": "Effets secondaires selon la dose quotidienne",
        "t_stopping": "Arrêt : anciens utilisateurs à côté des utilisateurs actuels",
        "t_benefits_positive": "Ce qui s'est amélioré, chez les utilisateurs à l'expérience "
                               "positive",
        "who_experience": "utilisateurs qui ont décrit leur expérience",
        "said_experience": "la disent {label}",
        "who_side_effects": "utilisateurs qui ont dit s'ils avaient des effets secondaires",
        "said_side_effects": "citent {label}",
        "who_stopping": "utilisateurs", "said_stopping": "{label}",
        "who_benefits": "utilisateurs à l'expérience positive", "said_benefits": "citent {label}",
        "any_side_effect": "au moins un effet secondaire",
        "stop_no_effect": "n'ont vu aucun effet",
        "stop_negative": "ont eu une expérience négative",
        "stop_mixed": "ont eu une expérience mitigée",
        "stop_positive": "ont eu une expérience positive",
        "stop_side_effects": "citent des effets secondaires",
        "past_users": "Arrêté (anciens utilisateurs)",
        "current_users": "Toujours sous LDN (utilisateurs actuels)",
        "stopping_note": "L'enquête ne demande pas pourquoi les gens ont arrêté et le livre "
                         "de codes ne code aucune raison ; ce que les anciens utilisateurs "
                         "disent de l'effet et des effets secondaires s'en approche le plus.",
        "dose_le_1_5": "1,5 mg ou moins", "dose_1_5_3": "plus de 1,5 à 3 mg",
        "dose_3_4_5": "plus de 3 à 4,5 mg", "dose_gt_4_5": "plus de 4,5 mg",
        "dose_none": "dose non précisée",
        "field_reliability": "Fiabilité du codage, par champ",
        "field": "champ", "coded": "réponses codées", "flagged_share": "signalé",
        "reviewed_n": "vérifiées", "corrected_share": "corrigé par un vérificateur",
        "reliability_note": "Signalé : le codage automatique hésitait et a demandé une "
                            "vérification. Corrigé : parmi les réponses vérifiées par un "
                            "bénévole, la part où le bénévole a changé le champ.",
        "limits": "Ce que ces chiffres disent et ne disent pas",
        "limits_text": "Ils décrivent les personnes qui ont répondu à FibroRes, avec leurs "
                       "propres mots, codés par un programme et en partie vérifiés par des "
                       "bénévoles.|"
                       "Ils ne disent pas combien de personnes atteintes de fibromyalgie la "
                       "LDN aide : celles qui ont répondu l'ont choisi, et celles qui ont une "
                       "histoire claire à raconter répondent peut-être plus souvent.|"
                       "L'intervalle à 95 % montre de combien le seul hasard peut déplacer "
                       "une part dans un groupe de cette taille ; il ne corrige ni le choix "
                       "de répondre ni les erreurs de codage.|"
                       "Les différences entre groupes (selon le prescripteur, la dose) ne "
                       "sont pas des causes : ceux qui reçoivent la LDN d'un spécialiste ou "
                       "prennent une dose plus forte peuvent différer sur d'autres points.|"
                       "Les nombres inférieurs à 5 ne sont pas affichés, pour protéger les "
                       "personnes ; les groupes de moins de 10 sont regroupés.",
        "chart_scale": "part du groupe, 0–100 % ; trait : intervalle à 95 %",
    },
}


def percent(value: int, lang: str) -> str:
    """``58%`` (``58 %`` in French)."""
    return f"{value}\u202f%" if lang == "fr" else f"{value}%"
