"""Builders for Vigil's Grafana dashboards: PromQL helpers, panels, layout (stdlib only).

Used by ``generate.py`` beside this file. Every panel and target points at the ``datasource``
template variable; ``refId``s are A, B, ... by position and panel ids follow the panel order, so a
regenerated dashboard is identical unless a definition changed.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DATASOURCE",
    "RATE",
    "SCHEMA_VERSION",
    "Panel",
    "bars",
    "dashboard",
    "last_hour",
    "mean",
    "panel",
    "quantile",
    "rate",
    "share",
    "stat",
    "target",
    "timeseries",
]

#: Every panel and target points at the dashboard's datasource variable, never at a fixed uid.
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
#: Grafana 10.4 / 11.x; newer Grafana migrates it in memory on load.
SCHEMA_VERSION = 39
RATE = "5m"

Panel = dict[str, Any]


# --- query helpers -------------------------------------------------------------------------------


def rate(metric: str, by: str = "", selector: str = "") -> str:
    """``sum [by (...)] (rate(metric{selector}[5m]))``."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({metric}{selector}[{RATE}]))"


def last_hour(metric: str, by: str = "", selector: str = "") -> str:
    """``sum [by (...)] (increase(metric{selector}[1h]))``."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(increase({metric}{selector}[1h]))"


def quantile(q: float, histogram: str) -> str:
    """The ``q`` quantile of a histogram over all instances, from 5 m bucket rates."""
    return f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket[{RATE}])))"


def share(metric: str, by: str, selector: str = "") -> str:
    """Each ``by`` group's share of all of ``metric`` (5 m rates); ``selector`` filters the groups only.

    Empty (not NaN) while nothing was counted.
    """
    return (
        f"sum by ({by}) (rate({metric}{selector}[{RATE}])) "
        f"/ ignoring({by}) group_left() (sum(rate({metric}[{RATE}])) > 0)"
    )


def mean(histogram_sum: str, histogram_count: str) -> str:
    """Ratio of two rates; empty (not NaN) while the denominator is zero."""
    return f"sum(rate({histogram_sum}[{RATE}])) / (sum(rate({histogram_count}[{RATE}])) > 0)"


# --- panel builders ------------------------------------------------------------------------------


def target(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> dict[str, Any]:
    """One Prometheus query; the ``refId`` is assigned by position in :func:`panel`."""
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "instant": instant,
        "range": not instant,
        "format": "table" if table else "time_series",
    }


def _colors(colors: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for name, color in colors.items()
    ]


def _thresholds(steps: list[tuple[float | None, str]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


def panel(
    kind: str,
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    **extra: Any,
) -> Panel:
    """A panel of ``kind`` with refIds A, B, ... and the datasource variable everywhere."""
    defaults = {"unit": unit, **extra.pop("defaults", {})}
    overrides = extra.pop("overrides", [])
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [{"refId": chr(ord("A") + i), **t} for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": overrides},
        "_size": (width, height),
        **extra,
    }


def timeseries(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    stack: str = "none",
    colors: dict[str, str] | None = None,
    **kw: Any,
) -> Panel:
    """A time series; ``stack="normal"`` piles the series up (a mix of shares adds up to 1)."""
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 60 if stack == "normal" else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": stack, "group": "A"},
    }
    return panel(
        "timeseries",
        title,
        description,
        targets,
        defaults={"custom": custom, "min": 0, **kw.pop("defaults", {})},
        overrides=_colors(colors or {}),
        options={
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        **kw,
    )


def stat(
    title: str,
    description: str,
    expr: str,
    *,
    steps: list[tuple[float | None, str]] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    legend: str = "",
    **kw: Any,
) -> Panel:
    """A single figure, coloured by thresholds (green below the first step by default)."""
    return panel(
        "stat",
        title,
        description,
        [target(expr, legend)],
        width=kw.pop("width", 4),
        height=4,
        defaults={
            "color": {"mode": "thresholds"},
            "thresholds": _thresholds(steps or [(None, "green")]),
            "mappings": mappings or [],
        },
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
        **kw,
    )


def bars(title: str, description: str, expr: str, legend: str, **kw: Any) -> Panel:
    """Horizontal bars of an instant query (one bar per series)."""
    return panel(
        "bargauge",
        title,
        description,
        [target(expr, legend, instant=True)],
        defaults={"color": {"mode": "continuous-BlPu"}, "min": 0},
        options={
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
            "valueMode": "color",
            "namePlacement": "left",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
        **kw,
    )


def _layout(panels: list[Panel]) -> list[Panel]:
    """Place panels left to right on Grafana's 24-column grid; ids follow the order."""
    x = y = row_height = 0
    placed = []
    for number, p in enumerate(panels, start=1):
        width, height = p.pop("_size")
        if x + width > 24:
            x, y, row_height = 0, y + row_height, 0
        placed.append({"id": number, "gridPos": {"h": height, "w": width, "x": x, "y": y}, **p})
        x, row_height = x + width, max(row_height, height)
    return placed


def dashboard(uid: str, title: str, description: str, panels: list[Panel]) -> dict[str, Any]:
    """A complete dashboard: datasource variable, last hour, 10 s refresh, linked to the other Vigil boards."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["vigil"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "10s",
        "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m"]},
        "annotations": {"list": []},
        "links": [
            {
                "title": "Vigil",
                "type": "dashboards",
                "tags": ["vigil"],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "targetBlank": False,
                "icon": "external link",
            }
        ],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "includeAll": False,
                    "multi": False,
                    "options": [],
                    "refresh": 1,
                    "regex": "",
                    "skipUrlSync": False,
                }
            ]
        },
        "panels": _layout(panels),
    }
