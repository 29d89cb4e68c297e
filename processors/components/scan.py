"""``vigil_cues``: every listening component's cue sets matched in one pass per post.

Crisis, segments and adverse events each match their own cue sets on the same normalised text;
the pass over the text's words is most of a match's cost, so this component does it once for all
of them (:class:`~processors.cues.CueScanner`) and keeps the result on the doc. A component whose
sets were not scanned (this one left out or disabled) matches them itself, with the same result.
"""

from __future__ import annotations

from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from processors.cues import Cue, CueScanner, CueSet, normalise
from processors.extensions import doc_text

__all__ = ["CueScanComponent", "doc_cues", "doc_norm"]

_NORM = "vigil_norm"
_CUES = "vigil_cues"


def doc_norm(doc: Doc) -> str:
    """The doc's text through :func:`~processors.cues.normalise`, made once per doc."""
    norm = doc.user_data.get(_NORM)
    if norm is None:
        norm = doc.user_data[_NORM] = normalise(doc_text(doc))
    return norm  # type: ignore[no-any-return]


def doc_cues(doc: Doc) -> dict[str, list[Cue]]:
    """The cue sets scanned for this doc by ``vigil_cues`` (empty when it did not run)."""
    return doc.user_data.get(_CUES) or {}  # type: ignore[no-any-return]


class CueScanComponent:
    """spaCy component: scans the cue sets of the components after it (see :meth:`gather`)."""

    def __init__(self, nlp: Language, name: str = "vigil_cues") -> None:
        self.name = name
        self.scanner: CueScanner | None = None

    def gather(self, components: list[Any]) -> None:
        """Scan, from now on, the sets that ``components`` name in their ``cue_sets()``."""
        sets: dict[str, CueSet] = {}
        for component in components:
            if hasattr(component, "cue_sets"):
                sets.update(component.cue_sets())
        self.scanner = CueScanner(sets) if sets else None

    def __call__(self, doc: Doc) -> Doc:
        if self.scanner is not None:
            doc.user_data[_CUES] = self.scanner.scan(doc_norm(doc))
        return doc


@Language.factory("vigil_cues", default_config={})
def make_cue_scan(nlp: Language, name: str) -> CueScanComponent:
    """Factory for :class:`CueScanComponent`."""
    return CueScanComponent(nlp, name)
