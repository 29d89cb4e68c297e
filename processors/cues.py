"""Named cue patterns loaded from YAML, matched on normalised post text.

A cue file maps rule names to lists of regular expressions (case-insensitive, matched against the
text with curly quotes and apostrophes straightened). Matches keep their character offsets into
the original text, so every tag can point at the words that set it.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["Cue", "CueSet", "load_yaml", "normalise"]

_TRANSLATE = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u02bc": "'", "\u2014": "-", "\u2013": "-"}
)


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
    """Rules name -> one compiled alternation each.

    Args:
        rules: ``{rule: [regex, ...]}``; each regex is wrapped in word boundaries unless it starts
            or ends with a non-word character.
    """

    def __init__(self, rules: dict[str, list[str]]) -> None:
        self.rules = {
            name: re.compile("|".join(_bounded(p) for p in patterns)) for name, patterns in rules.items() if patterns
        }

    def find(self, text: str) -> list[Cue]:
        """Every match of every rule in normalised ``text``, in text order."""
        found = [Cue(name, m.start(), m.end()) for name, regex in self.rules.items() for m in regex.finditer(text)]
        found.sort(key=lambda cue: cue.start)
        return found

    def first(self, rule: str, text: str) -> Cue | None:
        """The first match of one rule, or ``None``."""
        regex = self.rules.get(rule)
        match = regex.search(text) if regex is not None else None
        return Cue(rule, match.start(), match.end()) if match else None


def _bounded(pattern: str) -> str:
    head = r"\b" if re.match(r"[\w(\[]", pattern) and not pattern.startswith("(?") else ""
    tail = r"\b" if re.search(r"[\w)\]]$", pattern) and not pattern.endswith(("\\b", "?", "*")) else ""
    return f"(?:{head}{pattern}{tail})"
