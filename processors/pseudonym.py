"""Keyed pseudonyms for author ids, so raw ids never leave the worker."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["Pseudonymizer"]


class Pseudonymizer:
    """Replace an author id by ``HMAC-SHA256(key, id)``, hex, truncated to 128 bits.

    The same id always yields the same pseudonym under one key (so a conversation can still be
    followed), and without the key a pseudonym cannot be reversed or recomputed.

    Args:
        key: Secret key bytes; at least 16.
    """

    PREFIX = "p_"

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = key

    def __call__(self, author_id: str) -> str:
        digest = hmac.new(self._key, author_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return self.PREFIX + digest[:32]

    def __repr__(self) -> str:  # never show the key
        return "Pseudonymizer(key=***)"
