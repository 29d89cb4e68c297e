"""The ``vigil`` command line: enrich, ingest, worker, topics, demo, kafka.

Every command reads settings from ``VIGIL_*`` variables; a bad value stops it with a message that
names the variable. Errors Vigil expects (no broker, no Java, bad input file) print one clear line
and exit non-zero, never a stack trace.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar

import click
import orjson

from processors import Enricher, InvalidPost, Pseudonymizer, VigilError, build_nlp
from streams.settings import Settings, load_settings

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
_CHUNK_LINES = 2000


def _settings() -> Settings:
    return load_settings()


def _friendly(fun: F) -> F:
    """Turn Vigil's own errors into one line on stderr and exit code 2."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fun(*args, **kwargs)
        except VigilError as exc:
            click.echo(f"vigil: {exc}", err=True)
            sys.exit(2)

    wrapper.__name__ = fun.__name__
    wrapper.__doc__ = fun.__doc__
    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="vigil")
def main() -> None:
    """Vigil: a streaming monitor for patient communities on social media."""


def _open_in(path: str) -> contextlib.AbstractContextManager[IO[bytes]]:
    # stdin/stdout are not ours to close.
    return contextlib.nullcontext(sys.stdin.buffer) if path == "-" else open(path, "rb")


def _open_out(path: str) -> contextlib.AbstractContextManager[IO[bytes]]:
    return contextlib.nullcontext(sys.stdout.buffer) if path == "-" else open(path, "wb")


def _numbered_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(stream, start=1):
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield number, line


def _chunks(lines: Iterator[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@main.command()
@click.option("--input", "input_path", required=True, help="JSONL posts, '-' for stdin.")
@click.option("--output", "output_path", required=True, help="JSONL enriched posts, '-' for stdout.")
@click.option(
    "--rejects", "rejects_path", default=None, help="JSONL of invalid lines: line number, reason, original line."
)
@_friendly
def enrich(input_path: str, output_path: str, rejects_path: str | None) -> None:
    """Enrich a JSONL file of posts without Kafka; output order = input order."""
    settings = _settings()
    if settings.uses_demo_key and not settings.demo:
        click.echo(
            "vigil: warning: VIGIL_PSEUDONYM_KEY is not set; author ids are pseudonymised with the published demo key",
            err=True,
        )
    enricher = Enricher(
        build_nlp(cache_dir=settings.cache_dir / "lexicon"),
        Pseudonymizer(settings.pseudonym_key.get_secret_value().encode()),
        thresholds=settings.author_thresholds,
    )
    ok = rejected = 0
    rejects = open(rejects_path, "wb") if rejects_path else None  # noqa: SIM115
    try:
        with _open_in(input_path) as source, _open_out(output_path) as out:
            for chunk in _chunks(_numbered_lines(source), _CHUNK_LINES):
                results = enricher.enrich_raw([line for _, line in chunk], max_bytes=settings.max_message_bytes)
                for (number, line), result in zip(chunk, results, strict=True):
                    encoded = None
                    if not isinstance(result, InvalidPost):
                        try:
                            encoded = orjson.dumps(result)
                        except (TypeError, orjson.JSONEncodeError):
                            result = InvalidPost(
                                "$", "the enriched post could not be encoded as JSON", "enrichment_error"
                            )
                    if isinstance(result, InvalidPost):
                        rejected += 1
                        if rejects is not None:
                            row = {"line": number, "reason": result.code, "field": result.field, "error": str(result)}
                            row["raw"] = line.decode("utf-8", "replace")
                            rejects.write(orjson.dumps(row) + b"\n")
                    else:
                        ok += 1
                        out.write(encoded + b"\n")
    except OSError as exc:
        raise VigilError(f"cannot read or write a file: {exc}") from exc
    finally:
        if rejects is not None:
            rejects.close()
    click.echo(
        f"enriched {ok} posts, rejected {rejected} invalid line(s)"
        + (f" (see {rejects_path})" if rejected and rejects_path else ""),
        err=True,
    )


@main.command()
@click.option("--input", "input_path", required=True, help="Posts file, '-' for stdin.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--topic", default=None, help="Target topic (default vigil.posts).")
@click.option("--rate", type=float, default=0.0, help="Posts per second (0 = as fast as possible).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@_friendly
def ingest(input_path: str, fmt: str, topic: str | None, rate: float, progress: bool) -> None:
    """Send posts to Kafka (vigil.posts). Lines are sent as they are: the worker validates them."""
    from streams.ingest import ingest_file

    counts = ingest_file(_settings(), input_path, fmt=fmt, topic=topic, rate=rate, progress=progress)
    click.echo(f"sent {counts.sent}, failed {counts.failed}, skipped blank {counts.blank}", err=True)
    if counts.failed:
        sys.exit(1)


@main.command()
@_friendly
def worker() -> None:
    """Run the Faust worker: vigil.posts -> vigil.posts.enriched (+ dead letters)."""
    from streams.worker import run_worker

    run_worker(_settings())


@main.command()
@_friendly
def notify() -> None:
    """Run the crisis notifier: each post in vigil.crisis becomes an Alertmanager alert at once."""
    from streams.worker import run_notifier

    run_notifier(_settings())


@main.group()
def topics() -> None:
    """Manage Vigil's Kafka topics."""


@topics.command("create")
@click.option(
    "--partitions",
    type=click.IntRange(1, 1000),
    default=None,
    help="Partitions for new topics (default VIGIL_PARTITIONS).",
)
@_friendly
def topics_create(partitions: int | None) -> None:
    """Create Vigil's topics explicitly (idempotent) and print what exists."""
    from streams.topics import create_topics

    for name, count, created in create_topics(_settings(), partitions):
        click.echo(f"{name:<24} partitions={count:<4} {'created' if created else 'exists'}")


@main.command()
@click.option("--rate", type=float, default=40.0, show_default=True, help="Sample posts per second.")
@click.option("--loops", type=int, default=1, show_default=True, help="Times the sample stream is replayed.")
@_friendly
def demo(rate: float, loops: int) -> None:
    """Local Kafka + worker + the bundled sample stream, with a live summary."""
    from streams.demo import run_demo

    run_demo(load_settings(demo=True), rate=rate, loops=loops)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def kafka(args: tuple[str, ...]) -> None:
    """The local single-node Kafka broker (fetch | start | stop | status)."""
    from streams.localkafka import main as kafka_main

    sys.exit(kafka_main(list(args)))
