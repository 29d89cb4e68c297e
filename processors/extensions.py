"""Every custom attribute Vigil sets on spaCy objects, declared once and idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spacy.tokens import Doc, Span

__all__ = ["DrugMention", "KeepTextTokenizer", "doc_text", "register_extensions"]


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
    for name in ("drug_mentions", "crisis", "segments", "adverse_events"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


_TEXT = "vigil_text"


def doc_text(doc: Doc) -> str:
    """The doc's text; kept by :class:`KeepTextTokenizer` (``doc.text`` rebuilds it token by token)."""
    text = doc.user_data.get(_TEXT)
    if text is None:
        text = doc.user_data[_TEXT] = doc.text
    return text  # type: ignore[no-any-return]


class KeepTextTokenizer:
    """Wrap a tokenizer so each doc keeps the exact text it was made from (see :func:`doc_text`)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Doc:
        doc = self.tokenizer(text)
        doc.user_data[_TEXT] = text
        return doc

    def pipe(self, texts: Any, batch_size: int = 1000) -> Any:
        for text in texts:
            yield self(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)
