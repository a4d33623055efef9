"""Light members: numpy transforms equal scikit-learn's, save/load round trips, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from emoens.labels import LABELS
from emoens.models import load_member
from emoens.models.light import (CharTfidf, LightModelError, TextHead, WhisperHead, load_text_head,
                                 load_whisper_head)

TEXTS = [
    "오늘 정말 기분이 좋아요!", "왜 이렇게 화가 나지?  진짜 싫어.", "음 그냥 그래요",
    "무서워서 잠을 못 잤어", "깜짝이야 놀랐잖아", "너무 슬퍼서 눈물이 나", "Hello 세상 123",
    "아", "", "ㅋㅋㅋ 웃기다 정말 웃겨", "같은 말 같은 말 같은 말",
]
UNSEEN = ["처음 보는 문장입니다 xyz", "기분이 좋아서 웃었어", "   ", "a"]


@pytest.mark.parametrize("ngram_range", [(1, 3), (2, 4), (1, 1)])
def test_char_tfidf_equals_sklearn(ngram_range):
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, sublinear_tf=True)
    vectorizer.fit(TEXTS)
    ours = CharTfidf.from_sklearn(vectorizer)
    for texts in (TEXTS, UNSEEN):
        expected = vectorizer.transform(texts).toarray()
        np.testing.assert_allclose(ours.transform(texts).toarray(), expected, rtol=1e-12, atol=1e-12)


def _text_head(use_scale=0.0):
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    x = vectorizer.fit_transform(TEXTS)
    y = np.arange(len(TEXTS)) % 7
    model = LogisticRegression(max_iter=500).fit(x, y)
    return TextHead.from_sklearn(vectorizer, model, use_scale), vectorizer, model


def test_text_head_matches_sklearn_and_round_trips(tmp_path):
    head, vectorizer, model = _text_head()
    expected = model.predict_proba(vectorizer.transform(UNSEEN))
    np.testing.assert_allclose(head.predict_proba(UNSEEN), expected, atol=1e-10)
    head.save(tmp_path / "text")
    loaded = load_member("text-head", tmp_path / "text")
    assert loaded.modality == "text"
    proba = loaded.predict_proba(UNSEEN + ["b/ 태그가 (있는+있던) 말 l/"])
    assert proba.shape == (5, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:4], expected, atol=1e-10)
    assert not list(tmp_path.rglob("*.pkl"))


def test_text_head_with_sentence_encoder(tmp_path):
    from emoens.models.light import sentence_embeddings
    from scipy import sparse

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    emb = sentence_embeddings(TEXTS)
    assert emb.shape == (len(TEXTS), 512)
    x = sparse.hstack([vectorizer.fit_transform(TEXTS), 0.5 * emb]).tocsr()
    model = LogisticRegression(max_iter=500).fit(x, np.arange(len(TEXTS)) % 3)
    head = TextHead.from_sklearn(vectorizer, model, 0.5)
    head.save(tmp_path / "t")
    loaded = load_text_head(tmp_path / "t")
    expected = model.predict_proba(sparse.hstack([vectorizer.transform(UNSEEN),
                                                  0.5 * sentence_embeddings(UNSEEN)]).tocsr())
    proba = loaded.predict_proba(UNSEEN)
    # only 3 classes were seen: the other 4 columns are zero
    assert (proba[:, 3:] == 0).all()
    np.testing.assert_allclose(proba[:, :3], expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_whisper_head_round_trip(tmp_path, kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(70, 1024))
    y = np.arange(70) % 7
    x[np.arange(70), y] += 3.0
    scaler = StandardScaler().fit(x)
    model = (LogisticRegression(max_iter=500) if kind == "linear"
             else MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0))
    model.fit(scaler.transform(x), y)
    head = WhisperHead.from_sklearn(model, scaler)
    head.save(tmp_path / "speech")
    loaded = load_member("whisper-head", tmp_path / "speech")
    assert loaded.modality == "speech"
    np.testing.assert_allclose(loaded.predict_proba_from_features(x),
                               model.predict_proba(scaler.transform(x)), atol=1e-8)
    config = json.loads((tmp_path / "speech" / "config.json").read_text())
    assert config["classifier"] == kind and config["classes"] == list(LABELS)


def test_whisper_head_on_audio(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(14, 1024))
    y = np.arange(14) % 7
    scaler = StandardScaler().fit(x)
    head = WhisperHead.from_sklearn(LogisticRegression(max_iter=200).fit(scaler.transform(x), y), scaler)
    from emoens.models import whisper

    wave = (0.2 * np.sin(np.arange(16000 * 2) * 0.07)).astype(np.float32)
    proba = head.predict_proba([wave, wave[:8000]])
    assert proba.shape == (2, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    shared = head.predict_proba_from_encoding(whisper.encode(wave), len(wave))
    np.testing.assert_allclose(shared, proba[:1], atol=1e-6)
    with pytest.raises(LightModelError, match="empty"):
        head.predict_proba([np.zeros(0, np.float32)])


def test_bad_member_folders(tmp_path):
    with pytest.raises(LightModelError, match="config.json is missing"):
        load_whisper_head(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"kind": "text-head", "format_version": 1,
                                                      "classes": ["happy"]}))
    with pytest.raises(LightModelError, match="expected 'whisper-head'"):
        load_whisper_head(tmp_path)
    with pytest.raises(LightModelError, match="weights.npz"):
        load_text_head(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"kind": "text-head", "format_version": 9,
                                                      "classes": ["happy"]}))
    with pytest.raises(LightModelError, match="format_version"):
        load_text_head(tmp_path)
