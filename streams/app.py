"""The Faust application, built once from :class:`~streams.settings.Settings`.

Faust hard-codes the consumer's ``fetch_max_wait_ms`` at 1,500 ms; with the empty assignor
partition in every fetch that leaves a worker idle between fetches. :class:`VigilApp` swaps in a
transport whose consumer uses ``VIGIL_FETCH_MAX_WAIT_MS`` instead.

Three more overrides keep each input offset's outputs and its commit together, which
``exactly_once`` needs (and which spares ``at_least_once`` repeated work after a restart):

- a commit first confirms that the broker took every output sent since the last one
  (:class:`Deliveries`); one it refused stops the worker instead, so that post is read again;
- commits wait for :attr:`VigilApp.batch_guard`, which the agent holds from a batch's first send
  to its last ack, so a commit never takes half a batch's outputs without its offsets;
- after a restart that restores tables, the stream partitions are sought to their committed
  offsets with the consumer's flow stopped (see :class:`_Recovery`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import faust
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.kafka_clients import faust_credentials
from streams.settings import Settings

__all__ = ["Deliveries", "VigilApp", "create_app"]

log = logging.getLogger(__name__)


class Deliveries:
    """Outputs handed to the producer since the last offset commit, and whether the broker took them.

    The agent sends through the producer directly (Faust's ``Topic.send`` wraps each message in
    futures and sensor calls that cost more than the send), so nothing of Faust's watches the
    results. Before offsets are committed, :meth:`confirm` waits for every output's acknowledgement.
    An output the broker refused after the producer's retries is a failure for good: the worker
    must stop without committing, and the post is read and sent again by the next worker.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[str, asyncio.Future[Any]]] = []
        self._failure: tuple[str, BaseException] | None = None

    def track(self, topic: str, delivery: asyncio.Future[Any]) -> None:
        """Watch one output's delivery (the future the producer's ``send`` returned)."""
        self._pending.append((topic, delivery))

    async def confirm(self) -> tuple[str, BaseException] | None:
        """Wait for every tracked delivery; the first that failed as ``(topic, error)``, else ``None``.

        A failure is kept: every later call returns it too, so no later commit (at shutdown, say)
        can pass over the lost output.
        """
        pending, self._pending = self._pending, []
        waiting = [delivery for _, delivery in pending if not delivery.done()]
        if waiting:
            await asyncio.wait(waiting)
        for topic, delivery in pending:
            error = asyncio.CancelledError() if delivery.cancelled() else delivery.exception()
            if error is not None and self._failure is None:
                self._failure = (topic, error)
        return self._failure


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.app.vigil_settings.fetch_max_wait_ms  # type: ignore[attr-defined]
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit_tps(self, tps: Iterable[TP], start_new_transaction: bool) -> bool:
        # Under exactly_once a commit ends the transactions holding every output sent so far;
        # one that came between a batch's sends and its acks would publish those outputs without
        # their input offsets, and after a crash the batch would be processed and sent again.
        async with self.app.batch_guard:  # type: ignore[attr-defined]
            failed = await self.app.deliveries.confirm()  # type: ignore[attr-defined]
            if failed is not None:
                topic, error = failed
                log.error(
                    "the broker refused an output to %s (%s); stopping without committing, so the posts "
                    "since the last commit are read again when a worker restarts",
                    topic,
                    error,
                )
                await self.crash(error)
                return False
            return await super()._commit_tps(tps, start_new_transaction)


class _Recovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        # Reading the changelogs resumed the consumer's flow, and Faust then resumes the stream
        # partitions *before* seeking them to their committed offsets. Records fetched during that
        # seek were processed, then read again from the committed offset (the last one of each
        # partition came out twice), and Faust booked the offsets in between as a gap, after
        # which its commits advanced one offset at a time. With the flow stopped the seek happens
        # first, as on a restart without tables; Faust resumes the flow right after it.
        self.app.consumer.stop_flow()
        await super().on_recovery_completed(generation_id)


class _TableManager(TableManager):
    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = _Recovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class VigilApp(faust.App):
    """A ``faust.App`` that carries Vigil's settings and uses the tuned consumer."""

    vigil_settings: Settings
    #: Held by the agent from a batch's first send to its last ack; offset commits wait for it.
    batch_guard: asyncio.Lock
    #: The agent's outputs not yet confirmed by an offset commit.
    deliveries: Deliveries

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def create_app(settings: Settings, *, app_id: str | None = None, web_port: int | None = None) -> VigilApp:
    """Build the Faust app from settings (no agents yet; see :mod:`streams.agents`).

    Args:
        settings: Validated settings.
        app_id: Faust app id (= consumer group); ``settings.app_id`` when omitted.
        web_port: Web/metrics port; ``settings.web_port`` when omitted.
    """
    app_id = app_id or settings.app_id
    datadir = settings.state_dir if app_id == settings.app_id else settings.state_dir.parent / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = VigilApp(
        app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        store=settings.store,
        datadir=str(datadir),
        web_enabled=True,
        web_bind=settings.web_host,
        web_port=web_port or settings.web_port,
        web_host=settings.web_host,
        consumer_auto_offset_reset="earliest",
        consumer_max_fetch_size=settings.fetch_max_bytes,
        broker_max_poll_records=settings.max_poll_records,
        producer_linger_ms=settings.producer_linger_ms,
        producer_max_batch_size=settings.producer_batch_bytes,
        producer_acks=-1 if settings.producer_acks == "all" else int(settings.producer_acks),
        producer_max_request_size=11 * 1024 * 1024,
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # Faust may declare only its own internal topics (table changelogs); Vigil's topics are
        # created by `vigil topics create`, never by broker auto-create.
        topic_allow_declare=True,
        # No leader-election topic: nothing in Vigil runs on the leader only, and its empty
        # partition would ride along in every fetch.
        topic_disable_leader=True,
        TableManager=_TableManager,
    )
    app.vigil_settings = settings
    app.batch_guard = asyncio.Lock()
    app.deliveries = Deliveries()
    return app
