"""The 10-minute windows of ``/aggregates`` are sums of the 1-minute windows (streams/tables.py)."""

from __future__ import annotations

from typing import Any

from streams.tables import _hopping


def _row(start: str, posts: int, drug: str = "insulin glargine") -> dict[str, Any]:
    return {
        "window_start": start,
        "window_end": start[:-3] + "59Z",
        "drug": drug,
        "stage": "crisis",
        "audience": "patient",
        "platform": "reddit",
        "posts": posts,
    }


def test_each_minute_counts_in_the_ten_windows_that_cover_it() -> None:
    windows = _hopping([_row("2026-11-27T10:05:00Z", 3)], size=600, step=60)
    assert [w["window_start"] for w in windows] == [f"2026-11-27T{h}Z" for h in (
        "09:56:00", "09:57:00", "09:58:00", "09:59:00", "10:00:00",
        "10:01:00", "10:02:00", "10:03:00", "10:04:00", "10:05:00",
    )]  # fmt: skip
    assert all(w["posts"] == 3 for w in windows)
    assert windows[-1]["window_end"] == "2026-11-27T10:14:59Z"


def test_minutes_in_one_window_are_summed_and_keys_stay_apart() -> None:
    rows = [
        _row("2026-11-27T10:00:00Z", 2),
        _row("2026-11-27T10:09:00Z", 5),
        _row("2026-11-27T10:10:00Z", 7),
        _row("2026-11-27T10:00:00Z", 1, drug="adalimumab"),
    ]
    by_start = {(w["window_start"], w["drug"]): w["posts"] for w in _hopping(rows, size=600, step=60)}
    assert by_start[("2026-11-27T10:00:00Z", "insulin glargine")] == 2 + 5  # 10:10 is the next window's
    assert by_start[("2026-11-27T10:01:00Z", "insulin glargine")] == 5 + 7
    assert by_start[("2026-11-27T10:00:00Z", "adalimumab")] == 1
    assert ("2026-11-27T10:01:00Z", "adalimumab") not in by_start
    assert sum(w["posts"] for w in _hopping(rows, size=600, step=60)) == 10 * (2 + 5 + 7 + 1)
