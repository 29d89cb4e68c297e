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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from processors.cues import Cue, CueSet, load_yaml, normalise

__all__ = ["DIMENSIONS", "SegmentModel", "crisis_features", "load_segment_model"]

DIMENSIONS = ("audience", "behaviour", "stage", "crisis")
_TOKEN = re.compile(r"[a-z0-9']+|[?!]")
_TRAINING = importlib.resources.files("processors") / "data" / "training" / "listening.jsonl"
# Chosen on held-out sets 1-8 (bench/eval_listening.py's holdouts, never trained on): with
# Nesterov's acceleration 400 steps reach the minimum (800 give the same figures), and a lighter L2
# than 0.1 is as good or better (audience 0.883, behaviour 0.856, skeptic F1 0.80, stage 0.733 at
# 0.03); 1.0 and above starve the weights (stage 0.64). Plain descent stopped at 400 steps scored
# audience 0.847, behaviour 0.809, skeptic F1 0.72, stage 0.715.
_L2 = 0.03
_ITERATIONS = 400
_STEP = 12.5
_BALANCE = {"audience": 1.0, "behaviour": 0.0, "stage": 0.0, "crisis": 0.0}
_NOT_LEARNED = {"stage": frozenset({"crisis"})}  # values a dimension's model is not trained to predict
_LOG_COUNT = [0.0] + [1.0 + math.log(n) for n in range(1, 64)]  # log-scaled counts, looked up


class Featurizer:
    """Text -> sparse features: segment cue hits, words, word pairs (log-scaled counts)."""

    def __init__(self) -> None:
        data = load_yaml("segments.yaml")
        self.cues = CueSet(
            {f"{dim}:{v}": spec["patterns"] for dim, values in data.items() for v, spec in values.items()}
        )

    def __call__(self, text: str, extra: Iterable[str] = ()) -> tuple[dict[str, float], dict[str, tuple[int, int]]]:
        """Features and, for cue features, where the first match is (for reasons)."""
        return self.normalised(normalise(text), extra)

    def normalised(self, norm: str, extra: Iterable[str] = ()) -> tuple[dict[str, float], dict[str, tuple[int, int]]]:
        """:meth:`__call__` on text already passed through :func:`~processors.cues.normalise`."""
        words, pairs, others, where = self.counts(norm, extra)
        counts = {"w:" + word: n for word, n in words.items()}
        counts.update({f"b:{a}_{b}": n for (a, b), n in pairs.items()})
        counts.update(others)
        log = _LOG_COUNT
        feats = {name: log[n] if n < len(log) else 1.0 + math.log(n) for name, n in counts.items()}
        scale = 1.0 / (math.sqrt(sum(v * v for v in feats.values())) or 1.0)
        return {k: v * scale for k, v in feats.items()}, where

    def counts(
        self, norm: str, extra: Iterable[str] = (), cues: list[Cue] | None = None
    ) -> tuple[Counter[str], Counter[tuple[str, str]], Counter[str], dict[str, tuple[int, int]]]:
        """Raw counts of a post's words, word pairs and other features (cue hits, ``extra``).

        Also where each cue feature first matched. ``cues``: the post's matches of :attr:`cues`,
        when already made.
        """
        tokens = _TOKEN.findall(norm)
        others: Counter[str] = Counter()
        where: dict[str, tuple[int, int]] = {}
        for cue in self.cues.find(norm) if cues is None else cues:
            name = "cue:" + cue.rule
            others[name] += 1
            where.setdefault(name, (cue.start, cue.end))
        others.update(extra)
        return Counter(tokens), Counter(itertools.pairwise(tokens)), others, where


class SegmentModel:
    """One logistic regression per dimension over shared features.

    Held as arrays only: ~100k features cost ~10 MB, where name -> weights dicts cost ~130 MB of
    Python objects (measured in a worker's peak RSS, whose goal is 500 MB).

    Args:
        names: Feature names, one per row of ``matrix``.
        matrix: Weights, one row per feature; the dimensions' classes side by side.
        dims: ``(dimension, classes, bias)`` in the column order of ``matrix``.
        version: The training fingerprint.
    """

    def __init__(
        self,
        names: Sequence[str],
        matrix: np.ndarray,
        dims: Sequence[tuple[str, list[str], Sequence[float]]],
        version: str,
    ) -> None:
        self.version = version
        self.featurizer = Featurizer()
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        if self.matrix.shape != (len(names), sum(len(classes) for _, classes, _ in dims)):
            raise ValueError(f"segment model: weights of shape {self.matrix.shape} for {len(names)} features")
        self.dims: list[tuple[str, list[str], int, int]] = []
        col = 0
        for dim, classes, _ in dims:
            self.dims.append((dim, list(classes), col, col + len(classes)))
            col += len(classes)
        self.bias = np.concatenate([np.asarray(bias, dtype=np.float64) for _, _, bias in dims])
        # A feature is found by the hash of what a post's featurizer counts (a word, a word pair,
        # a cue name), so a post's words need no feature-name strings and the model keeps no dict
        # of them: a sorted array of hashes, searched for a whole batch at once.
        keys = np.fromiter(map(_feature_key, names), dtype=np.int64, count=len(names))
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._rows = order
        if len(self._keys) and (np.diff(self._keys) == 0).any():
            raise ValueError("segment model: two feature names share a hash")
        # Names are needed only for the few features a prediction gives as reasons.
        encoded = [name.encode() for name in names]
        self._name_bytes = b"".join(encoded)
        self._name_ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)

    @property
    def n_features(self) -> int:
        """How many features the model weighs."""
        return len(self._name_ends)

    def name(self, row: int) -> str:
        """The name of the feature in row ``row`` of :attr:`matrix`."""
        start = int(self._name_ends[row - 1]) if row else 0
        return self._name_bytes[start : int(self._name_ends[row])].decode()

    def names(self) -> list[str]:
        """Every feature name, in row order."""
        return [self.name(row) for row in range(self.n_features)]

    def save(self, path: Path) -> None:
        """Write the model to ``path`` (``.npz``; no pickles), atomically."""
        meta = orjson.dumps({"version": self.version, "dims": [[d, c] for d, c, _, _ in self.dims]})
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as out:
            np.savez(
                out,
                matrix=self.matrix,
                bias=self.bias,
                name_bytes=np.frombuffer(self._name_bytes, dtype=np.uint8),
                name_ends=self._name_ends,
                meta=np.frombuffer(meta, dtype=np.uint8),
            )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> SegmentModel:
        """Read a model written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            meta = orjson.loads(data["meta"].tobytes())
            blob = data["name_bytes"].tobytes()
            ends = data["name_ends"]
            matrix, bias = data["matrix"], data["bias"]
        starts = np.concatenate(([0], ends[:-1])).tolist()
        names = [blob[a:b].decode() for a, b in zip(starts, ends.tolist(), strict=True)]
        dims, col = [], 0
        for dim, classes in meta["dims"]:
            dims.append((dim, classes, bias[col : col + len(classes)]))
            col += len(classes)
        return cls(names, matrix, dims, meta["version"])

    def _sparse(
        self, norm: str, extra: Iterable[str], keys: list[int], counts: list[int], cues: list[Cue] | None = None
    ) -> dict[str, tuple[int, int]]:
        """A post's features as hashed keys (see :func:`_feature_key`) and raw counts.

        Appended to ``keys`` and ``counts``; returns where each cue feature first matched. Scaling
        (:meth:`Featurizer.normalised`'s log counts and L2 norm, which counts the unknown features
        too) is left to numpy for the whole batch; no string is built per word or word pair.
        """
        words, pairs, others, where = self.featurizer.counts(norm, extra, cues)
        for counter in (words, pairs, others):
            keys += map(hash, counter)
            counts += counter.values()
        return where

    def _rows_of(self, keys: list[int]) -> np.ndarray:
        """Model rows of hashed feature keys; -1 for a feature the model does not know."""
        wanted = np.asarray(keys, dtype=np.int64)
        if not len(self._keys):
            return np.full(len(wanted), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._keys, wanted), len(self._keys) - 1)
        return np.where(self._keys[at] == wanted, self._rows[at], -1)

    def predict(
        self, text: str, extra: Iterable[str] = ()
    ) -> dict[str, tuple[str, list[dict[str, Any]], dict[str, float]]]:
        """``{dimension: (value, reasons, probabilities)}``; reasons name the strongest features."""
        return self.predict_batch([(text, extra)])[0]

    def predict_batch(
        self,
        items: Sequence[tuple[str, Iterable[str]]],
        *,
        norms: Sequence[str] | None = None,
        cues: Sequence[list[Cue] | None] | None = None,
    ) -> list[dict[str, tuple[str, list[dict[str, Any]], dict[str, float]]]]:
        """:meth:`predict` for many ``(text, extra features)`` at once.

        Featurising is per post; the scoring, the softmax and the ranking of reasons are a few
        numpy calls for the whole batch (a post's features are a run of rows in one array).

        Args:
            items: ``(text, extra features)`` per post.
            norms: Each text through :func:`~processors.cues.normalise`, when already made.
            cues: Each post's matches of ``featurizer.cues`` when already made (``None``: match here).
        """
        keys: list[int] = []
        raw: list[int] = []
        wheres: list[dict[str, tuple[int, int]]] = []
        if norms is None:
            norms = [normalise(text) for text, _ in items]  # featurised, and searched for reasons' words
        sizes = []
        for i, (norm, (_, extra)) in enumerate(zip(norms, items, strict=True)):
            wheres.append(self._sparse(norm, extra, keys, raw, None if cues is None else cues[i]))
            sizes.append(len(keys))
        n = len(items)
        every = self._rows_of(keys)
        logged = 1.0 + np.log(np.asarray(raw, dtype=np.float64))  # as _LOG_COUNT
        every_owner = np.repeat(np.arange(n), np.diff(np.asarray([0, *sizes])))
        norm2 = np.bincount(every_owner, weights=logged * logged, minlength=n)
        scale = 1.0 / np.where(norm2 > 0, np.sqrt(norm2), 1.0)
        known = every >= 0
        rows = every[known]
        owner = every_owner[known]
        values = logged[known] * scale[owner]
        counts = np.bincount(owner, minlength=n)
        bounds = np.concatenate(([0], np.cumsum(counts)))
        scores = np.tile(self.bias, (n, 1))
        if len(rows):
            filled = counts > 0
            scores[filled] += np.add.reduceat(values[:, None] * self.matrix[rows], bounds[:-1][filled], axis=0)
        out: list[dict[str, tuple[str, list[dict[str, Any]], dict[str, float]]]] = [{} for _ in range(n)]
        # A post's rows are one run, so after a sort by (post, -push) its 3 strongest features are
        # the first 3 of its run.
        rank = np.arange(len(rows)) - bounds[:-1][owner]
        for dim, classes, lo, hi in self.dims:
            part = scores[:, lo:hi]
            best = part.argmax(axis=1)
            exp = np.exp(part - part.max(axis=1, keepdims=True))
            probs = (exp / exp.sum(axis=1, keepdims=True)).tolist()
            reasons: list[list[dict[str, Any]]] = [[] for _ in range(n)]
            if len(rows):
                # How hard each feature pushed its post towards the chosen value.
                # (weights centred over the dimension's classes, as the softmax sees them)
                weights = self.matrix[rows, lo:hi]
                push = values * (weights[np.arange(len(rows)), best[owner]] - weights.mean(axis=1))
                # One stable float sort: post first (a step larger than any push), then -push.
                order = np.argsort(owner * (2.0 * np.abs(push).max() + 1.0) - push, kind="stable")
                chosen = order[(rank < 3) & (push[order] > 0)]
                for i, row, weight in zip(
                    owner[chosen].tolist(), rows[chosen].tolist(), push[chosen].tolist(), strict=True
                ):
                    name = self.name(row)
                    reason: dict[str, Any] = {"feature": name, "weight": round(weight, 3)}
                    where = wheres[i].get(name)
                    if where is None and name[:2] in ("w:", "b:"):
                        where = wheres[i][name] = _locate(norms[i], name)
                    if where is not None:
                        reason["start"], reason["end"] = where
                    reasons[i].append(reason)
            for i, value in enumerate(best.tolist()):
                out[i][dim] = (classes[value], reasons[i], dict(zip(classes, probs[i], strict=True)))
        return out


def _feature_key(name: str) -> int:
    """The hash a post's feature counts carry for feature ``name`` (see :meth:`Featurizer.counts`).

    A word ``w:x`` is counted as ``x``, a word pair ``b:x_y`` as ``(x, y)``, anything else under its
    own name. Hashes are of this process (Python salts ``str`` hashes per run), so they are made
    when the model is loaded and never stored.
    """
    if name.startswith("w:"):
        return hash(name[2:])
    if name.startswith("b:"):
        first, second = name[2:].split("_", 1)
        return hash((first, second))
    return hash(name)


_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'")


def _locate(text: str, name: str) -> tuple[int, int] | None:
    """Where a word (``w:``) or word pair (``b:``) feature first stands in normalised ``text``.

    ``str.find`` with the tokenizer's boundaries checked by hand: no regex is made from post
    text (a post's words are unbounded in number and length, and a cache of them grew without end).
    """
    first, _, second = name[2:].partition("_") if name[0] == "b" else (name[2:], "", "")
    pos = _find_token(text, first, 0)
    while pos is not None:
        end = pos + len(first)
        if not second:
            return pos, end
        after = end
        while after < len(text) and text[after] not in _TOKEN_CHARS and text[after] not in "?!":
            after += 1
        if _find_token(text, second, after, anchored=True) is not None:
            return pos, after + len(second)
        pos = _find_token(text, first, pos + 1)
    return None


def _find_token(text: str, token: str, start: int, *, anchored: bool = False) -> int | None:
    """The first position from ``start`` where ``token`` stands as a whole token (``_TOKEN``'s)."""
    word = token[0] in _TOKEN_CHARS  # "?" and "!" are tokens on their own wherever they stand
    while True:
        pos = start if anchored and text.startswith(token, start) else (-1 if anchored else text.find(token, start))
        if pos < 0:
            return None
        end = pos + len(token)
        if not word or (
            (pos == 0 or text[pos - 1] not in _TOKEN_CHARS) and (end == len(text) or text[end] not in _TOKEN_CHARS)
        ):
            return pos
        if anchored:
            return None
        start = pos + 1


def _training_rows() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in _TRAINING.read_bytes().splitlines() if line.strip()]


def _fingerprint() -> str:
    digest = hashlib.sha256(_TRAINING.read_bytes())
    digest.update(Path(__file__).read_bytes())
    for name in ("segments.yaml", "crisis.yaml"):
        digest.update((importlib.resources.files("processors") / "data" / name).read_bytes())
    digest.update((Path(__file__).parent / "components" / "crisis.py").read_bytes())
    return digest.hexdigest()[:12]


def train(rows: list[dict[str, Any]], version: str = "") -> SegmentModel:
    """Fit one model per dimension (full-batch Nesterov-accelerated descent on the softmax loss, L2)."""
    featurizer = Featurizer()
    feats = [featurizer(r["text"], _extra(r))[0] for r in rows]
    vocab: dict[str, int] = {}
    for f in feats:
        for name in f:
            vocab.setdefault(name, len(vocab))
    names = list(vocab)
    # The post x feature matrix is ~0.1% filled: kept as (row, column, value) triples, and the two
    # products the descent needs are bincounts over them (a dense matrix made training minutes long).
    owner = np.repeat(np.arange(len(rows)), [len(f) for f in feats])
    column = np.asarray([vocab[name] for f in feats for name in f], dtype=np.int64)
    value = np.asarray([v for f in feats for v in f.values()], dtype=np.float64)

    def times(weights: np.ndarray) -> np.ndarray:  # matrix @ weights
        pushed = value[:, None] * weights[column]
        return np.stack([np.bincount(owner, pushed[:, k], len(rows)) for k in range(weights.shape[1])], axis=1)

    def transposed_times(error: np.ndarray) -> np.ndarray:  # matrix.T @ error
        pushed = value[:, None] * error[owner]
        return np.stack([np.bincount(column, pushed[:, k], len(vocab)) for k in range(error.shape[1])], axis=1)

    blocks: list[np.ndarray] = []
    dims: list[tuple[str, list[str], list[float]]] = []
    for dim in DIMENSIONS:
        labels = [r["labels"][dim] for r in rows]
        # Stage "crisis" follows from the crisis level (the component sets it), so the stage model
        # learns only the journey: posts labelled crisis teach it nothing (weight 0). Trained with
        # them, it called many calm posts "crisis", which then had to become "unknown".
        # A label of None (a training set not learned from for this dimension) also weighs 0.
        skipped = _NOT_LEARNED.get(dim, frozenset()) | {None}
        classes = sorted(set(labels) - skipped)
        target = np.zeros((len(rows), len(classes)), dtype=np.float64)
        for i, label in enumerate(labels):
            if label not in skipped:
                target[i, classes.index(label)] = 1.0
        weights = np.zeros((len(vocab), len(classes)), dtype=np.float64)
        bias = np.zeros(len(classes), dtype=np.float64)
        # Each class weighs in the loss as its share of the data raised to _BALANCE[dim] (0: every
        # class weighs the same, 1: the plain loss). Equal weights won in cross-validation (a model
        # trained without one tuning set, measured on it) for behaviour, stage and crisis, whose
        # rare values (skeptic, newly diagnosed, critical) are the ones a community manager looks
        # for; audience lost with them (patients are most posts), so it keeps the plain loss.
        counts = target.sum(axis=0)
        per_class = (counts / counts.sum()) ** _BALANCE[dim] / np.maximum(counts / counts.sum(), 1e-9)
        row_weight = (target @ per_class)[:, None]
        row_weight /= row_weight[row_weight > 0].mean()
        # Averaged over the posts that teach this dimension: posts that teach it nothing (a
        # stage "crisis", a None) must not shrink its steps, or adding them under-trains it.
        taught = int((row_weight > 0).sum())
        # Nesterov's accelerated gradient: each step is taken from a point pushed on along the
        # last one. The loss is convex and smooth; plain descent was far from its minimum after
        # 400 steps, and its figures swung with the training mix (see _L2).
        before_w, before_b = weights.copy(), bias.copy()
        for k in range(_ITERATIONS):
            push = k / (k + 3)
            ahead_w = weights + push * (weights - before_w)
            ahead_b = bias + push * (bias - before_b)
            logits = times(ahead_w) + ahead_b
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            error = row_weight * (probs - target) / taught
            before_w, before_b = weights, bias
            weights = ahead_w - _STEP * (transposed_times(error) + _L2 * ahead_w / taught)
            bias = ahead_b - _STEP * error.sum(axis=0)
        weights[np.abs(weights).max(axis=1) <= 1e-4] = 0.0  # features this dimension barely uses
        blocks.append(weights)
        dims.append((dim, classes, bias.tolist()))
    matrix = np.hstack(blocks)
    keep = np.flatnonzero(np.abs(matrix).max(axis=1) > 0)
    return SegmentModel([names[i] for i in keep], matrix[keep], dims, version)


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
    """The trained model, from ``cache_dir`` when a current one is there, else trained now (~1.5 min)."""
    version = _fingerprint()
    path = cache_dir / f"segment_model-{version}.npz" if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            return SegmentModel.load(path)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
    model = train(_training_rows(), version)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
    return model
