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

__all__ = ["Cue", "CueScanner", "CueSet", "load_yaml", "normalise"]

_TRANSLATE = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u02bc": "'", "\u2014": "-", "\u2013": "-"}
)
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
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
    """Rules name -> patterns, matched with a first-word index.

    Args:
        rules: ``{rule: [regex, ...]}``; each regex is wrapped in word boundaries unless it starts
            or ends with a non-word character.
    """

    def __init__(self, rules: dict[str, list[str]]) -> None:
        self.rules = {
            name: re.compile("|".join(_bounded(p) for p in patterns)) for name, patterns in rules.items() if patterns
        }
        by_word: dict[str, list[_Member]] = {}
        # Patterns whose first word cannot be known, scanned along the whole text: (slot, rule, regex).
        self._scans: list[tuple[int, str, re.Pattern[str]]] = []
        for name, patterns in rules.items():
            for pattern in patterns:
                compiled = re.compile(_bounded(pattern))
                index = _first_words(pattern)
                if index is None:
                    self._scans.append((0, name, compiled))
                else:
                    words, prefixes = index
                    for word in words:
                        by_word.setdefault(word, []).append((0, name, compiled, prefixes))
        self._members = by_word
        self._groups: dict[str, _Entry] = {key: _entry(members) for key, members in by_word.items()}

    def find(self, text: str) -> list[Cue]:
        """Every match of every rule in normalised ``text``, in text order (the longest per rule and start)."""
        return _scan(text, self._groups, self._scans, 1)[0]

    def find_or_take(self, text: str, found: dict[str, list[Cue]], name: str) -> list[Cue]:
        """``found[name]`` when a :class:`CueScanner` already matched this set there, else :meth:`find`."""
        return found[name] if name in found else self.find(text)

    def first(self, rule: str, text: str) -> Cue | None:
        """The first match of one rule, or ``None``."""
        regex = self.rules.get(rule)
        match = regex.search(text) if regex is not None else None
        return Cue(rule, match.start(), match.end()) if match else None


class CueScanner:
    """Several cue sets matched in one pass over a text's words (the pass is most of the cost).

    Args:
        sets: ``{name: CueSet}``; :meth:`scan` returns each set's :meth:`CueSet.find` under its name.
    """

    def __init__(self, sets: dict[str, CueSet]) -> None:
        self.names = list(sets)
        members: dict[str, list[_Member]] = {}
        self._scans: list[tuple[int, str, re.Pattern[str]]] = []
        for slot, cue_set in enumerate(sets.values()):
            for key, members_of_key in cue_set._members.items():
                members.setdefault(key, []).extend(
                    (slot, name, regex, starts) for _, name, regex, starts in members_of_key
                )
            self._scans += [(slot, name, regex) for _, name, regex in cue_set._scans]
        self._groups = {key: _entry(group) for key, group in members.items()}

    def scan(self, text: str) -> dict[str, list[Cue]]:
        """Each set's matches in normalised ``text``, as its own :meth:`CueSet.find` would give."""
        return dict(zip(self.names, _scan(text, self._groups, self._scans, len(self.names)), strict=True))


# A pattern in the index: (result slot, rule, compiled pattern, the literal texts its matches start
# with, or None when unknown).
_Member = tuple[int, str, re.Pattern[str], frozenset[str] | None]
# An index key: (the lengths of its members' literal starts, {literal start: members}, the members
# whose start is unknown). At a position, one slice and one dict lookup per length find exactly the
# members whose literal start stands there; only those are run.
_Entry = tuple[tuple[int, ...], dict[str, list[_Member]], list[_Member]]


def _entry(members: list[_Member]) -> _Entry:
    buckets: dict[str, list[_Member]] = {}
    anywhere: list[_Member] = []
    for member in members:
        starts = member[3]
        if starts is None:
            anywhere.append(member)
            continue
        # Keep the shortest starts: a longer one that begins with another would run the pattern twice.
        kept: list[str] = []
        for start in sorted(starts, key=len):
            if not start.startswith(tuple(kept)):
                kept.append(start)
                buckets.setdefault(start, []).append(member)
    return tuple(sorted({len(start) for start in buckets})), buckets, anywhere


def _scan(
    text: str, groups: dict[str, _Entry], scans: list[tuple[int, str, re.Pattern[str]]], slots: int
) -> list[list[Cue]]:
    """Matches per slot: patterns tried only where a word they can start with stands."""
    found: list[dict[tuple[str, int], Cue]] = [{} for _ in range(slots)]
    number = groups.get(_NUMBER)
    for word in _WORD.finditer(text):
        key = word.group()[:4]
        entry = groups.get(key)
        if number is not None and key[0].isdigit():
            for group in (entry, number):
                if group is not None:
                    _try(group, text, word.start(), found)
        elif entry is not None:
            _try(entry, text, word.start(), found)
    for slot, name, regex in scans:
        for match in regex.finditer(text):
            found[slot].setdefault((name, match.start()), Cue(name, match.start(), match.end()))
    return [sorted(f.values(), key=lambda cue: (cue.start, cue.rule)) if f else [] for f in found]


def _try(entry: _Entry, text: str, pos: int, found: list[dict[tuple[str, int], Cue]]) -> None:
    """Add the matches at ``pos`` of one key's patterns to ``found`` (per slot)."""
    lengths, buckets, anywhere = entry
    for length in lengths:
        bucket = buckets.get(text[pos : pos + length])
        if bucket is not None:
            _run(bucket, text, pos, found)
    if anywhere:
        _run(anywhere, text, pos, found)


def _run(members: list[_Member], text: str, pos: int, found: list[dict[tuple[str, int], Cue]]) -> None:
    """Run ``members`` at ``pos``; of a rule's matches that start here the longest is kept."""
    for slot, name, regex, _ in members:
        match = regex.match(text, pos)
        if match:
            known = found[slot].get((name, pos))
            if known is None or known.end < match.end():
                found[slot][(name, pos)] = Cue(name, pos, match.end())


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


def _first_words(pattern: str) -> tuple[set[str], frozenset[str] | None] | None:
    """Index keys for the words a match can start with, or ``None`` when they cannot be known.

    A key is the first word's first four characters (the whole word when shorter), so a pattern
    starting with "ration(ing|ed)?" is keyed ``rati`` and found at "rationing". Also the literal
    texts a match starts with (up to 12 characters: "my son", "my daughter"), or ``None`` when a
    match can start with a number.
    """
    try:
        prefixes = _prefixes(list(sre_parse.parse(pattern)), 12)
    except (re.error, _Unknown, RecursionError):
        return None
    keys = set()
    literal = set()
    for boundary, complete in prefixes:
        prefix = boundary.lstrip(_BOUNDARY)
        # What a match starts with, up to a number (its digits are not known) or a word boundary.
        literal.add(re.split("[\x00\x01]", prefix, maxsplit=1)[0])
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
    if not keys:
        return None
    return keys, None if "" in literal else frozenset(literal)


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
