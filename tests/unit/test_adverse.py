"""Adverse events: a drug the author (or the person they care for) took, linked to what it did.

Each event is ``{drug, event, start, end, subject}``: ``drug`` is the generic even when the post
names a brand, ``start``/``end`` slice the event's words out of the post, and ``subject`` says
whose event it is (``self``, ``dependent`` for the person a caregiver looks after, ``other``).
What the drug treats is not an event ("metformin for my diabetes"), and neither is an effect the
post denies ("no nausea").

Cases the system still gets wrong are kept as strict xfails with the reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from processors import Enricher


def events_of(enricher: Enricher, text: str) -> list[dict[str, Any]]:
    [out] = list(enricher.enrich([{"id": "t3_adverse", "text": text}]))
    return list(out["adverse_events"])


def find_event(events: list[dict[str, Any]], text: str, generic: str, words: str) -> dict[str, Any]:
    """The event reported for ``generic`` on ``words`` (its span overlaps them)."""
    at = text.lower().find(words.lower())
    assert at >= 0, f"test bug: {words!r} not in {text!r}"
    hits = [e for e in events if e["drug"] == generic and e["start"] < at + len(words) and at < e["end"]]
    assert hits, f"no {generic} event on {words!r}: {events}"
    assert len(hits) == 1, f"{words!r} reported {len(hits)} times: {hits}"
    return hits[0]


def case(text: str, generic: str, words: str, subject: str, *, bug: str | None = None) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(text, generic, words, subject, id=text, marks=marks)


REPORTED = [
    # The author's own events; brands come out as generics.
    case("Ozempic gave me the worst nausea of my life", "semaglutide", "nausea", "self"),
    case("Lexapro gave me insomnia for the first month", "escitalopram", "insomnia", "self"),
    case("week 2 on Zoloft and the nausea is brutal", "sertraline", "nausea", "self"),
    case("Rybelsus gave me nausea for a week then it went away", "semaglutide", "nausea", "self"),
    case("Humira gave me a rash on my arms", "adalimumab", "rash", "self"),
    case("Keppra rage is real, I snap at everyone since starting it", "levetiracetam", "rage", "self"),
    case("Zoloft made me so tired I slept through my alarms", "sertraline", "tired", "self"),
    case(
        "Jardiance gave me a yeast infection",
        "empagliflozin",
        "yeast infection",
        "self",
    ),
    case(
        "been on Wegovy 3 weeks and the sulfur burps are unreal",
        "semaglutide",
        "sulfur burps",
        "self",
    ),
    case(
        "started Trulicity last month. constant diarrhea since",
        "dulaglutide",
        "diarrhea",
        "self",
    ),
    # A caregiver writing about the person they look after.
    case(
        "my son's Vyvanse is giving him terrible headaches after school", "lisdexamfetamine", "headaches", "dependent"
    ),
    case(
        "my husband started Lipitor and now he has muscle aches all the time",
        "atorvastatin",
        "muscle aches",
        "dependent",
    ),
    case("my mom's Eliquis is causing bruising all over her arms", "apixaban", "bruising", "dependent"),
    case("my dad's been on Xarelto for a year and it gives him nosebleeds", "rivaroxaban", "nosebleeds", "dependent"),
    case("Abilify made my teenager gain 30 pounds in four months", "aripiprazole", "gain 30 pounds", "dependent"),
    case(
        "since my daughter started Singulair she has nightmares every night",
        "montelukast",
        "nightmares",
        "dependent",
    ),
    case(
        "my daughter's Concerta is killing her appetite, she won't eat lunch",
        "methylphenidate",
        "appetite",
        "dependent",
        bug="'killing her appetite' is not an event term",
    ),
    # A new generic that lets the illness through is reported; so is withdrawal from a missing drug.
    case(
        "pharmacy switched my lamotrigine manufacturer and I've had 2 breakthrough seizures since",
        "lamotrigine",
        "seizures",
        "self",
    ),
    case(
        "ran out of cymbalta 3 days ago, the brain zaps are so bad i cant stand up", "duloxetine", "brain zaps", "self"
    ),
    # The link cue may sit in the event's own sentence.
    case(
        "Started methotrexate two weeks ago. My mouth is full of ulcers, is that the mtx?",
        "methotrexate",
        "ulcers",
        "self",
    ),
    # A post about one drug the author is on: the event may come sentences later.
    case(
        "the rheum upped my mtx again, 20mg now. the day after is a write-off, nausea and brain fog",
        "methotrexate",
        "nausea",
        "self",
    ),
    # Someone else's event, reported second hand.
    case("my friend said Accutane gave her terrible nosebleeds", "isotretinoin", "nosebleeds", "other"),
]


@pytest.mark.parametrize(("text", "generic", "words", "subject"), REPORTED)
def test_event_is_reported_for_the_generic_with_offsets_and_subject(
    enricher: Enricher, text: str, generic: str, words: str, subject: str
) -> None:
    event = find_event(events_of(enricher, text), text, generic, words)
    assert text[event["start"] : event["end"]] == event["event"]
    assert event["subject"] == subject


def no_event(text: str, *, bug: str | None = None) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(text, id=text, marks=marks)


INDICATIONS = [
    no_event("I take metformin for my diabetes"),
    no_event("I take Lexapro for my anxiety and it's been great"),
    no_event("Sumatriptan for my migraines works within an hour"),
    no_event("propranolol for my anxiety works great before presentations"),
    no_event("Wellbutrin for depression, honestly no side effects"),
    no_event("taking Zofran for the nausea from chemo"),
]

# What the drug is taken for, said without "for": the illness, not a reaction to the drug.
TREATED = [
    no_event("my son is seizing, it's been 6 minutes, gave the buccal midazolam and he's still going"),
    no_event("9 years seizure-free on lamotrigine and my neuro calls me boring"),
    no_event("gave the epipen 5 min ago, her lips are still swelling and she's wheezing. second pen??"),
    no_event("partner is mid hypo and won't swallow juice, where do i inject the glucagon"),
    no_event("ventolin every 20 mins for 2 hrs and i still cant breathe properly"),
]

# The drug was missing: what follows is the illness untreated.
MISSING = [
    no_event("been rationing my novolog for a week and now i cant stop puking"),
    no_event("ran out of novorapid last night, my son has been vomiting since 3am and ketones are 3.8"),
    no_event("addisons. vomited my hydrocortisone twice, shaking, doing my emergency jab now"),
]

# Rescue drugs given in the emergency, misuse and ingestions (the crisis path), a drug not started yet.
NOT_A_SUSPECT = [
    no_event("partner is t1, sweating and shaking, not answering me. gave the glucagon 5 min ago"),
    no_event("my toddler got into my purse and ate some of my clonidine, he's really sleepy"),
    no_event("took all 30 of the quetiapine about 20 min ago. getting sleepy"),
    no_event("starting wegovy next week and very nervous about the nausea everyone talks about"),
]

# Teaching and stories, not anyone's experience.
NOT_AN_EXPERIENCE = [
    no_event(
        "Nursing students: lithium toxicity often looks like gastro at first. Vomiting, diarrhoea, coarse tremor."
    ),
    no_event("watching Grey's Anatomy and the patient on warfarin is vomiting blood, screaming at the tv"),
]

DENIED = [
    no_event("no side effects from Humira so far"),
    no_event("Mounjaro didn't give me any nausea at all"),
    no_event("zero nausea on Zepbound, just less hungry"),
    no_event("Humira never gave me any injection site reactions"),
    no_event("I didn't get any headaches from Nurtec"),
    no_event("Metformin: no diarrhea for me, surprisingly"),
    no_event("3 weeks on mounjaro and not a single bit of nausea so far"),
    no_event("week 6 of lamotrigine titration and no rash, going smooth"),
]

NOT_TAKEN = [
    no_event(
        "I'm scared Ozempic will give me pancreatitis",
        bug="the feared drug is read as current, so the feared effect becomes an event",
    ),
    no_event("never tried Accutane because I heard it causes depression"),
]


@pytest.mark.parametrize(
    "text", INDICATIONS + TREATED + MISSING + NOT_A_SUSPECT + NOT_AN_EXPERIENCE + DENIED + NOT_TAKEN
)
def test_no_event_is_reported(enricher: Enricher, text: str) -> None:
    """What the drug treats, a missing or misused drug, teaching, a denied effect, a drug not taken."""
    assert events_of(enricher, text) == []


def test_indication_and_event_in_one_sentence(enricher: Enricher) -> None:
    text = "on Topamax for my migraines and it gave me tingling in my hands"
    events = events_of(enricher, text)
    find_event(events, text, "topiramate", "tingling")
    assert not [e for e in events if "migraine" in e["event"].lower()]


def test_each_drug_gets_its_own_event(enricher: Enricher) -> None:
    text = "Lexapro gave me insomnia. Then Humira gave me a rash on my arms"
    events = events_of(enricher, text)
    assert find_event(events, text, "escitalopram", "insomnia")["subject"] == "self"
    assert find_event(events, text, "adalimumab", "rash")["subject"] == "self"
    assert not [e for e in events if e["drug"] == "escitalopram" and e["event"].lower() == "rash"]


def test_a_post_without_drugs_has_no_events(enricher: Enricher) -> None:
    assert events_of(enricher, "the nausea today is unreal, and a headache on top") == []
