"""Vigil's settings: every ``VIGIL_*`` environment variable, validated once at start-up.

A bad value stops start-up with a message naming the variable (see :func:`load_settings`).
Units are in the names or the descriptions; defaults were measured on a 2-core machine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from processors.components.segments import AuthorThresholds
from streams.exceptions import ConfigError

__all__ = ["DEMO_PSEUDONYM_KEY", "Settings", "load_settings"]

#: The published demo key. Allowed only with ``VIGIL_DEMO=1``: anyone can recompute its pseudonyms.
DEMO_PSEUDONYM_KEY = "vigil-demo-key-not-secret-0000"
_HOSTPORT = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def _default_cache() -> Path:
    return Path.home() / ".cache" / "vigil"


class Settings(BaseSettings):
    """Every Vigil setting. Environment variable = ``VIGIL_`` + the upper-case field name."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", frozen=True, extra="ignore")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092",
        description="Comma-separated host:port list of Kafka brokers (the demo's local broker by default).",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How clients talk to Kafka."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str = Field("", description="SASL user name.")
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="SASL password (secret).")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle for SSL/SASL_SSL.")
    app_id: str = Field("vigil", description="Faust application id; also the consumer group id.")
    partitions: int = Field(4, ge=1, le=1000, description="Partitions for topics `vigil topics create` makes.")
    replication_factor: int = Field(1, ge=1, le=10, description="Replication factor for created topics.")
    web_host: str = Field("127.0.0.1", description="Address the worker's web/metrics server binds.")
    web_port: int = Field(6066, ge=1, le=65535, description="Worker's web port; metrics at /metrics.")
    demo: bool = Field(False, description="Demo mode: the published default pseudonymisation key is allowed.")
    pseudonym_key: SecretStr = Field(
        SecretStr(DEMO_PSEUDONYM_KEY), description="Secret key (>= 16 bytes) for author-id pseudonyms."
    )
    alertmanager_url: str = Field(
        "http://127.0.0.1:9093", description="Alertmanager base URL for the per-post crisis notifier."
    )
    notifier_web_port: int = Field(6067, ge=1, le=65535, description="Web/metrics port of `vigil notify`.")
    post_link_template: str = Field(
        "http://127.0.0.1:3000/d/vigil-overview?var-post={post_ref}",
        description="Link put in per-post alerts; `{post_ref}` is replaced by the post's pseudonym.",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache, description="Cache for the compiled lexicon, Kafka jars, broker data."
    )
    data_dir: Path | None = Field(None, description="Worker state (tables); <cache_dir>/worker/<app_id> when unset.")
    log_level: Literal["debug", "info", "warning", "error"] = Field("warning", description="Worker log level.")
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once", description="Faust processing guarantee; exactly_once uses a transactional producer."
    )
    store: str = Field("rocksdb://", description="Faust table store: rocksdb:// (default) or memory:// (tests).")
    aggregates: bool = Field(True, description="Keep the windowed tables (segment counts, conversation crisis counts).")
    batch_max: int = Field(500, ge=1, le=100_000, description="Posts taken per batch into the pipeline.")
    batch_within_s: float = Field(0.02, gt=0, le=10, description="Longest wait (seconds) to fill a batch.")
    fetch_max_bytes: int = Field(
        16 * 1024 * 1024, ge=64 * 1024, description="Consumer max bytes fetched per partition per request."
    )
    fetch_max_wait_ms: int = Field(
        20, ge=0, le=30_000, description="Longest the broker holds a fetch with no data (milliseconds)."
    )
    max_poll_records: int = Field(5000, ge=1, description="Records returned by one consumer poll.")
    producer_linger_ms: int = Field(5, ge=0, le=10_000, description="Producer linger before sending a batch (ms).")
    producer_batch_bytes: int = Field(256 * 1024, ge=1024, description="Producer batch size (bytes).")
    producer_acks: Literal["0", "1", "all"] = Field(
        "all", description="Producer acks; 'all' loses nothing on broker failover."
    )
    watch_drugs: str = Field(
        "adalimumab,insulin glargine,insulin lispro,insulin aspart,insulin,semaglutide,tirzepatide,liraglutide,"
        "dulaglutide,metformin,ustekinumab,infliximab,vedolizumab,dupilumab,etanercept,upadacitinib,risankizumab,"
        "levothyroxine,sertraline,escitalopram,fluoxetine,bupropion,quetiapine,lithium,lamotrigine,amphetamine,"
        "methylphenidate,lisdexamfetamine,gabapentin,prednisone,albuterol,montelukast,epinephrine,naloxone,"
        "buprenorphine,isotretinoin,apixaban,hydroxychloroquine,methotrexate,acetaminophen,ibuprofen",
        description="Comma-separated generics that get their own `drug` metric label (others count as `other`).",
    )
    watch_communities: str = Field(
        "r/diabetes,r/diabetes_t1,r/type2diabetes,T1D Parents (Facebook group),r/CrohnsDisease,r/ibd,r/rheumatoid,"
        "r/Psoriasis,r/Asthma,r/ADHD,r/mentalhealth,r/bipolar,r/epilepsy,Epilepsy Parents Support (Facebook group),"
        "r/Semaglutide,r/Mounjaro,#ozempic (X),#insulin4all (X),r/Suboxone,thyroid forum",
        description="Comma-separated communities that get their own `community` metric label (others count as `other`).",
    )
    influencer_followers: int = Field(
        10_000, ge=0, description="Followers from which an individual is a patient influencer."
    )
    influencer_verified_followers: int = Field(
        5_000, ge=0, description="Followers from which a verified individual is a patient influencer."
    )
    influencer_creator_followers: int = Field(
        3_000, ge=0, description="Followers from which an individual with a creator bio is a patient influencer."
    )
    max_message_bytes: int = Field(1_000_000, ge=1024, description="Larger messages are dead-lettered as too_large.")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        hosts = [h.strip() for h in value.split(",") if h.strip()]
        if not hosts or not all(_HOSTPORT.match(h) and 0 < int(h.rsplit(":", 1)[1]) < 65536 for h in hosts):
            raise ValueError(f"expected comma-separated host:port pairs (port 1-65535), got {value!r}")
        return ",".join(hosts)

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        if value not in ("rocksdb://", "memory://"):
            raise ValueError(f"expected rocksdb:// or memory://, got {value!r}")
        return value

    @field_validator("alertmanager_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_key(self) -> Settings:
        key = self.pseudonym_key.get_secret_value()
        if len(key.encode()) < 16:
            raise ValueError("VIGIL_PSEUDONYM_KEY must be at least 16 bytes")
        return self

    @property
    def community_list(self) -> tuple[str, ...]:
        """The community watch list, as written."""
        return tuple(c.strip() for c in self.watch_communities.split(",") if c.strip())

    @property
    def author_thresholds(self) -> AuthorThresholds:
        """Who counts as a patient influencer."""
        return AuthorThresholds(
            self.influencer_followers, self.influencer_verified_followers, self.influencer_creator_followers
        )

    @property
    def watch_list(self) -> tuple[str, ...]:
        """The drug watch list, lower case."""
        return tuple(d.strip().lower() for d in self.watch_drugs.split(",") if d.strip())

    @property
    def state_dir(self) -> Path:
        """Directory for worker state (tables)."""
        return self.data_dir or self.cache_dir / "worker" / self.app_id

    @property
    def uses_demo_key(self) -> bool:
        """Whether the published demo key is in use."""
        return self.pseudonym_key.get_secret_value() == DEMO_PSEUDONYM_KEY

    def require_private_key(self) -> None:
        """Refuse the published demo key outside demo mode.

        Raises:
            ConfigError: When the demo key is in use and ``VIGIL_DEMO`` is not set.
        """
        if self.uses_demo_key and not self.demo:
            raise ConfigError(
                "VIGIL_PSEUDONYM_KEY is not set: the default key is published, so anyone could recompute "
                "author pseudonyms. Set VIGIL_PSEUDONYM_KEY to a secret of at least 16 bytes "
                "(e.g. `openssl rand -hex 32`), or VIGIL_DEMO=1 for a demo."
            )


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and ``overrides``), naming the variable on error.

    Raises:
        ConfigError: With one line per bad variable.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
            name = "VIGIL_" + loc[0].upper() if loc else "settings"
            msg = err.get("msg", "invalid").removeprefix("Value error, ")
            lines.append(f"{name}: {msg}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
