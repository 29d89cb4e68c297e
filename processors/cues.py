"""Named cue patterns loaded from YAML, matched on normalised post text.

A cue file maps rule names to lists of regular expressions (case-insensitive, matched against the
text with curly quotes and apostrophes straightened). Matches keep their character offsets into
the original text, so every tag can point at the words that set it.

Speed: a few hundred alternations scanned at every character cost ~0.4 ms per post in Python's
``re``. Instead each pattern is indexed by the literal texts a match can start with (read off the
parsed pattern: "my son", "rati" for "ration(ing|ed)?", a digit for ``\\d+ days``). One regex built
as a trie of all those literals finds, in one C-level pass, the longest literal at each word start;
only the patterns whose start is a prefix of it are tried there, first together as one alternation,
so a position that starts no match costs one ``re`` call. Only patterns whose start cannot be known
(``\\w+ ...``, quotation marks) are scanned along the whole text.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import yaml

__all__ = ["Cue", "CueScanner", "CueSet", "load_yaml", "normalise"]

_TRANSLATE = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u02bc": "'", "\u2014": "-", "\u2013": "-"}
)
_LEAD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]|\x00")
_MAX_PREFIXES = 400
_NUMBER = "\x00"  # index key of patterns that start with a number (\d)
_INFLECTION = "(?:s|es|ed|d|ing)?"  # endings a pattern's last word may take (not "er": "numb" is not "number")
_BOUNDARY = "\x01"  # a word boundary (\b) in a pattern's literal prefix


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
    """Rules name -> patterns, matched with an index of where each pattern can start.

    Args:
        rules: ``{rule: [regex, ...]}``; each regex is wrapped in word boundaries unless it starts
            or ends with a non-word character.
    """

    def __init__(self, rules: dict[str, list[str]]) -> None:
        self.rules = {
            name: re.compile("|".join(_bounded(p) for p in patterns)) for name, patterns in rules.items() if patterns
        }
        # Patterns with known starts, for the index: (rule, regex, the literal texts a match starts with).
        self._members: list[tuple[str, re.Pattern[str], frozenset[str]]] = []
        # Patterns whose start cannot be known, scanned along the whole text: (slot, rule, regex).
        self._scans: list[tuple[int, str, re.Pattern[str]]] = []
        for name, patterns in rules.items():
            for pattern in patterns:
                compiled = re.compile(_bounded(pattern))
                starts = _starts(pattern)
                if starts is None:
                    self._scans.append((0, name, compiled))
                else:
                    self._members.append((name, compiled, starts))
        self._index = _Index([(0, *member) for member in self._members])

    def find(self, text: str) -> list[Cue]:
        """Every match of every rule in normalised ``text``, in text order (the longest per rule and start)."""
        return _scan(text, self._index, self._scans, 1)[0]

    def find_or_take(self, text: str, found: dict[str, list[Cue]], name: str) -> list[Cue]:
        """``found[name]`` when a :class:`CueScanner` already matched this set there, else :meth:`find`."""
        return found[name] if name in found else self.find(text)

    def first(self, rule: str, text: str) -> Cue | None:
        """The first match of one rule, or ``None``."""
        regex = self.rules.get(rule)
        match = regex.search(text) if regex is not None else None
        return Cue(rule, match.start(), match.end()) if match else None


class CueScanner:
    """Several cue sets matched in one pass over a text (the pass is most of the cost).

    Args:
        sets: ``{name: CueSet}``; :meth:`scan` returns each set's :meth:`CueSet.find` under its name.
    """

    def __init__(self, sets: dict[str, CueSet]) -> None:
        self.names = list(sets)
        members: list[_Member] = []
        self._scans: list[tuple[int, str, re.Pattern[str]]] = []
        for slot, cue_set in enumerate(sets.values()):
            members += [(slot, *member) for member in cue_set._members]
            self._scans += [(slot, name, regex) for _, name, regex in cue_set._scans]
        self._index = _Index(members)

    def scan(self, text: str) -> dict[str, list[Cue]]:
        """Each set's matches in normalised ``text``, as its own :meth:`CueSet.find` would give."""
        return dict(zip(self.names, _scan(text, self._index, self._scans, len(self.names)), strict=True))


# A pattern in the index: (result slot, rule, compiled pattern, the literal texts its matches start with).
_Member = tuple[int, str, re.Pattern[str], frozenset[str]]


class _Index:
    """Where the indexed patterns can start, found by one regex pass over the text.

    The pass is a trie of every pattern's literal starts compiled into one regex, tried at each
    word start (and each punctuation mark); it reports the longest literal standing there. The
    patterns to run at that position are those whose start is a prefix of it, listed per literal
    once here, behind a gate that tries them together first. Each pattern keeps only its shortest
    starts, so it runs at most once per position.
    """

    def __init__(self, members: list[_Member]) -> None:
        by_start: dict[str, list[tuple[int, str, re.Pattern[str]]]] = {}
        for slot, name, regex, starts in members:
            kept: list[str] = []
            for start in sorted(starts, key=len):
                if not start.startswith(tuple(kept)):
                    kept.append(start)
                    by_start.setdefault(start, []).append((slot, name, regex))
        self.at: dict[str, tuple[re.Pattern[str] | None, list[tuple[int, str, re.Pattern[str]]]]] = {}
        for literal in by_start:
            here = [member for i in range(1, len(literal) + 1) for member in by_start.get(literal[:i], ())]
            self.at[literal] = (_gate(here), here)
        words = _trie([literal for literal in by_start if _ALNUM.match(literal)])
        marks = _trie([literal for literal in by_start if not _ALNUM.match(literal)])
        alternatives = ([f"(?<![a-z0-9]){words}"] if words else []) + ([marks] if marks else [])
        self.regex = re.compile(f"(?=({'|'.join(alternatives)}))") if alternatives else None


_ALNUM = re.compile("[a-z0-9]")
_GATED = 3  # patterns at one literal from which they are first tried together


def _gate(members: list[tuple[int, str, re.Pattern[str]]]) -> re.Pattern[str] | None:
    """One regex that matches where any of ``members`` matches: most positions start no match, and
    then one ``re`` call rules them all out."""
    if len(members) < _GATED:
        return None
    return re.compile("|".join(regex.pattern for _, _, regex in members))


def _trie(literals: list[str]) -> str:
    """A regex matching the longest of ``literals`` that stands at a position ("" when none)."""
    root: dict[str, Any] = {}
    for literal in literals:
        node = root
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_node(root)


def _trie_node(node: dict[str, Any]) -> str:
    branches = [re.escape(char) + _trie_node(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    # Greedy: the longer literal is tried first; the shorter one is the fallback.
    return f"(?:{body})?" if "" in node else body


def _scan(text: str, index: _Index, scans: list[tuple[int, str, re.Pattern[str]]], slots: int) -> list[list[Cue]]:
    """Matches per slot: each indexed pattern tried only where one of its literal starts stands.

    Of a rule's matches that start at one position the longest is kept.
    """
    found: list[dict[tuple[str, int], Cue]] = [{} for _ in range(slots)]
    if index.regex is not None:
        at = index.at
        for start in index.regex.finditer(text):
            pos = start.start()
            gate, members = at[start.group(1)]
            if gate is not None and gate.match(text, pos) is None:
                continue
            for slot, name, regex in members:
                match = regex.match(text, pos)
                if match:
                    known = found[slot].get((name, pos))
                    if known is None or known.end < match.end():
                        found[slot][(name, pos)] = Cue(name, pos, match.end())
    for slot, name, regex in scans:
        for match in regex.finditer(text):
            found[slot].setdefault((name, match.start()), Cue(name, match.start(), match.end()))
    return [sorted(f.values(), key=lambda cue: (cue.start, cue.rule)) if f else [] for f in found]


def _bounded(pattern: str) -> str:
    """``pattern`` kept from starting or ending inside a word, whichever of its alternatives matches.

    Not ``\\b``: a cue may start or end with an emoji or "#" ("💀", "#insulin4all"), and ``\\b`` next
    to one demands a letter beside it, so the cue would never match after a space. A pattern that
    ends in an optional part ("my (girl|son)('s)?") still may not stop inside a word ("my girlfriend").
    The last word may take an inflection (_INFLECTION): "chest pain" finds "chest pains", "(vomit|puk)"
    finds "vomited" and "puked", "my son" finds "my sons"; "numb" still does not find "number".
    """
    head = r"(?<!\w)" if re.match(r"[\w(\[]|\\[dw]", pattern) and not pattern.startswith("(?") else ""
    open_end = pattern.endswith(("\\b", ".*", "\\?", "$", "\\s*", "\\s", "\\s+")) or not re.search(
        r"[\w)\]?+*}]$", pattern
    )
    tail = "" if open_end else _INFLECTION + r"(?!\w)"
    return f"(?:{head}(?:{pattern}){tail})"


def _starts(pattern: str) -> frozenset[str] | None:
    """The literal texts a match of ``pattern`` can start with, or ``None`` when they cannot be known.

    Read off the parsed pattern: up to 12 characters ("my son", "my daughter"), stopping at a
    number or a word boundary. When a match can start with a number, the starts are the first words
    instead: their first four characters (a pattern starting with "ration(ing|ed)?" starts at
    "rati"), a whole shorter word, one punctuation mark, or a digit for a number.
    """
    try:
        prefixes = _prefixes(list(sre_parse.parse(pattern)), 12)
    except (re.error, _Unknown, RecursionError):
        return None
    keys: set[str] = set()
    literal: set[str] = set()
    for boundary, complete in prefixes:
        prefix = boundary.lstrip(_BOUNDARY)
        # What a match starts with, up to a number (its digits are not known) or a word boundary.
        literal.add(re.split("[\x00\x01]", prefix, maxsplit=1)[0])
        lead = _LEAD.match(prefix)
        if not lead:
            return None
        word = lead.group()
        whole = complete or len(prefix) > len(word)
        if word == _NUMBER:
            keys.update("0123456789")
        elif len(word) == 1 and not word.isalnum() and word not in "\"'":
            # One punctuation mark: a whole word by itself. Not a quotation mark: quotes pair up,
            # and a closing mark must not start a new match, so those are scanned.
            keys.add(word)
        elif len(word) >= 4:
            keys.add(word[:4])
        elif whole:
            keys.add(word)
        else:
            return None
    if not keys:
        return None
    return frozenset(keys if "" in literal else literal)


class _Unknown(Exception):
    pass


def _prefixes(items: list[Any], budget: int) -> set[tuple[str, bool]]:
    """``(literal prefix, reaches the end of the pattern)`` pairs a match can start with."""
    if not items:
        return {("", True)}
    if budget <= 0:
        return {("", False)}
    (op, arg), rest = items[0], items[1:]
    if op is sre_constants.AT and arg is sre_constants.AT_BOUNDARY:
        heads = {(_BOUNDARY, True)}  # a word ends (or starts) here; matches no character
    elif op is sre_constants.AT or (op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT) and arg[0] < 0):
        return _prefixes(rest, budget)  # zero width: anchors and lookbehinds
    elif op is sre_constants.LITERAL:
        heads = {(chr(arg), True)}
    elif op is sre_constants.SUBPATTERN:
        heads = _prefixes(list(arg[-1]), budget)
    elif op is sre_constants.BRANCH:
        heads = set().union(*(_prefixes(list(branch), budget) for branch in arg[1]))
    elif op is sre_constants.IN and all(o is sre_constants.LITERAL for o, _ in arg):
        heads = {(chr(a), True) for _, a in arg}
    elif op is sre_constants.IN and all(
        (o is sre_constants.CATEGORY and a is sre_constants.CATEGORY_DIGIT)
        or (o is sre_constants.LITERAL and a == ord(","))
        or (o is sre_constants.RANGE and ord("0") <= a[0] <= a[1] <= ord("9"))
        for o, a in arg
    ):
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
