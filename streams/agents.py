"""The worker's agents: decode -> enrich (processors) -> metrics -> send.

Posts are taken in batches (``VIGIL_BATCH_MAX`` within ``VIGIL_BATCH_WITHIN_S``) so spaCy's
``nlp.pipe`` and the producer work on many posts at once. A message that is not a valid post goes
to ``vigil.posts.dlq`` with its original bytes and the reason in headers; the worker keeps going.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from aiokafka.errors import IllegalStateError
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from processors import Enricher, InvalidPost, Pseudonymizer, build_nlp, post_key
from streams import topics as names
from streams.app import VigilApp, create_app
from streams.metrics import VigilMetrics
from streams.models import DeadLetter
from streams.settings import Settings
from streams.tables import Aggregates

log = logging.getLogger(__name__)

__all__ = ["EnrichHandler", "WorkerTopics", "adverse_event_reports", "build_worker"]


class WorkerTopics:
    """The Faust topic objects the worker reads and writes."""

    def __init__(self, app: faust.App) -> None:
        self.posts = app.topic(names.POSTS, value_serializer="raw", key_serializer="raw")
        self.enriched = app.topic(names.ENRICHED, value_serializer="raw", key_serializer="raw")
        self.dlq = app.topic(names.DLQ, value_serializer="raw", key_serializer="raw")
        self.crisis = app.topic(names.CRISIS, value_serializer="raw", key_serializer="raw")
        self.adverse_events = app.topic(names.ADVERSE_EVENTS, value_serializer="raw", key_serializer="raw")


class EnrichHandler:
    """Enrich one batch of events and publish the results.

    Sends go straight to the producer, not through Faust's ``Topic.send``: its per-message
    futures and sensor calls cost more than the send (13% of the worker's time, profiled), and
    without ``force=True`` Faust would "attach" each message to the stream's current event and
    publish it only when that event is acked, which with batches delays or strands messages.
    Offsets are committed only after the broker has confirmed every output since the last commit
    (:class:`~streams.app.Deliveries`), so delivery stays at-least-once. Under ``exactly_once`` the
    outputs go into the transaction that commits their input's offset (:meth:`_send`).

    A batch is sent and acked under the app's ``batch_guard``, which offset commits also take: a
    commit never falls between a batch's sends and its acks.

    Args:
        enricher: The processors' enricher.
        metrics: Where counts and timings go.
        topics: Output topics.
        max_message_bytes: Larger messages are dead-lettered as ``too_large``.
    """

    def __init__(
        self,
        enricher: Enricher,
        metrics: VigilMetrics,
        topics: WorkerTopics,
        max_message_bytes: int,
        aggregates: Aggregates | None = None,
    ) -> None:
        self.enricher = enricher
        self.metrics = metrics
        self.topics = topics
        self.max_message_bytes = max_message_bytes
        self.aggregates = aggregates

    async def agent(self, stream: faust.StreamT[Any]) -> None:
        """The agent body: one batch at a time, in partition order."""
        settings: Settings = stream.app.vigil_settings  # type: ignore[attr-defined]
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            await self.handle(events, stream)

    async def _send(
        self,
        topic: faust.TopicT,
        event: faust.EventT[Any],
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Publish one output of ``event``.

        Under ``exactly_once`` the output joins the transaction that commits ``event``'s offset.
        Faust's own routing (``TransactionManager.send``) finds a transaction only for topics in the
        consumer's metadata, i.e. topics the app reads: sends to Vigil's output topics would go
        through the plain producer, visible at once and repeated after a crash. (Where it does find
        one, it is the output partition's, not the input's.) The id below is the one Faust's
        ``TransactionManager.commit`` uses for the input partition.
        """
        app = topic.app
        transactional_id = None
        if app.in_transaction:
            message = event.message
            group = app.assignor.group_for_topic(message.topic)
            transactional_id = f"{app.conf.id}-{group}-{message.partition}"  # Faust's id for this partition
        name = topic.get_topic_name()
        delivery = await app.producer.send(name, key, value, None, None, headers, transactional_id=transactional_id)
        app.deliveries.track(name, delivery)

    async def handle(self, events: Sequence[faust.EventT[Any]], stream: Any = None) -> None:
        """Decode, enrich and send one batch; malformed messages go to the dead-letter topic.

        Args:
            events: The batch, in partition order.
            stream: The agent's stream; needed to update the windowed tables.
        """
        started = time.perf_counter()
        raws = [event.value if event.value is not None else b"" for event in events]
        ingest = [_rfc3339(event.message.timestamp) for event in events]
        results = self.enricher.enrich_raw(raws, ingest_times=ingest, max_bytes=self.max_message_bytes)
        guard = stream.app.batch_guard if stream is not None else contextlib.nullcontext()
        async with guard:
            enriched = await self._publish(events, results)
            if self.aggregates is not None and stream is not None:
                try:
                    self.aggregates.update(stream, enriched)
                except Exception as exc:
                    # The posts are already published; a table that cannot take the update (e.g.
                    # its changelog not yet visible) is logged and counted, not allowed to halt
                    # the agent.
                    log.error("windowed tables skipped a batch of %d posts: %s", len(enriched), type(exc).__name__)
                    self.metrics.table_errors.inc()
            if stream is not None:
                # Acked before the guard is released, so the next commit takes the whole batch
                # (``take_events`` acks them again afterwards, which does nothing).
                for event in events:
                    await stream.ack(event)
        now = time.time()
        self.metrics.batch_duration.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(events))
        for event in events:
            self.metrics.lag.observe(max(0.0, now - event.message.timestamp))
        self.metrics.last_processed.set(now)

    async def _publish(
        self, events: Sequence[faust.EventT[Any]], results: Sequence[dict[str, Any] | InvalidPost]
    ) -> list[tuple[faust.EventT[Any], dict[str, Any]]]:
        """Send each result (or dead letter); returns the enriched posts with their events."""
        enriched: list[tuple[faust.EventT[Any], dict[str, Any]]] = []
        for event, result in zip(events, results, strict=True):
            if isinstance(result, InvalidPost):
                message = event.message
                letter = DeadLetter.from_error(result, message.topic, message.partition, message.offset)
                await self._send(self.topics.dlq, event, event.key, event.value, letter.to_headers())
                self.metrics.record_dead_letter(result.code)
            else:
                key = post_key(result).encode()
                try:
                    value = orjson.dumps(result)
                except (TypeError, orjson.JSONEncodeError):
                    # Never lose a post to an encoding corner case: it goes to the DLQ, named.
                    error = InvalidPost("$", "the enriched post could not be encoded as JSON", "enrichment_error")
                    letter = DeadLetter.from_error(
                        error, event.message.topic, event.message.partition, event.message.offset
                    )
                    await self._send(self.topics.dlq, event, event.key, event.value, letter.to_headers())
                    self.metrics.record_dead_letter(error.code)
                    continue
                if result["crisis"]["level"] == "critical":
                    # The safety path goes first: a person in danger must reach a human fast.
                    await self._send(self.topics.crisis, event, key, value)
                await self._send(self.topics.enriched, event, key, value)
                for report in adverse_event_reports(result):
                    await self._send(self.topics.adverse_events, event, result["id"].encode(), orjson.dumps(report))
                self.metrics.record_post(result)
                enriched.append((event, result))
        return enriched


def adverse_event_reports(post: dict[str, Any]) -> list[dict[str, Any]]:
    """One pharmacovigilance record per suspected adverse event of an enriched post.

    Carries the four elements a report needs: an identifiable patient (``subject`` of the
    pseudonymised reporter's post), the reporter (author pseudonym), the suspect drug and the event,
    with the verbatim text and where the event sits in it.
    """
    author = post.get("author") or {}
    return [
        {
            "post_id": post["id"],
            "reporter": author.get("id"),
            "subject": event["subject"],
            "drug": event["drug"],
            "event": event["event"],
            "event_start": event["start"],
            "event_end": event["end"],
            "text": post["text"],
            "created_at": post.get("created_at"),
            "platform": post.get("platform"),
            "community": post.get("community"),
            "thread_id": post.get("thread_id"),
            "detected_at": post["enriched_at"],
            "pipeline_version": post["pipeline_version"],
        }
        for event in post.get("adverse_events", ())
    ]


def build_worker(
    settings: Settings, *, registry: CollectorRegistry | None = None, enricher: Enricher | None = None
) -> VigilApp:
    """The worker app: topics, the enrich agent and ``/metrics``.

    Args:
        settings: Validated settings.
        registry: Metrics registry; the process default when omitted.
        enricher: A ready enricher (tests pass one to share the pipeline); built from settings
            when omitted.
    """
    app = create_app(settings)
    topics = WorkerTopics(app)
    registry = registry if registry is not None else REGISTRY
    metrics = VigilMetrics(registry, settings.watch_list, settings.community_list)
    if enricher is None:
        nlp = build_nlp(cache_dir=settings.cache_dir / "lexicon")
        enricher = Enricher(
            nlp,
            Pseudonymizer(settings.pseudonym_key.get_secret_value().encode()),
            thresholds=settings.author_thresholds,
        )
    aggregates = Aggregates(app, metrics) if settings.aggregates else None
    handler = EnrichHandler(enricher, metrics, topics, settings.max_message_bytes, aggregates)
    app.agent(topics.posts, name="vigil.enrich")(handler.agent)
    if aggregates is not None:

        async def aggregates_page(web: Any, request: Any) -> Any:
            return web.json(aggregates.snapshot())

        app.page("/aggregates")(aggregates_page)

    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    app.page("/metrics")(metrics_page)
    app.timer(interval=5.0)(_lag_reporter(app, metrics))
    app.vigil_metrics = metrics  # type: ignore[attr-defined]
    app.vigil_handler = handler  # type: ignore[attr-defined]
    return app


def _lag_reporter(app: VigilApp, metrics: VigilMetrics) -> Any:
    """A timer body that sets ``vigil_consumer_lag_messages`` for the partitions this worker owns."""
    reported: set[int] = set()

    async def report_lag() -> None:
        consumer = app.consumer
        owned = {tp for tp in consumer.assignment() if tp.topic == names.POSTS}
        for tp in owned:
            try:
                highwater, position = consumer.highwater(tp), await consumer.position(tp)
            except (AssertionError, IllegalStateError):
                # Revoked by a rebalance since assignment() (aiokafka asserts on an unassigned
                # partition): its new owner reports it. Unhandled, this crashed the whole worker.
                continue
            if highwater is not None and position is not None:
                metrics.consumer_lag.labels(partition=str(tp.partition)).set(max(0, highwater - position))
        for partition in reported - {tp.partition for tp in owned}:
            metrics.consumer_lag.remove(str(partition))  # revoked: another worker reports it now
        reported.clear()
        reported.update(tp.partition for tp in owned)

    return report_lag


def _rfc3339(timestamp: float | None) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC) if timestamp else datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
