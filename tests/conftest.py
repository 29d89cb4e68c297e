"""Fixtures shared by every test tier.

The spaCy pipeline is built once per session: the lexicon build takes ~10 s uncached, and every
processors test runs on the same real pipeline (no mocks of processors).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from spacy.language import Language

from processors import Enricher, Pseudonymizer, build_nlp

#: A fixed 32-byte key, so pseudonyms are reproducible inside one test run.
TEST_KEY = b"vigil-unit-test-key-0123456789ab"
assert len(TEST_KEY) == 32


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``VIGIL_CACHE_DIR`` for the session; the compiled lexicon lives in its ``lexicon/``.

    A fresh directory by default, so every run builds the lexicon from the current curation files
    and code; set ``VIGIL_TEST_CACHE_DIR`` (e.g. ``~/.cache/vigil``) to reuse a cache while
    iterating. Tests that run ``vigil enrich`` point ``VIGIL_CACHE_DIR`` here to reuse the lexicon.
    """
    override = os.environ.get("VIGIL_TEST_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    return tmp_path_factory.mktemp("vigil-cache")


@pytest.fixture(scope="session")
def nlp(cache_root: Path) -> Language:
    """The real enrichment pipeline, shared by the whole session."""
    return build_nlp(cache_dir=cache_root / "lexicon")


@pytest.fixture(scope="session")
def pseudonym_key() -> bytes:
    """The fixed 32-byte test key behind the ``enricher`` fixture's pseudonyms."""
    return TEST_KEY


@pytest.fixture(scope="session")
def pseudonymizer(pseudonym_key: bytes) -> Pseudonymizer:
    return Pseudonymizer(pseudonym_key)


@pytest.fixture(scope="session")
def enricher(nlp: Language, pseudonymizer: Pseudonymizer) -> Enricher:
    """An :class:`Enricher` on the shared pipeline with the fixed test key."""
    return Enricher(nlp, pseudonymizer)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No ``VIGIL_*`` variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("VIGIL_"):
            monkeypatch.delenv(name)
    yield monkeypatch


@pytest.fixture
def free_port() -> int:
    """A TCP port that nothing listens on right now (for settings that need one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
