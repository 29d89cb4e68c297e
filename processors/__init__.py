"""Vigil's enrichment layer: pure Python and spaCy, no Kafka, no metrics, no environment.

Everything it needs arrives as arguments, so the same enrichment runs in the Faust agent, in
``vigil enrich`` and in the benchmarks.
"""

from __future__ import annotations

from processors.contract import decode_post, post_key, validate_post
from processors.exceptions import InvalidPost, LexiconError, VigilError
from processors.lexicon import DrugEntry, DrugLexicon, build_lexicon, load_lexicon
from processors.pipeline import PIPELINE_VERSION, Enricher, build_nlp, drug_mentions
from processors.pseudonym import Pseudonymizer

__all__ = [
    "PIPELINE_VERSION",
    "DrugEntry",
    "DrugLexicon",
    "Enricher",
    "InvalidPost",
    "LexiconError",
    "Pseudonymizer",
    "VigilError",
    "build_lexicon",
    "build_nlp",
    "decode_post",
    "drug_mentions",
    "load_lexicon",
    "post_key",
    "validate_post",
]
