"""Faust windowed tables: segment counts and per-conversation crisis counts.

- ``vigil-segments-1m``: tumbling 1 min, key ``partition|drug|stage|audience|platform`` -> posts.
- 10-minute windows every minute (``segments_10m`` of ``/aggregates``) are sums of ten 1-minute
  windows, computed when read. A Faust hopping table would hold the same numbers but write every
  update to ten windows, and so ten changelog records: measured, that was most of the worker's
  time outside enrichment.
- ``vigil-thread-crisis-1h``: tumbling 1 h, key ``thread|level`` -> posts (all levels, so the
  share of crisis posts in a conversation can be read off).

Segment keys start with the source partition: Faust writes a table update to the changelog
partition of the event that caused it, so a key updated from two partitions would have two
conflicting histories. With the partition in the key every key has exactly one, and a reader sums
over partitions. Thread keys need no prefix: posts are keyed by thread, so a thread lives on one
partition. Updates are summed per (key, minute) within a batch and applied once, with the batch's
matching event as the current event (its partition and timestamp place the update).

Backed by RocksDB (``VIGIL_STORE``, default ``rocksdb://``) with changelog topics, so a restarted
or moved worker recovers them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import faust

from processors.aggregation import join_key, segment_keys, split_key, thread_key
from streams.metrics import VigilMetrics

__all__ = ["TABLES", "Aggregates"]

_EXPIRES = timedelta(hours=3)
#: (table name, changelog retention in seconds): the window plus how long closed windows are kept.
TABLES = [
    ("vigil-segments-1m", 60 + 3 * 3600),
    ("vigil-thread-crisis-1h", 3600 + 3 * 3600),
]


class Aggregates:
    """The worker's windowed tables and how a batch updates them."""

    def __init__(self, app: faust.App, metrics: VigilMetrics) -> None:
        self.metrics = metrics
        partitions = app.conf.topic_partitions
        self.segments_1m = app.Table("vigil-segments-1m", default=int, partitions=partitions).tumbling(
            60, expires=_EXPIRES
        )
        self.thread_crisis = app.Table("vigil-thread-crisis-1h", default=int, partitions=partitions).tumbling(
            3600, expires=_EXPIRES
        )

    def update(self, stream: Any, pairs: Sequence[tuple[faust.EventT[Any], dict[str, Any]]]) -> None:
        """Count a batch of (event, enriched post) pairs into the tables."""
        current = stream.current_event
        segments: dict[tuple[int, int, str], list[Any]] = defaultdict(lambda: [None, 0])
        threads: dict[tuple[int, int, str], list[Any]] = defaultdict(lambda: [None, 0])
        for event, post in pairs:
            message = event.message
            minute = int(message.timestamp // 60)
            for key in segment_keys(post, self.metrics.drug_label, self.metrics.platform_label):
                slot = segments[(message.partition, minute, join_key(str(message.partition), *split_key(key)))]
                slot[0], slot[1] = event, slot[1] + 1
            level = (post.get("crisis") or {}).get("level", "none")
            slot = threads[(message.partition, minute, join_key(thread_key(post), level))]
            slot[0], slot[1] = event, slot[1] + 1
        for (_, _, key), (event, count) in segments.items():
            stream._set_current_event(event)
            self.segments_1m[key] += count
        for (_, _, key), (event, count) in threads.items():
            stream._set_current_event(event)
            self.thread_crisis[key] += count
        stream._set_current_event(current)

    def snapshot(self) -> dict[str, Any]:
        """Current contents, summed over partitions, for the ``/aggregates`` page."""
        return {
            "segments_1m": _segments(self.segments_1m),
            "segments_10m": _hopping(_segments(self.segments_1m), size=600, step=60),
            "threads_1h": _threads(self.thread_crisis),
        }


def _windows(wrapper: Any) -> list[tuple[str, float, float, int]]:
    return [(key, start, end, value) for (key, (start, end)), value in wrapper.table.items()]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _segments(wrapper: Any) -> list[dict[str, Any]]:
    totals: dict[tuple[float, float, str, str, str, str], int] = defaultdict(int)
    for key, start, end, value in _windows(wrapper):
        parts = split_key(key)
        if len(parts) != 5:
            raise ValueError(f"unexpected segment table key {key!r}")
        _, drug, stage, audience, platform = parts
        totals[(start, end, drug, stage, audience, platform)] += value
    return [
        {
            "window_start": _iso(s),
            "window_end": _iso(e),
            "drug": d,
            "stage": st,
            "audience": a,
            "platform": p,
            "posts": n,
        }
        for (s, e, d, st, a, p), n in sorted(totals.items())
    ]


def _hopping(rows: list[dict[str, Any]], *, size: int, step: int) -> list[dict[str, Any]]:
    """Windows of ``size`` seconds every ``step`` from the rows of ``step``-second tumbling windows.

    A window starts at a multiple of ``step`` and holds the rows whose window starts in it; its end
    is written as Faust writes window ends (start + size - 0.1 s, shown to the second).
    """
    totals: dict[tuple[float, str, str, str, str], int] = defaultdict(int)
    for row in rows:
        start = datetime.fromisoformat(row["window_start"].replace("Z", "+00:00")).timestamp()
        for first in range(int(start) - size + step, int(start) + 1, step):
            totals[(first, row["drug"], row["stage"], row["audience"], row["platform"])] += row["posts"]
    return [
        {
            "window_start": _iso(s),
            "window_end": _iso(s + size - 0.1),
            "drug": d,
            "stage": st,
            "audience": a,
            "platform": p,
            "posts": n,
        }
        for (s, d, st, a, p), n in sorted(totals.items())
    ]


def _threads(wrapper: Any) -> list[dict[str, Any]]:
    rows: dict[tuple[float, str], dict[str, Any]] = {}
    for key, start, end, value in _windows(wrapper):
        thread, level = split_key(key)
        row = rows.setdefault(
            (start, thread), {"window_start": _iso(start), "window_end": _iso(end), "thread": thread, "posts": 0}
        )
        row[level] = row.get(level, 0) + value
        row["posts"] += value
    return sorted(
        rows.values(), key=lambda r: (r["window_start"], -(r.get("critical", 0) + r.get("high", 0)), r["thread"])
    )
