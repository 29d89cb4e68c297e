"""The post contract: decode one Kafka message value or JSONL line into a validated post.

A post is one UTF-8 JSON object::

    id          string, required, 1-256 chars
    text        string, required, <= 40,000 chars
    created_at  RFC 3339 timestamp with offset (optional; the caller fills in ingest time)
    platform, community, thread_id, reply_to, lang    strings (optional)
    author      object (optional): id, handle, bio strings; followers int >= 0; verified bool
    engagement  object (optional): views, likes, replies, shares ints >= 0

Unknown fields are kept untouched. Every failure raises :class:`InvalidPost` naming the field and
the problem; nothing here logs, because the input may hold patient text.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from processors.exceptions import InvalidPost

__all__ = [
    "MAX_DEPTH",
    "MAX_ID_CHARS",
    "MAX_MESSAGE_BYTES",
    "MAX_TEXT_CHARS",
    "decode_post",
    "post_key",
    "validate_post",
]

MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 40_000
#: Deepest nesting of objects and arrays accepted.
MAX_DEPTH = 64
#: Largest message accepted, in bytes. 40,000 characters of 4-byte UTF-8 plus metadata fit easily.
MAX_MESSAGE_BYTES = 1_000_000

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_OPTIONAL_STRINGS = ("platform", "community", "thread_id", "reply_to", "lang")
_AUTHOR_STRINGS = ("id", "handle", "bio")
_ENGAGEMENT_COUNTS = ("views", "likes", "replies", "shares")


def decode_post(raw: bytes | bytearray | memoryview | str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """Decode and validate one message.

    Args:
        raw: The message value (bytes) or one line of a JSONL file (str).
        max_bytes: Largest accepted message in bytes; default 1,000,000.

    Returns:
        The post as a dict, unknown fields included.

    Raises:
        InvalidPost: When the message is not a valid post; ``field`` and ``problem`` say why.
    """
    size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise InvalidPost("$", f"message is {size} bytes, larger than the {max_bytes}-byte limit", "too_large")
    if not isinstance(raw, str):
        try:
            bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidPost("$", f"not valid UTF-8 at byte {exc.start}", "not_utf8") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidPost("$", f"not valid JSON ({exc.msg} at char {exc.pos})", "not_json") from None
    # orjson reads 1,024 levels of nesting but writes only 254: reject deep nesting here, named,
    # rather than fail later when the enriched post is written.
    if (
        raw.count("[") + raw.count("{") if isinstance(raw, str) else bytes(raw).count(b"[") + bytes(raw).count(b"{")
    ) > MAX_DEPTH:
        depth = _depth(obj)
        if depth > MAX_DEPTH:
            raise InvalidPost("$", f"nested {depth} levels deep, more than the limit of {MAX_DEPTH}", "out_of_range")
    return validate_post(obj)


def validate_post(obj: Any) -> dict[str, Any]:
    """Validate an already-decoded post in place and return it.

    Raises:
        InvalidPost: On the first problem found, naming the field.
    """
    if not isinstance(obj, dict):
        raise InvalidPost("$", f"expected a JSON object, got {_type_name(obj)}", "not_object")
    _require_string(obj, "id", max_len=MAX_ID_CHARS, min_len=1)
    _require_string(obj, "text", max_len=MAX_TEXT_CHARS, min_len=0)
    for name in _OPTIONAL_STRINGS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidPost(name, f"expected a string, got {_type_name(value)}", "wrong_type")
    created = obj.get("created_at")
    if created is not None:
        _check_timestamp(created)
    author = obj.get("author")
    if author is not None:
        _check_object(author, "author")
        for name in _AUTHOR_STRINGS:
            value = author.get(name)
            if value is not None and not isinstance(value, str):
                raise InvalidPost(f"author.{name}", f"expected a string, got {_type_name(value)}", "wrong_type")
        _check_count(author.get("followers"), "author.followers")
        verified = author.get("verified")
        if verified is not None and not isinstance(verified, bool):
            raise InvalidPost("author.verified", f"expected true or false, got {_type_name(verified)}", "wrong_type")
    engagement = obj.get("engagement")
    if engagement is not None:
        _check_object(engagement, "engagement")
        for name in _ENGAGEMENT_COUNTS:
            _check_count(engagement.get(name), f"engagement.{name}")
    return obj


def post_key(post: dict[str, Any]) -> str:
    """The Kafka key of a post: its thread, else its id, so a conversation stays on one partition."""
    thread = post.get("thread_id")
    return thread if thread else post["id"]


def _require_string(obj: dict[str, Any], name: str, *, max_len: int, min_len: int) -> None:
    if name not in obj or obj[name] is None:
        raise InvalidPost(name, "required field is missing", "missing_field")
    value = obj[name]
    if not isinstance(value, str):
        raise InvalidPost(name, f"expected a string, got {_type_name(value)}", "wrong_type")
    if len(value) < min_len:
        raise InvalidPost(name, f"must have at least {min_len} character(s)", "out_of_range")
    if len(value) > max_len:
        raise InvalidPost(name, f"has {len(value)} characters, more than the limit of {max_len}", "out_of_range")


def _check_object(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise InvalidPost(name, f"expected an object, got {_type_name(value)}", "wrong_type")


def _check_count(value: Any, name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPost(name, f"expected a whole number, got {_type_name(value)}", "wrong_type")
    if value < 0:
        raise InvalidPost(name, f"must be >= 0, got {value}", "out_of_range")


def _check_timestamp(value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidPost("created_at", f"expected an RFC 3339 string, got {_type_name(value)}", "wrong_type")
    if not _RFC3339.match(value):
        raise InvalidPost(
            "created_at", "not an RFC 3339 timestamp with an offset (e.g. 2026-11-20T13:05:00Z)", "wrong_type"
        )
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPost("created_at", "not a real date and time (RFC 3339)", "wrong_type") from None


def _depth(obj: Any) -> int:
    """Nesting depth of decoded JSON, without recursion."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in node)
    return deepest


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
