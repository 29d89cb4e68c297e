"""Errors raised by Vigil's streaming layer.

All of them derive from :class:`processors.exceptions.VigilError`, so a caller can catch one type.
"""

from __future__ import annotations

from processors.exceptions import VigilError

__all__ = ["ConfigError", "KafkaRuntimeError", "VigilError"]


class KafkaRuntimeError(VigilError):
    """The local Kafka broker could not be fetched, started, reached or stopped.

    The message says what to do about it (install Java, free a port, read the broker log).
    """


class ConfigError(VigilError):
    """A ``VIGIL_*`` setting is invalid; the message names the variable and the fix."""
