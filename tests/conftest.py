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
def lexicon_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's compiled lexicon lives.

    A fresh session directory by default, so every run builds the lexicon from the current
    curation files and code; set ``VIGIL_TEST_LEXICON_CACHE`` (e.g. ``~/.cache/vigil/lexicon``)
    to reuse a cache while iterating.
    """
    override = os.environ.get("VIGIL_TEST_LEXICON_CACHE")
    if override:
        return Path(override).expanduser()
    return tmp_path_factory.mktemp("vigil-cache") / "lexicon"


@pytest.fixture(scope="session")
def nlp(lexicon_cache_dir: Path) -> Language:
    """The real enrichment pipeline, shared by the whole session."""
    return build_nlp(cache_dir=lexicon_cache_dir)


@pytest.fixture(scope="session")
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(TEST_KEY)


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
