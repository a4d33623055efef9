"""The default recipe's speech estimators and their runtime head (no real data needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emoens.models.light import LightModelError, load_whisper_head
from emoens.recipe.speech import (SpeechEmotionClassifier, SpeechEnsemble, ValenceArousalRegressor,
                                  balanced_weights, make_speech)
from emoens.recipe.speech_features import PROSODY_NAMES, STATE_BLOCKS, STATE_DIM

WIDTH = len(STATE_BLOCKS) * STATE_DIM + len(PROSODY_NAMES)
MLP = {"blocks": ("mean",), "prosody": True, "head": "mlp", "hidden": 8, "alpha": 1.0, "max_iter": 30}
LINEAR = {"blocks": ("mean", "norm_mean"), "prosody": True, "C": 0.01}


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(7), 30)
    X = rng.normal(size=(len(y), WIDTH))
    X[:, :7] += 3 * np.eye(7)[y]  # the first "mean" columns tell the class
    corpus = np.where(np.arange(len(y)) % 2, "a", "b")
    return X, y, corpus


def test_vote_is_the_weighted_mean_of_its_members(rows):
    X, y, corpus = rows
    w = balanced_weights(y, corpus)
    vote = SpeechEnsemble(members=({**MLP, "random_state": 0}, LINEAR), weights=(1, 3)).fit(X, y, w)
    single = [SpeechEmotionClassifier(**p).fit(X, y, w) for p in ({**MLP, "random_state": 0}, LINEAR)]
    expected = 0.25 * single[0].predict_proba(X) + 0.75 * single[1].predict_proba(X)
    assert np.allclose(vote.predict_proba(X), expected)
    assert np.allclose(vote.predict_proba(X).sum(axis=1), 1.0)
    assert (vote.predict(X) == y).mean() > 0.9  # it learns the planted signal


def test_make_speech_picks_the_estimator():
    assert isinstance(make_speech({"members": (LINEAR,)}), SpeechEnsemble)
    assert isinstance(make_speech(LINEAR), SpeechEmotionClassifier)


@pytest.mark.parametrize("weights", [(1.0,), (1.0, -1.0), (0.0, 0.0)])
def test_vote_rejects_bad_weights(rows, weights):
    X, y, _ = rows
    with pytest.raises(ValueError, match="weights"):
        SpeechEnsemble(members=(LINEAR, MLP), weights=weights).fit(X, y)


def test_runtime_head_gives_the_estimators_numbers(rows, tmp_path):
    X, y, corpus = rows
    w = balanced_weights(y, corpus)
    vote = SpeechEnsemble(members=({**MLP, "random_state": 1}, LINEAR), weights=(1, 1)).fit(X, y, w)
    targets = np.stack([1 + y / 2, 5 - y / 2], axis=1)
    va = ValenceArousalRegressor(blocks=("mean", "std"), prosody=True, alpha=10.0).fit(X, targets)
    vote.to_head(valence_arousal=va.export()).save(tmp_path / "speech")
    head = load_whisper_head(tmp_path / "speech")
    assert np.allclose(head.predict_proba_from_features(X), vote.predict_proba(X), atol=1e-9)
    assert np.allclose(head.valence_arousal_from_features(X), va.predict(X), atol=1e-9)
    config = json.loads((tmp_path / "speech" / "config.json").read_text())
    assert [p["classifier"] for p in config["parts"]] == ["mlp", "linear"]
    assert config["valence_arousal"] == {"blocks": ["mean", "std"], "prosody": True}
    # the same fit saved twice gives the same bytes
    vote.to_head(valence_arousal=va.export()).save(tmp_path / "again")
    for name in ("config.json", "weights.npz"):
        assert (tmp_path / "speech" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_one_head_layout_still_loads(rows, tmp_path):
    """A folder written before heads could vote: blocks and classifier at the top of the config."""
    X, y, _ = rows
    est = SpeechEmotionClassifier(**LINEAR).fit(X, y)
    folder = tmp_path / "old"
    folder.mkdir()
    coef, intercept = est.model_.coef_, est.model_.intercept_
    np.savez(folder / "weights.npz", mean=est.scaler_.mean_, scale=est.scaler_.scale_, coef=coef,
             intercept=intercept)
    (folder / "config.json").write_text(json.dumps(
        {"kind": "whisper-head", "format_version": 1, "feature_set": "stats-prosody-v1",
         "classes": ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"],
         "classifier": "linear", "blocks": ["mean", "norm_mean"], "prosody": True,
         "valence_arousal": False}))
    head = load_whisper_head(folder)
    assert np.allclose(head.predict_proba_from_features(X), est.predict_proba(X), atol=1e-9)


def test_unknown_block_is_named(rows, tmp_path):
    X, y, _ = rows
    SpeechEmotionClassifier(**LINEAR).fit(X, y).to_head().save(tmp_path / "h")
    config = json.loads((tmp_path / "h" / "config.json").read_text())
    config["parts"][0]["blocks"] = ["median"]
    (tmp_path / "h" / "config.json").write_text(json.dumps(config))
    with pytest.raises(LightModelError, match="median"):
        load_whisper_head(tmp_path / "h")
