"""Connection settings for each Kafka client Vigil uses, derived from one :class:`Settings`."""

from __future__ import annotations

import ssl
from typing import Any

from streams.settings import Settings

__all__ = [
    "BOOTSTRAP_TIMEOUT_MS",
    "aiokafka_config",
    "faust_credentials",
    "kafka_python_config",
    "ssl_context",
    "unreachable",
]

#: How long a kafka-python client (the admin client behind ``vigil topics create`` and the worker's
#: start-up checks) tries to reach the broker, in milliseconds. A broker that refuses a SASL
#: password mostly just drops the connection, which kafka-python retries until this runs out
#: (its own default is 30 s); a reachable broker answers in well under a second.
BOOTSTRAP_TIMEOUT_MS = 8_000


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A TLS context for SSL/SASL_SSL, else ``None``."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    return ssl.create_default_context(cafile=cafile)


def unreachable(settings: Settings, exc: Exception) -> str:
    """The one-line error for a broker that cannot be reached, or that refused the credentials.

    Kafka clients report a failed SASL handshake as a broker they cannot bootstrap from, so with
    SASL the message names the credential settings too.
    """
    check = "is the broker up and VIGIL_KAFKA_BOOTSTRAP right?"
    if settings.kafka_security_protocol.startswith("SASL"):
        check = (
            "is the broker up, VIGIL_KAFKA_BOOTSTRAP right, and are VIGIL_KAFKA_SASL_USERNAME and "
            f"VIGIL_KAFKA_SASL_PASSWORD a user the broker knows for {settings.kafka_sasl_mechanism} "
            "(a refused password looks like an unreachable broker)?"
        )
    return f"cannot reach Kafka at {settings.kafka_bootstrap} ({exc}); {check}"


def _sasl(settings: Settings) -> dict[str, Any]:
    if not settings.kafka_security_protocol.startswith("SASL"):
        return {}
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
    }


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python clients (admin, tools)."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "security_protocol": settings.kafka_security_protocol,
        "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
        **_sasl(settings),
    }
    context = ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    return config


def aiokafka_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka producers and consumers."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
        **_sasl(settings),
    }
    context = ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    return config


def faust_credentials(settings: Settings) -> Any:
    """Faust ``broker_credentials`` for the configured protocol (``None`` for PLAINTEXT)."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context,
    )
