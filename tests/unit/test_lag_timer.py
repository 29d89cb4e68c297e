"""The consumer-lag timer survives a rebalance that revokes a partition while it reads it.

aiokafka asserts when asked for an unassigned partition's highwater; before the fix that assertion
escaped the timer and Faust crashed the whole worker (seen when a second worker joined mid-stream).
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry

from streams import topics as names
from streams.agents import _lag_reporter
from streams.metrics import VigilMetrics


class RebalancingConsumer:
    """Owns partitions 0 and 1; partition 0 is revoked between ``assignment()`` and its read."""

    def __init__(self) -> None:
        self.revoked = TP(names.POSTS, 0)
        self.kept = TP(names.POSTS, 1)

    def assignment(self) -> set[TP]:
        return {self.revoked, self.kept}

    def highwater(self, tp: TP) -> int:
        assert tp != self.revoked, "Partition is not assigned"  # what aiokafka does
        return 120

    async def position(self, tp: TP) -> int:
        return 100


class App:
    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer


def lag_of(registry: CollectorRegistry, partition: str) -> float | None:
    return registry.get_sample_value("vigil_consumer_lag_messages", {"partition": partition})


def test_a_partition_revoked_mid_read_is_skipped_and_the_rest_reported() -> None:
    registry = CollectorRegistry()
    metrics = VigilMetrics(registry, [], [])
    report = _lag_reporter(App(RebalancingConsumer()), metrics)  # type: ignore[arg-type]
    asyncio.run(report())  # must not raise: an exception here stops the worker
    assert lag_of(registry, "1") == 20.0
    assert lag_of(registry, "0") is None
