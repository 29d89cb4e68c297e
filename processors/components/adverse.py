"""``vigil_adverse_events``: a suspected drug linked to an event in the same or the next sentence.

Pharmacovigilance needs four elements: an identifiable patient (``subject``: self, dependent,
other), a reporter (the pseudonymised author), a suspect drug and an event. An event is reported
when a drug mention that the author has taken (status current or past: not negated, not
hypothetical) and an event term from ``processors/data/adverse_events.yaml`` share a sentence, a
link cue joins them ("gave me", "since starting", "side effect", "reaction to"), and nothing says
there was no event ("no side effects", "didn't give me", "seizure-free") or that the event is what
the drug treats ("Lexapro for anxiety", or by the ``treats`` table: "seizing, gave the buccal
midazolam"). A drug that was missing ("rationing my novolog"), misused, swallowed by a child or not
started yet is no suspect, and a post that teaches or tells a TV story reports nothing.
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
        self.treats: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
            event: (
                frozenset(d for d in drugs if not d.endswith("*")),
                tuple(d[:-1] for d in drugs if d.endswith("*")),
            )
            for event, drugs in data["treats"].items()
        }
        self.causal = re.compile("|".join(data["causal"]))
        self.causal_after = re.compile(data["causal_after"])
        self.lacking = re.compile("|".join(data["lacking"]))
        self.lacking_before = re.compile(data["lacking_before"])
        self.stopping_events = frozenset(data["stopping_events"])
        self.not_a_suspect = re.compile("|".join(data["not_a_suspect"]))
        self.not_experience = re.compile("|".join(data["not_experience"]))
        self.experience = re.compile("|".join(data["experience"]))
        self.negated_before = re.compile(data["event_negated_before"])
        self.negated_after = re.compile(data["event_negated_after"])
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
        if self.not_experience.search(norm) and not self.experience.search(norm):
            return []  # teaching, news, a story: nobody here had the event
        sentences = _sentences(norm)

        def sentence_of(pos: int) -> int:
            return next((i for i, (a, b) in enumerate(sentences) if a <= pos < b), -1)

        denied = [False] * len(sentences)
        for cue in self.no_event.find_or_take(norm, found, "ae_no_event"):
            denied[sentence_of(cue.start)] = True
        linked = [False] * len(sentences)
        for cue in self.links.find_or_take(norm, found, "ae_links"):
            linked[sentence_of(cue.start)] = True
        lacking = [bool(self.lacking.search(norm[a:b])) for a, b in sentences]
        misused = [bool(self.not_a_suspect.search(norm[a:b])) for a, b in sentences]
        # A post about one drug the author is on: its events may stand in any sentence.
        only = len({d[2] for d in drugs}) == 1 and drugs[0][3] == "current"
        reports: list[dict[str, Any]] = []
        seen: set[tuple[str, int]] = set()
        for cue in event_cues:
            j = sentence_of(cue.start)
            if denied[j] or self._not_had(norm, sentences[j], cue):
                continue
            # The drug's sentence is the event's or the one before; in a post about one drug the
            # author is on, any sentence ("upped my mtx again. the day after is a write-off, nausea").
            for index in (j, j - 1) if not only else (j, *(i for i in range(len(sentences)) if i != j)):
                if index < 0:
                    continue
                a, b = sentences[index]
                here = [d for d in drugs if a <= d[0] < b and not (d[0] < cue.end and cue.start < d[1])]
                if not here or denied[index] or misused[index]:
                    continue
                if self.indication.search(norm[max(sentences[j][0], cue.start - 24) : cue.start]):
                    break  # "lexapro for anxiety"
                here = [d for d in here if self._may_cause(norm, sentences, index, j, d, cue)]
                if not here:
                    break
                drug = min(here, key=lambda d: abs(d[0] - cue.start))
                adjacent = j == index and 0 <= cue.start - drug[1] <= 2
                # A drug the author is on now, and an event in the same sentence, need no link cue
                # ("my daughter's on lamotrigine and overnight the rash has spread").
                taking_now = (j == index or only) and drug[3] == "current"
                if not (linked[index] or linked[j] or adjacent or taking_now):
                    continue
                if lacking[index] and cue.rule not in self.stopping_events:
                    break  # "rationing my novolog and now i can't stop puking": the illness, untreated
                key = (drug[2], cue.start)
                if key not in seen:
                    seen.add(key)
                    sentence = norm[sentences[j][0] : sentences[j][1]]
                    reports.append(
                        {
                            "drug": drug[2],
                            "event": text[cue.start : cue.end],
                            "start": cue.start,
                            "end": cue.end,
                            "subject": self._subject(norm[a:b] + " " + sentence, caregiver),
                        }
                    )
                break
        # One event, one report: "zaps" inside "brain zaps", "infection" inside "yeast infection".
        reports = [
            r
            for r in reports
            if not any(
                o is not r
                and o["drug"] == r["drug"]
                and o["start"] <= r["start"]
                and r["end"] <= o["end"]
                and (o["end"] - o["start"]) > (r["end"] - r["start"])
                for o in reports
            )
        ]
        reports.sort(key=lambda r: r["start"])
        return reports

    def _not_had(self, norm: str, sentence: tuple[int, int], cue: Cue) -> bool:
        """Whether the event is denied ("no rash", "not a single bit of nausea", "seizure-free")."""
        a, b = sentence
        return bool(
            self.negated_before.search(norm[max(a, cue.start - 40) : cue.start])
            or self.negated_after.match(norm, cue.end, b)
        )

    def _may_cause(
        self, norm: str, sentences: list[tuple[int, int]], index: int, j: int, drug: tuple[int, int, str, str], cue: Cue
    ) -> bool:
        """Whether ``drug`` can be the suspect of ``cue``'s event.

        Not when the drug was missing ("out of novorapid", except for withdrawal events), nor when
        the event is what the drug is taken for ("seizing, gave the midazolam") unless the post says
        the drug caused it ("lamotrigine gave me seizures", "a side effect").
        """
        if self.lacking_before.search(norm[max(0, drug[0] - 30) : drug[0]]) and cue.rule not in self.stopping_events:
            return False
        if not self._treats(cue.rule, drug[2]):
            return True
        return bool(
            self.causal_after.match(norm, drug[1], min(len(norm), drug[1] + 40))
            or any(self.causal.search(norm, *sentences[i]) for i in {index, j})
        )

    def _treats(self, event: str, generic: str) -> bool:
        return any(
            drugs is not None and (generic in drugs[0] or generic.startswith(drugs[1]))
            for drugs in (self.treats.get(event), self.treats.get("*"))
        )

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
