"""A small statistical model for audience, behaviour, stage and crisis, on top of the cue rules.

Rules alone (``processors/data/segments.yaml``) were measured against a held-out set and lost to
this model by 10-45 points of accuracy per dimension (see ``bench/eval_listening.py``), so the
three segment tags come from a multinomial logistic regression whose features are the rule cues
themselves plus word unigrams and bigrams. It is trained with numpy on Vigil's own labelled posts
(``processors/data/training/listening.jsonl``, written for the project) the first time it is
needed, and cached like the lexicon; nothing is downloaded. Every prediction carries its reasons:
the features that pushed hardest towards the chosen value.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from processors.cues import CueSet, load_yaml, normalise

__all__ = ["DIMENSIONS", "SegmentModel", "crisis_features", "load_segment_model"]

DIMENSIONS = ("audience", "behaviour", "stage", "crisis")
_TOKEN = re.compile(r"[a-z0-9']+|[?!]")
_TRAINING = importlib.resources.files("processors") / "data" / "training" / "listening.jsonl"
_L2 = 0.1
_ITERATIONS = 400
_STEP = 5.0


class Featurizer:
    """Text -> sparse features: segment cue hits, words, word pairs (log-scaled counts)."""

    def __init__(self) -> None:
        data = load_yaml("segments.yaml")
        self.cues = CueSet(
            {f"{dim}:{v}": spec["patterns"] for dim, values in data.items() for v, spec in values.items()}
        )

    def __call__(self, text: str, extra: Iterable[str] = ()) -> tuple[dict[str, float], dict[str, tuple[int, int]]]:
        """Features and, for cue features, where the first match is (for reasons)."""
        norm = normalise(text)
        counts: Counter[str] = Counter()
        where: dict[str, tuple[int, int]] = {}
        tokens = _TOKEN.findall(norm)
        counts.update("w:" + t for t in tokens)
        counts.update(f"b:{a}_{b}" for a, b in itertools.pairwise(tokens))
        for cue in self.cues.find(norm):
            name = f"cue:{cue.rule}"
            counts[name] += 1
            where.setdefault(name, (cue.start, cue.end))
        counts.update(extra)
        feats = {name: 1.0 + math.log(n) for name, n in counts.items()}
        norm2 = math.sqrt(sum(v * v for v in feats.values())) or 1.0
        return {k: v / norm2 for k, v in feats.items()}, where


class SegmentModel:
    """One logistic regression per dimension over shared features."""

    def __init__(self, weights: dict[str, dict[str, Any]], version: str) -> None:
        self.version = version
        self.featurizer = Featurizer()
        names = sorted({name for spec in weights.values() for name in spec["weights"]})
        self.index = {name: i for i, name in enumerate(names)}
        # All dimensions side by side in one matrix, so a post costs a handful of numpy calls.
        self.dims: list[tuple[str, list[str], int, int]] = []
        blocks, centered, biases = [], [], []
        col = 0
        for dim, spec in weights.items():
            classes = spec["classes"]
            block = np.zeros((len(names), len(classes)), dtype=np.float64)
            for name, row in spec["weights"].items():
                block[self.index[name]] = row
            blocks.append(block)
            centered.append(block - block.mean(axis=1, keepdims=True))
            biases.append(np.asarray(spec["bias"], dtype=np.float64))
            self.dims.append((dim, classes, col, col + len(classes)))
            col += len(classes)
        self.matrix = np.hstack(blocks)
        self.centered = np.hstack(centered)
        self.bias = np.concatenate(biases)

    def predict(
        self, text: str, extra: Iterable[str] = ()
    ) -> dict[str, tuple[str, list[dict[str, Any]], dict[str, float]]]:
        """``{dimension: (value, reasons, probabilities)}``; reasons name the strongest features."""
        feats, where = self.featurizer(text, extra)
        index = self.index
        names = [name for name in feats if name in index]
        rows = np.fromiter((index[n] for n in names), dtype=np.int64, count=len(names))
        values = np.fromiter((feats[n] for n in names), dtype=np.float64, count=len(names))
        scores = (self.bias + values @ self.matrix[rows]).tolist()
        best_cols = []
        out: dict[str, tuple[str, list[dict[str, Any]], dict[str, float]]] = {}
        for dim, classes, lo, hi in self.dims:
            part = scores[lo:hi]
            top = max(part)
            exp = [math.exp(v - top) for v in part]
            total = sum(exp)
            best = part.index(top)
            best_cols.append(lo + best)
            out[dim] = (classes[best], [], {c: e / total for c, e in zip(classes, exp, strict=True)})
        if names:
            pushes = values[:, None] * self.centered[rows][:, best_cols]
            order = np.argsort(-pushes, axis=0)[:3].T.tolist()
            for (dim, _, _, _), ranked, column in zip(self.dims, order, pushes.T, strict=True):
                reasons = out[dim][1]
                for i in ranked:
                    if column[i] <= 0:
                        break
                    name = names[i]
                    reason: dict[str, Any] = {"feature": name, "weight": round(float(column[i]), 3)}
                    if name in where:
                        reason["start"], reason["end"] = where[name]
                    reasons.append(reason)
        return out


def _training_rows() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in _TRAINING.read_bytes().splitlines() if line.strip()]


def _fingerprint() -> str:
    digest = hashlib.sha256(_TRAINING.read_bytes())
    digest.update(Path(__file__).read_bytes())
    for name in ("segments.yaml", "crisis.yaml"):
        digest.update((importlib.resources.files("processors") / "data" / name).read_bytes())
    digest.update((Path(__file__).parent / "components" / "crisis.py").read_bytes())
    return digest.hexdigest()[:12]


def train(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Fit one model per dimension (full-batch gradient descent on the softmax loss, L2)."""
    featurizer = Featurizer()
    feats = [featurizer(r["text"], _extra(r))[0] for r in rows]
    vocab: dict[str, int] = {}
    for f in feats:
        for name in f:
            vocab.setdefault(name, len(vocab))
    matrix = np.zeros((len(rows), len(vocab)), dtype=np.float32)
    for i, f in enumerate(feats):
        for name, value in f.items():
            matrix[i, vocab[name]] = value
    names = list(vocab)
    result: dict[str, dict[str, Any]] = {}
    for dim in DIMENSIONS:
        labels = [r["labels"][dim] for r in rows]
        classes = sorted(set(labels))
        target = np.zeros((len(rows), len(classes)), dtype=np.float32)
        for i, label in enumerate(labels):
            target[i, classes.index(label)] = 1.0
        weights = np.zeros((len(vocab), len(classes)), dtype=np.float32)
        bias = np.zeros(len(classes), dtype=np.float32)
        for _ in range(_ITERATIONS):
            logits = matrix @ weights + bias
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            error = (probs - target) / len(rows)
            weights -= _STEP * (matrix.T @ error + _L2 * weights / len(rows))
            bias -= _STEP * error.sum(axis=0)
        keep = np.abs(weights).max(axis=1) > 1e-4
        result[dim] = {
            "classes": classes,
            "bias": [round(float(b), 5) for b in bias],
            "weights": {names[i]: [round(float(w), 5) for w in weights[i]] for i in np.flatnonzero(keep)},
        }
    return result


def crisis_features(assessment: dict[str, Any]) -> list[str]:
    """Features from the crisis rules' verdict: each cue (and why it was ignored) and the level."""
    feats = [f"crisisrule:{r['rule']}" + (f"/{r['ignored']}" if "ignored" in r else "") for r in assessment["reasons"]]
    feats.append(f"rulelevel:{assessment['level']}")
    return feats


def _extra(row: dict[str, Any]) -> list[str]:
    """Non-text features for a training row: what the crisis rules say about its text."""
    from processors.components.crisis import assess_crisis

    return crisis_features(assess_crisis(row["text"]))


def load_segment_model(cache_dir: Path | None = None) -> SegmentModel:
    """The trained model, from ``cache_dir`` when a current one is there, else trained now (~10 s)."""
    version = _fingerprint()
    path = cache_dir / f"segment_model-{version}.json" if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            return SegmentModel(orjson.loads(path.read_bytes()), version)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
    weights = train(_training_rows())
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(weights))
        tmp.replace(path)
    return SegmentModel(weights, version)
