"""Transcription: the default offline Whisper-base back-end on Korean speech, errors, shared encoder."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from emoens import asr
from emoens.asr import ASRError, character_error_rate, make_asr

SENTENCE = "안녕하세요. 오늘은 날씨가 정말 좋네요."


def hangul_ratio(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum("\uac00" <= c <= "\ud7a3" for c in letters) / max(1, len(letters))


@pytest.fixture(scope="module")
def default_asr():
    return make_asr("faster-whisper")


@pytest.fixture(scope="module")
def espeak_clip(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("espeak") / "ko.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "110", "-w", str(path), SENTENCE], check=True)
    from emoens.audio import load_audio

    return load_audio(path)


def test_cer_helper():
    assert character_error_rate("안녕 하세요.", "안녕하세요") == 0.0
    assert character_error_rate("가나다라", "가나다마") == pytest.approx(0.25)
    assert character_error_rate(["가나", ""], ["가", "무엇"]) == pytest.approx(0.5)
    with pytest.raises(ASRError):
        character_error_rate(["", "."], ["a", "b"])


def test_espeak_korean_clip_becomes_hangul(default_asr, espeak_clip):
    result = default_asr.transcribe(espeak_clip)
    assert result.backend == "faster-whisper" and result.language == "ko"
    assert result.text, "no transcript"
    assert hangul_ratio(result.text) > 0.9, result.text
    # robotic synthetic speech: far from perfect, but clearly the sentence
    assert character_error_rate(SENTENCE, result.text) < 0.7, result.text
    assert result.segments and result.segments[0]["start"] >= 0


def test_real_kemdy_clip_low_cer(default_asr, real_corpora):
    from emoens.audio import load_audio
    from emoens.text import clean_transcript, read_transcript

    wav = real_corpora / "KEMDy20" / "wav" / "Session01" / "Sess01_script01_User001F_003.wav"
    reference = clean_transcript(read_transcript(wav.with_suffix(".txt")))
    result = default_asr.transcribe(load_audio(wav))
    assert character_error_rate(reference, result.text) < 0.2, (reference, result.text)


def test_encoder_output_is_reused(default_asr, espeak_clip, monkeypatch):
    from emoens.models import whisper

    encoded = whisper.encode(espeak_clip, pad=True)
    model = default_asr.model
    calls = []
    original = type(model).encode
    monkeypatch.setattr(type(model), "encode", lambda self, f: calls.append(1) or original(self, f))
    result = default_asr.transcribe(espeak_clip, encoder_output=encoded)
    assert calls == [], "the encoder ran again"
    assert hangul_ratio(result.text) > 0.9, result.text
    with pytest.raises(ASRError, match="30 s"):
        default_asr.transcribe(np.zeros(16000 * 31, np.float32), encoder_output=encoded)


def test_corrupted_model_copy_is_detected(tmp_path):
    from emoens.models import whisper

    source = whisper.whisper_model_dir()
    copy = tmp_path / "whisper-copy"
    shutil.copytree(source, copy)
    with open(copy / "model.bin", "r+b") as handle:
        handle.seek(5_000_000)
        byte = handle.read(1)
        handle.seek(5_000_000)
        handle.write(bytes([byte[0] ^ 0x55]))
    backend = make_asr("faster-whisper", model_dir=copy)
    with pytest.raises(ASRError, match="corrupted"):
        backend.transcribe(np.zeros(16000, np.float32))


def test_unknown_and_unavailable_backends():
    assert make_asr("none") is None
    with pytest.raises(ASRError, match="unknown ASR back-end 'whisperx'"):
        make_asr("whisperx")
    with pytest.raises(ASRError, match="needs a model"):
        make_asr("transformers")
    try:
        import vosk  # noqa: F401
    except ImportError:
        with pytest.raises(ASRError, match="pip install vosk"):
            make_asr("vosk")
    with pytest.raises(ASRError, match="empty audio"):
        asr.FasterWhisperASR().transcribe(np.zeros(0, np.float32))
