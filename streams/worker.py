"""Start the Faust worker with Vigil's settings and quiet, text-free logging."""

from __future__ import annotations

import logging
import socket

import faust

from streams.agents import build_worker
from streams.exceptions import ConfigError
from streams.settings import Settings
from streams.tables import TABLES
from streams.topics import POSTS, ensure_changelogs, partition_count

__all__ = ["run_notifier", "run_worker"]


def run_worker(settings: Settings) -> None:
    """Run the worker until it is stopped (SIGTERM / Ctrl-C).

    Raises:
        ConfigError: When the published demo key would be used outside demo mode, or the web
            port is taken.
    """
    settings.require_private_key()
    _check_port_free(settings, settings.web_port, "VIGIL_WEB_PORT")
    # Table changelogs must have as many partitions as the input topic: ask Kafka.
    partitions = partition_count(settings, POSTS)
    if partitions is not None and partitions != settings.partitions:
        settings = settings.model_copy(update={"partitions": partitions})
    if settings.aggregates:
        ensure_changelogs(settings, settings.app_id, TABLES, settings.partitions)
    _run(build_worker(settings), settings)


def run_notifier(settings: Settings) -> None:
    """Run the crisis notifier (``vigil.crisis`` -> Alertmanager) until it is stopped."""
    from streams.notifier import build_notifier

    settings.require_private_key()
    _check_port_free(settings, settings.notifier_web_port, "VIGIL_NOTIFIER_WEB_PORT")
    _run(build_notifier(settings), settings)


def _run(app: faust.App, settings: Settings) -> None:
    # Nothing per post is logged at any level Vigil sets: post text and handles never reach logs.
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True, redirect_stdouts=False)
    # Faust's terminal spinner sets the root logger to DEBUG, which makes aiokafka build a debug
    # record (with the message key and value) for every post: wasted time, and post text one
    # handler away from a log file. No spinner, and the root logger stays at Vigil's level.
    worker.spinner = None
    level = getattr(logging, settings.log_level.upper())
    logging.getLogger().setLevel(level)
    # At DEBUG, Faust's and aiokafka's own loggers print message keys and values (post text).
    # They never go below INFO; Vigil's and the rest of the stack's debug output still shows.
    for name in ("faust", "aiokafka", "kafka"):
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    worker.execute_from_commandline()


def _check_port_free(settings: Settings, port: int, variable: str) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.web_host, port))
        except OSError as exc:
            raise ConfigError(
                f"{variable}: cannot listen on {settings.web_host}:{port} ({exc.strerror}); "
                "another Vigil process may be running there, so choose another port"
            ) from None
