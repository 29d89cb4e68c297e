"""Pass-through workers for ``bench_kafka.py``: consume raw bytes, add one field, produce. Run as a subprocess.

    python bench/_passthrough_faust.py {faust-default,faust-tuned,aiokafka} --bootstrap HOST:PORT \\
        --input TOPIC --output TOPIC --app-id ID --web-port PORT --data-dir DIR

Every mode does the same per-message work: ``orjson.loads``, ``post["passed_at"] = time.time()`` (Unix seconds,
which the benchmark uses as the moment the message reached the agent), ``orjson.dumps``, send with the same key.

- ``faust-default``: a plain ``faust.App`` with Faust's default settings (only the broker, web port and data dir
  are given), one agent iterating the stream message by message.
- ``faust-tuned``: the same agent on :func:`streams.app.create_app`, i.e. Vigil's real tuning (fetch size, poll
  records, fetch_max_wait override, producer linger/batch, no leader topic).
- ``aiokafka``: a bare ``AIOKafkaConsumer.getmany`` + ``AIOKafkaProducer`` loop (linger 5 ms, 256 KiB batches):
  the client library's ceiling without a stream framework.

Both Faust modes run under ``faust.Worker`` with quiet WARNING logging, as ``vigil worker`` does (Faust's
spinner costs ~20 % on its own). SIGTERM stops every mode.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import time
from typing import Any

import orjson

_MIB = 1024 * 1024


def _pass(value: bytes) -> bytes:
    post = orjson.loads(value)
    post["passed_at"] = time.time()
    return orjson.dumps(post)


def run_faust(args: argparse.Namespace) -> None:
    import faust

    if args.mode == "faust-default":
        app: Any = faust.App(
            args.app_id, broker=f"kafka://{args.bootstrap}", web_port=args.web_port, datadir=args.data_dir
        )
    else:
        from streams.app import create_app
        from streams.settings import Settings

        settings = Settings(
            kafka_bootstrap=args.bootstrap,
            app_id=args.app_id,
            web_port=args.web_port,
            data_dir=args.data_dir,
            demo=True,
        )
        app = create_app(settings)
    source = app.topic(args.input, value_serializer="raw", key_serializer="raw")
    sink = app.topic(args.output, value_serializer="raw", key_serializer="raw")

    async def passthrough(stream: Any) -> None:
        async for key, value in stream.items():
            await sink.send(key=key, value=_pass(value))

    app.agent(source, name="bench.passthrough")(passthrough)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    logging.getLogger("faust").setLevel(logging.WARNING)
    worker.execute_from_commandline()


async def run_aiokafka(args: argparse.Namespace) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    consumer = AIOKafkaConsumer(
        args.input,
        bootstrap_servers=args.bootstrap,
        group_id=args.app_id,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * _MIB,
        fetch_max_wait_ms=20,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap, linger_ms=5, max_batch_size=256 * 1024, acks="all", max_request_size=11 * _MIB
    )
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            for records in batches.values():
                for record in records:
                    await producer.send(args.output, _pass(record.value), key=record.key)
    finally:
        await producer.stop()
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["faust-default", "faust-tuned", "aiokafka"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--app-id", required=True, help="Faust app id / consumer group")
    parser.add_argument("--web-port", type=int, default=6066, help="Faust web port (unused by aiokafka)")
    parser.add_argument("--data-dir", default="/tmp/bench-passthrough", help="Faust data dir")
    args = parser.parse_args()
    if args.mode == "aiokafka":
        asyncio.run(run_aiokafka(args))
    else:
        run_faust(args)


if __name__ == "__main__":
    main()
