"""Records Vigil puts on Kafka besides posts.

Posts themselves stay plain JSON objects (unknown fields must survive), encoded with orjson.
"""

from __future__ import annotations

from datetime import UTC, datetime

import faust

from processors.exceptions import InvalidPost

__all__ = ["DeadLetter"]

_PREFIX = "vigil.dlq."


class DeadLetter(faust.Record, serializer="json"):
    """Why a message was dead-lettered and where it came from.

    Travels as Kafka headers (``vigil.dlq.<field>``) beside the message's original bytes, so the
    value in the dead-letter topic is exactly what arrived and can be replayed once fixed. The
    error text names a field and a problem, never the content.
    """

    reason: str
    field: str
    error: str
    source_topic: str
    source_partition: int
    source_offset: int
    failed_at: str

    @classmethod
    def from_error(cls, error: InvalidPost, topic: str, partition: int, offset: int) -> DeadLetter:
        """Describe a rejected message."""
        return cls(
            reason=error.code,
            field=error.field,
            error=str(error),
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            failed_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )

    def to_headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers carrying this record."""
        return [(_PREFIX + name, str(getattr(self, name)).encode()) for name in self._options.fields]

    @classmethod
    def from_headers(cls, headers: list[tuple[str, bytes]] | dict[str, bytes]) -> DeadLetter:
        """Read a record back from a dead-lettered message's headers."""
        items = headers.items() if isinstance(headers, dict) else headers
        values = {k[len(_PREFIX) :]: v.decode() for k, v in items if k.startswith(_PREFIX)}
        for name in ("source_partition", "source_offset"):
            values[name] = int(values[name])  # type: ignore[assignment]
        return cls(**values)  # type: ignore[arg-type]
