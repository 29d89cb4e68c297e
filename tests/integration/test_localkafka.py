"""The local Kafka broker behaves as Vigil's pipeline needs: it answers, keeps messages, refuses
unknown topics, supports transactions, and leaves nothing behind when stopped."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import UnknownTopicOrPartitionError
from aiokafka.structs import ConsumerRecord
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

from streams.localkafka import LocalKafka, probe


async def _consume(
    bootstrap: str, topic: str, group: str, count: int, **options: object
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``count`` records from the start of ``topic`` (at most 20 s)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                auto_offset_reset="earliest", **options)  # fmt: skip
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(20):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


def _brokers_of(data_dir: Path) -> list[int]:
    """Pids of live ``kafka.Kafka`` processes started from ``data_dir``."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kafka.Kafka" in args and any(str(data_dir).encode() in a for a in args):
            pids.append(int(cmdline.parent.name))
    return pids


def test_broker_answers_metadata(kafka: str) -> None:
    assert probe(kafka) is None
    admin = KafkaAdminClient(bootstrap_servers=kafka)
    try:
        assert len(admin.describe_cluster()["brokers"]) == 1
    finally:
        admin.close()


def test_produced_message_is_consumed_back(
    kafka: str, topic_factory: Callable[..., str], group_factory: Callable[..., str]
) -> None:
    topic = topic_factory("roundtrip", partitions=3)

    async def scenario() -> list[ConsumerRecord[bytes, bytes]]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b'{"text": "humira made me dizzy"}', key=b"p1")
        finally:
            await producer.stop()
        return await _consume(kafka, topic, group_factory(), 1)

    (record,) = asyncio.run(scenario())
    assert (record.key, record.value) == (b"p1", b'{"text": "humira made me dizzy"}')


def test_unknown_topics_are_not_auto_created(kafka: str, kafka_admin: KafkaAdminClient) -> None:
    topic = f"never-created-{uuid.uuid4().hex[:12]}"

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka, request_timeout_ms=2000)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"lost")
        finally:
            await producer.stop()

    with pytest.raises(UnknownTopicOrPartitionError):
        asyncio.run(produce())
    consumer = KafkaConsumer(bootstrap_servers=kafka)
    try:
        assert not consumer.partitions_for_topic(topic)  # a metadata request naming it
    finally:
        consumer.close()
    assert topic not in kafka_admin.list_topics()


def test_transactions_commit_and_abort(
    kafka: str, topic_factory: Callable[..., str], group_factory: Callable[..., str]
) -> None:
    """Exactly-once processing needs transactions: committed records are seen, aborted are not."""
    topic = topic_factory("txn")

    async def scenario() -> list[ConsumerRecord[bytes, bytes]]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka, transactional_id=f"vigil-{topic}")
        await producer.start()
        try:
            await producer.begin_transaction()
            await producer.send_and_wait(topic, b"aborted")
            await producer.abort_transaction()
            async with producer.transaction():
                await producer.send_and_wait(topic, b"committed")
        finally:
            await producer.stop()
        return await _consume(kafka, topic, group_factory(), 1, isolation_level="read_committed")

    records = asyncio.run(scenario())
    assert [r.value for r in records] == [b"committed"]


def test_messages_survive_a_broker_crash(tmp_path: Path, broker_ports: tuple[int, int]) -> None:
    broker = LocalKafka(*broker_ports, data_dir=tmp_path, heap="512m")
    with broker:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics({"crash": {"num_partitions": 1, "replication_factor": 1}},
                            wait_for_metadata=True)  # fmt: skip
        admin.close()

        async def produce() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
            await producer.start()
            try:
                await producer.send_and_wait("crash", b"before the crash")
            finally:
                await producer.stop()

        asyncio.run(produce())
        broker.kill()
        assert not broker.is_running() and _brokers_of(tmp_path) == []
        broker.restart()
        records = asyncio.run(_consume(broker.bootstrap, "crash", "after-crash", 1))
        assert [r.value for r in records] == [b"before the crash"]


def test_stop_leaves_no_java_process(tmp_path: Path, broker_ports: tuple[int, int]) -> None:
    broker = LocalKafka(*broker_ports, data_dir=tmp_path, heap="512m").start()
    pid = broker.pid
    assert pid is not None and _brokers_of(tmp_path) == [pid]
    assert broker.pidfile.read_text().strip() == str(pid)
    broker.stop()
    assert _brokers_of(tmp_path) == []
    assert not broker.is_running() and not broker.pidfile.exists()
    assert probe(broker.bootstrap, timeout=1) is not None
