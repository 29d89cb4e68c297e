"""bench/bench_kafka.py runs end to end on a small input and reports every row (functional only, no timings).

The script starts and stops its own broker on free ports; the lexicon cache is the usual one
(``${VIGIL_CACHE_DIR:-~/.cache/vigil}``), built on first use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = (
    "1  offline vigil enrich",
    "2  vigil worker, end to end",
    "3a faust pass-through, default settings",
    "3b faust pass-through, vigil settings",
    "4  aiokafka pass-through",
    "5  latency at",
    "6  vigil worker peak RSS",
    "ratio row 2 / row 1",
    "ratio row 2 / row 3a",
)


@pytest.mark.bench
@pytest.mark.timeout(300)
def test_kafka_benchmark_reports_every_row(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "bench/bench_kafka.py", "--posts", "1000", "--latency-seconds", "3", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    for row in ROWS:
        assert row in done.stdout, f"row {row!r} missing from:\n{done.stdout}"
    results = json.loads(out.read_text())
    assert set(results["rows"]) == {"offline", "vigil", "faust-default", "faust-tuned", "aiokafka"}
    assert all(row["posts_per_s"] > 0 for row in results["rows"].values())
    assert all(row["outputs"] == 1000 for key, row in results["rows"].items() if key != "offline")
    assert results["latency"]["posts"] > 0 and results["worker_peak_rss_bytes"] > 0
