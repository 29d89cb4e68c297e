"""``vigil_crisis``: who needs a human now.

Cue families from ``processors/data/crisis.yaml`` (suicidal ideation, overdose taken, anaphylaxis,
seizure now, diabetes emergency; cannot get medication, rationing, running out, severe reaction,
behaviour change on a drug; distress) are matched per sentence. A cue is switched off when its
sentence is about the past, a general question, news about strangers or gratitude; when it is
negated just before it; when it sits inside a quote or reported speech; or when it is an idiom
("dying to know", "makes me want to die lol"). Every cue that counted, and every one switched off,
is kept as a reason, so a community manager can see why.

Idiom markers switch off only the families where hyperbole is common (suicidal ideation, distress,
the weak signals); laughter right after a cue ("can't breathe 😂") switches off any cue except the
signs of the body that are read literally (``literal_signals``: chest pain spreading to the arm, a
face drooping, ketones and vomiting, ...), which only past, negation, question or quote do.

Signals are weak alone and critical together (``combinations``): a farewell with a means at hand,
affairs put in order with a goodbye, a chest pain with a cold sweat, a drooping face with slurred
speech, a blood thinner with heavy bleeding. A past marker in one clause does not make another
clause of the same sentence past when that clause is told in the present ("he had a heart attack 2
yrs ago, he's clutching his chest now").
"""

from __future__ import annotations

import re
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from processors.components.scan import doc_cues, doc_norm
from processors.cues import Cue, CueSet, load_yaml, normalise
from processors.extensions import doc_text, register_extensions

__all__ = ["DANGER_PASSED", "LEVELS", "CrisisDetector", "assess_crisis"]

LEVELS = ("none", "watch", "high", "critical")
DANGER_PASSED = "danger_passed"  # the reason recorded when a post says the danger has passed
_RANK = {level: i for i, level in enumerate(LEVELS)}
# Families where jokes and idioms are common ("I want to die lol"); elsewhere they never excuse a cue.
_HYPERBOLE_PRONE = frozenset({"suicidal_ideation", "distress"})
_SENTENCE_END = re.compile(r"(?<=[.!?\n])\s+|\n+")
# The negator is the last word before the cue, with nothing but spaces or quotes between: "no, call
# 999 now" answers a question, it negates nothing.
_NEGATORS = re.compile(
    r"\b(not|never|no|n't|dont|don't|didnt|didn't|isnt|isn't|wasnt|wasn't|havent|haven't|hasnt|hasn't|without|nothing)"
    r"[^\w,.;:!?]*$"
)
_PRESENT = re.compile(r"\b(my|i'?m|im|i am|i'?ve|ive|me|he'?s|she'?s|he is|she is|they'?re|we'?re|right now|now)\b")
_NEGATION_REACH = 24  # characters before a cue searched for a negator ("not really suicidal")
_LAUGHTER_REACH = 20  # laughter this close after any cue makes it a joke ("can't breathe 😂")
# A cue inside a conditional of a question is hypothetical ("how would i know if my toddler is having
# a seizure?"); the cue's own clause, up to the "if", is searched.
_CONDITIONAL = re.compile(r"\b(if|whether|only when|whenever|in case)\b[^.,;!?]{0,40}$")
_THEY_SAID = re.compile(
    r"\b(she|he|they|u|you|my (son|daughter|kid|child|teen|boy|girl|husband|wife|partner|mum|mom|dad|brother|sister|friend))"
    r"( just| then)? (said|says|told me|told us|texted|messaged|wrote|whispered|keeps saying|kept saying|posted|tweeted|dmed|dm'?d|sent)"
    r"( \w+){0,8}\W{0,3}$"
)
_SINCE = re.compile(r"\bsince\b")
# A post that opens with a clinician's header ("Paramedic here.", "ICU nurse here:") or a list's
# ("Anaphylaxis signs:", "FAST:") teaches: the signs of the body it lists are not happening to
# anyone. Only those are excused post-wide; a clinician's own suicidal words still count.
_CLINICIAN_HEADER = re.compile(
    r"^\W*((?!(my|our|the|his|her|your|their|a|an|this) )(\w+ ){0,2}(paramedic|nurse|doctor|doc|gp|pharmacist|midwife"
    r"|consultant|endocrinologist|neurologist|physio|dietitian|emt|medic|toxicologist|clinician|pediatrician"
    r"|paediatrician|cardiologist)s?( here|, saying it again)\s*[.:!,\u2013\u2014-]"
    r"|[\w' ]{0,30}\b(signs|symptoms|warning signs|red flags)\s*:|fast\s*:)"
)
_CLAUSE_BREAK = re.compile(r"[,;:()]|\s[-\u2013\u2014]\s")
# Said in the present, in the clause itself: "now", "tonight", "is clutching", "'s been throwing up".
_NOW = re.compile(
    r"\b(now|tonight|right now|this (morning|afternoon|evening))\b"
    r"|\b(is|are|am|'s|'re|'m|keeps?|(?<!had )been) \w+ing\b"
)  # "since starting it 3 weeks ago ..." is ongoing, not past


class CrisisDetector:
    """Assess crisis level, score and reasons for a text. Pure; no spaCy needed."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or load_yaml("crisis.yaml")
        self.levels: dict[str, str] = {}
        self.weights: dict[str, float] = {}
        rules: dict[str, list[str]] = {}
        for level in ("critical", "high", "watch"):
            for family, spec in data[level].items():
                self.levels[family] = level
                self.weights[family] = float(spec["weight"])
                rules[family] = spec["patterns"]
        self.cues = CueSet(rules)
        self.suppress = CueSet(data["suppress"])
        # Signals are weak alone ("sorry to everyone", "tonight", "the pills in front of me") and
        # count only together, as a combination names them. They are excused like hyperbole.
        signals: dict[str, list[str]] = data.get("signals", {})
        self.signals = CueSet(signals)
        self.combinations: dict[str, tuple[str, ...]] = {}
        for name, spec in data.get("combinations", {}).items():
            missing = [s for s in spec["all_of"] if s not in signals]
            if missing:
                raise ValueError(f"crisis.yaml: combination {name!r} names unknown signals {missing}")
            self.combinations[name] = tuple(spec["all_of"])
            self.levels[name] = spec["level"]
            self.weights[name] = float(spec["weight"])
        for name in signals:
            self.levels[name] = "critical"
        # Signals of the body ("chest is squeezing", "mouth is crooked") are read literally: a
        # joke or an idiom in their sentence does not excuse them. The rest are excused like hyperbole.
        self.literal = _signal_list(data, "literal_signals", signals)
        self.hyperbole_prone = _HYPERBOLE_PRONE | (set(signals) - self.literal)
        # Signals of a state ("on warfarin", "my 3yo", "had our baby") hold whatever tense the
        # sentence is in: only a negation excuses them ("not on warfarin").
        self.state = _signal_list(data, "state_signals", signals)

    def cue_sets(self) -> dict[str, CueSet]:
        """The cue sets :meth:`assess` matches on a whole post, by the names it looks them up by."""
        return {"crisis": self.cues, "crisis_context": self.suppress, "crisis_signals": self.signals}

    def assess(
        self, text: str, *, norm: str | None = None, found: dict[str, list[Cue]] | None = None
    ) -> dict[str, Any]:
        """``{"level", "score", "reasons"}`` for one post.

        Reasons are dicts ``{"rule", "level", "start", "end"}`` (character offsets into the text)
        for cues that counted, and ``{"rule", "ignored": <why>, ...}`` for cues switched off.

        Args:
            text: The post's text.
            norm: ``normalise(text)``, when already made.
            found: The sets of :meth:`cue_sets` already matched on ``norm`` (a missing one is matched here).
        """
        norm = normalise(text) if norm is None else norm
        found = found or {}
        cues = self.cues.find_or_take(norm, found, "crisis")
        signals = self.signals.find_or_take(norm, found, "crisis_signals")
        # One pass over the whole post for cues and for context; sentences then group them.
        context_all = self.suppress.find_or_take(norm, found, "crisis_context")
        # Said in so many words that the danger has passed ("she's safe now", "got home from A&E"):
        # then no cue pages anyone, critical ones included, and a reason says so (the segment model,
        # which can raise a level, reads it too).
        passed_at = next((c for c in context_all if c.rule == "passed"), None)
        passed = passed_at is not None
        reasons: list[dict[str, Any]] = []
        if passed_at is not None:
            reasons.append({"rule": DANGER_PASSED, "level": "none", "start": passed_at.start, "end": passed_at.end})
        if not cues and not signals:
            return {"level": "none", "score": 0.0, "reasons": reasons}
        resolved = any(c.rule == "resolved" for c in context_all)
        teaching = _CLINICIAN_HEADER.match(norm) is not None
        best = "none"
        fired: dict[str, float] = {}
        standing: dict[str, Cue] = {}  # signals not excused where they stand: the first of each
        for start, end in _sentences(norm):
            here = [c for c in cues if start <= c.start < end]
            here_signals = [c for c in signals if start <= c.start < end]
            if not here and not here_signals:
                continue
            sentence = norm[start:end]
            context = [Cue(c.rule, c.start - start, c.end - start) for c in context_all if start <= c.start < end]
            for cue in here_signals:
                at = cue.start - start
                if teaching and cue.rule in self.literal:
                    excused = True
                elif cue.rule in self.state:
                    excused = bool(_NEGATORS.search(sentence[max(0, at - _NEGATION_REACH) : at]))
                else:
                    excused = self._excuse(sentence, cue.rule, at, cue.end - start, context) is not None
                if cue.rule not in standing and not passed and not excused:
                    standing[cue.rule] = cue
            for cue in here:
                level = self.levels[cue.rule]
                why = self._excuse(sentence, cue.rule, cue.start - start, cue.end - start, context)
                if why is None and teaching and cue.rule == "medical_emergency":
                    why = "news"
                if why is None and resolved and level != "critical":
                    why = "resolved"
                if why is None and passed:
                    why = "passed"
                reason = {"rule": cue.rule, "level": level, "start": cue.start, "end": cue.end}
                if why:
                    reason["ignored"] = why
                else:
                    fired[cue.rule] = max(fired.get(cue.rule, 0.0), self.weights[cue.rule])
                    if _RANK[level] > _RANK[best]:
                        best = level
                reasons.append(reason)
        for name, needs in self.combinations.items():
            if all(signal in standing for signal in needs):
                parts = sorted((standing[signal] for signal in needs), key=lambda cue: cue.start)
                # The reason points at the first signal that says what is happening, not at who
                # ("@steve_b", "my 3yo") or what they take ("clozapine").
                lead = next((c for c in parts if c.rule not in self.state), parts[0])
                reasons.append(
                    {
                        "rule": name,
                        "level": self.levels[name],
                        "start": lead.start,
                        "end": lead.end,
                        "signals": [{"rule": c.rule, "start": c.start, "end": c.end} for c in parts],
                    }
                )
                fired[name] = max(fired.get(name, 0.0), self.weights[name])
                if _RANK[self.levels[name]] > _RANK[best]:
                    best = self.levels[name]
        if fired:
            top = max(fired.values())
            score = min(1.0, top + 0.03 * (len(fired) - 1))
        else:
            score = min(0.2, 0.05 * len(reasons))
        return {"level": best, "score": round(score, 3), "reasons": reasons}

    def _excuse(self, sentence: str, rule: str, start: int, end: int, context: list[Any]) -> str | None:
        """Why a cue does not count here, or ``None`` when it does."""
        kinds = {c.rule for c in context}
        if "quote" in kinds:
            for c in context:
                if c.rule != "quote":
                    continue
                quoted = sentence[c.start] in "\"'"
                if quoted and " " not in sentence[c.start + 1 : c.end - 1].strip():
                    continue  # one word in quotation marks is a scare quote ("wants to 'unalive' herself")
                # Inside quotation marks, or after a reporting phrase ("my nurse asked if ...").
                if (quoted and c.start <= start and end <= c.end) or (not quoted and c.end <= start):
                    # Someone close repeating what they said ("she said 'i won't be a problem for
                    # you much longer'") reports their danger; it is not a quote to set aside.
                    if quoted and self.levels[rule] == "critical" and _THEY_SAID.search(sentence[: c.start]):
                        continue
                    return "quote"
        if _NEGATORS.search(sentence[max(0, start - _NEGATION_REACH) : start]):
            return "negation"
        if any(c.rule == "negation" and c.start <= start < c.end + 12 for c in context):
            return "negation"
        if (
            "past" in kinds
            and any(c.rule == "past" and not _SINCE.search(sentence[max(0, c.start - 40) : c.start]) for c in context)
            and not self._happening_now(sentence, start, end, context)
        ):
            return "past"
        for kind in ("news", "gratitude"):
            if kind in kinds:
                return kind
        if rule not in self.literal and any(
            c.rule == "laughter" and 0 <= c.start - end <= _LAUGHTER_REACH for c in context
        ):
            return "idiom"
        if "?" in sentence and _CONDITIONAL.search(sentence[:start]):
            return "question"
        # A question excuses a cue only when it is general ("what are the signs of DKA?"), not
        # when someone describes what is happening to them ("is it normal my throat is closing?").
        if "question" in kinds and not (self.levels[rule] == "critical" and _PRESENT.search(sentence)):
            return "question"
        if rule in self.hyperbole_prone and "idiom" in kinds:
            return "idiom"
        if any(c.rule == "idiom" and c.start <= start and end <= c.end for c in context):
            return "idiom"
        return None

    @staticmethod
    def _happening_now(sentence: str, start: int, end: int, context: list[Any]) -> bool:
        """Whether the cue's own clause says it is happening now while the past is told elsewhere.

        "he had a heart attack 2 yrs ago" does not make "my husband is clutching his chest" past,
        nor does "a stent 2 weeks ago" make "he's been throwing up blood tonight" past.
        """
        a = max((m.end() for m in _CLAUSE_BREAK.finditer(sentence, 0, start)), default=0)
        found = _CLAUSE_BREAK.search(sentence, end)
        b = found.start() if found else len(sentence)
        if any(c.rule == "past" and a <= c.start < b for c in context):
            return False
        return bool(_NOW.search(sentence, a, b))


def _signal_list(data: dict[str, Any], key: str, signals: dict[str, list[str]]) -> set[str]:
    """A list of signal names from crisis.yaml; a name that is not a signal stops start-up."""
    names = set(data.get(key, ()))
    unknown = sorted(names - set(signals))
    if unknown:
        raise ValueError(f"crisis.yaml: {key} names unknown signals {unknown}")
    return names


def _sentences(text: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


_DEFAULT: CrisisDetector | None = None


def assess_crisis(text: str) -> dict[str, Any]:
    """Crisis assessment with the bundled cue file (see :class:`CrisisDetector`)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = CrisisDetector()
    return _DEFAULT.assess(text)


class CrisisComponent:
    """spaCy wrapper: sets ``doc._.crisis``."""

    def __init__(self, nlp: Language, name: str = "vigil_crisis") -> None:
        register_extensions()
        self.name = name
        self.detector = CrisisDetector()

    def cue_sets(self) -> dict[str, CueSet]:
        """For ``vigil_cues``: the sets to scan for this component."""
        return self.detector.cue_sets()

    def __call__(self, doc: Doc) -> Doc:
        doc._.crisis = self.detector.assess(doc_text(doc), norm=doc_norm(doc), found=doc_cues(doc))
        return doc


@Language.factory("vigil_crisis", assigns=["doc._.crisis"], default_config={})
def make_crisis(nlp: Language, name: str) -> CrisisComponent:
    """Factory for :class:`CrisisComponent`."""
    return CrisisComponent(nlp, name)
