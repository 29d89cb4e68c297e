"""``vigil_drug_status``: is each drug mention current, past, negated or hypothetical?

NegEx-style cue matching, but with four outcomes and the nearest cue deciding: the clause around
a mention is scanned backwards from the mention for cue phrases ("stopped taking", "never tried",
"thinking about", "switched to"), then forwards for trailing cues ("anymore", "years ago", "?").
Cue phrases are data (``processors/data/drug_status_cues.json``) so they can be reviewed and
versioned with the pipeline.
"""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from processors.extensions import DRUG_SPANS, register_extensions

__all__ = ["DrugStatus", "STATUSES"]

STATUSES = ("current", "past", "negated", "hypothetical")
_SHORT_NEGATIONS = frozenset({"no", "not", "never", "without"})
Cue = tuple[tuple[str, ...], str]


def _index(phrases: dict[str, list[str]], tokenize: Any) -> dict[str, list[Cue]]:
    """Cue phrases keyed by their last token, longest first."""
    index: dict[str, list[Cue]] = {}
    for status, items in phrases.items():
        for phrase in items:
            words = tuple(t.lower_ for t in tokenize(phrase)) if phrase.strip() else (phrase,)
            index.setdefault(words[-1], []).append((words, status))
    for cues in index.values():
        cues.sort(key=lambda cue: -len(cue[0]))
    return index


class DrugStatus:
    """Set ``span._.drug_status`` on every drug mention.

    Args:
        nlp: The pipeline; its tokenizer splits cue phrases the way it splits posts.
        name: Component name.
        window: Tokens scanned back from a mention (within its clause); default 8.
        negation_window: Tokens within which a bare "no"/"not"/"never" negates; default 3.
    """

    def __init__(self, nlp: Language, name: str = "vigil_drug_status", *, window: int = 8, negation_window: int = 3) -> None:
        register_extensions()
        self.name = name
        self.window = window
        self.negation_window = negation_window
        data = json.loads((importlib.resources.files("processors") / "data" / "drug_status_cues.json").read_text("utf-8"))
        tokenize = nlp.tokenizer.__class__(
            nlp.vocab,
            rules=nlp.tokenizer.rules,
            prefix_search=nlp.tokenizer.prefix_search,
            suffix_search=nlp.tokenizer.suffix_search,
            infix_finditer=nlp.tokenizer.infix_finditer,
        )
        self.before = _index(data["before"], tokenize)
        self.after = _index(data["after"], tokenize)
        self.conditionals = frozenset(tuple(t.lower_ for t in tokenize(c)) for c in data["conditionals"])
        self.breaks = frozenset(data["clause_breaks"])

    def __call__(self, doc: Doc) -> Doc:
        spans = doc.spans.get(DRUG_SPANS) if DRUG_SPANS in doc.spans else None
        if not spans:
            return doc
        words = [t.lower_ if not t.is_space else "\n" for t in doc]
        cache: dict[tuple[int, int], str] = {}
        for span in spans:
            key = (span.start, span.end)
            if key not in cache:
                cache[key] = self.status(words, span.start, span.end)
            span._.drug_status = cache[key]
        return doc

    def status(self, words: list[str], start: int, end: int) -> str:
        """Status of the mention covering ``words[start:end]``."""
        clause_start = start
        while clause_start > 0 and words[clause_start - 1] not in self.breaks:
            clause_start -= 1
        clause_end = end
        while clause_end < len(words) and words[clause_end] not in self.breaks:
            clause_end += 1
        if clause_end < len(words) and words[clause_end] in ("?",):
            clause_end += 1
        trailing = self._scan_after(words, end, clause_end)
        nearest = self._scan_before(words, clause_start, start)
        if trailing == "past" and nearest in (None, "current", "negated", "past"):
            return "past"
        if nearest == "current":
            if self._conditional_before(words, clause_start, start):
                return "hypothetical"
            return "current"
        if nearest is not None:
            return nearest
        if trailing == "hypothetical":
            return "hypothetical"
        return "current"

    def _scan_before(self, words: list[str], lo: int, start: int) -> str | None:
        for i in range(start - 1, max(lo, start - self.window) - 1, -1):
            for phrase, status in self.before.get(words[i], ()):
                n = len(phrase)
                if i - n + 1 < lo or tuple(words[i - n + 1 : i + 1]) != phrase:
                    continue
                if n == 1 and phrase[0] in _SHORT_NEGATIONS and start - i > self.negation_window:
                    continue
                return status
        return None

    def _scan_after(self, words: list[str], end: int, hi: int) -> str | None:
        for i in range(end, min(hi, end + self.window)):
            for phrase, status in self.after.get(words[i], ()):
                n = len(phrase)
                if i - n + 1 >= end and tuple(words[i - n + 1 : i + 1]) == phrase:
                    return status
        return None

    def _conditional_before(self, words: list[str], lo: int, start: int) -> bool:
        for i in range(lo, start):
            for n in (1, 2, 3):
                if tuple(words[i : i + n]) in self.conditionals:
                    return True
        return False


@Language.factory(
    "vigil_drug_status",
    assigns=["span._.drug_status"],
    requires=["doc.spans"],
    default_config={"window": 8, "negation_window": 3},
)
def make_drug_status(nlp: Language, name: str, window: int, negation_window: int) -> DrugStatus:
    """Factory for :class:`DrugStatus`."""
    return DrugStatus(nlp, name, window=window, negation_window=negation_window)
