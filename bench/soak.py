"""Run Vigil's soak scenarios on a real local broker and print one table of figures.

    .venv/bin/python bench/soak.py            # full volumes (~15-30 min on 2 cores)
    .venv/bin/python bench/soak.py --quick    # the default-suite volumes, to check the harness

Scenarios (tests in ``tests/integration/test_reliability.py``; each writes its figures as one JSON
line to ``$VIGIL_FIGURES_FILE``, which this script sets and reads back):

- ``sigkill-20k``: 20,000 posts, the worker SIGKILLed mid-stream and restarted in the same group.
- ``exactly-once-sigkill-20k``: the same with ``VIGIL_PROCESSING_GUARANTEE=exactly_once``, read
  back by a ``read_committed`` consumer.
- ``broker-stop`` / ``broker-kill``: the broker stopped (SIGTERM) or killed (SIGKILL) for 10 s while
  the worker runs, then restarted on the same data.
- ``burst-100k``: 100,000 posts at once; the worker's peak RSS (VmHWM).

"lost" counts valid posts never enriched plus malformed lines never dead-lettered; "duplicated"
counts extra copies in the output topics. Pass extra pytest arguments after ``--``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = "tests/integration/test_reliability.py"
FULL = "20k or broker_restart or 100k_burst"
QUICK = "5k or broker_restart"
COLUMNS = [
    ("scenario", "scenario", "<"),
    ("posts in", "posts_in", ">"),
    ("enriched", "enriched", ">"),
    ("dead-lettered", "dead_lettered", ">"),
    ("lost", "lost", ">"),
    ("duplicated", "duplicated", ">"),
    ("peak RSS MiB", "peak_rss_mb", ">"),
    ("seconds", "seconds", ">"),
]


def table(rows: list[dict[str, object]]) -> str:
    cells = [[str(row.get(key, "")) if row.get(key) is not None else "-" for _, key, _ in COLUMNS] for row in rows]
    widths = [max([len(title)] + [len(c[i]) for c in cells]) for i, (title, _, _) in enumerate(COLUMNS)]
    lines = ["  ".join(f"{title:{align}{w}}" for (title, _, align), w in zip(COLUMNS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(f"{c:{align}{w}}" for c, (_, _, align), w in zip(row, COLUMNS, widths, strict=True)) for row in cells
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="default-suite volumes (5k posts, no 100k burst)")
    parser.add_argument("--json", type=Path, help="also write the figures here (JSON list)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="vigil-soak-") as tmp:
        figures_file = Path(tmp) / "figures.jsonl"
        env = {**os.environ, "VIGIL_FIGURES_FILE": str(figures_file)}
        env.setdefault("VIGIL_TEST_CACHE_DIR", str(Path("~/.cache/vigil").expanduser()))
        cmd = [
            sys.executable, "-m", "pytest", TESTS, "-m", "integration", "-k", QUICK if args.quick else FULL,
            "-q", "-s", "-rxXf", "-p", "no:cacheprovider", *args.pytest_args,
        ]  # fmt: skip
        print("running:", " ".join(cmd), flush=True)
        started = time.monotonic()
        done = subprocess.run(cmd, cwd=ROOT, env=env)
        rows = [json.loads(line) for line in figures_file.read_text().splitlines()] if figures_file.exists() else []

    print(f"\nVigil soak figures ({time.monotonic() - started:.0f} s, pytest exit {done.returncode})\n")
    print(table(rows) if rows else "no figures were recorded")
    for row in rows:
        if row.get("notes"):
            print(f"  {row['scenario']}: {json.dumps(row['notes'])}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
