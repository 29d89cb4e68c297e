"""The post contract: what the worker and `vigil enrich` accept, and how they say no."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors import InvalidPost, decode_post, post_key, validate_post
from processors.contract import MAX_MESSAGE_BYTES

CANARY = "CANARY-my-psychiatrist-doubled-my-lithium"


def full_post(**changes: Any) -> dict[str, Any]:
    post: dict[str, Any] = {
        "id": "t3_abc123",
        "text": f"{CANARY} and I feel awful",
        "created_at": "2026-11-20T13:05:00Z",
        "platform": "reddit",
        "community": "r/bipolar",
        "thread_id": "t3_thread9",
        "reply_to": "t1_parent",
        "lang": "en",
        "author": {"id": "u_42", "handle": "@someone", "bio": "mum of two", "followers": 12, "verified": False},
        "engagement": {"views": 100, "likes": 3, "replies": 0, "shares": 1},
    }
    post.update(changes)
    return post


def with_author(**changes: Any) -> dict[str, Any]:
    post = full_post()
    post["author"].update(changes)
    return post


def with_engagement(**changes: Any) -> dict[str, Any]:
    post = full_post()
    post["engagement"].update(changes)
    return post


def reject(obj: Any) -> InvalidPost:
    """Encode ``obj`` as a message and return the error decoding it raises."""
    raw = obj if isinstance(obj, (bytes, str)) else orjson.dumps(obj)
    with pytest.raises(InvalidPost) as info:
        decode_post(raw)
    return info.value


# --- valid posts ---------------------------------------------------------------------------------


def test_minimal_post_is_valid() -> None:
    assert decode_post(b'{"id": "1", "text": "hello"}') == {"id": "1", "text": "hello"}


def test_full_post_round_trips_unchanged() -> None:
    post = full_post()
    assert decode_post(orjson.dumps(post)) == post


def test_unknown_fields_are_kept_untouched() -> None:
    post = full_post(source={"crawler": "v2", "score": [1, 2.5, None]}, flair="Meds")
    post["author"]["karma"] = -5  # unknown nested fields are not validated either
    decoded = decode_post(orjson.dumps(post))
    assert decoded["source"] == {"crawler": "v2", "score": [1, 2.5, None]}
    assert decoded["flair"] == "Meds"
    assert decoded["author"]["karma"] == -5


def test_a_jsonl_line_as_str_is_accepted() -> None:
    assert decode_post('{"id": "1", "text": "on Humira 🙂"}')["text"] == "on Humira 🙂"


@pytest.mark.parametrize("raw_type", [bytes, bytearray, memoryview])
def test_binary_message_types_are_accepted(raw_type: type) -> None:
    assert decode_post(raw_type(b'{"id": "1", "text": ""}'))["id"] == "1"


def test_validate_post_does_not_modify_the_post() -> None:
    post = full_post()
    before = copy.deepcopy(post)
    validate_post(post)
    assert post == before


@pytest.mark.parametrize(
    "post",
    [
        pytest.param(full_post(text=""), id="empty text (an image-only post is still a post)"),
        pytest.param(full_post(id="x" * 256), id="256-char id"),
        pytest.param(full_post(text="x" * 40_000), id="40000-char text"),
        pytest.param(full_post(text="é" * 40_000), id="limit counts characters not bytes"),
        pytest.param(full_post(created_at="2026-11-20T13:05:00+01:00"), id="offset +01:00"),
        pytest.param(full_post(created_at="2026-11-20T13:05:00.123456-05:30"), id="fraction and negative offset"),
        pytest.param(full_post(created_at="2026-11-20 13:05:00Z"), id="RFC 3339 space separator"),
        pytest.param(full_post(created_at="2026-11-20t13:05:00Z"), id="lower-case t"),
        pytest.param(full_post(created_at=None, platform=None, author=None, engagement=None), id="null means absent"),
        pytest.param(with_author(followers=0, verified=True), id="zero followers"),
        pytest.param(with_author(followers=10**12), id="huge follower count"),
        pytest.param(with_engagement(views=0, likes=0, replies=0, shares=0), id="zero engagement"),
        pytest.param(full_post(author={}), id="empty author"),
        pytest.param(full_post(engagement={}), id="empty engagement"),
    ],
)
def test_edge_values_are_valid(post: dict[str, Any]) -> None:
    assert decode_post(orjson.dumps(post)) == post


_RFC3339_BUG = "bug: created_at is checked with datetime.fromisoformat (ISO 8601), not RFC 3339"


def test_lower_case_z_offset_is_valid_rfc3339() -> None:
    post = full_post(created_at="2026-11-20T13:05:00z")
    assert decode_post(orjson.dumps(post)) == post


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param("2026-11-20T13:05:00+0100", id="offset without colon"),
        pytest.param("2026-11-20T13:05:00+01", id="offset without minutes"),
        pytest.param("2026-W47-5T13:05:00Z", id="ISO week date"),
    ],
)
def test_iso8601_forms_outside_rfc3339_are_rejected(stamp: str) -> None:
    error = reject(full_post(created_at=stamp))
    assert (error.field, error.code) == ("created_at", "wrong_type")


# --- invalid posts: field and code ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "field", "code"),
    [
        # id
        ({"text": "hi"}, "id", "missing_field"),
        ({"id": None, "text": "hi"}, "id", "missing_field"),
        ({"id": "", "text": "hi"}, "id", "out_of_range"),
        ({"id": "x" * 257, "text": "hi"}, "id", "out_of_range"),
        ({"id": 123, "text": "hi"}, "id", "wrong_type"),
        ({"id": ["a"], "text": "hi"}, "id", "wrong_type"),
        # text
        ({"id": "1"}, "text", "missing_field"),
        ({"id": "1", "text": None}, "text", "missing_field"),
        ({"id": "1", "text": 42}, "text", "wrong_type"),
        ({"id": "1", "text": {"body": "hi"}}, "text", "wrong_type"),
        ({"id": "1", "text": "x" * 40_001}, "text", "out_of_range"),
        # created_at
        (full_post(created_at="2026-11-20T13:05:00"), "created_at", "wrong_type"),  # no offset
        (full_post(created_at="2026-11-20"), "created_at", "wrong_type"),  # no time
        (full_post(created_at="20/11/2026 13:05"), "created_at", "wrong_type"),
        (full_post(created_at="yesterday"), "created_at", "wrong_type"),
        (full_post(created_at=1763643900), "created_at", "wrong_type"),  # epoch seconds
        # optional strings
        (full_post(platform=7), "platform", "wrong_type"),
        (full_post(community=["r/a"]), "community", "wrong_type"),
        (full_post(thread_id=99), "thread_id", "wrong_type"),
        (full_post(reply_to=True), "reply_to", "wrong_type"),
        (full_post(lang={"code": "en"}), "lang", "wrong_type"),
        # author
        (full_post(author="u_42"), "author", "wrong_type"),
        (full_post(author=["u_42"]), "author", "wrong_type"),
        (with_author(id=42), "author.id", "wrong_type"),
        (with_author(handle=1), "author.handle", "wrong_type"),
        (with_author(bio=["x"]), "author.bio", "wrong_type"),
        (with_author(followers=-1), "author.followers", "out_of_range"),
        (with_author(followers=1.5), "author.followers", "wrong_type"),
        (with_author(followers="12"), "author.followers", "wrong_type"),
        (with_author(followers=True), "author.followers", "wrong_type"),  # bool is not a count
        (with_author(verified="yes"), "author.verified", "wrong_type"),
        (with_author(verified=1), "author.verified", "wrong_type"),
        # engagement
        (full_post(engagement=5), "engagement", "wrong_type"),
        (with_engagement(views=-3), "engagement.views", "out_of_range"),
        (with_engagement(likes=2.0), "engagement.likes", "wrong_type"),
        (with_engagement(replies=False), "engagement.replies", "wrong_type"),
        (with_engagement(shares="10"), "engagement.shares", "wrong_type"),
    ],
)
def test_each_rule_names_its_field_and_code(obj: dict[str, Any], field: str, code: str) -> None:
    error = reject(obj)
    assert (error.field, error.code) == (field, code)
    assert str(error).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "not_json"),
        (b"not json at all", "not_json"),
        (b'{"id": "1", "text": "unterminated', "not_json"),
        (b"[1, 2, 3]", "not_object"),
        (b'[{"id": "1", "text": "hi"}]', "not_object"),  # a batch is not a post
        (b"42", "not_object"),
        (b'"a string"', "not_object"),
        (b"null", "not_object"),
        (b'{"id": "1", "text": "caf\xe9"}', "not_utf8"),  # Latin-1, not UTF-8
        (b'{"id": "1", "text": "\xff\xfe"}', "not_utf8"),
    ],
)
def test_whole_message_problems_are_reported_on_dollar(raw: bytes, code: str) -> None:
    error = reject(raw)
    assert (error.field, error.code) == ("$", code)


def test_message_over_max_bytes_is_too_large() -> None:
    raw = orjson.dumps({"id": "1", "text": "x" * 200})
    error = reject_with(raw, max_bytes=100)
    assert (error.field, error.code) == ("$", "too_large")
    assert str(len(raw)) in str(error) and "100" in str(error)


def test_size_limit_counts_utf8_bytes_of_a_str_line() -> None:
    line = orjson.dumps({"id": "1", "text": "🙂" * 30}).decode()  # 30 chars, 120 bytes of text
    assert len(line) < 100
    assert reject_with(line, max_bytes=100).code == "too_large"


def test_message_at_exactly_max_bytes_is_accepted() -> None:
    raw = orjson.dumps({"id": "1", "text": "x"})
    assert decode_post(raw, max_bytes=len(raw))["id"] == "1"


def test_default_limit_is_one_megabyte() -> None:
    raw = b'{"id": "1", "text": "hi", "pad": "' + b"x" * MAX_MESSAGE_BYTES + b'"}'
    assert reject(raw).code == "too_large"


def reject_with(raw: bytes | str, **kwargs: Any) -> InvalidPost:
    with pytest.raises(InvalidPost) as info:
        decode_post(raw, **kwargs)
    return info.value


# --- errors never leak the post's content --------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps({"id": 5, "text": CANARY}),
        orjson.dumps({"id": "1", "text": CANARY * 2_000}),  # too long
        orjson.dumps({"id": "1", "text": CANARY, "created_at": CANARY}),
        orjson.dumps({"id": "1", "text": CANARY, "platform": [CANARY]}),
        orjson.dumps({"id": "1", "text": CANARY, "author": CANARY}),
        orjson.dumps({"id": "1", "text": CANARY, "author": {"followers": CANARY}}),
        orjson.dumps({"id": "1", "text": CANARY, "author": {"verified": CANARY}}),
        orjson.dumps({"id": "1", "text": CANARY, "engagement": {"likes": CANARY}}),
        orjson.dumps([CANARY]),
        ('{"id": "1", "text": "' + CANARY + '"').encode(),  # not JSON
        ('{"id": "1", "text": "' + CANARY + '\xff"}').encode("latin-1"),  # not UTF-8
    ],
)
def test_error_message_never_contains_the_post_text(raw: bytes) -> None:
    with pytest.raises(InvalidPost) as info:
        decode_post(raw, max_bytes=30_000)
    error = info.value
    for shown in (str(error), repr(error), error.problem, error.field):
        assert "CANARY" not in shown
    assert error.code in InvalidPost.CODES


def test_too_large_message_does_not_echo_its_content() -> None:
    raw = orjson.dumps({"id": "1", "text": CANARY * 10})
    with pytest.raises(InvalidPost) as info:
        decode_post(raw, max_bytes=50)
    assert "CANARY" not in str(info.value)


# --- post_key --------------------------------------------------------------------------------------


def test_post_key_is_the_thread_so_a_conversation_shares_a_partition() -> None:
    assert post_key({"id": "t1_reply", "text": "", "thread_id": "t3_thread"}) == "t3_thread"


@pytest.mark.parametrize("thread", [None, ""])
def test_post_key_falls_back_to_the_id(thread: str | None) -> None:
    post = {"id": "t3_top", "text": ""}
    if thread is not None:
        post["thread_id"] = thread
    assert post_key(post) == "t3_top"


# --- property: decode_post never fails any other way ---------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(exclude_categories=())),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
post_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values | st.text(max_size=300),
        "text": json_values | st.text(),
        "created_at": json_values | st.datetimes().map(lambda d: d.isoformat()) | st.just("2026-11-20T13:05:00Z"),
        "platform": json_values,
        "thread_id": json_values,
        "author": json_values
        | st.fixed_dictionaries(
            {}, optional={"id": json_values, "followers": json_values, "verified": json_values, "handle": json_values}
        ),
        "engagement": json_values | st.fixed_dictionaries({}, optional={"views": json_values, "likes": json_values}),
    },
)
# stdlib json, unlike orjson, also writes integers beyond 64 bits, NaN and lone surrogates.
messages = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | post_like.map(lambda p: json.dumps(p, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    | post_like.map(lambda p: json.dumps(p, ensure_ascii=False))
    | st.text(st.characters(exclude_categories=()), max_size=300)
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=messages)
def test_decode_post_returns_a_post_or_raises_invalid_post(raw: bytes | str) -> None:
    try:
        post = decode_post(raw)
    except InvalidPost as error:
        assert error.code in InvalidPost.CODES
        assert error.field
        return
    assert isinstance(post, dict)
    assert isinstance(post["id"], str) and 1 <= len(post["id"]) <= 256
    assert isinstance(post["text"], str)
