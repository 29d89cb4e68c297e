"""The enrichment pipeline: a blank English tokenizer plus Vigil's components.

The same :class:`Enricher` runs in the Faust agent, in ``vigil enrich`` and in the benchmarks.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

import processors.components  # noqa: F401 - registers the factories
from processors.components.segments import AuthorThresholds, author_type
from processors.contract import MAX_MESSAGE_BYTES, decode_post
from processors.exceptions import InvalidPost
from processors.extensions import KeepTextTokenizer
from processors.lexicon import DrugLexicon, load_lexicon
from processors.pseudonym import Pseudonymizer
from processors.segment_model import load_segment_model

__all__ = ["PIPELINE_VERSION", "Enricher", "build_nlp", "drug_mentions", "observer_reach"]

#: Bumped whenever a change alters enrichment output; stamped on every enriched post.
PIPELINE_VERSION = "vigil-1.3.0"
#: Tokenizer cache size (chunks). The default 10,000 fills in minutes on a varied stream, after
#: which unseen chunks take the slow path; 200,000 chunks cost about 20 MB.
TOKENIZER_CACHE_SIZE = 200_000


def build_nlp(lexicon: DrugLexicon | None = None, *, cache_dir: Path | None = None, fuzzy: bool = True) -> Language:
    """Build the pipeline.

    Args:
        lexicon: The drug lexicon; loaded (and cached in ``cache_dir``) when omitted.
        cache_dir: Where a compiled lexicon is cached between runs (outside git).
        fuzzy: Whether misspellings of widely discussed drugs are corrected; default on.
    """
    nlp = spacy.blank("en")
    nlp.tokenizer.max_cache_size = TOKENIZER_CACHE_SIZE
    finder = nlp.add_pipe("vigil_drugs", config={"fuzzy": fuzzy})
    finder.set_lexicon(lexicon if lexicon is not None else load_lexicon(cache_dir))
    nlp.add_pipe("vigil_drug_status")
    nlp.add_pipe("vigil_crisis")
    segments = nlp.add_pipe("vigil_segments")
    segments.set_model(load_segment_model(cache_dir))
    nlp.add_pipe("vigil_adverse_events")
    # One pass over each post for the cue sets of crisis, segments and adverse events.
    scanner = nlp.add_pipe("vigil_cues", before="vigil_crisis")
    scanner.gather([component for _, component in nlp.pipeline])
    # Last, so the components' own helper tokenizers copy the real one, not the wrapper.
    nlp.tokenizer = KeepTextTokenizer(nlp.tokenizer)
    # The lexicon is ~70k long-lived objects; without this every full garbage collection walks
    # them all, which measured as 40% of enrichment time. Frozen objects are never collected
    # (they live as long as the pipeline anyway).
    gc.collect()
    gc.freeze()
    return nlp


def drug_mentions(doc: Doc, text: str | None = None) -> list[dict[str, Any]]:
    """Drug mentions of a processed doc, with character offsets into its text.

    Args:
        doc: A doc from :func:`build_nlp`.
        text: The text the doc was made from, if at hand (``doc.text`` rebuilds it token by token).
    """
    text = doc.text if text is None else text
    return [
        {
            "text": text[m.start_char : m.end_char],
            "generic": m.generic,
            "start": m.start_char,
            "end": m.end_char,
            "status": m.status,
        }
        for m in doc._.drug_mentions or ()
    ]


class Enricher:
    """Turn validated posts into enriched posts.

    Args:
        nlp: A pipeline from :func:`build_nlp`.
        pseudonymize: Maps an author id to its pseudonym.
        batch_size: Posts per ``nlp.pipe`` batch; default 256.
    """

    def __init__(
        self,
        nlp: Language,
        pseudonymize: Pseudonymizer,
        *,
        batch_size: int = 256,
        thresholds: AuthorThresholds | None = None,
    ) -> None:
        self.nlp = nlp
        self.pseudonymize = pseudonymize
        self.batch_size = batch_size
        self.thresholds = thresholds or AuthorThresholds()

    def enrich(self, posts: Iterable[dict[str, Any]], *, now: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Enrich posts in order. Input dicts are not modified.

        Args:
            posts: Validated posts (see :mod:`processors.contract`).
            now: The enrichment timestamp; the current UTC time when omitted.
        """
        stamp = _rfc3339(now or datetime.now(UTC))
        pairs = ((post["text"], post) for post in posts)
        for doc, post in self.nlp.pipe(pairs, as_tuples=True, batch_size=self.batch_size):
            yield self._output(post, doc, stamp)

    def enrich_raw(
        self,
        raws: list[bytes] | list[str],
        *,
        ingest_times: list[str] | None = None,
        max_bytes: int = MAX_MESSAGE_BYTES,
        now: datetime | None = None,
    ) -> list[dict[str, Any] | InvalidPost]:
        """Decode, validate and enrich raw messages; one result per input, in input order.

        Args:
            raws: Message values (bytes) or JSONL lines (str).
            ingest_times: RFC 3339 ingest time per message, used when a post has no
                ``created_at``; the enrichment time when omitted.
            max_bytes: Larger messages are rejected as ``too_large``.
            now: The enrichment timestamp; the current UTC time when omitted.

        Returns:
            The enriched post, or the :class:`InvalidPost` explaining why it was rejected. A post
            that crashes the pipeline is rejected with code ``enrichment_error``, never dropped.
        """
        now = now or datetime.now(UTC)
        results: list[dict[str, Any] | InvalidPost] = []
        valid: list[int] = []
        posts: list[dict[str, Any]] = []
        for i, raw in enumerate(raws):
            try:
                post = decode_post(raw, max_bytes=max_bytes)
            except InvalidPost as exc:
                results.append(exc)
                continue
            if post.get("created_at") is None:
                post["created_at"] = ingest_times[i] if ingest_times else _rfc3339(now)
            results.append(post)
            valid.append(i)
            posts.append(post)
        try:
            enriched = list(self.enrich(posts, now=now))
        except Exception:
            enriched = [self._enrich_one(post, now) for post in posts]
        for i, out in zip(valid, enriched, strict=True):
            results[i] = out
        return results

    def _enrich_one(self, post: dict[str, Any], now: datetime) -> dict[str, Any] | InvalidPost:
        try:
            return next(self.enrich([post], now=now))
        except Exception as exc:
            return InvalidPost(
                "text", f"the enrichment pipeline failed on this post ({type(exc).__name__})", "enrichment_error"
            )

    def _listening(self, out: dict[str, Any], post: dict[str, Any], doc: Doc) -> None:
        """Listening-layer fields: segments (with author type), crisis, adverse events, reach."""
        kind, kind_reasons = author_type(post.get("author"), self.thresholds)
        segments = dict(doc._.segments)
        reasons = dict(segments.pop("reasons"))
        if kind == "patient_organization" and segments["audience"] != "caregiver":
            segments["audience"] = "advocate"
            reasons["audience"] = [*reasons["audience"], {"rule": "author is a patient organisation"}]
        segments["author_type"] = kind
        reasons["author_type"] = [{"rule": r} for r in kind_reasons]
        segments["reasons"] = reasons
        out["segments"] = segments
        out["crisis"] = doc._.crisis
        out["adverse_events"] = doc._.adverse_events
        out["observer_reach"] = observer_reach(post.get("engagement"))

    def _output(self, post: dict[str, Any], doc: Doc, stamp: str) -> dict[str, Any]:
        out = dict(post)
        author = post.get("author")
        if author is not None:
            author = copy.copy(author)
            author.pop("handle", None)
            if author.get("id") is not None:
                author["id"] = self.pseudonymize(author["id"])
            out["author"] = author
        out["drugs"] = drug_mentions(doc, post["text"])
        if doc._.segments is not None:  # the listening components ran (they can be disabled)
            self._listening(out, post, doc)
        out["enriched_at"] = stamp
        out["pipeline_version"] = PIPELINE_VERSION
        return out


def observer_reach(engagement: dict[str, Any] | None) -> int:
    """The silent reach of a post: people who saw or liked it beyond those who replied."""
    if not engagement:
        return 0
    seen = max(engagement.get("views") or 0, engagement.get("likes") or 0)
    return max(0, seen - (engagement.get("replies") or 0))


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
