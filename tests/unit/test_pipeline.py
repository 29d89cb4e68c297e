"""The Enricher: what an enriched post looks like, and what it never contains."""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from spacy.language import Language
from spacy.tokens import Doc

from processors import PIPELINE_VERSION, Enricher, InvalidPost, Pseudonymizer, build_nlp

RAW_AUTHOR_ID = "t2_rawauthor_8f3a1c"
HANDLE = "u/sleepy_insulin_mum"
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
NOW = datetime(2026, 11, 20, 13, 5, 0, 250000, tzinfo=UTC)


def post(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "t3_abc",
        "text": "switched from Humira to Stelara last month",
        "created_at": "2026-11-20T12:00:00Z",
        "platform": "reddit",
        "community": "r/CrohnsDisease",
        "thread_id": "t3_thread",
        "lang": "en",
        "author": {"id": RAW_AUTHOR_ID, "handle": HANDLE, "bio": "IBD since 2009", "followers": 3, "verified": False},
        "engagement": {"views": 40, "likes": 2, "replies": 1, "shares": 0},
        "flair": "Medication",  # unknown to the contract
        "source": {"crawler": "v2", "fetched": [1, 2]},
    }
    base.update(changes)
    return base


def enrich_one(enricher: Enricher, item: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    [out] = list(enricher.enrich([item], **kwargs))
    return out


# --- shape of the output ---------------------------------------------------------------------------


def test_input_fields_are_kept_including_unknown_ones(enricher: Enricher) -> None:
    item = post()
    out = enrich_one(enricher, item)
    for name in (
        "id",
        "text",
        "created_at",
        "platform",
        "community",
        "thread_id",
        "lang",
        "engagement",
        "flair",
        "source",
    ):
        assert out[name] == item[name]
    assert out["author"]["bio"] == "IBD since 2009"
    assert out["author"]["followers"] == 3 and out["author"]["verified"] is False


def test_drugs_are_listed_with_text_generic_offsets_and_status(enricher: Enricher) -> None:
    out = enrich_one(enricher, post())
    assert out["drugs"] == [
        {"text": "Humira", "generic": "adalimumab", "start": 14, "end": 20, "status": "past"},
        {"text": "Stelara", "generic": "ustekinumab", "start": 24, "end": 31, "status": "current"},
    ]
    for drug in out["drugs"]:
        assert out["text"][drug["start"] : drug["end"]] == drug["text"]


def test_post_without_drugs_has_an_empty_list(enricher: Enricher) -> None:
    assert enrich_one(enricher, post(text="long day, early night"))["drugs"] == []


def test_enriched_at_is_rfc3339_utc_and_pipeline_version_is_stamped(enricher: Enricher) -> None:
    out = enrich_one(enricher, post(), now=NOW)
    assert out["enriched_at"] == "2026-11-20T13:05:00.250Z"
    assert out["pipeline_version"] == PIPELINE_VERSION


def test_enriched_at_is_converted_to_utc(enricher: Enricher) -> None:
    local = datetime(2026, 11, 20, 14, 5, tzinfo=timezone(timedelta(hours=1)))
    assert enrich_one(enricher, post(), now=local)["enriched_at"] == "2026-11-20T13:05:00.000Z"


def test_enriched_at_defaults_to_now(enricher: Enricher) -> None:
    before = datetime.now(UTC)
    stamp = enrich_one(enricher, post())["enriched_at"]
    assert RFC3339_UTC.match(stamp)
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= moment <= datetime.now(UTC) + timedelta(seconds=1)


def test_output_is_json_serialisable(enricher: Enricher) -> None:
    out = enrich_one(enricher, post())
    assert orjson.loads(orjson.dumps(out)) == out


def test_input_dicts_are_not_modified(enricher: Enricher) -> None:
    items = [post(), post(id="t3_def", author={"id": "u2", "handle": "@x"}), post(author=None)]
    before = copy.deepcopy(items)
    list(enricher.enrich(items))
    assert items == before


def test_many_posts_come_out_in_input_order(enricher: Enricher) -> None:
    items = [post(id=f"p{i}", text=f"day {i} on Ozempic" if i % 3 else "no meds today") for i in range(600)]
    outs = list(enricher.enrich(items))  # more than one nlp.pipe batch
    assert [o["id"] for o in outs] == [i["id"] for i in items]
    assert [bool(o["drugs"]) for o in outs] == [bool(i % 3) for i in range(600)]


# --- pseudonymisation --------------------------------------------------------------------------------


def test_author_id_is_replaced_by_a_keyed_pseudonym_and_handle_dropped(
    enricher: Enricher, pseudonym_key: bytes
) -> None:
    # HMAC-SHA256(key, id), 128 bits in hex: whoever holds the key can recompute it (e.g. for an
    # erasure request); nobody else can.
    out = enrich_one(enricher, post())
    expected = "p_" + hmac.new(pseudonym_key, RAW_AUTHOR_ID.encode(), hashlib.sha256).hexdigest()[:32]
    assert out["author"]["id"] == expected
    assert "handle" not in out["author"]


def test_raw_id_and_handle_appear_nowhere_in_the_output(enricher: Enricher) -> None:
    encoded = orjson.dumps(enrich_one(enricher, post())).decode()
    assert RAW_AUTHOR_ID not in encoded
    assert "rawauthor" not in encoded
    assert HANDLE not in encoded and "sleepy_insulin_mum" not in encoded


def test_same_author_same_key_gives_the_same_pseudonym(enricher: Enricher, nlp: Language, pseudonym_key: bytes) -> None:
    first = enrich_one(enricher, post(id="a"))["author"]["id"]
    second = enrich_one(enricher, post(id="b", text="other post"))["author"]["id"]
    other_enricher = Enricher(nlp, Pseudonymizer(pseudonym_key))  # e.g. after a worker restart
    assert first == second == enrich_one(other_enricher, post())["author"]["id"]


def test_different_key_or_author_gives_a_different_pseudonym(enricher: Enricher, nlp: Language) -> None:
    ours = enrich_one(enricher, post())["author"]["id"]
    theirs = enrich_one(Enricher(nlp, Pseudonymizer(b"another-deployment-key-000000000")), post())["author"]["id"]
    other_author = enrich_one(enricher, post(author={"id": RAW_AUTHOR_ID + "x"}))["author"]["id"]
    assert len({ours, theirs, other_author}) == 3


def test_author_without_id_or_no_author_at_all(enricher: Enricher) -> None:
    out = enrich_one(enricher, post(author={"handle": HANDLE, "followers": 1}))
    assert out["author"] == {"followers": 1}
    out = enrich_one(enricher, post(author=None))
    assert out["author"] is None
    item = post()
    del item["author"]
    assert "author" not in enrich_one(enricher, item)


def test_pseudonymizer_refuses_short_keys_and_hides_its_key(pseudonym_key: bytes) -> None:
    with pytest.raises(ValueError):
        Pseudonymizer(b"too-short")
    assert pseudonym_key.decode() not in repr(Pseudonymizer(pseudonym_key))


# --- enrich_raw -------------------------------------------------------------------------------------


def test_enrich_raw_keeps_input_order_with_errors_in_place(enricher: Enricher) -> None:
    raws = [
        orjson.dumps(post(id="one")),
        b"not json",
        orjson.dumps({"id": "three", "text": "never tried Ozempic"}),
        orjson.dumps({"id": "", "text": "empty id"}),
        '{"id": "five", "text": "on Lantus"}',  # a JSONL line as str
        b'{"id": "six", "text": "caf\xe9"}',
    ]
    results = enricher.enrich_raw(raws, now=NOW)
    assert len(results) == len(raws)
    kinds = [r.code if isinstance(r, InvalidPost) else r["id"] for r in results]
    assert kinds == ["one", "not_json", "three", "out_of_range", "five", "not_utf8"]
    assert results[2]["drugs"][0]["status"] == "negated"
    assert results[4]["drugs"][0]["generic"] == "insulin glargine"
    assert RAW_AUTHOR_ID not in orjson.dumps(results[0]).decode()


def test_enrich_raw_rejects_messages_over_max_bytes(enricher: Enricher) -> None:
    small, big = orjson.dumps({"id": "s", "text": "hi"}), orjson.dumps({"id": "b", "text": "x" * 500})
    results = enricher.enrich_raw([small, big], max_bytes=200)
    assert results[0]["id"] == "s"
    assert isinstance(results[1], InvalidPost) and results[1].code == "too_large"


def test_created_at_is_filled_from_ingest_time_only_when_absent(enricher: Enricher) -> None:
    raws = [
        orjson.dumps({"id": "no-date", "text": "hi"}),
        orjson.dumps({"id": "null-date", "text": "hi", "created_at": None}),
        orjson.dumps({"id": "dated", "text": "hi", "created_at": "2026-01-02T03:04:05+02:00"}),
    ]
    ingest = ["2026-11-20T10:00:00.000Z", "2026-11-20T10:00:01.000Z", "2026-11-20T10:00:02.000Z"]
    results = enricher.enrich_raw(raws, ingest_times=ingest, now=NOW)
    assert [r["created_at"] for r in results] == [
        "2026-11-20T10:00:00.000Z",
        "2026-11-20T10:00:01.000Z",
        "2026-01-02T03:04:05+02:00",
    ]


def test_created_at_falls_back_to_enrichment_time(enricher: Enricher) -> None:
    [out] = enricher.enrich_raw([b'{"id": "1", "text": "hi"}'], now=NOW)
    assert out["created_at"] == out["enriched_at"] == "2026-11-20T13:05:00.250Z"


def test_enrich_raw_of_nothing(enricher: Enricher) -> None:
    assert enricher.enrich_raw([]) == []


# --- a post that crashes the pipeline is rejected, never dropped, and does not sink its batch ----------

POISON = "this post makes a component crash"


@Language.component("vigil_test_poison")
def _poison(doc: Doc) -> Doc:
    if POISON in doc.text:
        raise RuntimeError("component bug")
    return doc


@pytest.fixture(scope="module")
def fragile_enricher(nlp: Language, pseudonymizer: Pseudonymizer) -> Enricher:
    fragile = build_nlp(nlp.get_pipe("vigil_drugs").lexicon, fuzzy=False)
    fragile.add_pipe("vigil_test_poison", first=True)
    return Enricher(fragile, pseudonymizer)


def test_a_crashing_post_becomes_an_enrichment_error(fragile_enricher: Enricher) -> None:
    raws = [
        b'{"id": "a", "text": "on Humira"}',
        orjson.dumps({"id": "b", "text": POISON}),
        b"{]",
        b'{"id": "d", "text": "on Ozempic"}',
    ]
    results = fragile_enricher.enrich_raw(raws)
    assert [r["id"] if isinstance(r, dict) else r.code for r in results] == ["a", "enrichment_error", "not_json", "d"]
    assert results[0]["drugs"][0]["generic"] == "adalimumab"
    assert results[3]["drugs"][0]["generic"] == "semaglutide"
    error = results[1]
    assert isinstance(error, InvalidPost) and error.field == "text" and POISON not in str(error)


# --- one cue pass per post -------------------------------------------------------------------------

LISTENING_TEXTS = [
    "my son is on keppra and he is having a seizure right now, lips going blue",
    "can't afford my insulin this month, rationing until payday",
    "started sertraline 3 weeks ago and now I'm having thoughts of ending it",
    "two years ago I ended up in the ER after an overdose, doing great now",
    "Lamictal gave me a rash on my chest, is that the bad one?",
    "Big Pharma wants you on Ozempic forever, look at who funded the trial",
    "this commercial makes me want to die lol",
]


def test_components_give_the_same_tags_with_or_without_the_shared_cue_pass(nlp: Language, enricher: Enricher) -> None:
    """``vigil_cues`` is only a speed-up: each component matches its own sets when it did not run."""
    posts = [post(id=f"p{i}", text=text) for i, text in enumerate(LISTENING_TEXTS)]
    shared = list(enricher.enrich(posts, now=NOW))
    with nlp.select_pipes(disable=["vigil_cues"]):
        alone = list(enricher.enrich(posts, now=NOW))
    assert shared == alone
    levels = [out["crisis"]["level"] for out in shared]
    assert levels[0] == "critical" and levels[1] == "high" and "none" in levels  # the texts exercise the cues
    assert any(out["adverse_events"] for out in shared)
