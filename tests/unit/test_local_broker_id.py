"""The local broker's helpers that need no broker."""

from __future__ import annotations

import pytest

from streams import localkafka


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The storage tool would read "-t -Xy..." as an option and fail to format (1 id in 64)."""
    draws = iter([b"\xf8" + bytes(15), b"\x10" + bytes(15)])  # base64url "-..." first, then "E..."
    monkeypatch.setattr(localkafka.os, "urandom", lambda n: next(draws))
    cluster_id = localkafka._cluster_id()
    assert cluster_id.startswith("E")
    assert len(cluster_id) == 22
