"""Errors raised by Vigil's enrichment layer.

Every Vigil error derives from :class:`VigilError` so callers can catch one type. Errors carry what a
user needs to fix the problem: the field, the setting or the line.
"""

from __future__ import annotations

__all__ = ["InvalidPost", "LexiconError", "VigilError"]


class VigilError(Exception):
    """Root of every error Vigil raises on purpose."""


class InvalidPost(VigilError):
    """A post does not follow the post contract.

    Attributes:
        field: Dotted path of the offending field (``"author.followers"``), or ``"$"`` for the
            message as a whole (not JSON, not an object, not UTF-8, too large).
        problem: What is wrong, in words a data engineer can act on.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    @property
    def reason(self) -> str:
        """A short machine-friendly reason code for dead-letter metrics (bounded set)."""
        if self.field == "$":
            return self.problem.split(":", 1)[0].split(" ", 1)[0]
        return "invalid_field"


class LexiconError(VigilError):
    """The drug lexicon could not be built or loaded."""
