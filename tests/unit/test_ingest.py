"""`vigil ingest` helpers: message keys and CSV rows (no broker needed)."""

from __future__ import annotations

import io

import orjson
import pytest

from processors import InvalidPost, decode_post
from streams.ingest import csv_rows, message_key


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (b'{"id": "t1_reply", "thread_id": "t3_thread", "text": "x"}', b"t3_thread"),
        (b'{"id": "t3_top", "text": "x"}', b"t3_top"),
        (b'{"id": "t3_top", "thread_id": "", "text": "x"}', b"t3_top"),
        (b'{"id": "t3_top", "thread_id": null, "text": "x"}', b"t3_top"),
        ('{"id": "caf\u00e9", "text": "x"}'.encode(), "caf\u00e9".encode()),
    ],
)
def test_message_key_is_thread_else_id(value: bytes, key: bytes) -> None:
    assert message_key(value) == key


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b'{"id": "caf\xe9"}',  # not UTF-8
        b"[1, 2]",
        b'"t3_top"',
        b'{"text": "no id"}',
        b'{"id": 42, "text": "numeric id"}',
        b'{"id": "", "text": "empty id"}',
    ],
)
def test_message_key_is_none_when_no_key_can_be_read(value: bytes) -> None:
    # The line is still sent (unkeyed); the worker dead-letters it with the reason.
    assert message_key(value) is None


def rows(text: str) -> list[dict[str, object]]:
    return [orjson.loads(row) for row in csv_rows(io.StringIO(text))]


def test_csv_columns_nest_under_author_and_engagement() -> None:
    text = (
        "id,text,created_at,platform,author_id,author_handle,author_followers,author_verified,author_bio,views,likes,replies,shares\n"
        'p1,"on Humira, week 3",2026-11-20T13:05:00Z,reddit,u_1,@ann,120,true,"mum, nurse",1000,12,3,0\n'
    )
    assert rows(text) == [
        {
            "id": "p1",
            "text": "on Humira, week 3",
            "created_at": "2026-11-20T13:05:00Z",
            "platform": "reddit",
            "author": {"id": "u_1", "handle": "@ann", "followers": 120, "verified": True, "bio": "mum, nurse"},
            "engagement": {"views": 1000, "likes": 12, "replies": 3, "shares": 0},
        }
    ]


@pytest.mark.parametrize(
    ("cell", "verified"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("no", False)],
)
def test_csv_verified_becomes_a_boolean(cell: str, verified: bool) -> None:
    assert rows(f"id,text,author_verified\np1,hi,{cell}\n")[0]["author"] == {"verified": verified}


def test_empty_cells_are_left_out() -> None:
    assert rows("id,text,platform,author_id,likes\np1,hi,,,\n") == [{"id": "p1", "text": "hi"}]


def test_bad_counts_stay_text_so_the_worker_can_name_the_field() -> None:
    [row] = rows("id,text,author_followers,likes\np1,hi,lots,12k\n")
    assert row["author"] == {"followers": "lots"}
    assert row["engagement"] == {"likes": "12k"}
    with pytest.raises(InvalidPost) as info:
        decode_post(orjson.dumps(row))
    assert (info.value.field, info.value.code) == ("author.followers", "wrong_type")


def test_csv_rows_are_valid_posts_and_keep_extra_columns() -> None:
    for row in csv_rows(io.StringIO("id,text,flair\np1,hi,Meds\np2,there,\n")):
        post = decode_post(row)
        assert post["id"] in ("p1", "p2")
    assert rows("id,text,flair\np1,hi,Meds\n")[0]["flair"] == "Meds"


def test_csv_rows_preserve_multiline_text_and_order() -> None:
    text = 'id,text\np1,"line one\nline two"\np2,second\np3,third\n'
    assert [(r["id"], r["text"]) for r in rows(text)] == [
        ("p1", "line one\nline two"),
        ("p2", "second"),
        ("p3", "third"),
    ]
