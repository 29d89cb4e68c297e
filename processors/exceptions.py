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
        code: One of :attr:`CODES`, for dead-letter counts by reason.
    """

    #: The bounded set of reason codes (used as a metric label, never free text).
    CODES = (
        "not_utf8",
        "not_json",
        "not_object",
        "too_large",
        "missing_field",
        "wrong_type",
        "out_of_range",
        "enrichment_error",
    )

    def __init__(self, field: str, problem: str, code: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
        self.code = code if code in self.CODES else "wrong_type"


class LexiconError(VigilError):
    """The drug lexicon could not be built or loaded."""
