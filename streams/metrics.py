"""Vigil's Prometheus metrics, as one bundle built on an injected registry.

Labels are bounded sets only: platform from :data:`PLATFORMS` (else ``other``), drug from the
configured watch list (else ``other``), status, reason codes. Never text, ids or handles.
Known label values are pre-initialised so dashboards show zeros, not gaps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from processors.components.crisis import LEVELS
from processors.components.segments import AUDIENCES, AUTHOR_TYPES, BEHAVIOURS, STAGES
from processors.components.status import STATUSES
from processors.exceptions import InvalidPost

__all__ = ["PLATFORMS", "VigilMetrics"]

# `*_created` series double the exposition for no use on dashboards.
disable_created_metrics()

PLATFORMS = ("reddit", "x", "facebook", "instagram", "tiktok", "forum", "youtube", "other")
_BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class VigilMetrics:
    """All metrics the worker exports.

    Args:
        registry: Where the metrics live: the default registry in production, a fresh one per test.
        watch_drugs: Generics that get their own ``drug`` label value; others count as ``other``.
        watch_communities: Communities that get their own ``community`` label value; others count
            as ``other``.
    """

    def __init__(
        self, registry: CollectorRegistry, watch_drugs: Iterable[str], watch_communities: Iterable[str] = ()
    ) -> None:
        self.registry = registry
        self.watch_drugs = frozenset(d.lower() for d in watch_drugs)
        self.communities = {c.lower(): c for c in watch_communities}
        self.posts = Counter(
            "vigil_posts_processed_total", "Posts enriched and published.", ["platform"], registry=registry
        )
        self.drug_mentions = Counter(
            "vigil_drug_mentions_total",
            "Drug mentions found, by generic and status.",
            ["drug", "status"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "vigil_dead_letters_total",
            "Messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.batch_duration = Histogram(
            "vigil_enrichment_duration_seconds",
            "Time to decode, enrich and hand one batch of posts to the producer.",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "vigil_enrichment_batch_posts",
            "Posts per enrichment batch.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 5000),
            registry=registry,
        )
        self.lag = Histogram(
            "vigil_end_to_end_lag_seconds",
            "From the post's Kafka timestamp to its enriched copy being handed to the producer.",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.audience = Counter("vigil_posts_by_audience_total", "Posts by audience.", ["audience"], registry=registry)
        self.behaviour = Counter(
            "vigil_posts_by_behaviour_total", "Posts by behaviour.", ["behaviour"], registry=registry
        )
        self.stage = Counter("vigil_posts_by_stage_total", "Posts by emotional stage.", ["stage"], registry=registry)
        self.author_type = Counter(
            "vigil_posts_by_author_type_total", "Posts by author type.", ["author_type"], registry=registry
        )
        self.crisis = Counter(
            "vigil_crisis_posts_total",
            "Posts by crisis level (including `none`), drug (`none` when no drug taken) and community; "
            "summed over levels it counts all posts, the denominator of crisis share.",
            ["level", "drug", "community"],
            registry=registry,
        )
        self.adverse_events = Counter(
            "vigil_adverse_events_total", "Suspected adverse events by drug.", ["drug"], registry=registry
        )
        self.observer_reach = Counter(
            "vigil_observer_reach_total",
            "Silent reach: views (or likes) beyond the people who replied, summed by drug and stage.",
            ["drug", "stage"],
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "vigil_consumer_lag_messages",
            "Messages in vigil.posts not yet consumed, per assigned partition.",
            ["partition"],
            registry=registry,
        )
        self.notifications = Counter(
            "vigil_crisis_notifications_total",
            "Per-post critical alerts sent to Alertmanager, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.notify_latency = Histogram(
            "vigil_crisis_notify_latency_seconds",
            "From a critical post's Kafka timestamp to Alertmanager accepting its alert.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self.table_errors = Counter(
            "vigil_table_update_errors_total",
            "Batches the windowed tables could not count (posts were still published).",
            registry=registry,
        )
        self.last_processed = Gauge(
            "vigil_last_processed_timestamp_seconds", "Unix time the last batch was processed.", registry=registry
        )
        for platform in PLATFORMS:
            self.posts.labels(platform=platform)
        for drug in (*sorted(self.watch_drugs), "other"):
            for status in STATUSES:
                self.drug_mentions.labels(drug=drug, status=status)
        for reason in InvalidPost.CODES:
            self.dead_letters.labels(reason=reason)
        for counter, values in (
            (self.audience, AUDIENCES),
            (self.behaviour, BEHAVIOURS),
            (self.stage, STAGES),
            (self.author_type, AUTHOR_TYPES),
        ):
            for value in values:
                counter.labels(value)
        drugs = (*sorted(self.watch_drugs), "other", "none")
        for outcome in ("sent", "failed"):
            self.notifications.labels(outcome=outcome)
        for drug in drugs:
            for level in LEVELS:
                for community in (*self.communities.values(), "other"):
                    self.crisis.labels(level=level, drug=drug, community=community)
            self.adverse_events.labels(drug=drug)
            for stage in STAGES:
                self.observer_reach.labels(drug=drug, stage=stage)

    def drug_label(self, generic: str) -> str:
        """The bounded ``drug`` label value of a generic."""
        return generic if generic in self.watch_drugs else "other"

    def community_label(self, community: Any) -> str:
        """The bounded ``community`` label value."""
        if isinstance(community, str):
            return self.communities.get(community.strip().lower(), "other")
        return "other"

    @staticmethod
    def platform_label(platform: Any) -> str:
        """The bounded ``platform`` label value."""
        if isinstance(platform, str):
            value = platform.lower()
            if value in PLATFORMS:
                return value
            if value in ("twitter", "x.com"):
                return "x"
        return "other"

    def record_post(self, post: dict[str, Any]) -> None:
        """Count one enriched post: platform, drug mentions, segments, crisis, adverse events, reach."""
        self.posts.labels(platform=self.platform_label(post.get("platform"))).inc()
        drugs: set[str] = set()
        for mention in post.get("drugs", ()):
            label = self.drug_label(mention["generic"])
            self.drug_mentions.labels(drug=label, status=mention["status"]).inc()
            if mention["status"] in ("current", "past"):
                drugs.add(label)
        segments = post.get("segments")
        if segments:
            self.audience.labels(segments["audience"]).inc()
            self.behaviour.labels(segments["behaviour"]).inc()
            self.stage.labels(segments["stage"]).inc()
            self.author_type.labels(segments["author_type"]).inc()
        crisis = post.get("crisis")
        if crisis:
            community = self.community_label(post.get("community"))
            for drug in drugs or ("none",):
                self.crisis.labels(level=crisis["level"], drug=drug, community=community).inc()
        for event in post.get("adverse_events", ()):
            self.adverse_events.labels(drug=self.drug_label(event["drug"])).inc()
        reach = post.get("observer_reach") or 0
        if reach and segments:
            for drug in drugs or ("none",):
                self.observer_reach.labels(drug=drug, stage=segments["stage"]).inc(reach)

    def record_dead_letter(self, reason: str) -> None:
        """Count one dead letter."""
        self.dead_letters.labels(reason=reason if reason in InvalidPost.CODES else "wrong_type").inc()
