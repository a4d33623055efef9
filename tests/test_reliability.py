"""Results say when there is nothing to say: silence and noise get no headline; every result has
reliable / reason / confidence / disagreement / valence / arousal."""

from __future__ import annotations

import numpy as np
import pytest

from emoens import reliability
from emoens.fusion import apply_fusion, validate_fusion
from emoens.fusion_fit import (expected_calibration_error, fit_confidence, fit_temperature,
                               transcript_reliability)
from emoens.labels import LABELS


def _onehot_dict(label, p=0.9):
    rest = (1 - p) / (len(LABELS) - 1)
    return {l: (p if l == label else rest) for l in LABELS}


def test_assess_reasons():
    happy, sad = _onehot_dict("happy"), _onehot_dict("sad")
    ok = reliability.assess(silent=False, seconds_of_speech=2.0, ensemble=happy, speech=happy, text=happy)
    assert ok["reliable"] and ok["reason"] is None and not ok["disagreement"]
    assert reliability.assess(silent=True, seconds_of_speech=0, ensemble=happy, speech=happy,
                              text=None)["reason"] == "silent"
    assert reliability.assess(silent=False, seconds_of_speech=0.1, ensemble=happy, speech=happy,
                              text=None)["reason"] == "no_speech"
    split = reliability.assess(silent=False, seconds_of_speech=2.0, ensemble=_onehot_dict("happy", 0.5),
                               speech=happy, text=sad)
    assert split["disagreement"] and split["reason"] == "disagreement" and not split["reliable"]
    low = reliability.assess(silent=False, seconds_of_speech=2.0, ensemble=_onehot_dict("happy", 0.3),
                             speech=happy, text=None)
    assert low["reason"] == "low_confidence"


def test_vad_finds_no_speech_in_noise_and_tones():
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(3 * 16000)).astype(np.float32)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * 16000) / 16000)).astype(np.float32)
    assert reliability.speech_seconds(noise) < reliability.MIN_SPEECH_SECONDS
    assert reliability.speech_seconds(tone) < reliability.MIN_SPEECH_SECONDS


def test_transcript_reliability():
    assert transcript_reliability(None) == 0.0
    assert transcript_reliability("given") == 1.0
    good = transcript_reliability("asr", {"avg_logprob": -0.2, "no_speech_prob": 0.0, "compression_ratio": 1.2})
    bad = transcript_reliability("asr", {"avg_logprob": -0.9, "no_speech_prob": 0.5, "compression_ratio": 1.2})
    assert 0.7 < good <= 1.0 and bad < 0.1 < good
    assert transcript_reliability("asr", {"avg_logprob": -0.1, "compression_ratio": 3.0}) == 0.0


def _members(n, rng, speech_acc=0.8, text_acc=0.4):
    y = rng.integers(0, 7, n)

    def noisy(acc):
        p = rng.dirichlet(np.ones(7), n)
        right = rng.random(n) < acc
        p[right, y[right]] += 2.0
        return p / p.sum(axis=1, keepdims=True)

    return y, noisy(speech_acc), noisy(text_acc)


def test_confidence_fusion_trusts_the_better_member_and_handles_missing_text():
    rng = np.random.default_rng(1)
    y, speech, text = _members(1500, rng)
    config = validate_fusion(fit_confidence({"speech": speech, "text": text}, y,
                                            {"speech": "speech", "text": "text"}))
    assert config["method"] == "confidence"
    from emoens.fusion import confidence_weights

    exponents = confidence_weights(config["confidence"], {"speech": speech, "text": text})
    assert exponents["speech"].mean() > exponents["text"].mean()  # the better member weighs more
    y2, s2, t2 = _members(800, np.random.default_rng(2))
    fused = apply_fusion(config, {"speech": s2, "text": t2}, reliability={"text": 1.0})
    acc = lambda p: (p.argmax(axis=1) == y2).mean()  # noqa: E731
    assert acc(fused) >= acc(s2) - 0.02 > acc(t2)
    # no transcript: reliability 0 (or the member missing) gives the same speech-driven answer
    alone = apply_fusion(config, {"speech": s2, "text": None})
    zero = apply_fusion(config, {"speech": s2, "text": t2}, reliability={"text": 0.0})
    assert np.allclose(alone, zero) and acc(alone) >= acc(s2) - 0.02
    assert np.allclose(fused.sum(axis=1), 1.0)


def test_temperature_and_ece():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 7, 2000)
    logits = rng.normal(size=(2000, 7))
    logits[np.arange(2000), y] += 1.0
    over = 4.0 * logits  # over-confident scores: the fitted temperature undoes the factor 4
    t = fit_temperature(over, y)
    assert 3.0 < t < 5.0
    soft = lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # noqa: E731
    assert expected_calibration_error(y, soft(over / t)) < expected_calibration_error(y, soft(over))


def test_analyze_gives_no_headline_for_silence_and_noise(default_recognizer):
    rng = np.random.default_rng(0)
    for samples in (np.zeros(2 * 16000, np.float32), (0.1 * rng.standard_normal(3 * 16000)).astype(np.float32)):
        result = default_recognizer.analyze((16000, samples), text="오늘 정말 기분이 좋아요")
        assert result["reliable"] is False and result["reason"] in ("silent", "no_speech")
        for key in ("confidence", "disagreement", "valence", "arousal"):
            assert key in result


@pytest.fixture(scope="module")
def default_recognizer():
    from emoens import EmotionRecognizer

    return EmotionRecognizer.from_bundle()
