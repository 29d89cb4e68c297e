"""Every custom attribute Vigil sets on spaCy objects, declared once and idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Doc, Span

__all__ = ["DrugMention", "register_extensions"]


@dataclass(slots=True)
class DrugMention:
    """One drug mention, per generic: a combination brand yields one mention per component.

    Kept as plain data on ``doc._.drug_mentions`` rather than as ``doc.spans``: building Span
    objects and their ``._`` attributes cost more than the whole drug lookup on a 40-word post.

    Attributes:
        start: First token. end: One past the last token.
        start_char: Character offset of the mention in ``doc.text``. end_char: One past its end.
        generic: Lower-case generic name.
        fuzzy: Found by the misspelling step.
        status: current | past | negated | hypothetical (set by ``vigil_drug_status``).
    """

    start: int
    end: int
    start_char: int
    end_char: int
    generic: str
    fuzzy: bool = False
    status: str = "current"

    def span(self, doc: Doc) -> Span:
        """The mention as a spaCy span labelled with its generic."""
        return Span(doc, self.start, self.end, label=self.generic)


def register_extensions() -> None:
    """Declare Vigil's extensions; safe to call any number of times."""
    if not Doc.has_extension("drug_mentions"):
        Doc.set_extension("drug_mentions", default=None)
