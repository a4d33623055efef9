"""Speech and text members: loading, output shape and order, padding masked out, bad directories."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emoens.labels import LABELS
from emoens.models import load_member
from emoens.models.speech import ModelError


def test_speech_member_probabilities(tiny_speech_model_dir):
    member = load_member("hf-speech", tiny_speech_model_dir, batch_size=2)
    assert member.modality == "speech"
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (16000, 4000, 8000)]
    proba = member.predict_proba(waves)
    assert proba.shape == (3, 7) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    # Batched with padding == one at a time: the attention mask keeps padding out of the pooling.
    single = np.vstack([member.predict_proba([w]) for w in waves])
    np.testing.assert_allclose(proba, single, atol=1e-4)


def test_speech_member_reverse_option_changes_output(tiny_speech_model_dir):
    rng = np.random.default_rng(1)
    wave = (np.linspace(0, 1, 12000) * rng.standard_normal(12000)).astype(np.float32)
    fwd = load_member("hf-speech", tiny_speech_model_dir).predict_proba([wave])
    rev = load_member("hf-speech", tiny_speech_model_dir, reverse=True).predict_proba([wave])
    again = load_member("hf-speech", tiny_speech_model_dir).predict_proba([wave[::-1].copy()])
    np.testing.assert_allclose(rev, again, atol=1e-5)
    assert not np.allclose(fwd, rev, atol=1e-6)


def test_text_member_probabilities(tiny_text_model_dir):
    member = load_member("hf-text", tiny_text_model_dir, batch_size=2)
    assert member.modality == "text"
    texts = ["오늘 기분이 좋아요", "", "왜 이렇게 화가 나는지 모르겠어 " * 20]
    proba = member.predict_proba(texts)
    assert proba.shape == (3, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(proba, np.vstack([member.predict_proba([t]) for t in texts]), atol=1e-5)


def test_saved_dirs_load_with_auto_classes_and_pipeline(tiny_speech_model_dir, tiny_text_model_dir):
    from transformers import AutoModelForAudioClassification, AutoModelForSequenceClassification, pipeline

    speech = AutoModelForAudioClassification.from_pretrained(str(tiny_speech_model_dir))
    assert [speech.config.id2label[i] for i in range(7)] == list(LABELS)
    assert list(tiny_speech_model_dir.glob("*.safetensors"))
    text = AutoModelForSequenceClassification.from_pretrained(str(tiny_text_model_dir))
    assert text.config.label2id == {label: i for i, label in enumerate(LABELS)}
    import emoens.models.kobert  # noqa: F401  (registers KoBERTTokenizer with AutoTokenizer)

    clf = pipeline("text-classification", model=str(tiny_text_model_dir), top_k=None)
    scores = clf(["오늘 기분이 좋아요"])[0]
    assert {s["label"] for s in scores} == set(LABELS)
    audio = pipeline("audio-classification", model=str(tiny_speech_model_dir), top_k=None)
    assert {s["label"] for s in audio(np.zeros(8000, dtype=np.float32))} == set(LABELS)


def test_columns_follow_canonical_order_whatever_the_model_order(tiny_text_model_dir, tmp_path):
    import shutil

    base = load_member("hf-text", tiny_text_model_dir)
    moved = tmp_path / "moved"
    shutil.copytree(tiny_text_model_dir, moved)
    # Same weights, but relabel the outputs: permuting id2label must permute the columns.
    config = json.loads((moved / "config.json").read_text())
    perm = [6, 5, 4, 3, 2, 1, 0]
    config["id2label"] = {str(i): LABELS[perm[i]] for i in range(7)}
    config["label2id"] = {LABELS[perm[i]]: i for i in range(7)}
    (moved / "config.json").write_text(json.dumps(config))
    text = ["그냥 평범한 하루였어요"]
    p0, p1 = base.predict_proba(text), load_member("hf-text", moved).predict_proba(text)
    np.testing.assert_allclose(p1[0][perm], p0[0], atol=1e-6)


def test_bad_directory_names_the_path(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        load_member("hf-speech", tmp_path / "nowhere")
    with pytest.raises(ModelError, match=str(tmp_path)):
        load_member("hf-text", tmp_path)


def test_model_with_wrong_classes_is_refused(tiny_text_model_dir, tmp_path):
    import shutil

    moved = tmp_path / "three"
    shutil.copytree(tiny_text_model_dir, moved)
    config = json.loads((moved / "config.json").read_text())
    config["id2label"] = {"0": "angry", "1": "joy", "2": "bored", "3": "x", "4": "y", "5": "z", "6": "w"}
    (moved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="three"):
        load_member("hf-text", moved)
