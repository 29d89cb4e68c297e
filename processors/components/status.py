"""``vigil_drug_status``: is each drug mention current, past, negated or hypothetical?

NegEx-style cue matching with four outcomes. The clause around a mention is scanned backwards for
cue phrases ("stopped taking", "never tried", "thinking about", "switched to"; the nearest wins)
and forwards for trailing ones ("anymore", "made me", "off the table", "this morning"); a bare
negation shortly before the mention negates it unless it is a pseudo-negation ("not sure"); a
conditional or question in the clause ("if", "should", "has anyone", "?") makes it hypothetical
unless stronger evidence says the author takes the drug ("been on", "while on").
Cue phrases are data (``processors/data/drug_status_cues.json``) so they can be reviewed and
versioned with the pipeline.
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Callable

from spacy.attrs import IS_SPACE, LOWER
from spacy.language import Language
from spacy.tokens import Doc

from processors.extensions import register_extensions

__all__ = ["STATUSES", "DrugStatus"]

STATUSES = ("current", "past", "negated", "hypothetical")
Cue = tuple[tuple[int, ...], str]


def _index(phrases: dict[str, list[str]], split: Callable[[str], tuple[int, ...]]) -> dict[int, list[Cue]]:
    """Cue phrases keyed by their last token, longest first."""
    index: dict[int, list[Cue]] = {}
    for status, items in phrases.items():
        for phrase in items:
            words = split(phrase)
            index.setdefault(words[-1], []).append((words, status))
    for cues in index.values():
        cues.sort(key=lambda cue: -len(cue[0]))
    return index


class DrugStatus:
    """Set the status of every mention in ``doc._.drug_mentions``.

    Args:
        nlp: The pipeline; its tokenizer splits cue phrases the way it splits posts.
        name: Component name.
        window: Tokens scanned either side of a mention (within its clause); default 10.
        negation_window: Tokens before a mention within which a bare negation ("not", "n't",
            "never", "no") negates it, NegEx style; default 5.
    """

    def __init__(
        self, nlp: Language, name: str = "vigil_drug_status", *, window: int = 10, negation_window: int = 5
    ) -> None:
        register_extensions()
        self.name = name
        self.window = window
        self.negation_window = negation_window
        data = json.loads(
            (importlib.resources.files("processors") / "data" / "drug_status_cues.json").read_text("utf-8")
        )
        tokenizer = nlp.tokenizer.__class__(
            nlp.vocab,
            rules=nlp.tokenizer.rules,
            prefix_search=nlp.tokenizer.prefix_search,
            suffix_search=nlp.tokenizer.suffix_search,
            infix_finditer=nlp.tokenizer.infix_finditer,
        )

        # Everything is compared as lower-case string hashes, the form ``doc.to_array(LOWER)``
        # returns: no Token objects and no strings are made per post.
        strings = nlp.vocab.strings

        def split(phrase: str) -> tuple[int, ...]:
            return tuple(strings.add(t.lower_) for t in tokenizer(phrase))

        def words(items: list[str]) -> frozenset[int]:
            return frozenset(strings.add(w) for w in items)

        self.before = _index(data["before"], split)
        self.after = _index(data["after"], split)
        self.conditionals = frozenset(split(c) for c in data["conditionals"])
        self.negations = words(data["negation_triggers"])
        self.pseudo_negations = frozenset(split(p) for p in data["pseudo_negations"])
        self.newline = strings.add("\n")
        self.breaks = words(data["clause_breaks"]) | {self.newline}
        self.negation_breaks = words(data["negation_scope_breaks"])
        self._question = strings.add("?")
        self._from = strings.add("from")
        self._to = words(["to", "onto"])
        self._someone = words(["anyone", "anybody"])
        self._else = strings.add("else")

    def __call__(self, doc: Doc) -> Doc:
        mentions = doc._.drug_mentions
        if not mentions:
            return doc
        # Only the stretch of text around the mentions is looked at.
        reach = 3 * self.window
        first = max(0, min(m.start for m in mentions) - reach)
        last = min(len(doc), max(m.end for m in mentions) + reach)
        newline = self.newline
        rows = doc.to_array([LOWER, IS_SPACE])[first:last].tolist()
        words = [newline if space else lower for lower, space in rows]
        cache: dict[tuple[int, int], str] = {}
        for mention in mentions:
            key = (mention.start, mention.end)
            if key not in cache:
                cache[key] = self.status(words, mention.start - first, mention.end - first)
            mention.status = cache[key]
        return doc

    def status(self, words: list[int], start: int, end: int) -> str:
        """Status of the mention covering ``words[start:end]``."""
        lo = start
        while lo > 0 and words[lo - 1] not in self.breaks:
            lo -= 1
        hi = end
        while hi < len(words) and words[hi] not in self.breaks:
            hi += 1
        question = hi < len(words) and words[hi] == self._question
        before = self._scan_before(words, lo, start)
        after = self._scan_after(words, end, hi)
        negation = self._negation_before(words, lo, start)
        if after == "override_past":  # "I don't take Humira anymore"
            return "past"
        if after == "negated" or before == "negated":
            return "negated"
        if before == "past":
            return "past"
        if negation is not None and (before != "current_strong" or start - negation <= 3):
            return "negated"
        if after == "past" and before not in ("hypothetical", "current_strong", "current"):
            return "past"
        if before == "past_weak":
            if after == "current":
                return "current"
            return "hypothetical" if self._conditional_before(words, lo, start) else "past"
        if before == "current_strong":
            return "current"
        if before == "hypothetical":
            return "current" if after == "current" else "hypothetical"
        if self._conditional_before(words, lo, start):
            return "current" if after == "current" else "hypothetical"
        if before == "current":
            return "current"
        if after == "hypothetical" or question:
            return "hypothetical"
        return "current"

    def _scan_before(self, words: list[int], lo: int, start: int) -> str | None:
        for i in range(start - 1, max(lo, start - self.window) - 1, -1):
            if words[i] in self._to and self._from in words[lo:i]:
                return "current_strong"  # "switched from Humira to Stelara": Stelara is current
            for phrase, status in self.before.get(words[i], ()):
                n = len(phrase)
                if i - n + 1 >= lo and tuple(words[i - n + 1 : i + 1]) == phrase:
                    return status
        return None

    def _scan_after(self, words: list[int], end: int, hi: int) -> str | None:
        for i in range(end, min(hi, end + self.window)):
            for phrase, status in self.after.get(words[i], ()):
                n = len(phrase)
                if i - n + 1 >= end and tuple(words[i - n + 1 : i + 1]) == phrase:
                    return status
        return None

    def _negation_before(self, words: list[int], lo: int, start: int) -> int | None:
        """Position of a negation scoping over the mention, if any."""
        for i in range(start - 1, max(lo, start - self.negation_window) - 1, -1):
            if words[i] in self.negation_breaks:
                return None
            if words[i] in self.negations and not self._pseudo(words, i):
                return i
        return None

    def _pseudo(self, words: list[int], i: int) -> bool:
        return any(
            tuple(words[i : i + len(p)]) == p or tuple(words[i - len(p) + 1 : i + 1]) == p
            for p in self.pseudo_negations
        )

    def _conditional_before(self, words: list[int], lo: int, start: int) -> bool:
        for i in range(lo, start):
            if words[i] in self._someone and i + 1 < len(words) and words[i + 1] == self._else:
                continue
            for n in (1, 2, 3):
                if tuple(words[i : i + n]) in self.conditionals:
                    return True
        return False


@Language.factory(
    "vigil_drug_status",
    assigns=["doc._.drug_mentions"],
    requires=["doc._.drug_mentions"],
    default_config={"window": 10, "negation_window": 5},
)
def make_drug_status(nlp: Language, name: str, window: int, negation_window: int) -> DrugStatus:
    """Factory for :class:`DrugStatus`."""
    return DrugStatus(nlp, name, window=window, negation_window=negation_window)
