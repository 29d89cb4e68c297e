"""Fuzzing the post contract and the enrichment pipeline with whatever a crawler might send.

Properties, on arbitrary bytes, deeply nested JSON, multi-megabyte strings, control characters,
right-to-left text, emoji and ZWJ sequences, numbers where strings belong and surrogate escapes:

- ``decode_post`` returns a post or raises :class:`InvalidPost` with a known code; nothing else.
- ``Enricher.enrich_raw`` never raises and returns one result per input, in input order: the
  enriched post (offsets that slice its text) or the ``InvalidPost`` that ``decode_post`` gives.
- ``vigil enrich`` puts every non-blank line either in its output or in its rejects file.

The number of generated cases per property is printed at the end of the session
("vigil fuzz: ..."). The default run takes well under a minute.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from spacy.language import Language

from processors import Enricher, InvalidPost, decode_post
from processors.components.crisis import LEVELS
from processors.contract import MAX_DEPTH, MAX_ID_CHARS, MAX_MESSAGE_BYTES, MAX_TEXT_CHARS
from streams.cli import main

#: Generated cases per property, printed in the session's terminal summary.
CASES: Counter[str] = Counter()

_FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)


def fuzz(examples: int) -> settings:
    """Hypothesis settings for a property: ``examples`` cases, no deadline (spaCy warms up)."""
    return settings(_FUZZ, max_examples=examples)


# --- strategies ----------------------------------------------------------------------------------

PIECES = [
    # words the pipeline reacts to
    "Humira", "seroquel", "Ozempic", "metformin", "insulin glargine", "Lantus", "not", "never", "stopped",
    "I took the whole bottle of my", "I want to die", "gave me a rash", "my son", "on it for 3 years",
    # right-to-left scripts and bidi controls
    "مرحبا، أتناول الميتفورمين", "אני לוקחת הומירה", "\u202e", "\u202d", "\u200f", "\u200e", "\u2066", "\u2069",
    # emoji, ZWJ sequences, skin tones, variation selectors, flags
    "👩\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "👍🏽", "🧑\u200d⚕️", "❤️", "\u200d", "\ufe0f", "🇬🇧", "💊",
    # control characters and line separators
    "\x00", "\x07", "\x1b[31m", "\x7f", "\u0085", "\u2028", "\u2029", "\r", "\t", "\n", "\x0b\x0c",
    # combining marks, astral letters, BOM, non-characters
    "e\u0301", "\u0300\u0301\u0302\u0303", "𝓶𝔂 Zoloft", "\ufeff", "\uffff", "\U0010ffff", "Ⅻ", "ﬁ",
    # punctuation and JSON-ish characters
    " ", ".", "!!!", "http://x.y/z?a=b&c", "@handle", "#ozempic", "'", '"', "\\", "{", "}", "[", "]", ":", ",",
]  # fmt: skip

fuzzy_text = st.lists(st.sampled_from(PIECES) | st.text(max_size=12), max_size=30).map("".join)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)  # beyond 64 bits: orjson cannot write them
    | st.floats(allow_nan=False, allow_infinity=False)
    | fuzzy_text
)
json_values = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(fuzzy_text, kids, max_size=4), max_leaves=10
)
# Strings where they belong, mostly; numbers, nulls, objects and arrays where they do not.
maybe_string = fuzzy_text | fuzzy_text | json_values
timestamps = st.datetimes().map(lambda d: d.isoformat() + "Z") | st.sampled_from(
    ["2026-11-20T13:05:00Z", "2026-11-20T13:05:00.123456789+05:30", "2026-02-30T10:00:00Z", "2026-11-20 25:00:00Z",
     "2026-11-20T13:05:00+24:00", "2026-11-20t13:05:00z", "2026-11-20T13:05:60Z", "yesterday"]
)  # fmt: skip
counts = st.integers(min_value=-5, max_value=2**70) | json_values
authors = st.fixed_dictionaries(
    {},
    optional={
        "id": maybe_string,
        "handle": maybe_string,
        "bio": maybe_string,
        "followers": counts,
        "verified": st.booleans() | json_values,
        "x_karma": json_values,
    },
)
posts = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=40) | maybe_string, "text": fuzzy_text},
    optional={
        "created_at": timestamps | json_values,
        "platform": maybe_string,
        "community": maybe_string,
        "thread_id": maybe_string,
        "reply_to": maybe_string,
        "lang": maybe_string,
        "author": authors | json_values,
        "engagement": st.fixed_dictionaries({}, optional={k: counts for k in ("views", "likes", "replies", "shares")})
        | json_values,
        "x_unknown": json_values,
    },
)

# Posts that follow the contract, with fuzzed text everywhere: these reach the pipeline.
valid_posts = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=40), "text": fuzzy_text},
    optional={
        "created_at": st.just("2026-11-20T13:05:00Z"),
        "platform": fuzzy_text,
        "community": fuzzy_text,
        "thread_id": fuzzy_text,
        "author": st.fixed_dictionaries(
            {"id": fuzzy_text},
            optional={
                "handle": fuzzy_text,
                "bio": fuzzy_text,
                "followers": st.integers(0, 2**63 - 1),
                "verified": st.booleans(),
            },
        ),
        "engagement": st.fixed_dictionaries({}, optional={k: st.integers(0, 2**63 - 1) for k in ("views", "likes")}),
        "x_unknown": json_values,
    },
)


def _encode(post: dict[str, Any], how: str) -> bytes | str:
    """One message the way different producers would write it."""
    if how == "orjson":
        try:
            return orjson.dumps(post)
        except TypeError:  # integers beyond 64 bits
            how = "ascii"
    if how == "ascii":  # \uXXXX escapes, astral characters as surrogate pairs
        return json.dumps(post).encode()
    if how == "utf8":
        return json.dumps(post, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(post, ensure_ascii=False)  # a JSONL line already read as str


ESCAPES = [
    r"\ud83d\ude00", r"\ud83d", r"\ude00", r"\ude00\ud83d", r"\ud800\udc00", r"\udbff\udfff", r"\uDBFF", r"\u0000",
    r"\u202e", r"\u200d", r"\ufeff", r"\u12", r"\x41", "\\", r"\/", r"\n\r\t",
]  # fmt: skip


@st.composite
def escaped_posts(draw: st.DrawFn) -> bytes:
    """A post whose text holds raw JSON escapes: valid pairs, lone and reversed surrogates, bad ones."""
    body = "".join(draw(st.lists(st.sampled_from(ESCAPES) | st.sampled_from(PIECES[:20]), min_size=1, max_size=8)))
    post = draw(posts)
    post["text"] = "@@ESC@@"
    return json.dumps(post).encode().replace(b"@@ESC@@", body.encode())


@st.composite
def mutated_posts(draw: st.DrawFn) -> bytes:
    """A valid-looking post with bytes cut, overwritten or inserted somewhere."""
    raw = bytearray(json.dumps(draw(posts)).encode())
    at = draw(st.integers(0, len(raw)))
    junk = draw(st.binary(min_size=1, max_size=4) | st.sampled_from([b"\xed\xa0\x80", b"\xc0\xaf", b"\xff", b"\x00"]))
    action = draw(st.sampled_from(["cut", "overwrite", "insert"]))
    if action == "cut":
        return bytes(raw[:at])
    if action == "overwrite":
        raw[at : at + len(junk)] = junk
    else:
        raw[at:at] = junk
    return bytes(raw)


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    # a valid post whose unknown field is nested ``depth`` levels deep
    return b'{"id":"deep","text":"on Humira","x":' + b"[" * depth + b"]" * depth + b"}"


deep = st.builds(_nested, st.integers(1, 1500), st.sampled_from(["array", "object", "post"]))


def _huge(piece: str, chars: int, where: str) -> bytes:
    filler = (piece * (chars // len(piece) + 1))[:chars]
    post: dict[str, Any] = {"id": "huge", "text": "on Humira"}
    if where == "text":
        post["text"] = filler
    elif where == "author.bio":
        post["author"] = {"id": "u", "bio": filler}
    else:
        post[where] = filler
    return orjson.dumps(post)


huge = st.builds(
    _huge,
    st.sampled_from(["x", "Humira ", "👩\u200d👩\u200d👧", "مرحبا ", "\x00", "\u202e", "e\u0301"]),
    st.sampled_from([MAX_TEXT_CHARS, MAX_TEXT_CHARS + 1, 250_000, MAX_MESSAGE_BYTES - 40, MAX_MESSAGE_BYTES])
    | st.integers(0, 3_000_000),
    st.sampled_from(["text", "community", "author.bio", "x_blob"]),
)

small_messages = (
    st.builds(_encode, posts | valid_posts, st.sampled_from(["orjson", "ascii", "utf8", "str"]))
    | st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.text(st.characters(exclude_categories=()), max_size=100)  # surrogate characters included
    | escaped_posts()
    | mutated_posts()
)
messages = small_messages | deep | huge


# --- the case count ------------------------------------------------------------------------------


class _Summary:
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if CASES:
            parts = ", ".join(f"{name} {count}" for name, count in sorted(CASES.items()))
            terminalreporter.write_line(f"vigil fuzz: {sum(CASES.values())} generated inputs ({parts})")


@pytest.fixture(scope="module", autouse=True)
def _case_summary(request: pytest.FixtureRequest) -> Iterator[None]:
    manager = request.config.pluginmanager
    if not manager.has_plugin("vigil-fuzz-summary"):
        manager.register(_Summary(), "vigil-fuzz-summary")
    yield


# --- checks --------------------------------------------------------------------------------------


def _check_post(post: Any) -> None:
    assert isinstance(post, dict)
    assert isinstance(post["id"], str) and 1 <= len(post["id"]) <= MAX_ID_CHARS
    assert isinstance(post["text"], str) and len(post["text"]) <= MAX_TEXT_CHARS
    for name in ("platform", "community", "thread_id", "reply_to", "lang"):
        assert post.get(name) is None or isinstance(post[name], str)
    author = post.get("author")
    assert author is None or isinstance(author, dict)
    followers = (author or {}).get("followers")
    assert followers is None or (type(followers) is int and followers >= 0)


def _check_span(text: str, item: dict[str, Any]) -> None:
    if "start" in item or "end" in item:
        assert 0 <= item["start"] <= item["end"] <= len(text), item


def _check_enriched(out: dict[str, Any], post: dict[str, Any]) -> None:
    """``out`` is the enrichment of the decoded ``post``: same post, with offsets into its text."""
    text = post["text"]
    assert out["id"] == post["id"] and out["text"] == text
    assert {"drugs", "segments", "crisis", "adverse_events", "enriched_at", "pipeline_version"} <= out.keys()
    for mention in out["drugs"]:
        assert 0 <= mention["start"] < mention["end"] <= len(text)
        assert text[mention["start"] : mention["end"]] == mention["text"]
    for event in out["adverse_events"]:
        _check_span(text, event)
        assert event["end"] > event["start"]
    assert out["crisis"]["level"] in LEVELS, out["crisis"]
    for reason in out["crisis"]["reasons"]:
        _check_span(text, reason)
    for reasons in out["segments"]["reasons"].values():
        for reason in reasons:
            _check_span(text, reason)
    if isinstance(post.get("author"), dict):
        assert "handle" not in out["author"]
        if isinstance(post["author"].get("id"), str):
            assert out["author"]["id"].startswith("p_") and out["author"]["id"] != post["author"]["id"]


def _depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value (iterative: it may be 1,000 levels deep)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level + 1)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _serialises(out: dict[str, Any]) -> bool:
    """Whether the worker and `vigil enrich` can write ``out`` (both use ``orjson.dumps``)."""
    orjson.dumps(out)  # raises on what orjson will not write (e.g. nesting past 254 levels)
    return True


def _expected(raw: bytes | str) -> dict[str, Any] | InvalidPost:
    try:
        return decode_post(raw)
    except InvalidPost as exc:
        return exc


# --- decode_post ---------------------------------------------------------------------------------


@fuzz(1000)
@given(raw=messages)
@example(raw=b"")
@example(raw=b"\xef\xbb\xbf{}")  # a UTF-8 byte order mark
@example(raw='{"id": "1", "text": "\ud800"}')  # a lone surrogate in a str line
@example(raw=b'{"id": "1", "text": "\\ud83d"}')
@example(raw=b'{"id": 1, "text": "t"}')
@example(raw=b'{"id": "1", "text": ["t"]}')
@example(raw=b'{"id": "1", "text": "t", "author": {"followers": 1e400}}')
def test_decode_post_returns_a_post_or_raises_invalid_post(raw: bytes | str) -> None:
    CASES["decode_post"] += 1
    try:
        post = decode_post(raw)
    except InvalidPost as error:
        assert error.code in InvalidPost.CODES and error.code != "enrichment_error"
        assert error.field and str(error)
        return
    size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
    assert size <= MAX_MESSAGE_BYTES
    _check_post(post)


@fuzz(40)
@given(raw=huge)
def test_huge_messages_are_refused_by_size_or_length(raw: bytes) -> None:
    CASES["decode_post huge"] += 1
    post = _expected(raw)
    if len(raw) > MAX_MESSAGE_BYTES:
        assert isinstance(post, InvalidPost) and post.code == "too_large"
    elif isinstance(post, InvalidPost):
        assert post.code == "out_of_range" and post.field == "text"
    else:
        _check_post(post)


@fuzz(60)
@given(raw=deep)
@example(raw=_nested(1025, "array"))
def test_deep_nesting_is_a_post_or_invalid_post(raw: bytes) -> None:
    CASES["decode_post deep"] += 1
    post = _expected(raw)
    if isinstance(post, InvalidPost):
        assert post.code in ("not_json", "not_object", "missing_field", "out_of_range")
    else:
        _check_post(post)
        assert _depth(post) <= MAX_DEPTH


CANARY = "QX7-canary-9JZ"
PLACES = ["id", "text", "created_at", "platform", "thread_id", "author.id", "author.handle", "author.followers",
          "author.verified", "engagement.views", "key", "bad_json", "bad_utf8"]  # fmt: skip


@fuzz(300)
@given(post=posts, place=st.sampled_from(PLACES), cut=st.integers(0, 10_000))
def test_rejections_never_repeat_the_content(post: dict[str, Any], place: str, cut: int) -> None:
    """Dead letters carry the error text in headers and it reaches logs: it must name, never quote."""
    CASES["decode_post privacy"] += 1
    value = f"{CANARY} I overdosed on my lithium"
    if "." in place:
        outer, inner = place.split(".")
        post[outer] = {**post[outer], inner: value} if isinstance(post.get(outer), dict) else {inner: value}
    elif place == "key":
        post[value] = 1
    elif place not in ("bad_json", "bad_utf8"):
        post[place] = value
    raw = json.dumps(post).encode()
    if place == "bad_json":
        raw = raw[: min(cut, len(raw))] + f'"{value}'.encode()
    elif place == "bad_utf8":
        raw = raw[:-1] + f',"x":"{value}'.encode() + b'\xff"}'
    error = _expected(raw)
    if isinstance(error, InvalidPost):
        assert "canary" not in str(error).lower() and "lithium" not in str(error), str(error)
        assert "canary" not in error.field.lower()


# --- Enricher.enrich_raw -------------------------------------------------------------------------


@fuzz(300)
@given(raws=st.lists(messages, max_size=12))
def test_enrich_raw_gives_one_result_per_input_in_order(enricher: Enricher, raws: list[bytes | str]) -> None:
    CASES["enrich_raw inputs"] += len(raws)
    # Tag every decodable post with its position, so a result out of order shows up.
    tagged: list[bytes | str] = []
    for i, raw in enumerate(raws):
        post = _expected(raw)
        if isinstance(post, dict) and len(raw) < MAX_MESSAGE_BYTES - 1000 and _depth(post) < 200:
            post["id"] = f"#{i}-{post['id']}"[:MAX_ID_CHARS]
            raw = json.dumps(post, ensure_ascii=False).encode("utf-8", "surrogatepass")
        tagged.append(raw)
    expected = [_expected(raw) for raw in tagged]
    results = enricher.enrich_raw(tagged)

    assert len(results) == len(tagged)
    for want, got in zip(expected, results, strict=True):
        if isinstance(got, InvalidPost):
            assert got.code in InvalidPost.CODES
            if isinstance(want, InvalidPost):
                assert (got.code, got.field) == (want.code, want.field)
            else:  # a post that crashed the pipeline is rejected, not dropped
                assert got.code == "enrichment_error"
        else:
            assert isinstance(got, dict) and isinstance(want, dict)
            _check_enriched(got, want)
            CASES["enrich_raw enriched"] += 1
            assert _serialises(got)


@fuzz(40)
@given(text=fuzzy_text, repeat=st.integers(1, 2000))
def test_long_texts_up_to_the_limit_are_enriched(enricher: Enricher, text: str, repeat: int) -> None:
    CASES["enrich_raw long text"] += 1
    body = (text * repeat)[:MAX_TEXT_CHARS]
    raw = orjson.dumps({"id": "long", "text": body, "author": {"id": "u", "handle": "@h"}})
    (out,) = enricher.enrich_raw([raw])
    assert isinstance(out, dict), out
    _check_enriched(out, decode_post(raw))
    assert _serialises(out)


# --- nesting that orjson reads but will not write -------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, 260, 1000])
def test_a_deeply_nested_unknown_field_is_rejected_or_written(enricher: Enricher, depth: int) -> None:
    """orjson reads 1,024 levels but writes 254: what is accepted must be writable by the worker."""
    (out,) = enricher.enrich_raw([_nested(depth, "post")])
    if depth + 1 > MAX_DEPTH:  # the post object itself is one level
        assert isinstance(out, InvalidPost) and out.code == "out_of_range", out
    else:
        assert isinstance(out, dict) and _serialises(out)


# --- vigil enrich ---------------------------------------------------------------------------------


def _line(raw: bytes | str) -> bytes:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return data.replace(b"\n", b" ")  # one message per line


@fuzz(60)
@given(raws=st.lists(small_messages | deep | st.just(b"") | st.just(b" \t\r"), min_size=1, max_size=60))
def test_vigil_enrich_puts_every_line_in_the_output_or_the_rejects(
    nlp: Language, cache_root: Path, tmp_path_factory: pytest.TempPathFactory, raws: list[bytes | str]
) -> None:
    lines = [_line(raw) for raw in raws]
    CASES["vigil enrich lines"] += len(lines)
    folder = tmp_path_factory.mktemp("fuzz-cli")
    source, out, rejects = folder / "in.jsonl", folder / "out.jsonl", folder / "rejects.jsonl"
    source.write_bytes(b"".join(line + b"\n" for line in lines))
    env = {"VIGIL_CACHE_DIR": str(cache_root), "VIGIL_PSEUDONYM_KEY": "fuzz-test-private-key-0123456789"}
    env |= {name: None for name in os.environ if name.startswith("VIGIL_") and name not in env}
    with mock.patch("streams.cli.build_nlp", return_value=nlp):  # the session's pipeline: no reload per case
        result = CliRunner().invoke(
            main,
            ["enrich", "--input", str(source), "--output", str(out), "--rejects", str(rejects)],
            env=env,
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.stderr

    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.rstrip(b"\r\n").strip()]
    written = [orjson.loads(row) for row in out.read_bytes().splitlines()]
    rejected = [orjson.loads(row) for row in rejects.read_bytes().splitlines()]
    assert len(written) + len(rejected) == len(numbered), "every non-blank line is accounted for"
    assert f"enriched {len(written)} posts, rejected {len(rejected)} invalid line(s)" in result.stderr

    rejected_lines = {row["line"]: row for row in rejected}
    outputs = iter(written)
    for number, line in numbered:
        want = _expected(line.rstrip(b"\r\n"))
        if number in rejected_lines:
            assert rejected_lines[number]["reason"] in InvalidPost.CODES
            assert isinstance(want, InvalidPost) or rejected_lines[number]["reason"] == "enrichment_error"
        else:
            assert isinstance(want, dict), f"line {number} was enriched but does not decode"
            _check_enriched(next(outputs), want)
