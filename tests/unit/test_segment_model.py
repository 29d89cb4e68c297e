"""The segment model's storage: arrays saved and loaded without loss, cached by training version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from processors import segment_model
from processors.segment_model import SegmentModel, load_segment_model, train

POSTS = [
    "my son was just diagnosed with type 1, any tips for the first weeks?",
    "ten years on humira and still going strong, happy to answer questions",
    "don't trust the trial data, pharma buried the side effects",
    "you've got this, sending love to everyone starting insulin",
    "call your senator today: cap insulin prices now",
    "newly diagnosed with crohn's and scared, what should I ask my doctor?",
    "my mom's lantus ran out and the pharmacy says two weeks",
    "been on lithium for 15 years, it has its ups and downs",
]


def _row(text: str, i: int) -> dict[str, Any]:
    audience = ["caregiver", "patient", "unknown", "unknown", "advocate", "patient", "caregiver", "patient"]
    behaviour = ["seeker", "sharer", "skeptic", "supporter", "unknown", "seeker", "sharer", "sharer"]
    stage = ["newly_diagnosed", "long_term", "unknown", "unknown", "unknown", "newly_diagnosed", "crisis", "long_term"]
    crisis = ["none", "none", "none", "none", "none", "watch", "high", "none"]
    return {
        "text": text,
        "labels": {"audience": audience[i], "behaviour": behaviour[i], "stage": stage[i], "crisis": crisis[i]},
    }


@pytest.fixture(scope="module")
def small_model() -> SegmentModel:
    return train([_row(text, i) for i, text in enumerate(POSTS)], "test")


def _predictions(model: SegmentModel, texts: list[str]) -> list[dict[str, Any]]:
    return model.predict_batch([(text, ["rulelevel:none"]) for text in texts])


def test_a_saved_model_loads_with_the_same_predictions_and_reasons(small_model: SegmentModel, tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    small_model.save(path)
    loaded = SegmentModel.load(path)
    assert loaded.version == "test"
    assert loaded.names() == small_model.names()
    texts = [*POSTS, "my daughter has crohn's, is humira safe?", "words the model never saw: zyx qwv"]
    assert _predictions(loaded, texts) == _predictions(small_model, texts)


def test_the_model_learns_its_training_posts(small_model: SegmentModel) -> None:
    predicted = _predictions(small_model, POSTS)
    assert [p["audience"][0] for p in predicted] == [_row(t, i)["labels"]["audience"] for i, t in enumerate(POSTS)]
    assert predicted[2]["behaviour"][0] == "skeptic"
    # The stage model is never taught "crisis": the crisis level says that.
    assert "crisis" not in small_model.dims[2][1]


def test_words_the_model_never_saw_leave_only_its_bias(small_model: SegmentModel) -> None:
    (unknown,) = small_model.predict_batch([("zyx qwv plorf", [])])
    (empty,) = small_model.predict_batch([("", [])])
    for dim in ("audience", "behaviour", "stage", "crisis"):
        value, reasons, probs = unknown[dim]
        assert reasons == []
        assert value == empty[dim][0]
        assert probs == pytest.approx(empty[dim][2])


def test_reasons_name_features_of_the_post_and_point_at_their_words(small_model: SegmentModel) -> None:
    text = "cap insulin prices now, call your senator"
    (predicted,) = small_model.predict_batch([(text, [])])
    value, reasons, _ = predicted["audience"]
    assert value == "advocate"
    assert reasons
    for reason in reasons:
        assert reason["feature"] in small_model.names()
        assert reason["weight"] > 0
        if reason["feature"][:2] in ("w:", "b:"):  # a word or word pair: where it stands
            assert text[reason["start"] : reason["end"]].replace(" ", "_") == reason["feature"][2:]
        elif "start" in reason:  # a cue: where it matched
            assert 0 <= reason["start"] < reason["end"] <= len(text)


def test_a_bad_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        SegmentModel(["w:a", "w:b"], np.zeros((3, 2)), [("audience", ["patient", "caregiver"], [0.0, 0.0])], "x")


def test_a_corrupt_cache_file_is_replaced_by_a_trained_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rows = [_row(text, i) for i, text in enumerate(POSTS)]
    monkeypatch.setattr(segment_model, "_training_rows", lambda: rows)
    monkeypatch.setattr(segment_model, "_fingerprint", lambda: "abc")
    path = tmp_path / "segment_model-abc.npz"
    path.write_bytes(b"not a model")
    model = load_segment_model(tmp_path)
    assert model.version == "abc"
    assert SegmentModel.load(path).names() == model.names()
