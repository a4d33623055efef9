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
    # robotic synthetic speech: far from perfect, but clearly the sentence (CER 0.75 at the
    # default beam 2, 0.625 at beam 5; on real speech the two differ by 0.001, bench/asr_cer.py)
    assert character_error_rate(SENTENCE, result.text) < 0.8, result.text
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


# --- issue 18 / issue 15 item 6: deterministic, guarded, confident transcripts ----------------


def _real_clip(real_corpora):
    from emoens.audio import load_audio

    return load_audio(real_corpora / "KEMDy20" / "wav" / "Session01" /
                      "Sess01_script01_User001F_003.wav")


def test_same_clip_three_times_gives_the_same_transcript(real_corpora):
    """Issue 15's Done-when: automatic transcription of one clip, three times, one transcript."""
    from emoens.recognizer import EmotionRecognizer

    clip = _real_clip(real_corpora)
    backend = make_asr("faster-whisper")
    runs = [backend.transcribe(clip) for _ in range(3)]
    assert runs[0].text and all(r.text == runs[0].text for r in runs), [r.text for r in runs]
    assert all(r.avg_logprob == runs[0].avg_logprob for r in runs)
    # the same through the recognizer (a fresh back-end each time, as separate requests are)
    texts = set()
    for _ in range(3):
        recognizer = EmotionRecognizer.from_bundle()
        texts.add(recognizer.analyze((16000, clip), transcribe=True)["transcript"])
    assert texts == {runs[0].text}, texts


def test_transcript_carries_the_asr_confidence(default_asr, real_corpora):
    result = default_asr.transcribe(_real_clip(real_corpora))
    assert result.avg_logprob is not None and -5.0 < result.avg_logprob <= 0.0
    assert 0.0 <= result.no_speech_prob <= 1.0
    assert 0.0 < result.compression_ratio < 2.4
    assert result.guard_dropped is False and result.dropped == []
    assert 0.0 < result.speech_seconds <= result.segments[-1]["end"] + 0.5
    assert set(result.confidence()) >= {"avg_logprob", "no_speech_prob", "compression_ratio",
                                        "guard_dropped"}


def test_vad_skips_silence_and_noise(default_asr):
    rng = np.random.default_rng(0)
    for audio in (np.zeros(3 * 16000, np.float32),
                  (0.05 * rng.standard_normal(3 * 16000)).astype(np.float32)):
        result = default_asr.transcribe(audio)
        assert result.text == "" and result.segments == [] and result.speech_seconds == 0.0
        assert result.avg_logprob is None


def test_guard_trims_loops_and_drops_hallucinations():
    seg = {"start": 0.0, "end": 4.0, "avg_logprob": -0.3, "no_speech_prob": 0.1}
    kept, dropped = asr.apply_guard([{**seg, "text": "좋아할 것 같고요. 파랑 파랑 파랑 파랑 파랑 파랑"}])
    assert kept[0]["text"] == "좋아할 것 같고요. 파랑" and "trimmed" in dropped[0]["reason"]
    kept, dropped = asr.apply_guard([{**seg, "text": "으으으으으으으으으 에어 아이구"}])
    assert asr.trim_repetition("네 네 네 네") == ("네 네 네 네", False)  # people say that
    # a phrase said again and again, cut where the token limit stopped it (seen on a 1.8-s clip)
    assert asr.trim_repetition("손이랑 왜 싸웠어? 손이랑 왜 싸웠어? 손이랑 왜") == ("손이랑 왜 싸웠어?", True)
    assert asr.trim_repetition("아니 아니 그게 아니라")[1] is False
    assert kept[0]["text"] == "으 에어 아이구"
    silent = {**seg, "text": "감사합니다", "avg_logprob": -1.4, "no_speech_prob": 0.95}
    kept, dropped = asr.apply_guard([silent, {**seg, "text": "네 맞아요"}])
    assert [k["text"] for k in kept] == ["네 맞아요"] and "no speech" in dropped[0]["reason"]
    # with VAD speech, a 0.7 no-speech probability is not enough to drop the segment
    assert asr.apply_guard([{**silent, "no_speech_prob": 0.7}], vad=True)[1] == []
    assert asr.apply_guard([{**silent, "no_speech_prob": 0.7}], vad=False)[0] == []
    ordinary = "오늘은 정말 기분이 좋아요 친구들이랑 놀러 가기로 했어요"
    assert asr.trim_repetition(ordinary) == (ordinary, False)
    assert asr.guard_reason({**seg, "text": "가나다라" * 40}) is not None  # compresses > 2.4


def test_weighted_confidence_is_duration_weighted():
    segs = [{"start": 0.0, "end": 1.0, "avg_logprob": -1.0, "no_speech_prob": 0.5,
             "compression_ratio": 1.0},
            {"start": 1.0, "end": 4.0, "avg_logprob": -0.2, "no_speech_prob": 0.1,
             "compression_ratio": 2.0}]
    conf = asr.weighted_confidence(segs)
    assert conf == {"avg_logprob": -0.4, "no_speech_prob": 0.2, "compression_ratio": 1.75}
    assert asr.weighted_confidence([]) == dict.fromkeys(conf)


def test_batch_gives_what_each_clip_gives_alone(default_asr, espeak_clip, real_corpora):
    clips = [_real_clip(real_corpora), espeak_clip, espeak_clip[: 16000 * 2]]
    alone = [default_asr.transcribe(c).text for c in clips]
    assert [t.text for t in default_asr.transcribe_batch(clips)] == alone


def test_long_audio_is_decoded_in_windows(default_asr, real_corpora):
    from emoens.audio import load_audio

    paths = sorted((real_corpora / "KEMDy19" / "wav").rglob("Sess01_impro01_*.wav"))
    gap = np.zeros(16000, np.float32)
    long_audio = np.concatenate(sum(([load_audio(p), gap] for p in paths[:30]), []))[:16000 * 70]
    assert long_audio.size == 16000 * 70  # more than four 14-s windows
    result = default_asr.transcribe(long_audio)
    starts = [s["start"] for s in result.segments]
    assert len(result.segments) >= 3 and starts == sorted(starts)
    assert result.segments[-1]["end"] <= long_audio.size / 16000 + 0.01
    assert all(s["end"] - s["start"] <= asr.CHUNK_SECONDS + 0.01 for s in result.segments)
    assert hangul_ratio(result.text) > 0.9 and len(result.text) > 100


def test_audio_that_fits_one_window_is_never_cut_and_longer_audio_is_cut_at_window_seconds():
    fast = make_asr("faster-whisper", vad_filter=False)
    short, _ = fast._speech_windows(np.zeros(16000 * 20, np.float32), "short")
    assert short == [(0, 16000 * 20)]  # 20 s > WINDOW_SECONDS, but one window: never cut
    long, _ = fast._speech_windows(np.zeros(16000 * 40, np.float32), "long")
    assert long == [(0, 16000 * 14), (16000 * 14, 16000 * 28), (16000 * 28, 16000 * 40)]
    assert asr.WINDOW_SECONDS == 14.0 < asr.CHUNK_SECONDS


def test_baseline_decoding_stays_reachable_and_options_are_checked():
    old = make_asr("faster-whisper", **asr.BASELINE)
    assert old.options()["decoder"] == "transcribe" and old.options()["beam_size"] == 5
    assert make_asr("faster-whisper").options() == {
        "decoder": "fast", "beam_size": 2, "fallback_beam": 5, "temperature": [0.0],
        "vad_filter": True,
        "guard": True, "batch_size": 8, "workers": 2, "window_seconds": 14.0, "patience": 0.5}
    assert old.options()["patience"] is None  # WhisperModel.transcribe keeps its own
    with pytest.raises(ASRError, match="deterministic"):
        make_asr("faster-whisper", temperature=(0.0, 0.2))
    with pytest.raises(ASRError, match="patience"):
        make_asr("faster-whisper", patience=0)
    with pytest.raises(ASRError, match="unknown faster-whisper decoder"):
        make_asr("faster-whisper", decoder="sampling")


def test_recognizer_transcribes_a_batch_in_one_call(espeak_clip, real_corpora, monkeypatch):
    """analyze_batch hands every clip that needs ASR to one transcribe_batch call; same texts."""
    from emoens.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer.from_bundle()
    clips = [(16000, espeak_clip), (16000, _real_clip(real_corpora))]
    alone = [recognizer.analyze(c, transcribe=True)["transcript"] for c in clips]
    backend = recognizer.asr()
    calls = []
    original = type(backend).transcribe_batch
    monkeypatch.setattr(type(backend), "transcribe_batch",
                        lambda self, items, **kw: calls.append(len(items)) or original(self, items, **kw))
    results = recognizer.analyze_batch(clips + [(16000, espeak_clip)], texts=[None, None, "좋아요"],
                                       transcribe=True)
    assert calls == [2]
    assert [r["transcript"] for r in results] == alone + ["좋아요"]


def test_two_decoding_workers_give_the_same_transcripts(default_asr, espeak_clip, real_corpora):
    clips = [_real_clip(real_corpora), espeak_clip, _real_clip(real_corpora)[: 16000 * 2]]
    pooled = make_asr("faster-whisper", workers=2, batch_size=1)  # 3 batches over 2 workers
    assert [t.text for t in pooled.transcribe_batch(clips)] == \
        [t.text for t in default_asr.transcribe_batch(clips)]


def test_vad_in_blocks_finds_what_one_pass_finds(real_corpora, monkeypatch):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from emoens.audio import load_audio

    paths = sorted((real_corpora / "KEMDy19" / "wav").rglob("Sess01_impro01_*.wav"))
    audio = np.concatenate([load_audio(p) for p in paths[:30]])[:16000 * 50]
    monkeypatch.setattr(asr, "VAD_BLOCK_SECONDS", 7.0)  # many block boundaries inside speech
    spans = asr.vad_spans(audio, 10.0)
    whole = get_speech_timestamps(audio, VadOptions(max_speech_duration_s=10.0))
    assert all(a["end"] <= b["start"] for a, b in zip(spans, spans[1:]))
    assert all(s["end"] - s["start"] <= 10.0 * 16000 for s in spans)
    mask = np.zeros(audio.size, bool)
    for s in spans:
        mask[s["start"]:s["end"]] = True
    found = sum(s["end"] - s["start"] for s in whole)
    covered = sum(mask[s["start"]:s["end"]].sum() for s in whole)
    assert covered >= 0.97 * found  # the speech one pass finds is in the blocks' spans
    assert mask.sum() <= 1.12 * found  # and little more (speech padding at block edges)


def test_weak_windows_are_decoded_again_at_the_fallback_beam(real_corpora, monkeypatch):
    """A window that comes out weak at beam 2 (Whisper's own retry criteria) with short text is
    decoded again at beam 5 and the likelier decoding is kept; strong windows, and weak ones with
    text as long as speech of their length, are decoded once."""
    early_stop = {"avg_logprob": -1.3, "compression_ratio": 1.0, "start": 0.0, "end": 26.0,
                  "text": "그러면..."}
    assert asr.needs_fallback(early_stop)
    assert not asr.needs_fallback(dict(early_stop, text="가나다라마바사아자차 " * 6))  # 60 chars
    assert asr.needs_fallback({"avg_logprob": -0.2, "compression_ratio": 3.0, "text": "네 " * 40})
    assert not asr.needs_fallback({"avg_logprob": -0.2, "compression_ratio": 1.2, "text": "네"})
    clip = _real_clip(real_corpora)
    narrow, wide = make_asr("faster-whisper").transcribe(clip), \
        make_asr("faster-whisper", beam_size=5).transcribe(clip)
    beams = []
    backend = make_asr("faster-whisper")
    original = backend._generate
    monkeypatch.setattr(backend, "_generate",
                        lambda enc, rows, beam, *a: beams.append(beam) or original(enc, rows, beam, *a))
    assert backend.transcribe(clip).text == narrow.text and beams == [2]  # strong: one pass
    beams.clear()
    monkeypatch.setattr(asr, "LOGPROB_SILENT", 0.0)  # now every window is weak
    monkeypatch.setattr(asr, "RETRY_CHARS_PER_SECOND", 1000.0)  # and short
    retried = backend.transcribe(clip)
    assert beams == [2, 5]
    best = max((narrow, wide), key=lambda t: t.avg_logprob)
    assert retried.text == best.text


def test_windows_are_encoded_one_at_a_time_and_memory_is_handed_back(default_asr, espeak_clip,
                                                                     real_corpora, monkeypatch):
    """Only the encoder states are batched (the encoder's attention of a batch of 30-s rows is
    what made a long clip's peak memory grow), freed memory is trimmed after each batch of a
    long decode (not after a lone batch), and the
    transcripts are those of each clip alone."""
    clips = [_real_clip(real_corpora), espeak_clip, _real_clip(real_corpora)]
    alone = [default_asr.transcribe(c).text for c in clips]
    model = default_asr.model
    rows, trims = [], []
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda mel: rows.append(mel.shape[0]) or encode(mel))
    trim = asr.release_free_memory
    monkeypatch.setattr(asr, "release_free_memory", lambda: trims.append(1) or trim())
    assert [t.text for t in default_asr.transcribe_batch(clips)] == alone
    assert rows and set(rows) == {1} and len(rows) >= len(clips)
    assert trims  # after every batch of a decode in several batches
    trims.clear()
    default_asr.transcribe(clips[1])  # one short clip: one batch, one VAD block
    assert not trims  # its pages would only be faulted in again by the next request
