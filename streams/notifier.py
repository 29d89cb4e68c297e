"""The per-post critical path: ``vigil.crisis`` -> Alertmanager's v2 API, at once.

Every post the worker rates ``critical`` is published to ``vigil.crisis``; this agent turns each
into one Alertmanager alert (``alertname=VigilCriticalPost``) so a community manager is paged
within seconds, without waiting for Prometheus to scrape and evaluate. Labels carry no post text
and no ids: drug, community, platform are bounded values. Annotations carry a keyed pseudonym of
the post, the author's pseudonym, the crisis reasons (rule names) and a link.

Delivery is at-least-once: a failed POST is retried with backoff until Alertmanager accepts it
(each failure counts in ``vigil_crisis_notifications_total{outcome="failed"}``, which alerts ops);
the post's offset is committed only after that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import faust
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from processors import Pseudonymizer
from streams import topics as names
from streams.app import VigilApp, create_app
from streams.metrics import VigilMetrics
from streams.settings import Settings

__all__ = ["CrisisNotifier", "build_notifier", "critical_alert"]

log = logging.getLogger(__name__)
#: How long a per-post alert stays active in Alertmanager before it resolves by itself.
ALERT_TTL = timedelta(hours=1)


def critical_alert(post: dict[str, Any], *, post_ref: str, metrics: VigilMetrics, link_template: str) -> dict[str, Any]:
    """The Alertmanager v2 alert for one critical post (no post text, no raw ids)."""
    crisis = post.get("crisis") or {}
    drugs = sorted(
        {metrics.drug_label(m["generic"]) for m in post.get("drugs", ()) if m["status"] in ("current", "past")}
    )
    rules = sorted(
        {r["rule"] for r in crisis.get("reasons", ()) if "ignored" not in r and r.get("level") == "critical"}
    )
    community = metrics.community_label(post.get("community"))
    start = datetime.now(UTC)
    author = (post.get("author") or {}).get("id") or "unknown"
    link = link_template.format(post_ref=post_ref)
    return {
        "labels": {
            "alertname": "VigilCriticalPost",
            "severity": "critical",
            "team": "community",
            "drug": drugs[0] if drugs else "none",
            "community": community,
            "platform": metrics.platform_label(post.get("platform")),
            "post_ref": post_ref,
        },
        "annotations": {
            "summary": f"Critical post in {community}: a person may be in danger now",
            "description": (
                f"Crisis rules: {', '.join(rules) or 'critical'} (score {crisis.get('score', 0)}). "
                f"Drugs: {', '.join(drugs) or 'none'}. Author {author}. Open the post and reach out now."
            ),
            "post_ref": post_ref,
            "author": author,
            "link": link,
            "runbook_url": "https://github.com/vigil-health/vigil/blob/main/README.md#vigilcriticalpost",
        },
        "startsAt": start.isoformat(),
        "endsAt": (start + ALERT_TTL).isoformat(),
        "generatorURL": link,
    }


class CrisisNotifier:
    """Post critical posts to Alertmanager, retrying until accepted."""

    def __init__(self, settings: Settings, metrics: VigilMetrics) -> None:
        self.url = f"{settings.alertmanager_url}/api/v2/alerts"
        self.metrics = metrics
        self.link_template = settings.post_link_template
        self.post_ref = Pseudonymizer(settings.pseudonym_key.get_secret_value().encode())
        self._session: aiohttp.ClientSession | None = None

    async def agent(self, stream: faust.StreamT[Any]) -> None:
        """Agent body: one alert per critical post, in order, each delivered before the next."""
        async for event in stream.events():
            post = orjson.loads(event.value)
            alert = critical_alert(
                post, post_ref=self.post_ref(post["id"]), metrics=self.metrics, link_template=self.link_template
            )
            await self.deliver(alert)
            self.metrics.notify_latency.observe(max(0.0, time.time() - event.message.timestamp))

    async def deliver(self, alert: dict[str, Any]) -> None:
        """POST one alert; retry with backoff (0.2 s doubling to 10 s) until Alertmanager accepts it."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        delay = 0.2
        while True:
            try:
                async with self._session.post(
                    self.url, data=orjson.dumps([alert]), headers={"Content-Type": "application/json"}
                ) as response:
                    if response.status < 300:
                        self.metrics.notifications.labels(outcome="sent").inc()
                        return
                    problem = f"HTTP {response.status}"
            except (TimeoutError, aiohttp.ClientError) as exc:
                problem = type(exc).__name__
            self.metrics.notifications.labels(outcome="failed").inc()
            log.error("Alertmanager at %s refused a critical alert (%s); retrying in %.1f s", self.url, problem, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def build_notifier(settings: Settings, *, registry: CollectorRegistry | None = None) -> VigilApp:
    """The notifier app: its own consumer group on ``vigil.crisis`` and ``/metrics``."""
    app = create_app(settings, app_id=f"{settings.app_id}-notifier", web_port=settings.notifier_web_port)
    registry = registry if registry is not None else REGISTRY
    metrics = VigilMetrics(registry, settings.watch_list, settings.community_list)
    notifier = CrisisNotifier(settings, metrics)
    topic = app.topic(names.CRISIS, value_serializer="raw", key_serializer="raw")
    app.agent(topic, name="vigil.notify")(notifier.agent)

    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    app.page("/metrics")(metrics_page)
    app.vigil_notifier = notifier  # type: ignore[attr-defined]
    return app
