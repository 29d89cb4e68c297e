"""Named cue patterns loaded from YAML, matched on normalised post text.

A cue file maps rule names to lists of regular expressions (case-insensitive, matched against the
text with curly quotes and apostrophes straightened). Matches keep their character offsets into
the original text, so every tag can point at the words that set it.

Speed: a few hundred alternations scanned at every character cost ~0.4 ms per post in Python's
``re``. Instead each pattern is indexed by the words a match can start with (read off the parsed
pattern); the text is split into words once, and the patterns are tried only where one of their
first words stands. The patterns sharing a first word are first tried together as one alternation,
so a word that starts no match costs one ``re`` call. A pattern that starts with a number (``\\d+
days``) is keyed by "any number"; only patterns whose first word cannot be known (``\\w+ ...``) are
scanned along the whole text.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import yaml

__all__ = ["Cue", "CueSet", "load_yaml", "normalise"]

_TRANSLATE = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u02bc": "'", "\u2014": "-", "\u2013": "-"}
)
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
_LEAD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]|\x00")
_MAX_PREFIXES = 400
_NUMBER = "\x00"  # index key of patterns that start with a number (\d)


def normalise(text: str) -> str:
    """Lower case with straight quotes; same length as ``text`` so offsets carry over."""
    return text.translate(_TRANSLATE).lower()


def load_yaml(name: str) -> Any:
    """A YAML data file from ``processors/data/``."""
    return yaml.safe_load((importlib.resources.files("processors") / "data" / name).read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Cue:
    """One cue match: the rule that matched and where (character offsets)."""

    rule: str
    start: int
    end: int


class CueSet:
    """Rules name -> patterns, matched with a first-word index.

    Args:
        rules: ``{rule: [regex, ...]}``; each regex is wrapped in word boundaries unless it starts
            or ends with a non-word character.
    """

    def __init__(self, rules: dict[str, list[str]]) -> None:
        self.rules = {
            name: re.compile("|".join(_bounded(p) for p in patterns)) for name, patterns in rules.items() if patterns
        }
        by_word: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
        self._scan: list[tuple[str, re.Pattern[str]]] = []
        for name, patterns in rules.items():
            for pattern in patterns:
                compiled = re.compile(_bounded(pattern))
                words = _first_words(pattern)
                if words is None:
                    self._scan.append((name, compiled))
                else:
                    for word in words:
                        by_word.setdefault(word, []).append((name, compiled))
        # key -> (one alternation of its patterns, the patterns); the alternation only says
        # whether any of them can match here, the members then say which.
        self._by_word: dict[str, tuple[re.Pattern[str], list[tuple[str, re.Pattern[str]]]]] = {
            key: (_any_of(members), members) for key, members in by_word.items()
        }

    def find(self, text: str) -> list[Cue]:
        """Every match of every rule in normalised ``text``, in text order (one per rule and start)."""
        found: dict[tuple[str, int], Cue] = {}
        by_word = self._by_word
        number = by_word.get(_NUMBER)
        for word in _WORD.finditer(text):
            key = word.group()[:4]
            entry = by_word.get(key)
            if number is not None and key[0].isdigit():
                for group in (entry, number):
                    if group is not None:
                        _try(group, text, word.start(), found)
            elif entry is not None:
                _try(entry, text, word.start(), found)
        for name, regex in self._scan:
            for match in regex.finditer(text):
                found.setdefault((name, match.start()), Cue(name, match.start(), match.end()))
        return sorted(found.values(), key=lambda cue: (cue.start, cue.rule))

    def first(self, rule: str, text: str) -> Cue | None:
        """The first match of one rule, or ``None``."""
        regex = self.rules.get(rule)
        match = regex.search(text) if regex is not None else None
        return Cue(rule, match.start(), match.end()) if match else None


def _try(
    entry: tuple[re.Pattern[str], list[tuple[str, re.Pattern[str]]]], text: str, pos: int, found: dict[tuple[str, int], Cue]
) -> None:
    """Add the matches at ``pos`` of one key's patterns to ``found``."""
    combined, members = entry
    if combined.match(text, pos) is None:
        return
    for name, regex in members:
        if (name, pos) not in found:
            match = regex.match(text, pos)
            if match:
                found[(name, pos)] = Cue(name, pos, match.end())


def _any_of(members: list[tuple[str, re.Pattern[str]]]) -> re.Pattern[str]:
    """One regex that matches where any member matches (a member with its own groups is fine)."""
    try:
        return re.compile("|".join(regex.pattern for _, regex in members))
    except re.error:  # e.g. numbered back-references that the join would shift
        return re.compile("")


def _bounded(pattern: str) -> str:
    """``pattern`` kept from starting or ending inside a word, whichever of its alternatives matches.

    Not ``\\b``: a cue may start or end with an emoji or "#" ("💀", "#insulin4all"), and ``\\b`` next
    to one demands a letter beside it, so the cue would never match after a space. A pattern that
    ends in an optional part ("my (girl|son)('s)?") still may not stop inside a word ("my girlfriend").
    """
    head = r"(?<!\w)" if re.match(r"[\w(\[]|\\[dw]", pattern) and not pattern.startswith("(?") else ""
    open_end = pattern.endswith(("\\b", ".*", "\\?", "$", "\\s*", "\\s", "\\s+")) or not re.search(
        r"[\w)\]?+*}]$", pattern
    )
    tail = "" if open_end else r"(?!\w)"
    return f"(?:{head}(?:{pattern}){tail})"


def _first_words(pattern: str) -> set[str] | None:
    """Index keys for the words a match can start with, or ``None`` when they cannot be known.

    A key is the first word's first four characters (the whole word when shorter), so a pattern
    starting with "ration(ing|ed)?" is keyed ``rati`` and found at "rationing".
    """
    try:
        prefixes = _prefixes(list(sre_parse.parse(pattern)), 12)
    except (re.error, _Unknown, RecursionError):
        return None
    keys = set()
    for prefix, complete in prefixes:
        lead = _LEAD.match(prefix)
        if not lead:
            return None
        word = lead.group()
        whole = complete or len(prefix) > len(word)
        if word == _NUMBER or (len(word) == 1 and not word.isalnum() and word not in "\"'"):
            # A number, or one punctuation mark: a whole word by itself. Not a quotation mark:
            # quotes pair up, and a closing mark must not start a new match, so those are scanned.
            keys.add(word)
        elif len(word) >= 4:
            keys.add(word[:4])
        elif whole:
            keys.add(word)
        else:
            return None
    return keys or None


class _Unknown(Exception):
    pass


def _prefixes(items: list[Any], budget: int) -> set[tuple[str, bool]]:
    """``(literal prefix, reaches the end of the pattern)`` pairs a match can start with."""
    if not items:
        return {("", True)}
    if budget <= 0:
        return {("", False)}
    (op, arg), rest = items[0], items[1:]
    if op is sre_constants.AT:
        return _prefixes(rest, budget)
    heads: set[tuple[str, bool]]
    if op is sre_constants.LITERAL:
        heads = {(chr(arg), True)}
    elif op is sre_constants.SUBPATTERN:
        heads = _prefixes(list(arg[-1]), budget)
    elif op is sre_constants.BRANCH:
        heads = set().union(*(_prefixes(list(branch), budget) for branch in arg[1]))
    elif op is sre_constants.IN and all(o is sre_constants.LITERAL for o, _ in arg):
        heads = {(chr(a), True) for _, a in arg}
    elif op is sre_constants.IN and (sre_constants.CATEGORY, sre_constants.CATEGORY_DIGIT) in arg:
        if not all(o is sre_constants.CATEGORY or (o is sre_constants.LITERAL and a == ord(",")) for o, a in arg):
            return {("", False)}
        heads = {(_NUMBER, False)}  # a number: its digits are not known
    elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
        low, _, body = arg
        inner = _prefixes(list(body), budget)
        # The element itself is open-ended (repeats); a match may also skip it when optional.
        heads = {(p, False) for p, _ in inner} | ({("", True)} if low == 0 else set())
    else:
        return {("", False)}
    if len(heads) > _MAX_PREFIXES:
        raise _Unknown
    out: set[tuple[str, bool]] = set()
    for head, complete in heads:
        if complete:
            out |= {(head + tail, done) for tail, done in _prefixes(rest, budget - len(head))}
        else:
            out.add((head, False))
        if len(out) > _MAX_PREFIXES:
            raise _Unknown
    return out
