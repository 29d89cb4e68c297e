"""``vigil_drugs``: which drug a patient means, and exactly where they wrote it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.language import Language

from processors import drug_mentions
from processors.components.status import STATUSES
from processors.fuzzy import FuzzyIndex, osa_distance


def find(nlp: Language, text: str) -> list[dict[str, Any]]:
    return drug_mentions(nlp(text))


def generics(nlp: Language, text: str) -> list[str]:
    return [m["generic"] for m in find(nlp, text)]


def assert_offsets_slice_the_text(text: str, mentions: list[dict[str, Any]]) -> None:
    for m in mentions:
        assert text[m["start"] : m["end"]] == m["text"], m


# --- brands to generics --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mention", "generic"),
    [
        ("Humira has been a lifesaver for my psoriasis", "Humira", "adalimumab"),
        ("three years on Lantus now", "Lantus", "insulin glargine"),
        ("my endo moved me to Toujeo last spring", "Toujeo", "insulin glargine"),
        ("pharmacy gave me Basaglar pens instead", "Basaglar", "insulin glargine"),
        ("week 6 of Ozempic, down 9 lbs", "Ozempic", "semaglutide"),
        ("Wegovy shortage again in my area", "Wegovy", "semaglutide"),
        ("Mounjaro made me so nauseous", "Mounjaro", "tirzepatide"),
        ("Stelara loading dose on Friday", "Stelara", "ustekinumab"),
        ("my doc upped my Zoloft", "Zoloft", "sertraline"),
        ("metformin gives me the worst stomach cramps", "metformin", "metformin"),
    ],
)
def test_brand_names_are_normalised_to_the_generic(nlp: Language, text: str, mention: str, generic: str) -> None:
    mentions = find(nlp, text)
    assert [(m["text"], m["generic"]) for m in mentions] == [(mention, generic)]
    assert_offsets_slice_the_text(text, mentions)


def test_brands_of_one_generic_all_map_to_it(nlp: Language) -> None:
    assert generics(nlp, "Lantus, Toujeo and Basaglar") == ["insulin glargine"] * 3
    assert generics(nlp, "Ozempic or Wegovy, same thing") == ["semaglutide"] * 2


@pytest.mark.parametrize("spelling", ["humira", "HUMIRA", "Humira", "HuMiRa"])
def test_matching_ignores_case(nlp: Language, spelling: str) -> None:
    text = f"started {spelling} today"
    assert [(m["text"], m["generic"]) for m in find(nlp, text)] == [(spelling, "adalimumab")]


@pytest.mark.parametrize(
    ("text", "mention", "start"),
    [
        ("#ozempic journey week 3", "ozempic", 1),
        ("week 3 #Ozempic #weightloss", "Ozempic", 8),
        ("my Humira's side effects are rough", "Humira", 3),
        ("Ozempic's price just went up", "Ozempic", 0),
        ("(Humira) works for me", "Humira", 1),
        ('the "Lantus" pen jammed', "Lantus", 5),
        ("humira!!!", "humira", 0),
        ("Humira/Stelara combo", "Humira", 0),
    ],
)
def test_names_are_found_inside_hashtags_possessives_and_punctuation(
    nlp: Language, text: str, mention: str, start: int
) -> None:
    mentions = find(nlp, text)
    first = mentions[0]
    assert (first["text"], first["start"], first["end"]) == (mention, start, start + len(mention))
    assert_offsets_slice_the_text(text, mentions)


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        ("metformin 500mg twice a day", "metformin"),
        ("metformin 500 mg twice a day", "metformin"),
        ("Zoloft 50mg and it finally helps", "Zoloft"),
        ("gabapentin 300mg x3", "gabapentin"),
    ],
)
def test_dosages_do_not_stop_a_match_nor_join_it(nlp: Language, text: str, mention: str) -> None:
    mentions = find(nlp, text)
    assert [m["text"] for m in mentions] == [mention]
    assert_offsets_slice_the_text(text, mentions)


# --- combinations and multi-word names ------------------------------------------------------------


def test_combination_brand_yields_one_entry_per_generic_on_the_same_span(nlp: Language) -> None:
    text = "my Symbicort inhaler is empty"
    mentions = find(nlp, text)
    assert sorted(m["generic"] for m in mentions) == ["budesonide", "formoterol"]
    assert {(m["text"], m["start"], m["end"]) for m in mentions} == {("Symbicort", 3, 12)}
    assert len({m["status"] for m in mentions}) == 1  # one mention, one status


@pytest.mark.parametrize(
    ("text", "mention", "expected"),
    [
        ("insulin glargine at night, lispro with meals", "insulin glargine", {"insulin glargine"}),
        ("Tylenol PM to sleep", "Tylenol PM", {"acetaminophen", "diphenhydramine"}),
    ],
)
def test_multi_word_names_match_as_one_span(nlp: Language, text: str, mention: str, expected: set[str]) -> None:
    spans = [m for m in find(nlp, text) if m["start"] == 0]
    assert {m["text"] for m in spans} == {mention}
    assert {m["generic"] for m in spans} == expected
    # the longer name wins: plain "insulin" / "tylenol" is not reported on top of it
    assert "insulin" not in generics(nlp, "insulin glargine at night")
    assert generics(nlp, "Tylenol PM to sleep").count("acetaminophen") == 1


def test_a_saved_pipeline_loads_with_its_lexicon(nlp: Language, tmp_path: Path) -> None:
    # The lexicon travels with the pipeline and the factories load through entry points.
    nlp.to_disk(tmp_path / "vigil-nlp")
    loaded = spacy.load(tmp_path / "vigil-nlp")
    text = "switched from humera to Stelara, never tried Ozempic"
    assert drug_mentions(loaded(text)) == drug_mentions(nlp(text))
    assert [m["generic"] for m in drug_mentions(loaded(text))] == ["adalimumab", "ustekinumab", "semaglutide"]


# --- offsets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "🙂🙂 Humira works",
        "👩‍👩‍👧 family dinner, then my Ozempic shot 💉",
        "🇬🇧 NHS finally approved Wegovy",
        "café au lait and metformin ☕",
        "e\u0301te\u0301: Humira + Stelara",  # combining accents before the mentions
        "\n\n  Lantus\tand Toujeo",
        "𝓶𝔂 Zoloft",  # astral-plane letters
    ],
)
def test_offsets_slice_the_original_text_exactly(nlp: Language, text: str) -> None:
    mentions = find(nlp, text)
    assert mentions
    assert_offsets_slice_the_text(text, mentions)


drug_names = st.sampled_from(["Humira", "ozempic", "Lantus", "metformin", "Symbicort", "insulin glargine", "Zoloft"])
noise = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"], exclude_characters="#'"), max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=noise, drug=drug_names, after=noise)
def test_a_separated_name_is_found_at_its_exact_offsets(nlp: Language, before: str, drug: str, after: str) -> None:
    text = f"{before} {drug} {after}"
    start = len(before) + 1
    mentions = find(nlp, text)
    assert_offsets_slice_the_text(text, mentions)
    assert any(m["start"] == start and m["end"] == start + len(drug) for m in mentions), mentions


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(st.characters(exclude_categories=["Cs"]), max_size=200))
def test_any_text_gives_well_formed_mentions(nlp: Language, text: str) -> None:
    for m in find(nlp, text):
        assert text[m["start"] : m["end"]] == m["text"]
        assert m["generic"] and m["generic"] == m["generic"].lower()
        assert m["status"] in STATUSES


# --- misspellings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "generic"),
    [
        ("humera", "adalimumab"),
        ("lantis", "insulin glargine"),
        ("ozempik", "semaglutide"),
        ("metforman", "metformin"),
        ("gabapenten", "gabapentin"),
        ("zolof", "sertraline"),
        ("Ozempick", "semaglutide"),
        ("prednizone", "prednisone"),
    ],
)
def test_misspellings_of_common_drugs_are_corrected(nlp: Language, word: str, generic: str) -> None:
    text = f"been on {word} for a month"
    mentions = find(nlp, text)
    assert [(m["text"], m["generic"]) for m in mentions] == [(word, generic)]


def test_a_misspelled_first_word_still_finds_the_multi_word_name(nlp: Language) -> None:
    mentions = find(nlp, "tylonol pm to sleep")
    assert {(m["text"], m["generic"]) for m in mentions} == {
        ("tylonol pm", "acetaminophen"),
        ("tylonol pm", "diphenhydramine"),
    }


@pytest.mark.parametrize(
    ("sentence", "word", "drug"),
    [
        ("I finally felt alive again", "alive", "aleve"),
        ("that lyric gets stuck in my head", "lyric", "lyrica"),
        ("it hit me like an anvil", "anvil", "advil"),
        ("went to a concert last night", "concert", "concerta"),
    ],
)
def test_english_words_one_edit_from_a_drug_are_left_alone(nlp: Language, sentence: str, word: str, drug: str) -> None:
    finder = nlp.get_pipe("vigil_drugs")
    entry = finder.lexicon.get(drug)
    # Precondition: the word really is one edit from a drug the misspelling step targets.
    assert entry is not None and entry.common
    assert osa_distance(word, drug) == 1
    assert find(nlp, sentence) == []


@pytest.mark.parametrize(("word", "drug"), [("advl", "advil"), ("xnax", "xanax")])
def test_words_under_five_letters_are_never_corrected(nlp: Language, word: str, drug: str) -> None:
    # Too many real words and abbreviations sit one edit from a short drug name.
    assert osa_distance(word, drug) == 1
    assert nlp.get_pipe("vigil_drugs").lexicon.get(drug) is not None
    assert find(nlp, f"took some {word} today") == []


def test_fuzzy_index_corrects_within_one_edit_and_refuses_ties() -> None:
    index = FuzzyIndex(["humira", "lantus", "levemir", "gabapentin"])
    assert index.lookup("humera") == "humira"  # substitution
    assert index.lookup("hmuira") == "humira"  # transposition
    assert index.lookup("humiraa") == "humira"  # insertion
    assert index.lookup("lants") == "lantus"  # deletion
    assert index.lookup("humxxa") is None  # two edits on a short word
    assert index.lookup("gabbapenten") == "gabapentin"  # two edits allowed from 8 letters
    assert index.lookup("hum") is None
    tied = FuzzyIndex(["abcdex", "abcdey"])
    assert tied.lookup("abcdez") is None  # equally close to two names: no guess


def test_a_word_far_longer_than_any_name_is_not_looked_up() -> None:
    """Every delete of a 40,000-letter word is ~800 million strings: one such post ran the test
    session out of memory. Only words within reach of a name's length are looked up."""
    index = FuzzyIndex(["humira", "gabapentin"])
    assert index.lookup("gabapentinss") == "gabapentin"  # 10 letters + 2 edits: still looked up
    assert index.lookup("humira" * 6667) is None
    assert index.lookup("gabapentinsss") is None  # 3 letters past the longest reach


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("abc", "abc", 0), ("abc", "acb", 1), ("abc", "", 3), ("kitten", "sitting", 3), ("ca", "abc", 3)],
)
def test_osa_distance(a: str, b: str, distance: int) -> None:
    assert osa_distance(a, b) == distance
    assert osa_distance(b, a) == distance


# --- lookalikes and ambiguous names --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "my plan b is to call the clinic",
        "my plan B is to just leave early",
        "the generics are fine",
        "pure ecstasy at the concert",
        "Aurora and Max came over",
        "the Aurora borealis was unreal",
        "caps lock",
        "my insulin resistance is getting worse",
        "insulin pump site fell off",
        "lithium ion battery died",
        "Molly is my best friend",
        "pumping iron at the gym",
    ],
)
def test_lookalikes_are_not_drug_mentions(nlp: Language, text: str) -> None:
    assert find(nlp, text) == []


@pytest.mark.parametrize(
    ("text", "mention", "generic"),
    [
        ("took plan b this morning", "plan b", "levonorgestrel"),
        ("the pharmacist said Plan B works up to 72 hours", "Plan B", "levonorgestrel"),
        ("my doctor prescribed ella after the condom broke", "ella", "ulipristal"),
        ("Allegra 180mg for allergies", "Allegra", "fexofenadine"),
        ("started alli pills for weight loss", "alli", "orlistat"),
    ],
)
def test_ambiguous_names_are_found_in_drug_context(nlp: Language, text: str, mention: str, generic: str) -> None:
    mentions = find(nlp, text)
    assert (mention, generic) in [(m["text"], m["generic"]) for m in mentions]
    assert_offsets_slice_the_text(text, mentions)


# --- salts: the moiety is the generic --------------------------------------------------------------


def test_salt_words_are_dropped_from_the_generic(nlp: Language) -> None:
    # "lithium" is on the default watch list; Lithobid is lithium carbonate.
    assert generics(nlp, "Lithobid 300mg at night") == ["lithium"]


def test_lithium_carbonate_is_lithium(nlp: Language) -> None:
    assert generics(nlp, "lithium carbonate 300mg at night") == ["lithium"]


def test_ferrous_sulfate_keeps_a_real_generic(nlp: Language) -> None:
    assert generics(nlp, "ferrous sulfate 325mg for my anemia")[0] in {"ferrous sulfate", "iron"}


def test_several_mentions_keep_text_order(nlp: Language) -> None:
    text = "Stopped Lexapro in June. Started Wellbutrin last week, plus metformin"
    mentions = find(nlp, text)
    assert [m["generic"] for m in mentions] == ["escitalopram", "bupropion", "metformin"]
    assert [m["start"] for m in mentions] == sorted(m["start"] for m in mentions)


def test_repeated_mentions_are_all_reported(nlp: Language) -> None:
    assert [(m["start"], m["end"]) for m in find(nlp, "humira humira")] == [(0, 6), (7, 13)]


def test_text_without_drugs_and_empty_text(nlp: Language) -> None:
    assert find(nlp, "") == []
    assert find(nlp, "   \n ") == []
    assert find(nlp, "long day at work, going to bed early") == []
