"""``vigil_drugs``: find drug mentions and normalise them to generics.

Exact names (brands, generics, synonyms) are found on lower-case tokens, longest name first;
names that are also everyday words ("plan b", "alli", "ecstasy") count only when drug context is
near; words that are not English and sit one edit from a widely discussed drug name ("humera")
are corrected by :class:`~processors.fuzzy.FuzzyIndex`. Mentions go to ``doc._.drug_mentions``
(:class:`~processors.extensions.DrugMention`), one per generic.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from spacy.attrs import LOWER
from spacy.language import Language
from spacy.tokens import Doc

from processors.extensions import DrugMention, register_extensions
from processors.fuzzy import FuzzyIndex
from processors.lexicon import DrugEntry, DrugLexicon

__all__ = ["DrugFinder"]

_DATA = importlib.resources.files("processors") / "data"
# English words this frequent (zipf) are never treated as misspelled drug names.
_ENGLISH_ZIPF = 2.5
_MAX_CORRECTIONS = 100_000


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

    def __init__(
        self, nlp: Language, name: str = "vigil_drugs", *, fuzzy: bool = True, context_window: int = 4
    ) -> None:
        register_extensions()
        self.name = name
        self.fuzzy = fuzzy
        self.context_window = context_window
        self.strings = nlp.vocab.strings
        self.context_cues = frozenset(self.strings.add(w) for w in _load_words("drug_context.txt"))
        self.lexicon = DrugLexicon()
        # Names indexed by lower-case token hashes: one-word names directly; longer ones by first
        # and second word, then [(length, {token hashes: entry})], longest first. Matching on
        # hashes from ``doc.to_array(LOWER)`` creates no Token objects, which dominate the cost
        # of a Python loop over a doc; and the index builds far faster than a PhraseMatcher.
        self._single: dict[int, DrugEntry] = {}
        self._multi: dict[int, dict[int, list[tuple[int, dict[tuple[int, ...], DrugEntry]]]]] = {}
        # Words never worth a look: common English that starts no drug name.
        self._skip: set[int] = set()
        self._fuzzy_index: FuzzyIndex | None = None
        self._english: frozenset[int] = frozenset()
        # Misspelling verdicts per word hash (None: not a drug); bounded, cleared when full.
        self._corrections: dict[int, int | None] = {}

    def set_lexicon(self, lexicon: DrugLexicon) -> None:
        """Load a lexicon: index names by first token and build the misspelling index."""
        self.lexicon = lexicon
        add = self.strings.add
        single: dict[int, DrugEntry] = {}
        grouped: dict[int, dict[int, dict[int, dict[tuple[int, ...], DrugEntry]]]] = {}
        for entry in lexicon.entries.values():
            key = tuple(add(t) for t in entry.tokens)
            if len(key) == 1:
                single[key[0]] = entry
            else:
                grouped.setdefault(key[0], {}).setdefault(key[1], {}).setdefault(len(key), {})[key] = entry
        self._single = single
        self._multi = {
            first: {second: sorted(by_len.items(), reverse=True) for second, by_len in seconds.items()}
            for first, seconds in grouped.items()
        }
        self._corrections = {}
        starts = set(single) | set(self._multi)
        if self.fuzzy:
            self._english = frozenset(h for h in (add(w) for w in _common_english()) if h not in starts)
            self._fuzzy_index = FuzzyIndex(e.name for e in lexicon.entries.values() if e.common and " " not in e.name)
            # Grows with words found to be neither a name nor a misspelling (bounded).
            self._skip = set(self._english)
        else:
            self._english = frozenset()
            self._fuzzy_index = None

    def __call__(self, doc: Doc) -> Doc:
        words: list[int] = doc.to_array(LOWER).tolist() if len(doc) else []
        found: list[tuple[int, int, DrugEntry, bool]] = []
        fuzzy_on = self._fuzzy_index is not None
        # One fast pass picks the few tokens worth a look: a name's first word, or (for the
        # misspelling step) a word that is not common English.
        if fuzzy_on:
            skip = self._skip
            candidates = [i for i, w in enumerate(words) if w not in skip]
        else:
            single, multi = self._single, self._multi
            candidates = [i for i, w in enumerate(words) if w in single or w in multi]
        free_from = 0
        for i in candidates:
            if i < free_from:
                continue
            entry = self._exact(words, i)
            fuzzy = False
            if entry is None and fuzzy_on:
                corrected = self._misspelled(words[i])
                if corrected is not None:
                    # Re-match with the corrected word so "tylonol pm" finds "tylenol pm".
                    original, words[i] = words[i], corrected
                    entry, fuzzy = self._exact(words, i), True
                    words[i] = original
            if entry is not None:
                found.append((i, i + len(entry.tokens), entry, fuzzy))
                free_from = i + len(entry.tokens)
        mentions = []
        for start, end, entry, fuzzy in found:
            if not entry.generics:
                continue  # a blocker such as "insulin resistance"
            last = doc[end - 1]
            start_char, end_char = doc[start].idx, last.idx + len(last)
            mentions.extend(DrugMention(start, end, start_char, end_char, g, fuzzy) for g in entry.generics)
        doc._.drug_mentions = mentions
        return doc

    def _exact(self, words: list[int], i: int) -> DrugEntry | None:
        """The longest name starting at token ``i`` (ambiguous ones only in drug context)."""
        word = words[i]
        seconds = self._multi.get(word)
        if seconds is not None and i + 1 < len(words):
            for size, names in seconds.get(words[i + 1], ()):
                entry = names.get(tuple(words[i : i + size]))
                if entry is not None and not (entry.ambiguous and not self._has_context(words, i, i + size)):
                    return entry
        entry = self._single.get(word)
        if entry is not None and entry.ambiguous and not self._has_context(words, i, i + 1):
            return None
        return entry

    def _misspelled(self, word: int) -> int | None:
        """Hash of the drug name a misspelled word stands for, if any."""
        if word in self._english:
            return None
        corrections = self._corrections
        if word in corrections:
            return corrections[word]
        index = self._fuzzy_index
        text = self.strings[word]
        name = index.lookup(text) if index is not None and len(text) >= index.min_length and text.isalpha() else None
        if len(corrections) >= _MAX_CORRECTIONS:
            corrections.clear()
            self._skip = set(self._english)
        corrections[word] = result = self.strings.add(name) if name is not None else None
        if result is None and word not in self._single and word not in self._multi:
            self._skip.add(word)
        return result

    def _has_context(self, words: list[int], start: int, end: int) -> bool:
        window = self.context_window
        cues = self.context_cues
        return any(w in cues for w in words[max(0, start - window) : end + window])

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
    assigns=["doc._.drug_mentions"],
    default_config={"fuzzy": True, "context_window": 4},
)
def make_drug_finder(nlp: Language, name: str, fuzzy: bool, context_window: int) -> DrugFinder:
    """Factory for :class:`DrugFinder`; call :meth:`DrugFinder.set_lexicon` before use."""
    return DrugFinder(nlp, name, fuzzy=fuzzy, context_window=context_window)
