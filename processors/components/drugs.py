"""``vigil_drugs``: find drug mentions and normalise them to generics.

Exact names (brands, generics, synonyms) are found with a ``PhraseMatcher`` on lower-case tokens;
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
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

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
        self.vocab = nlp.vocab
        self.fuzzy = fuzzy
        self.context_window = context_window
        self.context_cues = _load_words("drug_context.txt")
        self.lexicon = DrugLexicon()
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._entries: dict[int, DrugEntry] = {}
        self._fuzzy_index: FuzzyIndex | None = None
        self._english: frozenset[str] = frozenset()
        # Patterns are tokenised by a tokenizer of their own so that 70k drug names do not fill
        # the main tokenizer's cache (a full cache sends later text down the slow path).
        self._pattern_tokenizer = nlp.tokenizer.__class__(
            nlp.vocab,
            rules=nlp.tokenizer.rules,
            prefix_search=nlp.tokenizer.prefix_search,
            suffix_search=nlp.tokenizer.suffix_search,
            infix_finditer=nlp.tokenizer.infix_finditer,
            token_match=nlp.tokenizer.token_match,
            url_match=nlp.tokenizer.url_match,
        )

    def set_lexicon(self, lexicon: DrugLexicon) -> None:
        """Load a lexicon: build match patterns and the misspelling index."""
        self.lexicon = lexicon
        self.matcher = PhraseMatcher(self.vocab, attr="LOWER")
        self._entries = {}
        names = list(lexicon.entries)
        for name, doc in zip(names, self._pattern_tokenizer.pipe(names, batch_size=2000), strict=True):
            key = self.vocab.strings.add(name)
            self._entries[key] = lexicon.entries[name]
            self.matcher.add(name, [doc])
        if self.fuzzy:
            self._english = _common_english() - set(names)
            self._fuzzy_index = FuzzyIndex(e.name for e in lexicon.entries.values() if e.common and " " not in e.name)

    def __call__(self, doc: Doc) -> Doc:
        found: list[tuple[Span, DrugEntry, bool]] = []
        spans = []
        for match_id, start, end in self.matcher(doc):
            entry = self._entries[match_id]
            if entry.ambiguous and not self._has_context(doc, start, end):
                continue
            spans.append(Span(doc, start, end, label=match_id))
        covered = set()
        for span in filter_spans(spans):
            found.append((span, self._entries[span.label], False))
            covered.update(range(span.start, span.end))
        if self._fuzzy_index is not None:
            english = self._english
            for token in doc:
                if token.i in covered or not token.is_alpha or len(token) < self._fuzzy_index.min_length:
                    continue
                lower = token.lower_
                if lower in english:
                    continue
                name = self._fuzzy_index.lookup(lower)
                if name is not None:
                    found.append((doc[token.i : token.i + 1], self.lexicon.entries[name], True))
        found.sort(key=lambda item: item[0].start)
        group = []
        for span, entry, fuzzy in found:
            for generic in entry.generics:
                mention = Span(doc, span.start, span.end, label=generic)
                mention._.fuzzy = fuzzy
                group.append(mention)
        doc.spans[DRUG_SPANS] = group
        return doc

    def _has_context(self, doc: Doc, start: int, end: int) -> bool:
        window = self.context_window
        cues = self.context_cues
        for token in doc[max(0, start - window) : min(len(doc), end + window)]:
            if token.lower_ in cues or (token.like_num and token.i >= end):
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
