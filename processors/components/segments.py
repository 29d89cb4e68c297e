"""``vigil_segments``: audience, behaviour and emotional stage of a post, each with its reasons.

Cues come from ``processors/data/segments.yaml``; each match adds its weight to a value, and the
value with the most weight wins (ties go to the earlier value in the file). No match: ``unknown``.
The stage is ``crisis`` whenever the crisis level is high or critical, so the two tags agree.
Author type comes from author metadata, not text: see :func:`author_type`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

from processors.components.crisis import DANGER_PASSED
from processors.components.scan import doc_cues, doc_norm
from processors.cues import CueSet, load_yaml, normalise
from processors.extensions import doc_text, register_extensions
from processors.segment_model import SegmentModel, crisis_features

__all__ = ["AUDIENCES", "AUTHOR_TYPES", "BEHAVIOURS", "STAGES", "AuthorThresholds", "SegmentTagger", "author_type"]

AUDIENCES = ("patient", "caregiver", "advocate", "unknown")
BEHAVIOURS = ("skeptic", "seeker", "sharer", "supporter", "unknown")
STAGES = ("newly_diagnosed", "crisis", "long_term", "unknown")
AUTHOR_TYPES = ("individual", "patient_influencer", "patient_organization")

_ORG_BIO = re.compile(
    r"\b(non-?profit|not[- ]for[- ]profit|charity|charitable|foundation|association|society|alliance|coalition|"
    r"network|organi[sz]ation|federation|trust|institute|council|support group|patient group|advocacy group|"
    r"501\(c\)|registered charity|official account|official page|we support|we are|we're|our mission|"
    r"inc\.?|ltd\.?|llc|cic)\b",
    re.IGNORECASE,
)
_CREATOR_BIO = re.compile(
    r"\b(creator|content|blogger|blog|vlogger|youtube|youtuber|podcast(er)?|speaker|author|influencer|"
    r"ambassador|host|tiktok|instagram|writer|columnist|collabs?|partnerships?|pr@|business inquiries|"
    r"dm for|link in bio|as seen)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AuthorThresholds:
    """When an individual counts as a patient influencer.

    Attributes:
        influencer_followers: Followers from which a person is an influencer; default 10,000.
        verified_followers: Followers from which a verified person is an influencer; default 5,000.
        creator_followers: Followers from which a person whose bio reads like a creator's is an
            influencer; default 3,000.
    """

    influencer_followers: int = 10_000
    verified_followers: int = 5_000
    creator_followers: int = 3_000


def author_type(
    author: dict[str, Any] | None, thresholds: AuthorThresholds = AuthorThresholds()
) -> tuple[str, list[str]]:
    """``(author_type, reasons)`` from author metadata: followers, verified, bio."""
    if not author:
        return "individual", ["no author metadata"]
    bio = author.get("bio") or ""
    followers = author.get("followers") or 0
    verified = bool(author.get("verified"))
    match = _ORG_BIO.search(bio)
    if match:
        return "patient_organization", [f"bio names an organisation ({match.group(0).lower()})"]
    if followers >= thresholds.influencer_followers:
        return "patient_influencer", [f"followers >= {thresholds.influencer_followers}"]
    if verified and followers >= thresholds.verified_followers:
        return "patient_influencer", [f"verified and followers >= {thresholds.verified_followers}"]
    creator = _CREATOR_BIO.search(bio)
    if creator and followers >= thresholds.creator_followers:
        return "patient_influencer", [
            f"creator bio ({creator.group(0).lower()}) and followers >= {thresholds.creator_followers}"
        ]
    return "individual", [f"followers {followers}" + (", verified" if verified else "")]


class SegmentTagger:
    """Audience, behaviour and stage from text. Pure; no spaCy needed."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or load_yaml("segments.yaml")
        self.dimensions: dict[str, tuple[CueSet, dict[str, float], list[str]]] = {}
        for dimension, values in data.items():
            rules = {value: spec["patterns"] for value, spec in values.items()}
            weights = {value: float(spec["weight"]) for value, spec in values.items()}
            self.dimensions[dimension] = (CueSet(rules), weights, list(values))

    def tag(self, text: str, *, crisis_level: str = "none") -> dict[str, Any]:
        """``{"audience", "behaviour", "stage", "reasons": {dimension: [...]}}``."""
        norm = normalise(text)
        out: dict[str, Any] = {}
        reasons: dict[str, list[dict[str, Any]]] = {}
        for dimension, (cues, weights, order) in self.dimensions.items():
            scores: dict[str, float] = {}
            found = cues.find(norm)
            for cue in found:
                scores[cue.rule] = scores.get(cue.rule, 0.0) + weights[cue.rule]
            value = max(order, key=lambda v: (scores.get(v, 0.0), -order.index(v))) if scores else "unknown"
            out[dimension] = value
            reasons[dimension] = [{"rule": c.rule, "start": c.start, "end": c.end} for c in found if c.rule == value]
        if out.get("behaviour") == "unknown" and out.get("audience") in ("patient", "caregiver"):
            out["behaviour"] = "sharer"
            reasons["behaviour"] = [{"rule": "first-hand account"}]
        if crisis_level in ("high", "critical"):
            out["stage"] = "crisis"
            reasons["stage"] = [{"rule": f"crisis level {crisis_level}"}]
        out["reasons"] = reasons
        return out


class SegmentComponent:
    """spaCy wrapper: sets ``doc._.segments`` (run after ``vigil_crisis``).

    With a :class:`~processors.segment_model.SegmentModel` set (:meth:`set_model`, as
    :func:`~processors.pipeline.build_nlp` does) the values come from the model, whose features
    include the cues; without one, from the cues alone (:class:`SegmentTagger`).
    """

    def __init__(self, nlp: Language, name: str = "vigil_segments") -> None:
        register_extensions()
        self.name = name
        self.tagger = SegmentTagger()
        self.model: SegmentModel | None = None
        self.critical_threshold = 0.3

    def set_model(self, model: SegmentModel) -> None:
        """Use a trained model for audience, behaviour and stage."""
        self.model = model

    def cue_sets(self) -> dict[str, CueSet]:
        """For ``vigil_cues``: the model's cue set, scanned with the other components' sets."""
        return {"segments": self.model.featurizer.cues} if self.model is not None else {}

    def __call__(self, doc: Doc) -> Doc:
        return self._tag([doc])[0]

    def pipe(self, docs: Iterable[Doc], batch_size: int = 256) -> Iterator[Doc]:
        """Tag docs a batch at a time: the model scores a whole batch in a few numpy calls."""
        for batch in minibatch(docs, size=batch_size):
            yield from self._tag(batch)

    def _tag(self, docs: list[Doc]) -> list[Doc]:
        assessments = [doc._.crisis or {"level": "none", "score": 0.0, "reasons": []} for doc in docs]
        if self.model is None:
            for doc, crisis in zip(docs, assessments, strict=True):
                doc._.segments = self.tagger.tag(doc_text(doc), crisis_level=crisis["level"])
            return docs
        batch = self.model.predict_batch(
            [(doc_text(doc), crisis_features(crisis)) for doc, crisis in zip(docs, assessments, strict=True)],
            norms=[doc_norm(doc) for doc in docs],
            cues=[doc_cues(doc).get("segments") for doc in docs],
        )
        for doc, crisis, predicted in zip(docs, assessments, batch, strict=True):
            doc._.crisis = crisis = combine_crisis(
                crisis, *predicted.pop("crisis"), critical_threshold=self.critical_threshold
            )
            level = crisis["level"]
            out: dict[str, Any] = {dim: value for dim, (value, _, _) in predicted.items()}
            reasons = {dim: why for dim, (_, why, _) in predicted.items()}
            # The stage model never says "crisis" (it is not trained to): the crisis level does.
            if level in ("high", "critical"):
                out["stage"] = "crisis"
                reasons["stage"] = [{"rule": f"crisis level {level}"}]
            out["reasons"] = reasons
            doc._.segments = out
        return docs


def combine_crisis(
    rules: dict[str, Any], value: str, why: list[dict[str, Any]], probs: dict[str, float], *, critical_threshold: float
) -> dict[str, Any]:
    """The crisis verdict: the higher of the rules' level and the model's.

    The model calls a post critical from ``critical_threshold`` probability up, below its arg-max:
    missing a person in danger costs far more than a community manager's false alarm.
    """
    order = ("none", "watch", "high", "critical")
    model_level = "critical" if probs.get("critical", 0.0) >= critical_threshold else value
    if any(r["rule"] == DANGER_PASSED for r in rules["reasons"]) and order.index(model_level) > 1:
        model_level = "watch"  # the post says the danger has passed; the model does not read that
    level = max(rules["level"], model_level, key=order.index)
    reasons = list(rules["reasons"])
    if order.index(model_level) >= order.index(rules["level"]) and model_level != "none":
        reason: dict[str, Any] = {
            "rule": "model", "level": model_level, "p_critical": round(probs.get("critical", 0.0), 3), "features": why
        }  # fmt: skip
        # Point at the words of the strongest feature that stands in the text, as a rule's reason does.
        located = next((f for f in why if "start" in f), None)
        if located is not None:
            reason["start"], reason["end"] = located["start"], located["end"]
        reasons.append(reason)
    score = max(float(rules["score"]), probs.get("critical", 0.0) + 0.5 * probs.get("high", 0.0))
    return {"level": level, "score": round(min(1.0, score), 3), "reasons": reasons}


@Language.factory("vigil_segments", assigns=["doc._.segments"], requires=["doc._.crisis"], default_config={})
def make_segments(nlp: Language, name: str) -> SegmentComponent:
    """Factory for :class:`SegmentComponent`."""
    return SegmentComponent(nlp, name)
