"""``vigil_drug_status``: is the author on the drug now, were they on it, never, or are they only asking?

Each case is a realistic patient post with the status a careful annotator would give the named
mention. Cases the rules still get wrong are kept as strict xfails so the rules can be improved
against them (and the xfail removed when they pass).
"""

from __future__ import annotations

import pytest
from spacy.language import Language

from processors import drug_mentions


def status_of(nlp: Language, text: str, mention: str) -> str:
    found = [m for m in drug_mentions(nlp(text)) if m["text"] == mention]
    assert found, f"{mention!r} not found as a drug in {text!r}"
    assert len({m["status"] for m in found}) == 1
    return str(found[0]["status"])


def case(text: str, mention: str, *, bug: str | None = None) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=f"status rules: {bug}")] if bug else []
    return pytest.param(text, mention, id=text, marks=marks)


CURRENT = [
    case("anyone else on Humira get headaches?", "Humira"),
    case("I'm on Humira and it's been great so far", "Humira"),
    case("been taking metformin 500mg twice a day for my PCOS", "metformin"),
    case("my endo just put me on Ozempic", "Ozempic"),
    case("Week 3 on Mounjaro and down 8 lbs", "Mounjaro"),
    case("I inject Ozempic every Sunday night", "Ozempic"),
    case("Taking Zoloft 50mg and it finally helps", "Zoloft"),
    case("currently on Rinvoq for my UC, day 40", "Rinvoq"),
    case("Humira has been a lifesaver for my psoriasis", "Humira"),
    case("day 10 of Wegovy and the nausea is real", "Wegovy"),
    case("2 years on Stelara, still in remission", "Stelara"),
    case("my son takes Vyvanse for ADHD", "Vyvanse"),
    case("took my first Ozempic shot today!!", "Ozempic"),
    case(
        "started Lexapro two weeks ago",
        "Lexapro",
    ),
    case(
        "does Ozempic make anyone else exhausted?",
        "Ozempic",
        bug="'anyone else' says the author is on it; the question should not make it hypothetical",
    ),
    case(
        "Not sure if Ozempic is causing my hair loss",
        "Ozempic",
        bug="'not sure if X is causing' presumes the author takes X",
    ),
]

PAST = [
    case("I don't take Humira anymore", "Humira"),
    case("I was on Lexapro for two years in college", "Lexapro"),
    case("stopped taking metformin because of the stomach issues", "metformin"),
    case("came off Effexor last year and the brain zaps were awful", "Effexor"),
    case("used to take Adderall in high school", "Adderall"),
    case("weaned off prednisone in March", "prednisone"),
    case("I quit Chantix after a week", "Chantix"),
    case("had to stop Humira because of infections", "Humira"),
    case("I tried Lexapro years ago and hated it", "Lexapro"),
    case("I stopped Humira in 2019 and my skin got worse", "Humira"),
    case("I'm not taking metformin anymore", "metformin"),
    case(
        "gave up on metformin, the GI side effects were too much",
        "metformin",
    ),
    case(
        "no more Adderall for me, the crash was brutal",
        "Adderall",
    ),
]

NEGATED = [
    case("never tried Ozempic", "Ozempic"),
    case("my doctor refused to prescribe Adderall", "Adderall"),
    case("I'm not on any insulin", "insulin"),
    case("allergic to penicillin so they gave me something else", "penicillin"),
    case("managing my type 2 without metformin", "metformin"),
    case("I can't take ibuprofen because of my kidneys", "ibuprofen"),
    case("haven't tried Wegovy yet", "Wegovy"),
    case("I have never been on Lexapro", "Lexapro"),
    case("I refuse to take Accutane again", "Accutane"),
    case("I'd never take Accutane", "Accutane"),
    case("no insulin yet, just diet and exercise", "insulin"),
]

HYPOTHETICAL = [
    case("what happens if I miss a dose of Humira?", "Humira"),
    case("should I try Ozempic or Mounjaro?", "Ozempic"),
    case("should I try Ozempic or Mounjaro?", "Mounjaro"),
    case("thinking about asking my doctor about Wegovy", "Wegovy"),
    case("has anyone tried Rinvoq for UC?", "Rinvoq"),
    case("my GI wants to put me on Entyvio", "Entyvio"),
    case("is Skyrizi worth it for Crohn's?", "Skyrizi"),
    case("I might ask about Lexapro at my next appointment", "Lexapro"),
    case("considering Mounjaro if insurance covers it", "Mounjaro"),
    case("would Wegovy help with PCOS weight?", "Wegovy"),
    case("if my A1C doesn't improve she wants to add Jardiance", "Jardiance"),
    case("my rheum wants me to try Rinvoq but I'm scared of the side effects", "Rinvoq"),
]


@pytest.mark.parametrize(("text", "mention"), CURRENT)
def test_current(nlp: Language, text: str, mention: str) -> None:
    assert status_of(nlp, text, mention) == "current"


@pytest.mark.parametrize(("text", "mention"), PAST)
def test_past(nlp: Language, text: str, mention: str) -> None:
    assert status_of(nlp, text, mention) == "past"


@pytest.mark.parametrize(("text", "mention"), NEGATED)
def test_negated(nlp: Language, text: str, mention: str) -> None:
    assert status_of(nlp, text, mention) == "negated"


@pytest.mark.parametrize(("text", "mention"), HYPOTHETICAL)
def test_hypothetical(nlp: Language, text: str, mention: str) -> None:
    assert status_of(nlp, text, mention) == "hypothetical"


# --- several mentions, each with its own status ----------------------------------------------------


def statuses(nlp: Language, text: str) -> list[tuple[str, str]]:
    return [(m["text"], m["status"]) for m in drug_mentions(nlp(text))]


def test_switched_from_one_drug_to_another(nlp: Language) -> None:
    assert statuses(nlp, "switched from Humira to Stelara") == [("Humira", "past"), ("Stelara", "current")]


def test_doctor_switched_me_from_one_drug_to_another(nlp: Language) -> None:
    assert statuses(nlp, "my doctor switched me from Lexapro to Zoloft") == [("Lexapro", "past"), ("Zoloft", "current")]


def test_each_sentence_sets_its_own_status(nlp: Language) -> None:
    text = "I was on Humira for 3 years. Now on Stelara and loving it."
    assert statuses(nlp, text) == [("Humira", "past"), ("Stelara", "current")]


def test_a_cue_does_not_leak_across_sentences(nlp: Language) -> None:
    text = "Stopped Lexapro in June. Started Wellbutrin last week, fingers crossed"
    assert statuses(nlp, text) == [("Lexapro", "past"), ("Wellbutrin", "current")]


def test_a_negation_does_not_leak_into_the_next_sentence(nlp: Language) -> None:
    text = "Never tried Ozempic. Mounjaro has been amazing for me"
    assert statuses(nlp, text) == [("Ozempic", "negated"), ("Mounjaro", "current")]


def test_a_combination_brand_has_one_status_for_both_generics(nlp: Language) -> None:
    mentions = drug_mentions(nlp("I stopped Symbicort last year"))
    assert {m["generic"] for m in mentions} == {"budesonide", "formoterol"}
    assert {m["status"] for m in mentions} == {"past"}


def test_a_bare_mention_is_current(nlp: Language) -> None:
    assert statuses(nlp, "Humira") == [("Humira", "current")]
