"""``vigil_drugs``: find drug mentions and normalise them to generics.

Exact names (brands, generics, synonyms) are found on lower-case tokens, longest name first;
names that are also everyday words ("plan b", "alli", "ecstasy") count only when drug context is
near; words that are not English and sit one edit from a widely discussed drug name ("humera")
are corrected by :class:`~processors.fuzzy.FuzzyIndex`. Each mention becomes one span per generic
in ``doc.spans["vigil_drugs"]``, labelled with the generic (``span.label_``). Span extensions are
keyed by offsets, so per-generic data lives in the label, not in ``span._``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from processors.extensions import DRUG_SPANS, register_extensions
from processors.fuzzy import FuzzyIndex
from processors.lexicon import DrugEntry, DrugLexicon

__all__ = ["DrugFinder"]

_DATA = importlib.resources.files("processors") / "data"
# English words this frequent (zipf) are never treated as misspelled drug names.
_ENGLISH_ZIPF = 2.5


def _load_words(name: str) -> frozenset[str]:
    text = (_DATA / name).read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() if (w := line.split("#", 1)[0].strip().lower()))


def _common_english() -> frozenset[str]:
    from wordfreq import top_n_list, zipf_frequency

    words = top_n_list("en", 80_000)
    # top_n_list is ordered by frequency: stop at the first word below the threshold.
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi) // 2
        if zipf_frequency(words[mid], "en") >= _ENGLISH_ZIPF:
            lo = mid + 1
        else:
            hi = mid
    return frozenset(words[:lo])


class DrugFinder:
    """Find drug mentions in a doc.

    Args:
        nlp: The pipeline (its vocab is shared).
        name: Component name.
        fuzzy: Correct misspellings of widely discussed drugs; default on.
        context_window: Tokens either side searched for drug context around an ambiguous name;
            default 4.
    """

    def __init__(self, nlp: Language, name: str = "vigil_drugs", *, fuzzy: bool = True, context_window: int = 4) -> None:
        register_extensions()
        self.name = name
        self.fuzzy = fuzzy
        self.context_window = context_window
        self.context_cues = _load_words("drug_context.txt")
        self.lexicon = DrugLexicon()
        # First token -> entries starting with it, longest first. A dict lookup per token is
        # cheaper to build than a PhraseMatcher over 70k names and as fast to match.
        self._by_first: dict[str, list[DrugEntry]] = {}
        self._fuzzy_index: FuzzyIndex | None = None
        self._english: frozenset[str] = frozenset()

    def set_lexicon(self, lexicon: DrugLexicon) -> None:
        """Load a lexicon: index names by first token and build the misspelling index."""
        self.lexicon = lexicon
        by_first: dict[str, list[DrugEntry]] = {}
        for entry in lexicon.entries.values():
            by_first.setdefault(entry.tokens[0], []).append(entry)
        for entries in by_first.values():
            entries.sort(key=lambda e: -len(e.tokens))
        self._by_first = by_first
        if self.fuzzy:
            self._english = _common_english() - set(lexicon.entries)
            self._fuzzy_index = FuzzyIndex(e.name for e in lexicon.entries.values() if e.common and " " not in e.name)

    def __call__(self, doc: Doc) -> Doc:
        words = [t.lower_ for t in doc]
        found: list[tuple[int, int, DrugEntry, bool]] = []
        i, n = 0, len(words)
        while i < n:
            entry = self._exact(doc, words, i)
            fuzzy = False
            if entry is None and self._fuzzy_index is not None:
                corrected = self._misspelled(doc[i], words[i])
                if corrected is not None:
                    # Re-match with the corrected word so "tylonol pm" finds "tylenol pm".
                    original, words[i] = words[i], corrected
                    entry, fuzzy = self._exact(doc, words, i), True
                    words[i] = original
            if entry is None:
                i += 1
                continue
            found.append((i, i + len(entry.tokens), entry, fuzzy))
            i += len(entry.tokens)
        group = []
        for start, end, entry, fuzzy in found:
            for generic in entry.generics:
                mention = Span(doc, start, end, label=generic)
                mention._.fuzzy = fuzzy
                group.append(mention)
        doc.spans[DRUG_SPANS] = group
        return doc

    def _exact(self, doc: Doc, words: list[str], i: int) -> DrugEntry | None:
        """The longest name starting at token ``i`` (ambiguous ones only in drug context)."""
        for entry in self._by_first.get(words[i], ()):
            size = len(entry.tokens)
            if size > 1 and tuple(words[i : i + size]) != entry.tokens:
                continue
            if entry.ambiguous and not self._has_context(doc, i, i + size):
                continue
            return entry
        return None

    def _misspelled(self, token: Token, lower: str) -> str | None:
        """The drug name a misspelled word stands for, if any."""
        index = self._fuzzy_index
        if index is None or len(lower) < index.min_length or lower in self._english or not token.is_alpha:
            return None
        return index.lookup(lower)

    def _has_context(self, doc: Doc, start: int, end: int) -> bool:
        window = self.context_window
        cues = self.context_cues
        for token in doc[max(0, start - window) : min(len(doc), end + window)]:
            if token.lower_ in cues:
                return True
        return False

    def to_disk(self, path: str | Path, *, exclude: Any = ()) -> None:
        """Save the lexicon beside the pipeline."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.lexicon.to_jsonl(path / "lexicon.jsonl")

    def from_disk(self, path: str | Path, *, exclude: Any = ()) -> DrugFinder:
        """Load the lexicon saved by :meth:`to_disk`."""
        self.set_lexicon(DrugLexicon.from_jsonl(Path(path) / "lexicon.jsonl"))
        return self


@Language.factory(
    "vigil_drugs",
    assigns=["doc.spans", "span._.fuzzy"],
    default_config={"fuzzy": True, "context_window": 4},
)
def make_drug_finder(nlp: Language, name: str, fuzzy: bool, context_window: int) -> DrugFinder:
    """Factory for :class:`DrugFinder`; call :meth:`DrugFinder.set_lexicon` before use."""
    return DrugFinder(nlp, name, fuzzy=fuzzy, context_window=context_window)
