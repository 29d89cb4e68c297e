#!/usr/bin/env python3
"""Write Vigil's Grafana dashboards (``dashboards/*.json``) from the definitions in this file.

The JSON files are what Grafana loads (file provisioning, ``allowUiUpdates: false``); this script is
how they are made, so every panel gets the same datasource variable, stable ids and ``refId``s and
the same query conventions (builders in ``panels.py`` beside it). Edit the panels here, then run
it and commit both::

    python deploy/grafana/generate.py          # rewrite dashboards/*.json
    python deploy/grafana/generate.py --check  # exit 1 if the committed JSON differs

Query conventions: every expression is plain PromQL that Prometheus answers as written (no Grafana
macros such as ``$__rate_interval``), so a test can send each one to a real Prometheus. Rates use a
5 m window and "last hour" figures ``increase(...[1h])``; ratios divide by ``(... > 0)`` so an idle
pipeline shows "No data" rather than NaN. Label values in matchers are ones the worker
pre-initialises (crisis levels), never values that may not exist yet. Stdlib only.

For tests: :func:`panel_queries` yields ``(dashboard uid, panel title, expr)`` for every target of
the committed JSON. ``deploy/grafana`` is not a package; import this file by path::

    spec = importlib.util.spec_from_file_location("vigil_dashboards", "deploy/grafana/generate.py")
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARD_DIR", "DATASOURCE", "dashboards", "panel_queries", "render"]

_HERE = Path(__file__).resolve().parent
# Run as a script or loaded by path from a test: either way the sibling builders must be importable.
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from panels import (  # noqa: E402
    DATASOURCE,
    bars,
    dashboard,
    last_hour,
    mean,
    panel,
    quantile,
    rate,
    share,
    stat,
    target,
    timeseries,
)

DASHBOARD_DIR = _HERE / "dashboards"

# --- the dashboards ------------------------------------------------------------------------------

LEVEL_COLORS = {"watch": "yellow", "high": "orange", "critical": "red"}
PER_S = "suffix: /s"
#: Active Prometheus alerts; a "(none firing)" row instead of an empty table when all is quiet.
ALERTS_TABLE = 'ALERTS{alertstate="firing"} or on() label_replace(vector(0), "alertname", "(none firing)", "", "")'
CRISIS_SHARE = 'sum(rate(vigil_crisis_posts_total{level!="none"}[5m])) / (sum(rate(vigil_crisis_posts_total[5m])) > 0)'
SERIOUS = '{level=~"high|critical"}'
CRISIS_NOTE = (
    "Counted per post and drug taken (a post about two drugs counts once for each; "
    "posts about no drug count under drug `none`)."
)


def overview() -> dict[str, Any]:
    """What patient communities talk about: volume, segments, crisis, adverse events, reach."""
    panels = [
        stat("Posts", "Posts enriched per second, all platforms.", rate("vigil_posts_processed_total"), unit=PER_S),
        stat(
            "Drug mentions",
            "Drug mentions found per second, any status.",
            rate("vigil_drug_mentions_total"),
            unit=PER_S,
        ),
        stat(
            "Crisis share",
            "Share of posts at crisis level watch or above (5 m). " + CRISIS_NOTE,
            CRISIS_SHARE,
            unit="percentunit",
            steps=[(None, "green"), (0.05, "orange"), (0.15, "red")],
        ),
        stat(
            "Critical posts, last hour",
            "Posts rated critical in the last hour. " + CRISIS_NOTE,
            last_hour("vigil_crisis_posts_total", selector='{level="critical"}'),
            steps=[(None, "green"), (1, "red")],
        ),
        stat(
            "Adverse events, last hour",
            "Suspected adverse events found in the last hour.",
            last_hour("vigil_adverse_events_total"),
            steps=[(None, "green"), (1, "orange")],
        ),
        stat(
            "Alerts firing",
            "Prometheus alerts firing now (per-post critical alerts go straight to "
            "Alertmanager and are not counted here).",
            'count(ALERTS{alertstate="firing"}) or vector(0)',
            steps=[(None, "green"), (1, "red")],
        ),
        timeseries(
            "Drug mentions by drug (top 10)",
            "Mentions per second of the ten most discussed drugs; drugs outside the watch list count as `other`.",
            [target(f"topk(10, {rate('vigil_drug_mentions_total', 'drug')})", "{{drug}}")],
            unit=PER_S,
        ),
        timeseries(
            "Posts by platform",
            "Posts enriched per second, by platform.",
            [target(rate("vigil_posts_processed_total", "platform"), "{{platform}}")],
            unit=PER_S,
        ),
        bars(
            "Drug mentions, last hour (top 15)",
            "Mentions in the last hour, by drug.",
            f"sort_desc(topk(15, {last_hour('vigil_drug_mentions_total', 'drug')}))",
            "{{drug}}",
            height=10,
        ),
        timeseries(
            "Drug mentions by status",
            "Mentions per second by status: current, past, negated, hypothetical.",
            [target(rate("vigil_drug_mentions_total", "status"), "{{status}}")],
            unit=PER_S,
            height=10,
        ),
        timeseries(
            "Audience mix",
            "Share of posts by audience.",
            [target(share("vigil_posts_by_audience_total", "audience"), "{{audience}}")],
            stack="normal",
            defaults={"max": 1},
            unit="percentunit",
            width=6,
        ),
        timeseries(
            "Behaviour mix",
            "Share of posts by behaviour.",
            [target(share("vigil_posts_by_behaviour_total", "behaviour"), "{{behaviour}}")],
            stack="normal",
            defaults={"max": 1},
            unit="percentunit",
            width=6,
        ),
        timeseries(
            "Author type mix",
            "Share of posts by author type.",
            [target(share("vigil_posts_by_author_type_total", "author_type"), "{{author_type}}")],
            stack="normal",
            defaults={"max": 1},
            unit="percentunit",
            width=6,
        ),
        timeseries(
            "Stage mix",
            "Share of posts by emotional stage.",
            [target(share("vigil_posts_by_stage_total", "stage"), "{{stage}}")],
            stack="normal",
            defaults={"max": 1},
            unit="percentunit",
            width=6,
        ),
        timeseries(
            "Crisis posts by level",
            "Posts per second at each crisis level above none. " + CRISIS_NOTE,
            [target(rate("vigil_crisis_posts_total", "level", '{level!="none"}'), "{{level}}")],
            colors=LEVEL_COLORS,
            unit=PER_S,
            width=8,
        ),
        timeseries(
            "Crisis share by level",
            "Share of posts at each crisis level above none. " + CRISIS_NOTE,
            [target(share("vigil_crisis_posts_total", "level", '{level!="none"}'), "{{level}}")],
            colors=LEVEL_COLORS,
            unit="percentunit",
            width=8,
        ),
        timeseries(
            "Serious crisis posts by drug (top 10)",
            "Posts per second at level high or critical, by drug taken. " + CRISIS_NOTE,
            [target(f"topk(10, {rate('vigil_crisis_posts_total', 'drug', SERIOUS)})", "{{drug}}")],
            unit=PER_S,
            width=8,
        ),
        timeseries(
            "Serious crisis posts by community (top 10)",
            "Posts per second at level high or critical, by "
            "community; communities outside the watch list count as `other`. " + CRISIS_NOTE,
            [target(f"topk(10, {rate('vigil_crisis_posts_total', 'community', SERIOUS)})", "{{community}}")],
            unit=PER_S,
        ),
        panel(
            "table",
            "Active alerts",
            "Prometheus alerts firing now, with their labels.",
            [target(ALERTS_TABLE, instant=True, table=True)],
            transformations=[
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True, "Value": True, "__name__": True, "alertstate": True},
                        "indexByName": {"alertname": 0, "severity": 1, "team": 2},
                        "renameByName": {},
                    },
                }
            ],
            options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"]}},
        ),
        timeseries(
            "Adverse events by drug (top 10)",
            "Suspected adverse events per second, by suspect drug.",
            [target(f"topk(10, {rate('vigil_adverse_events_total', 'drug')})", "{{drug}}")],
            unit=PER_S,
        ),
        bars(
            "Adverse events, last hour (top 15)",
            "Suspected adverse events in the last hour, by drug.",
            f"sort_desc(topk(15, {last_hour('vigil_adverse_events_total', 'drug')}))",
            "{{drug}}",
        ),
        timeseries(
            "Observer reach by stage",
            "Silent reach (views or likes beyond the people who replied) per second, by emotional stage.",
            [target(rate("vigil_observer_reach_total", "stage"), "{{stage}}")],
            unit=PER_S,
        ),
        bars(
            "Observer reach by drug and stage, last hour (top 15)",
            "Silent reach in the last hour, by drug taken and emotional stage.",
            f"sort_desc(topk(15, {last_hour('vigil_observer_reach_total', 'drug, stage')}))",
            "{{drug}} / {{stage}}",
        ),
    ]
    return dashboard(
        "vigil-overview",
        "Vigil / Overview",
        "What patient communities are saying: drugs, segments, crisis, adverse events, reach.",
        panels,
    )


def pipeline() -> dict[str, Any]:
    """Is the pipeline healthy: throughput, latency, lag, dead letters, crisis notifications."""
    up_mappings = [
        {
            "type": "value",
            "options": {
                "0": {"text": "DOWN", "color": "red", "index": 0},
                "1": {"text": "UP", "color": "green", "index": 1},
            },
        }
    ]
    panels = [
        stat(
            "Worker up",
            "Whether Prometheus can scrape each Vigil process (job `vigil`).",
            'up{job="vigil"}',
            legend="{{instance}}",
            steps=[(None, "red"), (1, "green")],
            mappings=up_mappings,
        ),
        stat("Throughput", "Posts enriched per second.", rate("vigil_posts_processed_total"), unit=PER_S),
        stat(
            "Since last batch",
            "Seconds since a worker last processed a batch.",
            "time() - max(vigil_last_processed_timestamp_seconds > 0)",
            unit="s",
            steps=[(None, "green"), (60, "orange"), (300, "red")],
        ),
        stat(
            "Consumer lag",
            "Messages in vigil.posts not consumed yet, all partitions.",
            "sum(vigil_consumer_lag_messages)",
            steps=[(None, "green"), (1000, "orange"), (10000, "red")],
        ),
        stat(
            "End-to-end lag p99",
            "99th percentile from a post's Kafka timestamp to its enriched copy (5 m).",
            quantile(0.99, "vigil_end_to_end_lag_seconds"),
            unit="s",
            steps=[(None, "green"), (5, "orange"), (30, "red")],
        ),
        stat(
            "Dead letters, last hour",
            "Messages dead-lettered in the last hour, any reason.",
            last_hour("vigil_dead_letters_total"),
            steps=[(None, "green"), (1, "orange")],
        ),
        timeseries(
            "Processed and dead-lettered",
            "Posts enriched and messages dead-lettered per second.",
            [
                target(rate("vigil_posts_processed_total"), "processed"),
                target(rate("vigil_dead_letters_total"), "dead letters"),
            ],
            colors={"processed": "green", "dead letters": "red"},
            unit=PER_S,
        ),
        timeseries(
            "End-to-end lag",
            "From a post's Kafka timestamp to its enriched copy being handed to the producer.",
            [
                target(quantile(0.5, "vigil_end_to_end_lag_seconds"), "p50"),
                target(quantile(0.99, "vigil_end_to_end_lag_seconds"), "p99"),
            ],
            unit="s",
        ),
        timeseries(
            "Enrichment batch duration",
            "Time to decode, enrich and hand one batch to the producer.",
            [
                target(quantile(0.5, "vigil_enrichment_duration_seconds"), "p50"),
                target(quantile(0.99, "vigil_enrichment_duration_seconds"), "p99"),
            ],
            unit="s",
            width=8,
        ),
        timeseries(
            "Posts per batch",
            "Batch size: mean and 99th percentile.",
            [
                target(mean("vigil_enrichment_batch_posts_sum", "vigil_enrichment_batch_posts_count"), "mean"),
                target(quantile(0.99, "vigil_enrichment_batch_posts"), "p99"),
            ],
            width=8,
        ),
        timeseries(
            "Enrichment time per post",
            "Batch time divided by posts in the batch (mean).",
            [target(mean("vigil_enrichment_duration_seconds_sum", "vigil_enrichment_batch_posts_sum"), "per post")],
            unit="s",
            width=8,
        ),
        timeseries(
            "Consumer lag by partition",
            "Messages in vigil.posts not consumed yet; each partition is reported by the worker that owns it.",
            [target("sum by (partition) (vigil_consumer_lag_messages)", "partition {{partition}}")],
        ),
        timeseries(
            "Dead letters by reason",
            "Messages dead-lettered per second, by reason.",
            [target(rate("vigil_dead_letters_total", "reason"), "{{reason}}")],
            unit=PER_S,
        ),
        timeseries(
            "Table update errors",
            "Batches the windowed tables could not count (the posts were still published); should stay 0.",
            [target(rate("vigil_table_update_errors_total"), "batches")],
            unit=PER_S,
        ),
        timeseries(
            "Crisis notifications by outcome",
            "Per-post critical alerts sent to Alertmanager per second; `failed` attempts are retried.",
            [target(rate("vigil_crisis_notifications_total", "outcome"), "{{outcome}}")],
            colors={"sent": "green", "failed": "red"},
            unit=PER_S,
        ),
        timeseries(
            "Crisis notify latency",
            "From a critical post's Kafka timestamp to Alertmanager accepting its alert.",
            [
                target(quantile(0.5, "vigil_crisis_notify_latency_seconds"), "p50"),
                target(quantile(0.99, "vigil_crisis_notify_latency_seconds"), "p99"),
            ],
            unit="s",
        ),
    ]
    return dashboard(
        "vigil-pipeline",
        "Vigil / Pipeline",
        "Is the pipeline healthy: throughput, latency, lag, dead letters, crisis notifications.",
        panels,
    )


# --- output --------------------------------------------------------------------------------------


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard, for every dashboard Vigil ships."""
    return {f"{board['uid']}.json": board for board in (overview(), pipeline())}


def render(board: dict[str, Any]) -> str:
    """The exact text written to disk (stable key order, 2-space indent, trailing newline)."""
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def panel_queries(directory: Path = DASHBOARD_DIR) -> Iterator[tuple[str, str, str]]:
    """``(dashboard uid, panel title, expr)`` for every target of the committed dashboards."""
    for path in sorted(directory.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for p in board["panels"]:
            for t in p.get("targets", ()):
                yield board["uid"], p["title"], t["expr"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Only compare with the files on disk.")
    args = parser.parse_args(argv)
    stale = []
    for name, board in dashboards().items():
        path = DASHBOARD_DIR / name
        text = render(board)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date (run {Path(__file__).name}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
