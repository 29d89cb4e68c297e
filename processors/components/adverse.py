"""``vigil_adverse_events``: a suspected drug linked to an event in the same sentence.

Pharmacovigilance needs four elements: an identifiable patient (``subject``: self, dependent,
other), a reporter (the pseudonymised author), a suspect drug and an event. An event is reported
when a drug mention that the author has taken (status current or past: not negated, not
hypothetical) and an event term from ``processors/data/adverse_events.yaml`` share a sentence, a
link cue joins them ("gave me", "since starting", "side effect", "reaction to"), and nothing says
there was no event ("no side effects", "didn't give me") or that the event is what the drug
treats ("Lexapro for anxiety").
"""

from __future__ import annotations

import re
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from processors.components.crisis import _sentences
from processors.components.scan import doc_cues, doc_norm
from processors.cues import Cue, CueSet, load_yaml, normalise
from processors.extensions import DrugMention, doc_text, register_extensions

__all__ = ["SUBJECTS", "AdverseEventFinder"]

SUBJECTS = ("self", "dependent", "other")
_PRONOUNS = re.compile(r"\b(he|she|his|her|him)\b")


class AdverseEventFinder:
    """Link drug mentions to events. Pure; works on text and mention offsets."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or load_yaml("adverse_events.yaml")
        self.events = CueSet(data["events"])
        self.links = CueSet({"link": data["links"]})
        self.no_event = CueSet({"no_event": data["no_event"]})
        self.indication = re.compile("|".join(data["indication"]))
        subjects = data["subjects"]
        self.kin = CueSet(
            {"dependent": [p for p in subjects["dependent"] if "he|she" not in p], "other": subjects["other"]}
        )

    def cue_sets(self) -> dict[str, CueSet]:
        """The cue sets :meth:`find` matches on a whole post, by the names it looks them up by."""
        return {"ae_events": self.events, "ae_links": self.links, "ae_no_event": self.no_event}

    def find(
        self,
        text: str,
        mentions: list[DrugMention] | list[dict[str, Any]],
        *,
        caregiver: bool = False,
        norm: str | None = None,
        found: dict[str, list[Cue]] | None = None,
    ) -> list[dict[str, Any]]:
        """Adverse events as ``{"drug", "event", "start", "end", "subject"}`` (event offsets).

        A drug taken (status current or past) is linked to an event term when a link cue stands in
        the drug's sentence ("gave me", "since starting", "week 2 on", "side effect") and the event
        is in that sentence or the next; or when the event directly follows the drug's name
        ("keppra fog", "vyvanse comedown"). Sentences that deny an event are skipped. ``norm`` and
        ``found`` are as for :meth:`CrisisDetector.assess <processors.components.crisis.CrisisDetector.assess>`.
        """
        drugs = [d for d in (_as_tuple(m) for m in mentions) if d[3] in ("current", "past")]
        if not drugs:
            return []
        norm = normalise(text) if norm is None else norm
        found = found or {}
        event_cues = self.events.find_or_take(norm, found, "ae_events")
        if not event_cues:
            return []  # most posts: no event term, so no links or denials to look for
        sentences = _sentences(norm)

        def sentence_of(pos: int) -> int:
            return next((i for i, (a, b) in enumerate(sentences) if a <= pos < b), -1)

        denied = [False] * len(sentences)
        for cue in self.no_event.find_or_take(norm, found, "ae_no_event"):
            denied[sentence_of(cue.start)] = True
        linked = [False] * len(sentences)
        for cue in self.links.find_or_take(norm, found, "ae_links"):
            linked[sentence_of(cue.start)] = True
        events = []
        for cue in event_cues:
            i = sentence_of(cue.start)
            events.append((i, Cue(cue.rule, cue.start - sentences[i][0], cue.end - sentences[i][0])))
        found: list[dict[str, Any]] = []
        seen: set[tuple[str, int]] = set()
        for index, (a, b) in enumerate(sentences):
            here = [d for d in drugs if a <= d[0] < b]
            if not here or denied[index]:
                continue
            for j, event in events:
                if j not in (index, index + 1) or denied[j]:
                    continue
                e_start, e_end = sentences[j][0] + event.start, sentences[j][0] + event.end
                if any(d[0] < e_end and e_start < d[1] for d in here):
                    continue  # the event word is part of the drug name
                sentence = norm[sentences[j][0] : sentences[j][1]]
                if self.indication.search(sentence[max(0, event.start - 24) : event.start]):
                    continue
                drug = min(here, key=lambda d: abs(d[0] - e_start))
                adjacent = j == index and 0 <= e_start - drug[1] <= 2
                # A drug the author is on now, and an event in the same sentence, need no link cue
                # ("my daughter's on lamotrigine and overnight the rash has spread").
                taking_now = j == index and drug[3] == "current"
                if not (linked[index] or adjacent or taking_now):
                    continue
                key = (drug[2], e_start)
                if key in seen:
                    continue
                seen.add(key)
                found.append(
                    {
                        "drug": drug[2],
                        "event": text[e_start:e_end],
                        "start": e_start,
                        "end": e_end,
                        "subject": self._subject(norm[a:b] + " " + sentence, caregiver),
                    }
                )
        return found

    def _subject(self, sentence: str, caregiver: bool) -> str:
        kin = {c.rule for c in self.kin.find(sentence)}
        if "other" in kin:
            return "other"
        if "dependent" in kin or (caregiver and _PRONOUNS.search(sentence)):
            return "dependent"
        return "self"


def _as_tuple(mention: DrugMention | dict[str, Any]) -> tuple[int, int, str, str]:
    if isinstance(mention, DrugMention):
        return mention.start_char, mention.end_char, mention.generic, mention.status
    return mention["start"], mention["end"], mention["generic"], mention["status"]


class AdverseEventComponent:
    """spaCy wrapper: sets ``doc._.adverse_events`` (after ``vigil_drug_status``)."""

    def __init__(self, nlp: Language, name: str = "vigil_adverse_events") -> None:
        register_extensions()
        self.name = name
        self.finder = AdverseEventFinder()

    def cue_sets(self) -> dict[str, CueSet]:
        """For ``vigil_cues``: the sets to scan for this component."""
        return self.finder.cue_sets()

    def __call__(self, doc: Doc) -> Doc:
        mentions = doc._.drug_mentions or []
        caregiver = (doc._.segments or {}).get("audience") == "caregiver"
        doc._.adverse_events = (
            self.finder.find(doc_text(doc), mentions, caregiver=caregiver, norm=doc_norm(doc), found=doc_cues(doc))
            if mentions
            else []
        )
        return doc


@Language.factory(
    "vigil_adverse_events", assigns=["doc._.adverse_events"], requires=["doc._.drug_mentions"], default_config={}
)
def make_adverse_events(nlp: Language, name: str) -> AdverseEventComponent:
    """Factory for :class:`AdverseEventComponent`."""
    return AdverseEventComponent(nlp, name)
