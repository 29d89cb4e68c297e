"""Aggregation keys for windowed counts, computed from an enriched post (pure).

Segment counts are keyed by drug x stage x audience x platform. Keys carry only bounded values
(the caller maps drugs and platforms to their label sets), never text or ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["SEPARATOR", "join_key", "segment_keys", "split_key", "thread_key"]

SEPARATOR = "|"


def join_key(*parts: str) -> str:
    """One table key from parts (the separator is removed from the parts)."""
    return SEPARATOR.join(p.replace(SEPARATOR, "/") for p in parts)


def split_key(key: str) -> list[str]:
    """The parts of a key made by :func:`join_key`."""
    return key.split(SEPARATOR)


def segment_keys(
    post: dict[str, Any], drug_label: Callable[[str], str], platform_label: Callable[[Any], str]
) -> list[str]:
    """``drug|stage|audience|platform`` keys of a post: one per drug taken (``none`` when none)."""
    segments = post.get("segments") or {}
    stage = segments.get("stage", "unknown")
    audience = segments.get("audience", "unknown")
    platform = platform_label(post.get("platform"))
    drugs = sorted({drug_label(m["generic"]) for m in post.get("drugs", ()) if m["status"] in ("current", "past")})
    return [join_key(drug, stage, audience, platform) for drug in drugs or ["none"]]


def thread_key(post: dict[str, Any]) -> str:
    """The conversation a post belongs to: its thread, else the post itself."""
    return post.get("thread_id") or post["id"]
