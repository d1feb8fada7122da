"""Table-driven cases per question: own text in, field value out (codebook values).

The texts are short and written for these tests; each row names the rule it checks.
"""

from __future__ import annotations

from typing import Any

import pytest

from ldn_inbox.extract import extract
from ldn_inbox.parse.reply import isolate


def coded(text: str, language: str = "nl") -> dict[str, Any]:
    result = extract(isolate(text).text, language)
    values = {name: r.value for name, r in result.fields.items()}
    values["answered"] = result.answered
    values["review_fields"] = result.review_fields
    return values


USE = [
    ("Ja, al een jaar.", "current", "bare yes answers the present-tense question"),
    ("1. ja\n2. huisarts\n3. ja\n4. nee", "current", "numbered yes"),
    ("Neen, nooit gebruikt.", "never", "never used"),
    ("Allei, da's rap beantwoord: kpak da nog altijd, al sinds de zomer.", "current",
     "the subject written into the verb ('kpak')"),
    ("Ik heb nog nooit LDN genomen, dus veel kan ik niet invullen.", "never",
     "the drug between the negation and the verb"),
    ("Ik neem nu 4,5 mg elke avond. Mijn zuster neemt het ook, maar zij heeft er "
     "nachtmerries van gekregen en is gestopt.", "current", "a relative's stop ('mijn zuster')"),
    ("Ik neem het sinds juni. Ik was bang voor nachtmerries, maar die zijn nooit gekomen.",
     "current", "a real word is no typo of a lexicon word ('gekomen' is no 'genomen')"),
    ("Ik heb het vijf maanden genomen en ben ermee gestopt, ik betaalde er elke maand voor. "
     "Mijn vrouw neemt het sinds vorig jaar.", "past",
     "a phrase does not run over a sentence's end ('voor. Mijn vrouw')"),
    ("Ik gebruik het (nog) niet, ik wil eerst mijn arts spreken.", "never", "negated use"),
    ("Ik heb een voorschrift maar ben er nog niet mee begonnen.", "never",
     "prescription not started"),
    ("Ik heb het een half jaar genomen en ben er in december mee gestopt.", "past", "stopped"),
    ("ik pak da nie meer sinds de zomer", "past", "Flemish 'nie meer' next to the use verb"),
    ("Ik neem het sinds maart, 4,5 mg. Vroeger kon ik niet meer gaan wandelen.", "current",
     "'niet meer' about walking is not past use"),
    ("Ik ben vorig jaar gestopt maar sinds januari terug begonnen.", "current",
     "stopped and restarted is current"),
    ("1. ja\n2. reumatoloog\nPS: ik ben er deze zomer mee gestopt.", "past",
     "the later, more specific statement wins"),
    ("Mijn zus neemt het al jaren.", "unknown", "someone else's use"),
    ("neen 🙂 maar mijn zus wel, die heeft er baat bij. Ik heb schrik van de bijwerkingen.",
     "never", "a bare no closed by an emoji opens the text"),
    ("Nee maar mijn moeder wel, al twee jaar.", "never",
     "a bare no closed by a contrast word opens the text"),
    ("Geen bijwerkingen tot nu toe.", "unknown", "a no run on into what it denies is no answer "
     "to question 1"),
]


@pytest.mark.parametrize(("text", "want", "rule"), USE, ids=[r for _, _, r in USE])
def test_use(text: str, want: str, rule: str) -> None:
    assert coded(text)["ldn_use"] == want, rule


PRESCRIBER = [
    ("Ik neem het sinds een jaar, voorgeschreven door mijn huisarts.", "gp", None),
    ("Ik neem het, de huisdokter heeft het voorgeschreve.", "gp", None),
    ("Ik gebruik het sinds mei. Mijn reumatholoog schreef het voor.", "specialist",
     "rheumatology"),
    ("Ik neem het al een jaar, via de pijnkliniek in Gent.", "specialist", "pain_medicine"),
    ("1. ja\n2. de fysisch geneesheer\n3. ja\n4. neen", "specialist", "physical_medicine"),
    ("Ik neem LDN, voorgeschreven door een specialist in het ziekenhuis.", "specialist",
     "unknown"),
    ("Ik neem het sinds vorig jaar, mijn dokter heeft het voorgeschreven.", "unknown", None),
    ("Ik neem het. Mijn huisarts wou het niet voorschrijven, dus heb ik het zelf besteld "
     "via een website.", "other", None),
    ("Mijn osteopaat raadde het aan en mijn huisarts heeft het voorgeschreven. Ik neem het "
     "nu drie maanden.", "gp", None),
    ("1. ja\n2. mijn gynaecoloog\n3. ja\n4. neen", "specialist", "other"),
    ("ik neem het sinds mei gekregen van de reuma toloog in gent", "specialist",
     "rheumatology"),
    ("Anders dan bij u heeft niet de reumatoloog maar mijn huisarts het voorgeschreven. Ik "
     "neem het sinds mei.", "gp", None),
    # a referral: the doctor before it sent the writer on, the one after it prescribed
    ("Mijn huisarts wist er niet veel van en stuurde mij door naar een neuroloog, die het "
     "wel wou proberen. Ik neem het sinds mei.", "specialist", "neurology"),
    ("Ik neem het sinds mei. Mijn huisarts heeft het voorgeschreven nadat de reumatoloog mij "
     "naar hem had doorverwezen.", "gp", None),
    # "she prescribed it" three sentences after a line of punctuation alone (no words, so no
    # sentence range): the doctor before it is still found
    ("Mijn reumatoloog is goed.\n\n***\n\nIk slaap beter.\nHet werkt.\nZe schreef het voor.",
     "specialist", "rheumatology"),
    ("***\n\nIk neem LDN.\nHet werkt.\nZe schreef het voor.", "unknown", None),
]


@pytest.mark.parametrize(("text", "want", "specialty"), PRESCRIBER,
                         ids=[t[:40] for t, _, _ in PRESCRIBER])
def test_prescriber(text: str, want: str, specialty: str | None) -> None:
    values = coded(text)
    assert values["prescriber"] == want
    assert values["prescriber_specialty"] == specialty


EXPERIENCE = [
    ("Ik neem het een jaar. Veel minder pijn en ik slaap beter.", "positive",
     ["pain", "sleep"]),
    ("Ik neem het al drie maanden maar ik merk geen verschil.", "no_effect", []),
    ("Ik neem het, het is nog te vroeg om iets te zeggen.", "unknown", []),
    ("Ik neem het een jaar. De eerste maanden minder moe, maar dat effect is weggeëbd.",
     "mixed", ["fatigue"]),
    ("Ik heb het geprobeerd maar van minder pijn heb ik niets gemerkt. Gestopt.", "no_effect",
     []),
    ("Ik nam het twee maanden, werd er ziek van en ben gestopt omdat ik constant misselijk "
     "was. Geen verbetering.", "negative", []),
    ("Ik neem het sinds mei: meer energie, minder stijf en mijn hoofd is helderder.",
     "positive", ["cognition", "fatigue", "stiffness"]),
    ("Ik neem het sinds mei. De pijn is niet weg, maar wel draaglijker.", "positive",
     ["pain"]),
    ("Ik neem het. Mijn zus had er minder pijn door; bij mij merk ik geen verschil.",
     "no_effect", []),
    ("Ik neem LDN sinds maart. Mijn pijn is van een 8 op 10 naar een 5 gegaan.", "positive",
     ["pain"]),
    # a direction word belongs to a symptom of its own clause or before it, not the next one
    ("Ik neem LDN. Mijn rugpijn is op de meeste dagen van 7 naar 4 gezakt, en ik slaap "
     "nu vijf uur aan een stuk.", "positive", ["pain", "sleep"]),
    # a comparative outweighs a time marker in the same clause; a benefit that went again
    ("Ik neem LDN. De eerste weken sliep ik een stuk beter. Dat is ondertussen weer "
     "verdwenen.", "mixed", ["sleep"]),
    # a long subject joined by a verb to what is said of it
    ("Ik neem het sinds juni. De pijn in mijn rug en mijn schouders is veel minder.",
     "positive", ["pain"]),
    ("Ik neem het sinds juni. Het helpt goe tege de stijfheid.", "positive", ["stiffness"]),
    # good at first, no benefit named, then gone (the time marker after a full stop)
    ("Ik neem het. In het begin was het goed, maar na een paar maanden merkte ik er niets "
     "meer van.", "mixed", []),
    ("7 in t begin wel goe mor na n paar maand merkte k er niks meer van dus gestopt", "mixed",
     []),
    # why the writer stopped: side effects they could not bear, or what it cost
    ("Ik ben gestart met 1,5 mg. Van de pijn heb ik niks gemerkt, maar ik werd er zo onrustig "
     "van. Na drie weken ben ik gestopt, ik kon het niet meer aan.", "negative", []),
    ("ik ben gestopt na 4 maand want het kost mij 25 euro per maand en ik had geen verschil "
     "gemerkt bijwerkingen wat hoofdpijn in de eerste weken", "no_effect", []),
    ("Dus nee, voor mij geen goede ervaring. Ik gebruik het niet meer.", "negative", []),
]


@pytest.mark.parametrize(("text", "want", "benefits"), EXPERIENCE,
                         ids=[t[:40] for t, _, _ in EXPERIENCE])
def test_experience(text: str, want: str, benefits: list[str]) -> None:
    values = coded(text)
    assert values["experience"] == want
    assert values["benefits"] == benefits


SIDE_EFFECTS = [
    ("1. ja\n2. huisarts\n3. ja\n4. neen", "no", []),
    ("Ik neem het. Geen hoofdpijn, wel misselijk in het begin.", "yes", ["nausea"]),
    ("Ik neem het. Geen noemenswaardige bijwerkingen, wel wat levendige dromen.", "yes",
     ["vivid_dreams"]),
    ("Ik neem het. Bijwerkingen heb ik tot nu toe niet gemerkt.", "no", []),
    ("Ik neem het sinds mei. Van Lyrica was ik vroeger duizelig.", "unknown", []),
    ("Ik neem het. Ik was bang voor nachtmerries, maar bijwerkingen heb ik niet gehad.", "no",
     []),
    ("Ik neem LDN. De eerste weken sliep ik slecht en had ik hoofdpijn.", "yes",
     ["headache", "sleep_disturbance"]),
    ("Ik neem het. Ik ben wat moe, maar of dat van de LDN komt weet ik niet.", "unknown", []),
    ("Ik neem het sinds mei. Bijwerkingen heb ik nooit gemerkt.", "no", []),
    ("Ik neem het sinds mei. Bijwerkingen heb ik nooit gehad.", "no", []),
    ("'k Pak het sinds mei. Bywerkingen è 'k gin g'ad.", "no", []),
    # a fear of a side effect, said the Flemish way, is none had
    ("Ik neem het. Bijwerkingen: geen. Ik had op voorhand schrik van de nachtmerries, maar "
     "die zijn er niet gekomen.", "no", []),
    # the writer's own question of the topic, answered right after it
    ("Ik neem het sinds een jaar. Bijwerkingen? Nee, geen.", "no", []),
    ("Ik neem het. Bijwerkingen? Ik heb er niets van gemerkt.", "no", []),
    ("Ik neem het. Bijwerkingen? Ja, hoofdpijn.", "yes", ["headache"]),
    # a label answered after a word that names nothing
    ("Ik neem het sinds een jaar.\nBijwerkingen: nog geen", "no", []),
    ("Ik neem het sinds een jaar.\nBijwerkingen: misselijk, geen hoofdpijn", "yes", ["nausea"]),
    ("Ich neem 't sinds mei. Bijwirkinge han ich noeits gehad.", "no", []),
    ("Ik nam het drie maanden. Ik ben er 6 kilo van bijgekomen en 's nachts ging mijn hart "
     "bonzen.", "yes", ["other"]),
]


@pytest.mark.parametrize(("text", "want", "codes"), SIDE_EFFECTS,
                         ids=[t[:40] for t, _, _ in SIDE_EFFECTS])
def test_side_effects(text: str, want: str, codes: list[str]) -> None:
    values = coded(text)
    assert values["side_effects"] == want
    assert values["side_effect_codes"] == codes


DOSES = [
    ("Ik neem 4,5 mg per dag.", 4.5),
    ("Ik neem 4.5mg.", 4.5),
    ("Ik neem 2 x 1,5 mg.", 3.0),
    ("Ik ben gestart met 1,5 mg en opgebouwd tot 4,5.", 4.5),
    ("Ik zit nu op 1,5 mg, het plan is om naar 4,5 mg te gaan.", 1.5),
    ("Ik neem elke avond één capsule.", None),
    ("Ik neem het sinds 2022, ik ben 54 jaar en neem het om 22u.", None),
    ("Ik nam vroeger naltrexone 50 mg tegen het drinken.", 50.0),
    ("Ik neem elke avond een halve capsule van 3 mg.", 1.5),
    ("Ik neem 1,5 mg 2x per dag.", 3.0),
    ("Ik neem 1,5 mg, tweemaal per dag.", 3.0),
    ("Ik ben begonnen met 500 microgram en zit nu aan 2000 microgram per dag.", 2.0),
]


@pytest.mark.parametrize(("text", "want"), DOSES, ids=[t[:40] for t, _ in DOSES])
def test_dose(text: str, want: float | None) -> None:
    assert coded(text)["dose_mg"] == want


def test_never_nulls_everything() -> None:
    values = coded("Nee, ik gebruik het niet. Mijn huisarts wou het niet voorschrijven en ik "
                   "ben bang voor nachtmerries.")
    assert values["ldn_use"] == "never"
    assert values["prescriber"] is None
    assert values["experience"] is None
    assert values["side_effects"] is None
    assert values["benefits"] == []


def test_a_question_is_not_an_answer() -> None:
    values = coded("Moet ik daarvoor naar een specialist of kan de huisarts het voorschrijven?")
    assert values["answered"] is False


def test_empty_text_answers_nothing() -> None:
    assert extract("", "nl").answered is False


EXPERIENCE_OTHER_LANGUAGES = [
    ("I have been taking LDN for a year now.\n\nWas it positive? My dear, I am a different "
     "woman.\n\nSide effects: none.", "en", "positive",
     "an idiom of being changed for the better"),
    ("Dear Sarah,\n\nI am not very good with computers, so this is short.\n\nI have been "
     "taking LDN for a year.\n\nSide effects: none.", "en", "unknown",
     "a negated 'good' in the story before LDN comes up says nothing of LDN"),
    ("Je prends la LDN depuis un an. Mes douleurs sont passées de 8 à 5.", "fr", "positive",
     "a score that went down"),
    ("J'en ai pris deux mois. Je ne dormais plus et j'avais des vertiges tous les jours, "
     "j'ai arrêté.", "fr", "negative", "the 'plus' of 'ne ... plus' says no longer, not more"),
    ("Je la prends depuis un an. Je dors plus et j'ai moins de douleurs.", "fr", "positive",
     "'plus' without 'ne' says more"),
    ("Dag,\n\nJa, sinds maart, via mijn huisarts.\nHet heeft mijn leven veranderd.\n"
     "Bijwerkingen: ik ben nog altijd moe, maar dat was ik al voor de LDN.\n\nGreet", "nl",
     "positive", "answers opening with a yes are about the drug (nl)"),
    ("Bonjour,\n\nOui, depuis mars, par mon algologue.\nFranchement ça a changé ma vie.\n"
     "Effets secondaires : je suis toujours fatiguée, mais c'est la fibro, pas la LDN.\n\n"
     "Nathalie", "fr", "positive",
     "answers opening with a yes are about the drug (fr)"),
    ("Dear Hilde,\n\nI am so glad it is working for you.\n\nI took LDN for four months. "
     "No difference at all.", "en", "no_effect", "praise of the reader's experience"),
    ("Je suis contente que cela vous aide. Moi, je l'ai pris trois semaines, aucune "
     "différence.", "fr", "no_effect", "'que cela vous aide' is the reader's"),
    ("Ik neem het sinds mei, veel minder pijn. Bijwerkingen? Ik heb er niets van gemerkt.",
     "nl", "positive", "'niets gemerkt' answers the writer's own side-effect question"),
    ("Je l'ai prise d'avril à novembre. Les douleurs ont nettement diminué. Par contre je ne "
     "dormais presque plus. Au bout de sept mois, je n'en pouvais plus et j'ai arrêté.", "fr",
     "mixed", "a benefit, and side effects the writer could not bear"),
    ("I took it for about four months.\n3. A bit of a headache the first week. That's not why "
     "I stopped - I stopped because it simply wasn't doing anything.", "en", "no_effect",
     "stopped because it did nothing"),
    ("I took it from May to September. In the first month I was sleeping much better. After "
     "this it was the same as before, no difference.", "en", "mixed",
     "a benefit at first, then no difference"),
    ("Ich nehme LDN seit einem Jahr. Am Anfang hatte ich deutlich weniger Schmerzen, aber "
     "seit Weihnachten merke ich kaum noch etwas.", "de", "mixed", "a benefit that faded"),
    ("zu Ihren Fragen: ich habe LDN nach sechs Wochen wieder abgesetzt, weil ich\n"
     "Herzrasen bekam und innerlich sehr unruhig war. Geholfen hat es leider\nnicht.", "de",
     "negative", "a line wrapped before a capitalised noun goes on the same sentence"),
    ("Ich habe es von Mai bis November genommen. Leider ohne jede Wirkung. Nach einem halben "
     "Jahr habe ich es dann gelassen.", "de", "no_effect",
     "'es gelassen' is a stop, no calm ('gelassen' is no typo of 'gelassener')"),
    ("Je prends la LDN depuis juin. Je dors mieux, ça c'est sûr. Mais je suis beaucoup plus "
     "nerveuse et irritable, et ça me dérange vraiment.", "fr", "mixed",
     "a benefit, and a side effect the writer minds"),
    ("Depuis deux mois. Pour la douleur c'est nettement mieux, mais avec ces maux de tête je "
     "me demande si je vais continuer.", "fr", "mixed",
     "a doubt whether to go on ('si je' inside it is no fear; 'demande' no typo)"),
    ("I took it for ten days. Pain was exactly the same as before, zero improvement.", "en",
     "no_effect", "'zero' negates"),
    ("1. I was on LDN for three months, now stopped.\n2. My GP.\n3. The energy was much "
     "better.\n4. But I gained 6 kilos and my heart was racing at night, so I stopped.",
     "en", "mixed", "a benefit, and side effects that made the writer stop"),
]


USE_OTHER_LANGUAGES = [
    ("Bonjour, je n'avais pas encore pris le temps de répondre. Depuis avril je prends "
     "4,5 mg de LDN.", "fr", "current", "taking the time is no use of the drug"),
    ("Ma rhumatologue m'a fait une prescription, mais je n'ai pas encore commencé : "
     "j'attends d'avoir fini la cortisone.", "fr", "never",
     "another drug named after the statement is its reason, not its subject"),
    ("Ich nehme LDN seit Oktober. Die Albträume sind fast jede Nacht da, und ich überlege "
     "ernsthaft, wieder aufzuhören.", "de", "current",
     "a stop the writer is thinking about, said as an infinitive after a comma"),
    ("Ich habe LDN ein halbes Jahr genommen und dann aufgehört.", "de", "past", "a stop"),
    ("Salut oui, trois mois maintenant, c'est mon généraliste.", "fr", "current",
     "a yes right after a greeting on the greeting's line"),
    ("slt oui jen pren dpuis 3 mois", "fr", "current",
     "text-message spelling: a greeting and a yes run on into how long"),
]


SIDE_EFFECTS_OTHER_LANGUAGES = [
    ("I'm two weeks into 1.5 mg. Side effects: nothing so far, which is a relief because I "
     "had read horror stories about nightmares.", "en", "no",
     "nightmares of horror stories are no side effect"),
    ("Ich nehme LDN seit drei Wochen. Nebenwirkungen habe ich bis jetzt keine bemerkt.", "de",
     "no", "the negation after the noun, German word order"),
    ("Je prends la LDN depuis février. Des effets secondaires, je n'en ai jamais eu.", "fr",
     "no", "the topic put first, then said no of"),
    ("J'en prends depuis un an. Des effets secondaires ? Non, aucun.", "fr", "no",
     "the writer's own question, answered"),
    ("Ik heb het twee maanden genomen. Ik was zo onrustig dat ik niet stil kon zitten.", "nl",
     "yes", "the negation of a consequence ('zo ... dat ... niet') is not the symptom's"),
    ("I took it for a month and got so dizzy that I could not drive.", "en", "yes",
     "the negation of a consequence ('so ... that ... not') is not the symptom's"),
    ("Je la prends depuis mars. Moins de douleurs, mais je suis beaucoup plus fatiguée depuis "
     "que je la prends, je me demande si je vais continuer.", "fr", "yes",
     "a doubt about going on is no doubt about where a symptom comes from"),
    ("Je la prends depuis mars. Je suis plus fatiguée, je me demande si c'est la LDN.", "fr",
     "unknown", "a doubt about where the symptom comes from"),
    ("Je la prends depuis mars. Effets secondaires : des nausées le matin, supportables.",
     "fr", "yes", "a side effect said bearable is still a side effect"),
    ("I take it since March. Side effects: some nausea in the mornings, bearable.", "en",
     "yes", "a side effect said bearable is still a side effect"),
]

#: (text, language, field, value, rule): attribution, fading and openings in any language
ATTRIBUTION_AND_FADING = [
    ("Ik neem LDN sinds mei. Bijwerkingen: hoofdpijn, maar die had ik al lang voor de LDN.",
     "nl", "side_effects", "no", "an effect the writer had before is no side effect"),
    ("Je prends la LDN depuis un an. Effets secondaires : la fatigue, mais c'est la fibro, pas "
     "la LDN.", "fr", "side_effects", "no", "an effect put on the illness, not on LDN"),
    ("Depuis mars je prends la LDN. J'ai des vertiges, mais ça c'est le Lyrica.", "fr",
     "side_effects", "unknown", "an effect pinned on another drug named after it"),
    ("I have been on LDN since June. I had headaches for a week, nothing a paracetamol could "
     "not sort.", "en", "side_effects", "yes", "a drug named after the effect is its remedy"),
    ("Ik gebruik LDN sinds januari.\n4. Van de LDN geen bijwerkingen. Van de tramadol die ik "
     "nam was ik\n   misselijk.", "nl", "side_effects", "no",
     "a hanging indent continues the numbered answer's sentence"),
    ("Je prends la LDN depuis juin. Je dors mieux. Insomnie la première semaine, puis plus "
     "rien.", "fr", "experience", "positive", "a side effect that passed is no faded benefit"),
    ("Ik had in het begin meer energie met LDN. Die energie was na een paar maanden weer weg.",
     "nl", "experience", "mixed", "something good said gone in its own clause faded"),
    ("Je prenais la LDN le soir, mais je ne dormais presque plus.", "fr", "experience",
     "unknown", "'ne ... presque plus' of sleep is worse, no benefit"),
    ("Ik ben gestopt door de hoofdpijn en de misselijkheid.", "nl", "experience", "negative",
     "'door' before a symptom gives its cause, not an improvement"),
    ("Je prends 3 mg depuis deux mois. Je n'ai rien remarqué, ni en bien ni en mal. Je vais "
     "encore essayer et on verra.", "fr", "experience", "no_effect",
     "'on verra' after a no-effect statement stays no effect"),
    ("Ik neem het sinds zes weken. Nog niet veel gemerkt, ik wacht nog af.", "nl",
     "experience", "unknown", "'not yet' with waiting is too early to tell"),
    ("Je prends la LDN depuis avril. J'ai moins mal au dos. Mais je suis très irritable et "
     "je me demande si je continue.", "fr", "experience", "mixed",
     "a benefit and a doubt about going on"),
    ("1. Ja, sinds maart.\n2. Mijn neuroloog, bij wie ik ook voor migraine kom.\n3. Ja, ik "
     "slaap beter.\n4. Tot nu toe geen.", "nl", "side_effects", "no",
     "a plain no under question 4 outweighs a symptom named as the reason elsewhere"),
    ("Ik heb het drie maanden genomen en ben dan gestopt. Ik werd er zo duizelig van dat ik "
     "niet meer kon autorijden. Aan de pijn veranderde niets.", "nl", "experience", "negative",
     "stopped, no benefit, a side effect 'so bad that'"),
    ("Ik heb het een half jaar genomen. Ik lag in het begin veel wakker en dat is zo gebleven, "
     "maar dat was niet de reden om te stoppen. Verder heb ik er niets van gemerkt.", "nl",
     "experience", "no_effect", "a gap term ('zo ... dat') stays inside one clause"),
    ("Je réponds pour ma mère. Elle a pris la LDN un an. Pour les effets secondaires, je ne sais "
     "pas, elle ne s'en souvient plus.", "fr", "side_effects", "unknown",
     "side effects the writer cannot tell are unknown"),
    ("Ja, via de huisarts, goed, geen", "nl", "side_effects", "no",
     "four short answers on one line, split by commas"),
    ("Ik heb het een half jaar genomen. De eerste week was ik wat duizelig. Omdat het niets "
     "deed, ben ik gestopt.", "nl", "experience", "no_effect",
     "a stop for no effect, the reason said before the stop"),
    ("Nog een correctie op mijn vorige mail: ik neem geen 4,5 mg maar 3 mg.", "nl", "ldn_use",
     "current", "a dose corrected is no use denied"),
    ("I have never taken LDN myself. Many of our patients at the clinic are on it and say it "
     "takes the edge off the pain.", "en", "ldn_use", "never",
     "patients of a nurse are other people; 'takes the edge off' takes no drug"),
    ("yes still on it the gp gave it to me great for the pain no side effects that i noticed",
     "en", "experience", "positive", "'great for' says a benefit without naming it"),
    ("'k hem da drei maand gepakt, mo 'k voelde giene verschil. Dus 'k zen ermee gestopt.",
     "nl", "experience", "no_effect", "dialect 'giene' is 'geen'"),
    ("J'ai arrêté la LDN pendant les vacances, et les douleurs sont revenues. Je l'ai reprise "
     "en septembre et ça va mieux.", "fr", "experience", "positive",
     "pain back while off the drug is no faded benefit"),
    ("J'ai pris la LDN un an. J'allais beaucoup mieux, moins de douleurs. Au début j'avais des "
     "vertiges. Je ne la prends plus depuis l'été parce que je suis enceinte.", "fr",
     "experience", "positive", "a stop for a reason of its own is no stop for side effects"),
    ("Ik neem LDN sinds de lente, voorgeschreven door mijn dermatoloog. De jeuk van mijn eczeem "
     "is trouwens ook bijna weg.", "nl", "side_effects", "unknown",
     "a side-effect word joined by a verb to its improvement is no side effect"),
    ("My rheumatologist started me on LDN three months ago.\n\nSide effects: not sure. I have "
     "been more tired lately.", "en", "side_effects", "unknown",
     "an answer about side effects that opens with a doubt"),
    ("Elle a pris la LDN trois mois. Elle n'a rien remarqué, ni en bien ni en mal, donc elle a "
     "arrêté.", "fr", "side_effects", "no", "'ni en bien ni en mal' says no side effects too"),
    ("4: nee\n3: ja, beter\n2: mijn huisarts\n1: ja, nog altijd", "nl", "ldn_use", "current",
     "numbered answers in reverse order are read by their numbers"),
    ("Hallo,\n\nNa twee weken gestopt door de misselijkheid. Verder niks gemerkt.", "nl",
     "ldn_use", "past", "a stop opening the writer's text is the writer's stop of the drug"),
    ("Nog een aanvulling op mijn vorige mail: ik ben vorige week toch gestopt. De dromen "
     "werden te erg.", "nl", "ldn_use", "past",
     "the word after a stop in the next sentence is no activity stopped"),
    ("Yes, I have been taking LDN for about a year now. My neurologist,\n"
     "dr. Peeters at AZ Sint-Jan, prescribed it.", "en", "prescriber", "specialist",
     "a line ending in a comma runs on into the next, whatever its width"),
    ("Bonjour,\n\nOui, depuis mars.\nEffets secondaires : aucun.", "fr", "ldn_use",
     "current", "a 'yes' opening the text after a greeting, a labelled line later"),
    ("Dag Marleen,\n\nNee, eigenlijk niet meer, sinds de zomer.", "nl", "ldn_use", "past",
     "'no, not any more' is past use"),
    ("I use LDN since 2023. My huisarts did not want to, so my reumatoloog gave me the "
     "voorschrift.", "en", "prescriber", "specialist", "a Dutch specialty borrowed in English"),
    ("Ik neem het sinds mei, voorgeschreven door mijn médecin traitant.", "nl", "prescriber",
     "gp", "a French GP borrowed in Dutch"),
    ("I take LDN since May, it helps with the pain. We did arts and crafts at the centre.",
     "en", "prescriber", "unknown", "a generic doctor word of another language is not borrowed"),
    ("Ik schrijf voor mijn vriend, hij heeft geen e-mail.\n\nHij heeft LDN genomen in het "
     "voorjaar en is na vijf weken gestopt.\n\nIkzelf gebruik het niet.", "nl", "ldn_use",
     "past", "answering for a friend: the friend's use, not the writer's"),
    ("Mijn reumatoloog vond het een goed idee, maar zij wou het niet zelf voorschrijven, dus "
     "heeft mijn huisarts het voorschrift gemaakt. Ik neem het sinds mei.", "nl", "prescriber",
     "gp", "a doctor in a later clause is who prescribed after the one who refused"),
    ("Sinds september neem ik het terug en de pijn is weer draaglijk.", "nl", "experience",
     "positive", "pain bearable again is better"),
    ("Ik ben pas vorige week begonnen, met 0,5 mg.", "nl", "ldn_use", "current",
     "a start with a dose only LDN comes in"),
    ("Ik gebruik het al een jaar, via de huisarts, en mijn ervaring is goed.\n\nMaar mag ik "
     "dat combineren met tramadol?", "nl", "experience", "positive",
     "the experience said good in the writer's own words"),
    ("ja al 4 maand van de huisarts 4,5 mg minder pijn geen bijwerkingen", "nl", "experience",
     "positive", "a negation before what follows it ('geen bijwerkingen') is not said of the "
     "words before it ('minder pijn')"),
    ("ja nee ja nee", "nl", "side_effects", "no", "four yes/no words on one line"),
    ("ja nee ja nee", "nl", "experience", "positive", "four yes/no words on one line"),
    ("Ja. Dokter Claes. Ja. Nee.", "nl", "side_effects", "no",
     "four short answers on one line split by full stops"),
    ("Ja. Dokter Claes. Ja. Nee.", "nl", "experience", "positive",
     "four short answers on one line split by full stops"),
    ("Ik nam het een half jaar. Ik was minder moe, maar ik kreeg hartkloppingen en in augustus "
     "kon ik het niet meer verdragen en ben ik gestopt.", "nl", "experience", "mixed",
     "a benefit and side effects the writer could not bear"),
    ("I took it for six months. Less pain, but the nightmares, I couldn't stand them any more "
     "and stopped.", "en", "experience", "mixed",
     "a benefit and side effects the writer could not bear"),
    ("Ik neem het sinds mei. Voorgeschreven door mijn huisarts, op advies van de "
     "reumatoloog.", "nl", "prescriber", "gp",
     "prescribed by one doctor on the advice of another named after 'op advies van'"),
    ("Ich nehme LDN seit Januar. Der Schmerztherapeut hat es mir empfohlen, verschrieben hat "
     "es dann mein Hausarzt.", "de", "prescriber", "gp",
     "a recommending verb has its doctor before it"),
    ("Je la prends depuis décembre, prescrite par mon médecin traitant sur les conseils d'une "
     "pharmacienne.", "fr", "prescriber", "gp",
     "advice of someone who is no doctor leaves the prescriber named before it"),
    ("Kleine correctie: het was dr. Jacobs die het voorschrift schreef, ook fysisch "
     "geneesheer in hetzelfde centrum.", "nl", "experience", "unknown",
     "'hetzelfde' said of a place says nothing of the effect"),
    ("Ik neem het sinds mei. De pijn is nog altijd hetzelfde.", "nl", "experience",
     "no_effect", "the pain still the same"),
    ("Dag,\n\nIk werkte als kinderverzorgster en dat ging gewoon niet meer.\n\nDan LDN: "
     "mijn huisarts schreef het voor. Minder pijn sindsdien.\n\nAn", "nl", "experience",
     "positive", "'niet meer' in the story before LDN comes up is no faded benefit"),
    ("Ik neem het sinds maart. Het was niet de huisarts die het voorgeschreven heeft, maar de "
     "revalidatiearts van het AZ. Mijn huisarts heeft later de voorschriften verlengd.", "nl",
     "prescriber", "specialist",
     "the doctor affirmed against a denied one; one who renews did not prescribe"),
    ("I take it since March. My rheumatologist prescribed it; my GP renews the repeat "
     "prescriptions.", "en", "prescriber", "specialist",
     "one who renews did not prescribe"),
    ("Ik ben vorige zomer gestopt omdat ik dacht dat het niks deed. Na een paar weken was de "
     "pijn veel erger, dus in oktober ben ik herbegonnen. Ik blijf het nemen.", "nl",
     "experience", "positive", "worse off the drug, then restarted: it worked"),
    ("Ik neem het sinds maart. Het hielp ni.", "nl", "experience", "no_effect",
     "Flemish 'ni' for 'niet'"),
    ("Ik neem het sinds februari. Ik heb via een vriendin een afspraak gekregen bij de "
     "reumatoloog in het UZ, en die heeft het voorgeschreven.", "nl", "prescriber",
     "specialist", "a friend who only passed something on ('via een vriendin') is not whom "
     "the sentence tells of"),
    ("Je la prends depuis février. C'est l'algologue, le Dr Wauters, qui me l'a prescrite.",
     "fr", "prescriber", "specialist", "a doctor's word after an elided article ('l'algologue')"),
    ("J'ai fait de la kiné deux fois par semaine. En 2024 l'algologue m'a prescrit la LDN.",
     "fr", "prescriber", "specialist",
     "a bare 'par' far from a practitioner says nothing of who prescribed"),
    ("jen prend depuis 2 mois ca va mieux pour les douleurs mais je fait des cauchemars toute "
     "les nuits et ca me pese vraiment je sais pas si je vais continuer comme ca", "fr",
     "side_effects", "yes", "a doubt far after a side effect in a long unpunctuated clause "
     "does not make it a fear"),
    ("oui 3 mg\nmedecin traitant\noui moins mal au dos et je dors mieux\nnon rien", "fr",
     "side_effects", "no", "four bare lines opening with a yes and a few words"),
    ("J'en ai pris deux mois parce qu'on m'avait dit que ça faisait des miracles. Ben rien du "
     "tout, j'ai laissé tomber.", "fr", "experience", "no_effect",
     "what others said of it ('on m'avait dit') is not the writer's experience"),
    ("J'en ai pris six mois : aucune différence, j'ai arrêté. Je trouve très bien que vous "
     "fassiez cette enquête.", "fr", "experience", "no_effect",
     "praise of what the reader does is not praise of the drug"),
    ("Ik neem het sinds een half jaar. Ik kan terug in de hof werken, dat had ik in jaren niet "
     "meer gedaan. Bijwerkingen heb ik niet gehad.", "nl", "side_effects", "no",
     "something not done in years is no loss of energy"),
    ("Van de Cymbalta kreeg ik een droge mond. Ik ben ermee gestopt. Dan LDN, sinds maart. "
     "Ik neem het nog altijd en ik ga er zeker mee door.", "nl", "ldn_use", "current",
     "a plan word after a statement is of what follows it"),
    ("Ik vind het eerder slechter, ik ben nog vermoeider dan vroeger. Ik neem het nog tot "
     "december, en dan zien we wel.", "nl", "experience", "negative",
     "'we'll see' after it was said worse is no 'too early'"),
    ("I'm answering for my wife. She took naltrexone for two months. She felt sick every "
     "morning and the pain did not change at all, so she gave up on it.", "en", "ldn_use",
     "past", "'gave up on it' is a stop, not 'on it'"),
    ("Na twee maanden was de vermoeidheid veel minder. Maar sinds de zomer merk ik er niets "
     "meer van. Ik neem het nog altijd.", "nl", "experience", "mixed",
     "a benefit, then a sentence opening with 'maar' that says the effect is gone"),
    ("Ça m'aidait bien : moins de douleurs. Mais j'ai arrêté en juin parce que ce n'est pas "
     "remboursé, ce n'était plus possible.", "fr", "experience", "positive",
     "a stop for the price is no faded benefit"),
    ("Ik heb minder pijn, dat is een vooruitgang. Maar sinds ik het neem heb ik elke dag "
     "buikpijn. Ik weet eerlijk gezegd niet of ik het ga volhouden.", "nl", "experience",
     "mixed", "a benefit and a doubt whether to keep on"),
    ("Ik neem het sinds maart. Sindsdien hoofdpijn, constant, dag en nacht.", "nl",
     "experience", "unknown", "'dag en nacht' is all the time; only 'een verschil van dag "
     "en nacht' is praise"),
    ("Ik neem het sinds mei. Het is een verschil van dag en nacht.", "nl", "experience",
     "positive", "'een verschil van dag en nacht' is praise"),
    ("Ik ben vorige maand begonnen: zij heeft mij op naltrexone gezet.", "nl", "ldn_use",
     "current", "put on the drug by a doctor"),
    ("J'ai tout essayé :\n\n- le tramadol : un peu d'effet, puis plus rien ;\n- la duloxétine "
     "(Cymbalta) : des nausées terribles ;\n- la kiné : ça aide un peu ;\n- le Lyrica : des "
     "vertiges.\n\nLe Dr Jacobs m'a prescrit la naltrexone en janvier, moins de douleurs "
     "depuis.\n\nPour les effets secondaires : de la LDN, aucun.", "fr", "side_effects", "no",
     "a dashed list of the treatments tried is no four answers; 'Pour les effets secondaires :' "
     "is a label"),
    ("I take it since May. My experience is not good, more pain.", "en", "experience",
     "negative", "a negation inside a gap term turns it"),
    ("Lo tomo desde marzo. No noté ninguna diferencia.", "es", "experience", "no_effect",
     "a gap term that is itself a negation keeps its meaning"),
    ("Ik neem het sinds de lente, 4.5mg. Ik ben overdag zo moe, meer dan vroeger.", "nl",
     "ldn_use", "current", "a time word compared with ('meer dan vroeger') tells no past use"),
    ("Ik heb LDN een maand geprobeerd en ben dan gestopt. Ik neem intussen weer\nenkel "
     "tramadol.", "nl", "ldn_use", "past", "what is taken after a clause break is another drug"),
    ("k gebruuk et nie mi, k zyn gestopt in de zomer omda t nie ielp.", "nl", "ldn_use", "past",
     "West-Flemish 'nie mi' and a negation ended by 'omda'"),
    ("Je n'en ai jamais pris. Ma belle-sœur en prend depuis un an.", "fr", "ldn_use", "never",
     "a relative's use is not the writer's"),
    ("D) nee, nooit gebruikt. Mijn huisarts vindt het onzin en ik durf er niet meer over te "
     "beginnen.", "nl", "ldn_use", "never", "'niet meer' said of something else in a long clause"),
]

#: (text, language, field, value, rule) of the tables above
OTHER_LANGUAGES = [
    (text, language, name, want, rule)
    for name, table in (("experience", EXPERIENCE_OTHER_LANGUAGES),
                        ("ldn_use", USE_OTHER_LANGUAGES),
                        ("side_effects", SIDE_EFFECTS_OTHER_LANGUAGES))
    for text, language, want, rule in table] + ATTRIBUTION_AND_FADING


@pytest.mark.parametrize(("text", "language", "name", "want", "rule"), OTHER_LANGUAGES,
                         ids=[f"{name}: {rule}" for *_, name, _, rule in OTHER_LANGUAGES])
def test_other_languages(text: str, language: str, name: str, want: str, rule: str) -> None:
    assert coded(text, language)[name] == want, rule


#: (own text, language, the mailing's question order, its labels, (prescriber, experience,
#: side_effects), rule): answers laid out by the quoted mailing
MAILING_LAYOUTS = [
    ("1) ja 2) huisarts 3) ja 4) nee", "nl", (1, 2, 3, 4), {"1": 1, "2": 2, "3": 3, "4": 4},
     ("gp", "positive", "no"),
     "an inline list after the mailing's first label is read whole, not as one answer"),
    ("- yes, since January\n- less pain in my legs\n- no\n- my GP", "en", (1, 3, 4, 2), {},
     ("gp", "positive", "no"),
     "four bullets answer the questions in the mailing's order (prescriber asked last)"),
    ("ja\nhuisarts\nja\nnee", "nl", (1, 3, 2, 4), {}, ("gp", "positive", "no"),
     "four bare lines in the usual order though the mailing asks another: the doctor decides"),
    ("ja\nja, minder pijn\nhuisarts\nnee", "nl", (1, 3, 2, 4), {}, ("gp", "positive", "no"),
     "four bare lines in the mailing's order"),
    ("Ja\nNee\nDe huisarts\nGoed", "nl", (1, 3, 4, 2),
     {"1": 1, "2": 3, "3": 4, "4": 2, "a": 1, "b": 4, "c": 2, "d": 3}, ("gp", "positive", "no"),
     "four bare lines in the order of the mailing's other (lettered) version"),
    ("1) ja\n2) geen\n3) dokter Maes, reumatoloog\n4) zeer tevreden", "nl", (1, 3, 4, 2),
     {"1": 1, "2": 3, "3": 4, "4": 2, "a": 1, "b": 4, "c": 2, "d": 3},
     ("specialist", "positive", "no"),
     "numbered answers in the order of the mailing's other (lettered) version"),
    ("1. oui, depuis mars\n2. mon rhumatologue\n3. pas de différence\n4. des nausées",
     "fr", (4, 1, 3, 2), {"a": 4, "b": 1, "c": 3, "d": 2},
     ("specialist", "no_effect", "yes"),
     "numbered answers in the usual order under a lettered mailing of another order"),
    ("1. nu niet meer\n2. geen verschil gemerkt, daarom gestopt\n3. mijn huisarts\n"
     "4. slechter geslapen", "nl", (1, 2, 3, 4), {}, ("gp", "no_effect", "yes"),
     "numbered answers with experience and prescriber swapped: the doctor decides"),
]


@pytest.mark.parametrize(("text", "language", "order", "labels", "want", "rule"),
                         MAILING_LAYOUTS, ids=[row[-1] for row in MAILING_LAYOUTS])
def test_answers_laid_out_by_the_mailing(text: str, language: str, order: tuple[int, ...],
                                         labels: dict[str, int], want: tuple[str, str, str],
                                         rule: str) -> None:
    result = extract(text, language, order=order, labels=labels)
    values = {name: field.value for name, field in result.fields.items()}
    assert (values["prescriber"], values["experience"], values["side_effects"]) == want, rule


#: (own text, language, field, value, rule): Italian and Spanish, which the codebook counts
#: as ``other``, read with lexicons of their own
ITALIAN_AND_SPANISH = [
    ("Sì, lo prendo da sei mesi.", "it", "ldn_use", "current", "a yes and how long"),
    ("L'ho preso per tre mesi, poi ho smesso.", "it", "ldn_use", "past", "a stop"),
    ("Non l'ho mai preso, il mio medico non lo conosce.", "it", "ldn_use", "never",
     "never taken"),
    ("Lo prendo da un anno, me l'ha prescritto il reumatologo.", "it", "prescriber",
     "specialist", "a specialist by name of trade"),
    ("Lo prendo da marzo. Ho meno dolori e dormo meglio.", "it", "experience", "positive",
     "less pain, better sleep"),
    ("Lo prendo da marzo. Effetti collaterali: nessuno.", "it", "side_effects", "no",
     "the negation after the label"),
    ("Lo prendo da marzo. All'inizio avevo incubi, poi è passato.", "it", "side_effects",
     "yes", "a passing side effect is a side effect"),
    ("Sí, lo tomo desde hace un año.", "es", "ldn_use", "current", "a yes and since when"),
    ("Lo tomé dos meses y lo dejé.", "es", "ldn_use", "past", "a stop"),
    ("Me lo recetó mi médico de cabecera.", "es", "prescriber", "gp", "the GP"),
    ("Lo tomo desde marzo. No noté ninguna diferencia.", "es", "experience", "no_effect",
     "no difference"),
    ("Lo tomo desde marzo. Efectos secundarios: ninguno.", "es", "side_effects", "no",
     "the negation after the label"),
    ("Lo tomo desde marzo. Los primeros días tuve náuseas.", "es", "side_effects", "yes",
     "nausea at the start"),
]


@pytest.mark.parametrize(("text", "language", "name", "want", "rule"), ITALIAN_AND_SPANISH,
                         ids=[f"{lang} {name}: {rule}" for _, lang, name, _, rule
                              in ITALIAN_AND_SPANISH])
def test_italian_and_spanish(text: str, language: str, name: str, want: str,
                             rule: str) -> None:
    assert coded(text, language)[name] == want, rule
