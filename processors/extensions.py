"""Every custom attribute Vigil sets on spaCy objects, declared once and idempotently."""

from __future__ import annotations

from spacy.tokens import Span

__all__ = ["DRUG_SPANS", "register_extensions"]

#: ``doc.spans`` key holding drug mentions; a combination brand yields one span per component,
#: each labelled with its lower-case generic.
DRUG_SPANS = "vigil_drugs"


def register_extensions() -> None:
    """Declare Vigil's extensions; safe to call any number of times."""
    for name, default in (
        ("drug_status", "current"),  # current | past | negated | hypothetical
        ("fuzzy", False),  # found by the misspelling step
    ):
        if not Span.has_extension(name):
            Span.set_extension(name, default=default)
