"""`vigil enrich`: a JSONL file in, enriched JSONL out, rejects with line numbers; no Kafka."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from streams.cli import main

RAW_AUTHOR_ID = "t2_cli_raw_author"
PRIVATE_KEY = "cli-test-private-key-0123456789abcdef"

LINES = [
    orjson.dumps(
        {"id": "p1", "text": "switched from Humira to Stelara", "author": {"id": RAW_AUTHOR_ID, "handle": "@a"}}
    ),
    b"",
    b"this is not json",
    orjson.dumps({"id": "p4", "text": "never tried Ozempic", "platform": "reddit", "flair": "Meds"}),
    b"   ",
    orjson.dumps({"id": "p6", "text": 42}),
    b'{"id": "p7", "text": "caf\xe9 and metformin"}',
    orjson.dumps({"id": "p8", "text": "no meds, just vibes", "created_at": "2026-11-20T13:05:00Z"}),
]


@pytest.fixture
def env(clean_env: pytest.MonkeyPatch, cache_root: Path, nlp: object) -> dict[str, str]:
    # Depends on ``nlp`` so the session's compiled lexicon exists in cache_root before the CLI
    # loads it from there.
    return {"VIGIL_CACHE_DIR": str(cache_root), "VIGIL_PSEUDONYM_KEY": PRIVATE_KEY}


def enrich(args: list[str], env: dict[str, str], input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["enrich", *args], env=env, input=input, catch_exceptions=False)


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_enrich_a_file_keeps_order_and_reports_rejects(tmp_path: Path, env: dict[str, str]) -> None:
    source = tmp_path / "posts.jsonl"
    source.write_bytes(b"\n".join(LINES) + b"\n")
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    result = enrich(["--input", str(source), "--output", str(out), "--rejects", str(rejects)], env)
    assert result.exit_code == 0, result.stderr

    enriched = read_jsonl(out)
    assert [p["id"] for p in enriched] == ["p1", "p4", "p8"]
    assert [(d["generic"], d["status"]) for d in enriched[0]["drugs"]] == [
        ("adalimumab", "past"),
        ("ustekinumab", "current"),
    ]
    assert enriched[1]["flair"] == "Meds" and enriched[1]["drugs"][0]["status"] == "negated"
    assert enriched[2]["drugs"] == [] and enriched[2]["created_at"] == "2026-11-20T13:05:00Z"
    assert RAW_AUTHOR_ID.encode() not in out.read_bytes()

    rows = read_jsonl(rejects)
    assert [(r["line"], r["reason"], r["field"]) for r in rows] == [
        (3, "not_json", "$"),
        (6, "wrong_type", "text"),
        (7, "not_utf8", "$"),
    ]
    assert rows[0]["raw"] == "this is not json"  # the original line, to fix and re-run
    assert all(str(r["error"]).startswith(f"{r['field']}: ") for r in rows)

    assert "enriched 3 posts, rejected 3 invalid line(s)" in result.stderr
    assert str(rejects) in result.stderr
    assert "warning" not in result.stderr  # a private key is set
    assert result.stdout == ""


def test_rejects_are_counted_even_without_a_rejects_file(tmp_path: Path, env: dict[str, str]) -> None:
    source = tmp_path / "posts.jsonl"
    source.write_bytes(b"\r\n".join([LINES[0], b"{oops", LINES[3]]) + b"\r\n")  # Windows line ends
    out = tmp_path / "out.jsonl"
    no_key = {"VIGIL_CACHE_DIR": env["VIGIL_CACHE_DIR"]}
    result = enrich(["--input", str(source), "--output", str(out)], no_key)
    assert result.exit_code == 0, result.stderr
    assert [p["id"] for p in read_jsonl(out)] == ["p1", "p4"]
    assert "enriched 2 posts, rejected 1 invalid line(s)" in result.stderr
    # No VIGIL_PSEUDONYM_KEY: the published demo key is used, and the user is told.
    assert "warning" in result.stderr and "VIGIL_PSEUDONYM_KEY" in result.stderr


def test_empty_input_gives_empty_output(tmp_path: Path, env: dict[str, str]) -> None:
    source, out = tmp_path / "empty.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(b"\n\n")
    result = enrich(["--input", str(source), "--output", str(out)], env)
    assert result.exit_code == 0
    assert out.read_bytes() == b""
    assert "enriched 0 posts, rejected 0 invalid line(s)" in result.stderr


def test_missing_input_file_is_one_clear_line(tmp_path: Path, env: dict[str, str]) -> None:
    result = enrich(["--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "out.jsonl")], env)
    assert result.exit_code == 2
    assert result.stderr.startswith("vigil: ") and "nope.jsonl" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_stops_before_any_work(tmp_path: Path, env: dict[str, str]) -> None:
    result = enrich(
        ["--input", "-", "--output", str(tmp_path / "out.jsonl")], {**env, "VIGIL_MAX_MESSAGE_BYTES": "lots"}
    )
    assert result.exit_code == 2
    assert "VIGIL_MAX_MESSAGE_BYTES" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_stdin_to_stdout_in_a_real_process(cache_root: Path, nlp: object, clean_env: pytest.MonkeyPatch) -> None:
    source = b"\n".join([LINES[0], LINES[2], LINES[3]]) + b"\n"
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    process_env.update(VIGIL_CACHE_DIR=str(cache_root), VIGIL_PSEUDONYM_KEY=PRIVATE_KEY)
    done = subprocess.run(
        [sys.executable, "-m", "streams", "enrich", "--input", "-", "--output", "-"],
        input=source,
        capture_output=True,
        env=process_env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert [orjson.loads(line)["id"] for line in done.stdout.splitlines()] == ["p1", "p4"]
    assert b"enriched 2 posts, rejected 1 invalid line(s)" in done.stderr
    assert b"Exception" not in done.stderr


def test_stdin_to_stdout_in_process(env: dict[str, str]) -> None:
    source = b"\n".join([LINES[0], LINES[2], LINES[3]]) + b"\n"
    result = enrich(["--input", "-", "--output", "-"], env, input=source)
    assert result.exit_code == 0
    assert [orjson.loads(line)["id"] for line in result.stdout_bytes.splitlines()] == ["p1", "p4"]
    assert "enriched 2 posts, rejected 1 invalid line(s)" in result.stderr
