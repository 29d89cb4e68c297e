"""Vigil's streaming layer: the Faust app, topics, agents, metrics and the command line."""

from __future__ import annotations

__all__: list[str] = []
