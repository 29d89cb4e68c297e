"""Vigil's metrics on a fresh registry per test: bounded labels, zeros before the first post."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from processors import InvalidPost
from processors.components.status import STATUSES
from streams.metrics import PLATFORMS, VigilMetrics

WATCH = ("adalimumab", "semaglutide", "insulin glargine")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> VigilMetrics:
    return VigilMetrics(registry, WATCH)


def posts(registry: CollectorRegistry, platform: str) -> float | None:
    return registry.get_sample_value("vigil_posts_processed_total", {"platform": platform})


def mentions(registry: CollectorRegistry, drug: str, status: str) -> float | None:
    return registry.get_sample_value("vigil_drug_mentions_total", {"drug": drug, "status": status})


def dead(registry: CollectorRegistry, reason: str) -> float | None:
    return registry.get_sample_value("vigil_dead_letters_total", {"reason": reason})


def mention(generic: str, status: str = "current") -> dict[str, object]:
    return {"text": generic, "generic": generic, "start": 0, "end": len(generic), "status": status}


def test_known_label_values_exist_at_zero_before_any_post(metrics: VigilMetrics, registry: CollectorRegistry) -> None:
    for platform in PLATFORMS:
        assert posts(registry, platform) == 0.0
    for drug in (*WATCH, "other"):
        for status in STATUSES:
            assert mentions(registry, drug, status) == 0.0
    for reason in InvalidPost.CODES:
        assert dead(registry, reason) == 0.0
    assert registry.get_sample_value("vigil_enrichment_batch_posts_count") == 0.0


def test_watch_list_is_matched_case_insensitively(registry: CollectorRegistry) -> None:
    VigilMetrics(registry, ["Adalimumab"])
    assert mentions(registry, "adalimumab", "current") == 0.0


def test_posts_are_counted_by_platform(metrics: VigilMetrics, registry: CollectorRegistry) -> None:
    for platform in ("reddit", "reddit", "Reddit", "twitter", "x.com", "x", "forum"):
        metrics.record_post({"id": "1", "text": "", "platform": platform, "drugs": []})
    assert posts(registry, "reddit") == 3.0
    assert posts(registry, "x") == 3.0
    assert posts(registry, "forum") == 1.0
    assert posts(registry, "facebook") == 0.0


@pytest.mark.parametrize("platform", ["mastodon", "my-private-forum-of-user-42", "", None, 7])
def test_unknown_or_missing_platform_counts_as_other(
    metrics: VigilMetrics, registry: CollectorRegistry, platform: object
) -> None:
    post = {"id": "1", "text": "", "drugs": []}
    if platform is not None:
        post["platform"] = platform
    metrics.record_post(post)
    assert posts(registry, "other") == 1.0
    if isinstance(platform, str) and platform:
        assert posts(registry, platform) is None  # no free-text label values


def test_drug_mentions_by_watched_generic_and_status(metrics: VigilMetrics, registry: CollectorRegistry) -> None:
    metrics.record_post(
        {
            "id": "1",
            "text": "",
            "platform": "reddit",
            "drugs": [
                mention("adalimumab", "past"),
                mention("ustekinumab", "current"),
                mention("semaglutide", "hypothetical"),
                mention("semaglutide", "hypothetical"),
                mention("insulin glargine", "negated"),
                mention("tacrolimus", "current"),
            ],
        }
    )
    assert mentions(registry, "adalimumab", "past") == 1.0
    assert mentions(registry, "adalimumab", "current") == 0.0
    assert mentions(registry, "semaglutide", "hypothetical") == 2.0
    assert mentions(registry, "insulin glargine", "negated") == 1.0
    # drugs outside the watch list share one label value, so the series count stays bounded
    assert mentions(registry, "other", "current") == 2.0
    assert mentions(registry, "ustekinumab", "current") is None
    assert mentions(registry, "tacrolimus", "current") is None


def test_post_without_drugs_counts_no_mentions(metrics: VigilMetrics, registry: CollectorRegistry) -> None:
    metrics.record_post({"id": "1", "text": "nice weather", "platform": "reddit"})
    assert posts(registry, "reddit") == 1.0
    total = sum(mentions(registry, d, s) or 0.0 for d in (*WATCH, "other") for s in STATUSES)
    assert total == 0.0


def test_dead_letters_are_counted_by_reason(metrics: VigilMetrics, registry: CollectorRegistry) -> None:
    for reason in ("not_json", "not_json", "too_large", "missing_field"):
        metrics.record_dead_letter(reason)
    assert dead(registry, "not_json") == 2.0
    assert dead(registry, "too_large") == 1.0
    assert dead(registry, "missing_field") == 1.0
    assert dead(registry, "not_utf8") == 0.0


def test_unknown_dead_letter_reason_does_not_create_a_label(metrics: VigilMetrics, registry: CollectorRegistry) -> None:
    metrics.record_dead_letter("text: I took 40 pills")
    assert dead(registry, "text: I took 40 pills") is None
    assert sum(dead(registry, r) or 0.0 for r in InvalidPost.CODES) == 1.0


def test_metric_names_follow_the_house_convention(metrics: VigilMetrics, registry: CollectorRegistry) -> None:
    exposition = generate_latest(registry).decode()
    for name in (
        "vigil_posts_processed_total",
        "vigil_drug_mentions_total",
        "vigil_dead_letters_total",
        "vigil_enrichment_duration_seconds_bucket",
        "vigil_end_to_end_lag_seconds_bucket",
        "vigil_last_processed_timestamp_seconds",
    ):
        assert name in exposition
    assert "_created" not in exposition


def test_each_registry_is_independent() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    VigilMetrics(first, WATCH).record_dead_letter("not_json")
    VigilMetrics(second, WATCH)
    assert dead(first, "not_json") == 1.0
    assert dead(second, "not_json") == 0.0
