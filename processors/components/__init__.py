"""Vigil's spaCy components; importing this package registers their factories."""

from __future__ import annotations

from processors.components.adverse import AdverseEventComponent, AdverseEventFinder
from processors.components.crisis import CrisisComponent, CrisisDetector
from processors.components.drugs import DrugFinder
from processors.components.scan import CueScanComponent
from processors.components.segments import AuthorThresholds, SegmentComponent, SegmentTagger, author_type
from processors.components.status import DrugStatus

__all__ = [
    "AdverseEventComponent",
    "AdverseEventFinder",
    "AuthorThresholds",
    "CrisisComponent",
    "CrisisDetector",
    "CueScanComponent",
    "DrugFinder",
    "DrugStatus",
    "SegmentComponent",
    "SegmentTagger",
    "author_type",
]
