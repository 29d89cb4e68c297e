"""`vigil ingest` as the integration tests run it: a real subprocess against the test broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_ingest(
    bootstrap: str, path: Path, *, timeout: float = 120, rate: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Send a JSONL file to ``vigil.posts`` with ``python -m streams ingest``; fails the test if it fails.

    Args:
        bootstrap: The broker list (``VIGIL_KAFKA_BOOTSTRAP``).
        path: The JSONL file.
        timeout: Seconds before the run counts as hung.
        rate: ``--rate`` (posts per second) when given.
    """
    cmd = [sys.executable, "-m", "streams", "ingest", "--input", str(path), "--no-progress"]
    if rate is not None:
        cmd += ["--rate", str(rate)]
    done = subprocess.run(
        cmd, env={**os.environ, "VIGIL_KAFKA_BOOTSTRAP": bootstrap}, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
