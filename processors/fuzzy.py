"""Misspelling lookup: a symmetric delete index over widely discussed drug names.

Patients write "humera", "lantis", "ozempik". A symmetric delete index (SymSpell's idea) finds
names within one edit of a word (two for words of 8+ letters) by looking up the word's deletions
in an index of the names' deletions; hits are confirmed with an optimal-string-alignment distance. Only words that are not common
English are looked up, so the step costs almost nothing on ordinary text.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["FuzzyIndex", "osa_distance"]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _deletes_upto(word: str, distance: int) -> set[str]:
    keys = {word}
    frontier = {word}
    for _ in range(distance):
        frontier = {d for w in frontier for d in _deletes(w)}
        keys |= frontier
    return keys


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions)."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        for j in range(1, lb + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[lb]


class FuzzyIndex:
    """Find the drug name a misspelled word most likely means.

    Args:
        names: Correctly spelled single-word names to find (lower case).
        min_length: Shorter words are never corrected (too many real words are one edit from a
            short name); default 5.
        max_distance_long: Edit distance allowed for words of 8+ characters (1 below that);
            default 2.
    """

    def __init__(self, names: Iterable[str], *, min_length: int = 5, max_distance_long: int = 2) -> None:
        self.min_length = min_length
        self.max_distance_long = max_distance_long
        self._index: dict[str, list[str]] = {}
        # No word longer than this is within reach of a name. Looking one up would make every
        # delete of it: a 40,000-letter "word" (one post) made ~800 million and ran out of memory.
        self._max_length = 0
        for name in names:
            if len(name) < min_length or not name.isalpha():
                continue
            self._max_length = max(self._max_length, len(name) + self._reach(name))
            for key in _deletes_upto(name, self._reach(name)):
                self._index.setdefault(key, []).append(name)

    def _reach(self, word: str) -> int:
        return self.max_distance_long if len(word) >= 8 else 1

    def __len__(self) -> int:
        return len(self._index)

    def lookup(self, word: str) -> str | None:
        """The single closest name, or ``None`` when there is none or the closest is a tie."""
        if not self.min_length <= len(word) <= self._max_length:
            return None
        index = self._index
        candidates: set[str] = set()
        for key in _deletes_upto(word, self._reach(word)):
            hits = index.get(key)
            if hits:
                candidates.update(hits)
        if not candidates:
            return None
        limit = self.max_distance_long if len(word) >= 8 else 1
        best: list[str] = []
        best_distance = limit + 1
        for name in candidates:
            distance = osa_distance(word, name)
            if distance < best_distance:
                best, best_distance = [name], distance
            elif distance == best_distance:
                best.append(name)
        return best[0] if len(best) == 1 else None
