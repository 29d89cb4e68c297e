"""Vigil's spaCy components; importing this package registers their factories."""

from __future__ import annotations

from processors.components.drugs import DrugFinder
from processors.components.status import DrugStatus

__all__ = ["DrugFinder", "DrugStatus"]
