"""Vigil's Kafka topics: names, configuration, and explicit creation (never broker auto-create)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.exceptions import KafkaRuntimeError
from streams.kafka_clients import kafka_python_config, unreachable
from streams.settings import Settings

__all__ = [
    "ADVERSE_EVENTS",
    "CRISIS",
    "DLQ",
    "ENRICHED",
    "POSTS",
    "TOPICS",
    "TopicSpec",
    "create_topics",
    "partition_count",
]

POSTS = "vigil.posts"
ENRICHED = "vigil.posts.enriched"
DLQ = "vigil.posts.dlq"
CRISIS = "vigil.crisis"
ADVERSE_EVENTS = "vigil.adverse-events"

#: Largest message a Vigil topic accepts (bytes). Above the 1 MB post limit so an oversized post
#: still reaches the worker and is dead-lettered with its reason instead of being refused upstream.
TOPIC_MAX_MESSAGE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    """A topic Vigil owns."""

    name: str
    purpose: str
    config: dict[str, str] = field(default_factory=dict)


_BIG = {"max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES)}
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(POSTS, "raw social posts (input)", _BIG),
    TopicSpec(ENRICHED, "enriched, pseudonymised posts", _BIG),
    TopicSpec(
        DLQ,
        "malformed messages: original bytes, reason in headers",
        {**_BIG, "retention.ms": str(30 * 24 * 3600 * 1000)},
    ),
    TopicSpec(CRISIS, "posts at crisis level critical, one per post", {"retention.ms": str(30 * 24 * 3600 * 1000)}),
    TopicSpec(
        ADVERSE_EVENTS, "suspected adverse events for pharmacovigilance", {"retention.ms": str(90 * 24 * 3600 * 1000)}
    ),
)


def partition_count(settings: Settings, topic: str = POSTS) -> int | None:
    """Partitions of an existing topic, or ``None`` when it does not exist.

    Raises:
        KafkaRuntimeError: When the broker cannot be reached or refuses the credentials.
    """
    try:
        admin = KafkaAdminClient(**kafka_python_config(settings), client_id="vigil-admin")
    except KafkaError as exc:
        raise KafkaRuntimeError(unreachable(settings, exc)) from exc
    try:
        described = admin.describe_topics([topic])
        return len(described[0]["partitions"] or ()) or None if described else None
    except KafkaError:
        return None
    finally:
        admin.close()


def ensure_changelogs(settings: Settings, app_id: str, tables: list[tuple[str, int]], partitions: int) -> None:
    """Create the worker's table changelog topics before Faust starts, and wait until they show.

    Faust declares them itself, but a batch can arrive before the new topic's metadata reaches the
    consumer, and Faust then refuses the update (changelog "has 0 partitions"). Made here first,
    they are known from the first fetch.

    Args:
        settings: Broker connection.
        app_id: Faust app id (changelogs are ``<app id>-<table>-changelog``).
        tables: ``(table name, retention in seconds)`` per windowed table.
        partitions: Partitions of the source topic.
    """
    try:
        admin = KafkaAdminClient(**kafka_python_config(settings), client_id="vigil-admin")
    except KafkaError as exc:
        raise KafkaRuntimeError(unreachable(settings, exc)) from exc
    try:
        names = [f"{app_id}-{table}-changelog" for table, _ in tables]
        existing = set(admin.list_topics())
        for (_table, retention), name in zip(tables, names, strict=True):
            if name in existing:
                continue
            config = {"cleanup.policy": "compact,delete", "retention.ms": str(retention * 1000)}
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [NewTopic(name, partitions, settings.replication_factor, topic_configs=config)], timeout_ms=30_000
                )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            described = admin.describe_topics(names)
            if all(len(d["partitions"] or ()) == partitions for d in described):
                return
            time.sleep(0.2)
    except KafkaError as exc:
        raise KafkaRuntimeError(f"creating table changelogs on {settings.kafka_bootstrap} failed: {exc}") from exc
    finally:
        admin.close()


def create_topics(settings: Settings, partitions: int | None = None) -> list[tuple[str, int, bool]]:
    """Create every Vigil topic that does not exist yet; idempotent.

    Args:
        settings: Broker list, security, default partitions and replication factor.
        partitions: Partitions for new topics; ``settings.partitions`` when omitted.

    Returns:
        ``(name, partitions, created)`` per topic, existing ones with ``created=False``.

    Raises:
        KafkaRuntimeError: When the broker cannot be reached or refuses.
    """
    count = partitions or settings.partitions
    try:
        admin = KafkaAdminClient(**kafka_python_config(settings), client_id="vigil-admin")
    except KafkaError as exc:
        raise KafkaRuntimeError(unreachable(settings, exc)) from exc
    try:
        created: set[str] = set()
        existing = set(admin.list_topics())
        for spec in TOPICS:
            if spec.name in existing:
                continue
            try:
                admin.create_topics(
                    [NewTopic(spec.name, count, settings.replication_factor, topic_configs=spec.config)],
                    timeout_ms=30_000,
                )
                created.add(spec.name)
            except TopicAlreadyExistsError:
                pass
        described: dict[str, int] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # new topics take a moment to show their partitions
            described = {d["name"]: len(d["partitions"] or ()) for d in admin.describe_topics([s.name for s in TOPICS])}
            if all(described.get(spec.name) for spec in TOPICS):
                break
            time.sleep(0.2)
        return [(spec.name, described.get(spec.name, 0), spec.name in created) for spec in TOPICS]
    except KafkaError as exc:
        raise KafkaRuntimeError(f"creating topics on {settings.kafka_bootstrap} failed: {exc}") from exc
    finally:
        admin.close()
