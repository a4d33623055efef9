"""EmotionRecognizer: the result structure, inputs, windowing and timeline, bundles."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emoens.labels import LABELS
from emoens.recognizer import EmotionRecognizer, RecognizerError, window_bounds
from tests.fixtures.audio import write_wav
from tests.fixtures.bundles import KeywordTextMember, ToneSpeechMember, planted_tone

KEYS = {"label", "label_ko", "speech", "text", "ensemble", "transcript", "transcript_source",
        "timeline", "timing_ms", "members", "fusion", "speech_only", "warnings", "silent"}


def check_distribution(dist):
    assert list(dist) == list(LABELS)
    assert sum(dist.values()) == pytest.approx(1.0)
    assert all(0.0 <= p <= 1.0 for p in dist.values())


def check_structure(result):
    assert KEYS <= set(result)
    json.dumps(result)  # plain JSON-able data
    check_distribution(result["speech"])
    check_distribution(result["ensemble"])
    if result["text"] is not None:
        check_distribution(result["text"])
    assert result["label"] == max(result["ensemble"], key=result["ensemble"].get)
    assert set(result["timing_ms"]) >= {"decode", "speech", "text", "total"}


def test_tone_member_with_and_without_text(tone_recognizer):
    audio = (16000, planted_tone("sad", 2.0))
    alone = tone_recognizer.analyze(audio)
    check_structure(alone)
    assert alone["label"] == "sad" and alone["label_ko"] == "슬픔"
    assert alone["text"] is None and alone["speech_only"] and alone["transcript_source"] is None
    assert alone["ensemble"] == alone["speech"]
    assert alone["timeline"] == []
    both = tone_recognizer.analyze(audio, text="오늘 정말 행복해")
    check_structure(both)
    assert both["transcript"] == "오늘 정말 행복해" and both["transcript_source"] == "given"
    assert both["text"]["happy"] == pytest.approx(0.9)
    # 0.5 * speech + 0.5 * text, exactly
    expected = 0.5 * both["speech"]["happy"] + 0.5 * both["text"]["happy"]
    assert both["ensemble"]["happy"] == pytest.approx(expected)
    assert both["fusion"]["weights"] == {"tone": 0.5, "keyword": 0.5}
    assert both["members"]["keyword"]["proba"]["happy"] == pytest.approx(0.9)
    from emoens.fusion import remix

    speech_row = [both["speech"][l] for l in LABELS]
    text_row = [both["text"][l] for l in LABELS]
    assert remix("weighted", speech_row, text_row, 1.0) == pytest.approx(speech_row)
    assert remix("weighted", speech_row, text_row, 0.5) == pytest.approx(
        [both["ensemble"][l] for l in LABELS])
    geometric = remix("confidence", speech_row, text_row, 0.5)  # other methods pool geometrically
    expected_geo = np.sqrt(np.array(speech_row) * np.array(text_row))
    assert geometric == pytest.approx(expected_geo / expected_geo.sum())


def test_path_bytes_and_array_inputs_agree(tone_recognizer, tmp_path):
    wave = planted_tone("angry", 1.5)
    path = write_wav(tmp_path / "a.wav", wave)
    by_path = tone_recognizer.analyze(str(path))
    by_bytes = tone_recognizer.analyze(path.read_bytes())
    by_array = tone_recognizer.analyze((16000, wave))
    for result in (by_path, by_bytes, by_array):
        check_structure(result)
        assert result["label"] == "angry"
    assert by_path["duration"] == pytest.approx(1.5)


def test_silent_audio_is_flagged(tone_recognizer):
    result = tone_recognizer.analyze((16000, np.zeros(16000, dtype=np.float32)))
    check_structure(result)
    assert result["silent"] is True
    assert any("silent" in w for w in result["warnings"])


def test_bad_input_is_named(tone_recognizer, tmp_path):
    from emoens.errors import EmoensError

    with pytest.raises(EmoensError, match="missing.wav"):
        tone_recognizer.analyze(str(tmp_path / "missing.wav"))


def test_window_bounds_cover_everything():
    assert window_bounds(16000 * 5, window_seconds=10, hop_seconds=5,
                         single_pass_max_seconds=20) == [(0, 80000)]
    bounds = window_bounds(16000 * 33, window_seconds=10, hop_seconds=5,
                           single_pass_max_seconds=20)
    assert bounds[0] == (0, 160000) and bounds[-1][1] == 16000 * 33
    assert all(e - s == 160000 for s, e in bounds)
    assert all(b[0] <= a[1] for a, b in zip(bounds, bounds[1:]))  # overlapping, no gaps


def test_timeline_follows_a_planted_change_halfway(tone_recognizer, tmp_path):
    """A 3-minute file: 90 s of the 'happy' tone then 90 s of the 'sad' tone."""
    wave = np.concatenate([planted_tone("happy", 90.0), planted_tone("sad", 90.0, seed=1)])
    path = write_wav(tmp_path / "long.wav", wave)
    speech = tone_recognizer.members["tone"]
    result = tone_recognizer.analyze(str(path))
    check_structure(result)
    timeline = result["timeline"]
    assert len(timeline) >= 180 / tone_recognizer.hop_seconds  # every second in a window
    assert max(speech.calls) <= tone_recognizer.batch_size  # windows go in batches
    for entry in timeline:
        check_distribution(entry["ensemble"])
        if entry["end"] <= 90:
            assert entry["label"] == "happy", entry
        elif entry["start"] >= 90:
            assert entry["label"] == "sad", entry
    # duration-weighted overall: the two halves weigh the same
    assert result["speech"]["happy"] == pytest.approx(result["speech"]["sad"], abs=0.05)
    assert result["timeline"][-1]["end"] == pytest.approx(180.0)


def test_analyze_batch_keeps_going_past_bad_items(tone_recognizer, tmp_path):
    good = write_wav(tmp_path / "g.wav", planted_tone("happy", 1.0))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....garbage")
    results = tone_recognizer.analyze_batch([str(good), str(bad), str(good)],
                                            texts=[None, None, "슬퍼"], errors="return")
    assert results[0]["label"] == "happy"
    assert "bad.wav" in results[1]["error"]
    assert results[2]["text"]["sad"] == pytest.approx(0.9)



class PickyTextMember(KeywordTextMember):
    """Fails on one word: a member that breaks on one input of a batch."""

    def predict_proba(self, texts):
        if "고장" in texts:
            raise ValueError("cannot read 고장")
        return super().predict_proba(texts)


def test_a_member_failing_on_one_item_fails_only_that_item():
    recognizer = EmotionRecognizer({"tone": ToneSpeechMember(), "keyword": PickyTextMember()})
    audio = [(16000, planted_tone(label, 1.0)) for label in ("happy", "sad", "angry")]
    texts = ["슬퍼", "고장", None]
    results = recognizer.analyze_batch(audio, texts=texts, names=["a", "b", "c"], errors="return")
    assert results[0]["text"]["sad"] == pytest.approx(0.9) and results[2]["label"] == "angry"
    assert results[1] == {"error": "unexpected error: ValueError: cannot read 고장", "input": "b"}
    alone = EmotionRecognizer({"tone": ToneSpeechMember(), "keyword": KeywordTextMember()})
    assert [r["ensemble"] for r in (results[0], results[2])] == \
        [alone.analyze(a, t)["ensemble"] for a, t in ((audio[0], texts[0]), (audio[2], None))]
    with pytest.raises(ValueError, match="고장"):
        recognizer.analyze_batch(audio, texts=texts, errors="raise")
    with pytest.raises(RecognizerError, match="errors='ignore'"):
        recognizer.analyze_batch(audio, errors="ignore")


def test_a_required_transcription_that_fails_is_one_error_row(tone_recognizer):
    from emoens.asr import ASRError

    class BrokenASR:
        name = "broken"

        def transcribe(self, samples, encoder_output=None, *, name="audio"):
            raise ASRError(f"{name}: the decoder gave up")

    recognizer = EmotionRecognizer({"tone": ToneSpeechMember(), "keyword": KeywordTextMember()},
                                   asr=BrokenASR())
    results = recognizer.analyze_batch([(16000, planted_tone("sad", 1.0))] * 2, texts=["슬퍼", None],
                                       names=["x", "y"], transcribe=True, errors="return")
    assert results[0]["label"] == "sad"
    assert results[1] == {"error": "y: the decoder gave up", "input": "y"}

def test_direct_construction_is_validated():
    with pytest.raises(RecognizerError, match="speech member"):
        EmotionRecognizer({"kw": KeywordTextMember()})
    from emoens.fusion import weighted_fusion

    with pytest.raises(RecognizerError, match="do not match"):
        EmotionRecognizer({"tone": ToneSpeechMember()}, weighted_fusion({"x": "speech"}))


def test_missing_default_bundle_says_so(monkeypatch, tmp_path):
    from emoens import settings

    monkeypatch.delenv("EMOENS_BUNDLE", raising=False)
    monkeypatch.setattr(settings, "asset_dir", lambda name: tmp_path / "nothing" / name)
    with pytest.raises(RecognizerError, match="embedded default bundle is not there"):
        EmotionRecognizer.from_bundle()


def test_emoens_bundle_names_the_bundle_used_when_none_is_given(monkeypatch, tiny_bundle_dir,
                                                                tmp_path):
    from emoens.errors import EmoensError

    monkeypatch.setenv("EMOENS_BUNDLE", str(tiny_bundle_dir))
    assert Path(EmotionRecognizer.from_bundle().bundle_path).resolve() == Path(tiny_bundle_dir).resolve()
    monkeypatch.setenv("EMOENS_BUNDLE", str(tmp_path / "nothing"))
    with pytest.raises(EmoensError, match="nothing"):
        EmotionRecognizer.from_bundle()


def test_the_shipped_assets_are_package_data():
    from importlib import resources

    from emoens import settings

    root = resources.files("emoens") / "assets"
    assert (root / "default" / "bundle.json").is_file()
    assert settings.default_bundle_dir() == Path(str(root / "default"))
    assert [p.suffix for p in settings.examples_dir().iterdir()].count(".flac") >= 6
    assert (settings.stats_dir() / "stats.json").is_file()


def test_asr_requested_without_backend(tone_recognizer):
    from emoens.asr import ASRError

    with pytest.raises(ASRError, match="no ASR"):
        tone_recognizer.analyze((16000, planted_tone("sad", 1.0)), transcribe=True)
    unavailable = EmotionRecognizer({"tone": ToneSpeechMember()}, asr="no-such-backend")
    result = unavailable.analyze((16000, planted_tone("sad", 1.0)))
    assert result["label"] == "sad"
    assert any("no-such-backend" in w for w in result["warnings"])


def test_tiny_bundle_end_to_end(tiny_bundle_dir, tmp_path):
    recognizer = EmotionRecognizer.from_bundle(tiny_bundle_dir)
    assert recognizer.info()["asr"] == "none"
    assert set(recognizer.fusion_weights) == {"speech", "text"}
    wave = planted_tone("happy", 1.2)
    path = write_wav(tmp_path / "t.wav", wave)
    buffer = io.BytesIO()
    import soundfile as sf

    sf.write(buffer, wave, 16000, format="FLAC")
    for audio in (str(path), buffer.getvalue(), (16000, wave)):
        for text in (None, "오늘 정말 행복해"):
            result = recognizer.analyze(audio, text=text)
            check_structure(result)
            assert (result["text"] is None) == (text is None)


def test_recognizer_modules_do_not_import_torch():
    code = ("import sys, emoens.recognizer, emoens.bundle, emoens.fusion, emoens.asr;"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_ten_minute_file_is_processed_in_window_batches(tone_recognizer, tmp_path):
    """600 s of audio: never more than batch_size windows of <= window_seconds in one call."""
    wave = np.concatenate([planted_tone(label, 200.0, seed=i)
                           for i, label in enumerate(["sad", "happy", "angry"])])
    path = write_wav(tmp_path / "ten.wav", wave)
    seen = []
    member = tone_recognizer.members["tone"]
    original = member.predict_proba
    member.predict_proba = lambda waves: seen.append([len(w) for w in waves]) or original(waves)
    result = tone_recognizer.analyze(str(path))
    assert result["duration"] == pytest.approx(600.0)
    assert len(result["timeline"]) == len(sum(seen, [])) >= 600 / tone_recognizer.hop_seconds
    assert max(len(batch) for batch in seen) <= tone_recognizer.batch_size
    assert max(max(batch) for batch in seen) <= tone_recognizer.window_seconds * 16000
    labels = [e["label"] for e in result["timeline"]]
    assert labels[0] == "sad" and labels[len(labels) // 2] == "happy" and labels[-1] == "angry"
    with pytest.raises(Exception, match="limit"):
        tone_recognizer.analyze((16000, np.zeros(16000 * 601, np.float32)))


def test_stack_fusion_in_the_recognizer():
    from emoens import fusion, fusion_fit
    from tests.fixtures.bundles import soft

    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 80)
    probas = {"tone": np.array([soft(LABELS[c], 0.5) for c in y]),
              "keyword": rng.dirichlet(np.ones(7), 80)}
    config = fusion_fit.fit_stack(probas, y, {"tone": "speech", "keyword": "text"})
    recognizer = EmotionRecognizer({"tone": ToneSpeechMember(), "keyword": KeywordTextMember()},
                                   config)
    both = recognizer.analyze((16000, planted_tone("sad", 1.0)), text="슬퍼")
    expected = fusion.stack_proba(config["stack"], {
        n: np.array([[m["proba"][l] for l in LABELS]]) for n, m in both["members"].items()})[0]
    assert [both["ensemble"][l] for l in LABELS] == pytest.approx(list(expected))
    assert both["fusion"]["method"] == "stack"
    alone = recognizer.analyze((16000, planted_tone("sad", 1.0)))
    assert alone["fusion"]["method"] == "weighted" and alone["ensemble"] == alone["speech"]


class TimedASR:
    """A stand-in ASR with timestamps: 'happy' words in the first half, 'sad' in the second."""

    name = "timed-test"

    def transcribe(self, samples, encoder_output=None, *, name="audio"):
        from emoens.asr import Transcript

        half = len(samples) / 16000 / 2
        segments = [{"start": 0.0, "end": half, "text": "정말 행복해"},
                    {"start": half, "end": 2 * half, "text": "너무 슬퍼"}]
        return Transcript(" ".join(s["text"] for s in segments), self.name, segments, "ko")


def test_timeline_uses_the_asr_text_of_each_window():
    # neutral-ish speech everywhere (silence-free noise); the words carry the change
    rng = np.random.default_rng(0)
    wave = (0.05 * rng.standard_normal(16000 * 60)).astype(np.float32)
    # overlapping windows (a bundle's runtime may ask for them): some straddle the two segments
    recognizer = EmotionRecognizer({"tone": ToneSpeechMember(), "keyword": KeywordTextMember()},
                                   asr=TimedASR(), hop_seconds=5.0)
    result = recognizer.analyze((16000, wave))
    assert result["transcript_source"] == "asr"
    first, last = result["timeline"][0], result["timeline"][-1]
    assert first["transcript"] == "정말 행복해" and first["label"] == "happy"
    assert last["transcript"] == "너무 슬퍼" and last["label"] == "sad"
    middle = [e for e in result["timeline"] if e["start"] < 30 < e["end"]]
    assert middle and all(e["transcript"] == "정말 행복해 너무 슬퍼" for e in middle)


def _without_timing(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "timing_ms"}


@pytest.mark.parametrize("text", [None, "오늘 정말 행복해"])
def test_analyze_stream_yields_the_timeline_window_by_window_then_analyzes_result(tone_recognizer, text):
    wave = np.concatenate([planted_tone("happy", 45.0), planted_tone("sad", 45.0, seed=1)])
    events = list(tone_recognizer.analyze_stream((16000, wave), text=text))
    speech = [e for e in events if e["stage"] == "speech"]
    windows = len(window_bounds(len(wave), window_seconds=tone_recognizer.window_seconds,
                                hop_seconds=tone_recognizer.hop_seconds,
                                single_pass_max_seconds=tone_recognizer.single_pass_max_seconds))
    # one event per batch of windows, each with the whole timeline so far, growing to the end
    assert len(speech) == -(-windows // tone_recognizer.batch_size) >= 2
    assert [len(e["timeline"]) for e in speech] == [min(windows, (i + 1) * tone_recognizer.batch_size)
                                                     for i in range(len(speech))]
    assert [e["done"] for e in speech] == [e["timeline"][-1]["end"] for e in speech]
    assert speech[-1]["done"] == events[0]["total"] == pytest.approx(90.0)
    assert [e["stage"] for e in events[len(speech):]] == ["text", "done"]  # no ASR configured
    final = events[-1]["result"]
    assert _without_timing(final) == _without_timing(tone_recognizer.analyze((16000, wave), text=text))
    assert set(final["timing_ms"]) >= {"decode", "speech", "text", "total"}
    # the streamed entries are the speech-only timeline: the same windows and speech rows
    assert [(e["start"], e["end"], e["speech"]) for e in speech[-1]["timeline"]] == \
        [(e["start"], e["end"], e["speech"]) for e in final["timeline"]]
    if text is None:
        assert speech[-1]["timeline"] == final["timeline"]


def test_closing_analyze_stream_stops_between_windows(tone_recognizer):
    member = tone_recognizer.members["tone"]
    calls = []
    original = member.predict_proba
    member.predict_proba = lambda waves: calls.append(len(waves)) or original(waves)
    try:
        stream = tone_recognizer.analyze_stream((16000, planted_tone("sad", 120.0)))
        first = next(stream)
        assert first["stage"] == "speech" and first["done"] < first["total"]
        stream.close()  # what a cancelled request does to the generator
        assert calls == [tone_recognizer.batch_size]  # no window after the first batch was scored
    finally:
        member.predict_proba = original


def test_analyze_stream_of_short_audio_and_with_asr(tone_recognizer):
    events = list(tone_recognizer.analyze_stream((16000, planted_tone("angry", 2.0))))
    assert [e["stage"] for e in events] == ["text", "done"] and events[-1]["result"]["timeline"] == []
    rng = np.random.default_rng(0)
    wave = (0.05 * rng.standard_normal(16000 * 60)).astype(np.float32)
    recognizer = EmotionRecognizer({"tone": ToneSpeechMember(), "keyword": KeywordTextMember()},
                                   asr=TimedASR())
    stages = [e["stage"] for e in recognizer.analyze_stream((16000, wave))]
    assert stages[-2:] == ["asr", "done"] and set(stages[:-2]) == {"speech"}
    with pytest.raises(RecognizerError):
        next(tone_recognizer.analyze_stream((16000, planted_tone("sad", 1.0)), text="\udcff"))


def test_the_asr_runs_beside_the_speech_members():
    """Step 4 starts in a background thread before the speech members: an ASR that waits for the
    speech member to have run finishes (run one after the other, it would time out)."""
    import threading

    from emoens.asr import Transcript

    speech_ran, asr_waited = threading.Event(), []

    class WaitingSpeech(ToneSpeechMember):
        def predict_proba(self, waveforms):
            speech_ran.set()
            return super().predict_proba(waveforms)

    class WaitingASR:
        name = "waiting"

        def transcribe(self, samples, encoder_output=None, *, name="audio"):
            asr_waited.append(speech_ran.wait(timeout=10))
            return Transcript("정말 행복해", self.name, [], "ko")

    recognizer = EmotionRecognizer({"tone": WaitingSpeech(), "keyword": KeywordTextMember()},
                                   asr=WaitingASR())
    result = recognizer.analyze((16000, planted_tone("sad", 1.0)))
    assert asr_waited == [True] and result["transcript"] == "정말 행복해"
    assert result["transcript_source"] == "asr" and result["timing_ms"]["asr"] >= 0
    # asr_beside_speech=False: step 4 after step 3, in the caller's thread (the old order)
    threads = []

    class PlainASR:
        name = "plain"

        def transcribe(self, samples, encoder_output=None, *, name="audio"):
            threads.append(threading.current_thread())
            return Transcript("정말 행복해", self.name, [], "ko")

    serial = EmotionRecognizer({"tone": ToneSpeechMember(), "keyword": KeywordTextMember()},
                               asr=PlainASR(), asr_beside_speech=False)
    assert serial.analyze((16000, planted_tone("sad", 1.0)))["transcript"] == "정말 행복해"
    beside = EmotionRecognizer({"tone": ToneSpeechMember(), "keyword": KeywordTextMember()},
                               asr=PlainASR())
    beside.analyze((16000, planted_tone("sad", 1.0)))
    assert threads[0] is threading.main_thread() and threads[1] is not threading.main_thread()


def test_a_failing_speech_member_waits_for_the_asr_and_raises_its_own_error():
    from emoens.asr import ASRError

    done = []

    class BrokenSpeech(ToneSpeechMember):
        def predict_proba(self, waveforms):
            raise RecognizerError("the speech member broke")

    class SlowASR:
        name = "slow"

        def transcribe(self, samples, encoder_output=None, *, name="audio"):
            import time

            time.sleep(0.2)
            done.append(True)
            raise ASRError("the ASR broke too")

    recognizer = EmotionRecognizer({"tone": BrokenSpeech()}, asr=SlowASR())
    with pytest.raises(RecognizerError, match="speech member broke"):
        recognizer.analyze((16000, planted_tone("sad", 1.0)), transcribe=True)
    assert done == [True]  # the ASR was not left running
    results = recognizer.analyze_batch([(16000, planted_tone("sad", 1.0))], errors="return")
    assert "speech member broke" in results[0]["error"]
    # the ASR's own failure still is a warning when transcription was not required
    fine = EmotionRecognizer({"tone": ToneSpeechMember()}, asr=SlowASR())
    result = fine.analyze((16000, planted_tone("sad", 1.0)))
    assert any("the ASR broke too" in w for w in result["warnings"])
    with pytest.raises(ASRError, match="broke too"):
        fine.analyze((16000, planted_tone("sad", 1.0)), transcribe=True)


def test_worker_threads_find_their_packages_already_imported():
    """The ASR thread and the prosody warm-up thread never import a package first: two threads
    importing ``faster_whisper`` and ``faster_whisper.vad`` at once can end in Python's
    ``_DeadlockError`` (seen in CI as a failed input). Checked in a fresh interpreter."""
    import subprocess
    import sys

    code = """
import sys, threading
seen = {}
start = threading.Thread.start
def spy(self):
    seen[self.name] = {m: m in sys.modules for m in ("faster_whisper", "faster_whisper.vad",
                                                     "librosa.onset", "librosa.feature")}
    start(self)
threading.Thread.start = spy
from emoens.hearing import Listening
Listening(lambda: None, [], None).result({"asr": 0.0})
from emoens.models.speech_head import _warm_up_prosody
_warm_up_prosody()
import json
print(json.dumps(seen))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["emoens-asr"]["faster_whisper"] and seen["emoens-asr"]["faster_whisper.vad"], seen
    assert seen["emoens-prosody-warm-up"]["librosa.onset"], seen
    assert seen["emoens-prosody-warm-up"]["librosa.feature"], seen
