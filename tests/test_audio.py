"""emoens.audio: every input kind decodes to float32 mono 16 kHz; every bad input raises AudioError."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emoens.audio import (DEFAULT_MAX_SECONDS, SAMPLE_RATE, AudioError, audio_duration, is_silent,
                          load_audio)
from tests.fixtures.audio import tone, write_wav

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def _ffmpeg_encode(src: Path, dest: Path, *codec: str) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *codec, str(dest)],
                   check=True)
    return dest


def test_wav_int16_is_scaled_and_kept(tmp_path):
    samples = tone(1.0)
    path = write_wav(tmp_path / "a.wav", samples)
    out = load_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1 and out.size == SAMPLE_RATE
    # 16-bit quantisation only
    np.testing.assert_allclose(out, samples, atol=1 / 32768 + 1e-6)
    assert np.array_equal(load_audio(str(path)), out)


def test_stereo_44k_is_averaged_and_resampled(tmp_path):
    left = tone(0.5, sr=44100, freq=300)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    path = write_wav(tmp_path / "s.wav", stereo, sr=44100, subtype="FLOAT")
    out = load_audio(path)
    assert out.size == 8000
    expected = load_audio((44100, left / 2))
    np.testing.assert_allclose(out, expected, atol=1e-5)
    # amplitude of the average is half the left channel's
    assert 0.12 < np.abs(out).max() < 0.2


@pytest.mark.parametrize("fmt,subtype", [("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")])
def test_bytes_of_libsndfile_formats(fmt, subtype):
    buf = io.BytesIO()
    sf.write(buf, tone(1.0, sr=22050), 22050, format=fmt, subtype=subtype)
    out = load_audio(buf.getvalue())
    assert out.dtype == np.float32
    assert abs(out.size - SAMPLE_RATE) < 0.1 * SAMPLE_RATE  # codecs may pad a little
    assert np.abs(out).max() > 0.2


def test_integer_arrays_are_scaled():
    ref = tone(0.25)
    int16 = np.round(ref * 32767).astype(np.int16)
    int32 = int16.astype(np.int32) << 16
    uint8 = (np.round(ref * 127) + 128).astype(np.uint8)
    for arr, tol in ((int16, 1e-4), (int32, 1e-4), (uint8, 1 / 64)):
        out = load_audio((SAMPLE_RATE, arr))
        np.testing.assert_allclose(out, ref, atol=tol)


def test_float32_mono_16k_in_range_is_read_through_a_read_only_view_not_copied():
    samples = tone(0.25).astype(np.float32)
    out = load_audio((SAMPLE_RATE, samples))
    assert np.shares_memory(out, samples) and not out.flags.writeable
    assert samples.flags.writeable  # the caller's array is left as it was
    with pytest.raises(ValueError):
        out[0] = 0.5  # nothing downstream can write into the caller's audio
    column = load_audio((SAMPLE_RATE, samples[:, None]))  # (n, 1) as gradio may give it
    assert np.shares_memory(column, samples) and column.shape == samples.shape
    for other in ((SAMPLE_RATE, samples * 4), (SAMPLE_RATE, samples.astype(np.float64)),
                  (22050, samples)):  # peak-normalised, float64, resampled: new arrays
        assert not np.shares_memory(load_audio(other), samples)
    with pytest.raises(AudioError, match="longer than"):
        load_audio((SAMPLE_RATE, np.zeros(SAMPLE_RATE * 3, np.float32)), max_seconds=2)

def test_gradio_layouts_and_rates():
    mono = np.round(tone(0.5, sr=48000) * 32767).astype(np.int16)
    n_ch = np.stack([mono, mono], axis=1)  # gradio: (n, channels)
    ch_n = n_ch.T.copy()
    a = load_audio((48000, n_ch))
    b = load_audio((48000, ch_n))
    c = load_audio((48000, mono))
    assert a.size == b.size == c.size == 8000
    np.testing.assert_allclose(a, c, atol=1e-6)
    np.testing.assert_allclose(b, c, atol=1e-6)


def test_float_out_of_range_is_peak_normalised_not_clipped():
    out = load_audio((SAMPLE_RATE, tone(0.1) * 1000))
    assert np.abs(out).max() <= 1.0
    assert np.abs(out).max() > 0.9


@needs_ffmpeg
@pytest.mark.parametrize("suffix,codec", [(".webm", ("-c:a", "libopus")), (".m4a", ("-c:a", "aac"))])
def test_browser_formats_through_ffmpeg(tmp_path, suffix, codec):
    src = write_wav(tmp_path / "src.wav", tone(1.0, sr=48000), sr=48000)
    enc = _ffmpeg_encode(src, tmp_path / f"rec{suffix}", *codec)
    out = load_audio(enc)
    assert abs(out.size - SAMPLE_RATE) < 0.1 * SAMPLE_RATE
    assert np.abs(out).max() > 0.2
    from_bytes = load_audio(enc.read_bytes())
    assert from_bytes.size == out.size
    assert abs(audio_duration(enc) - 1.0) < 0.1


@needs_ffmpeg
def test_ffmpeg_path_respects_max_seconds(tmp_path):
    src = write_wav(tmp_path / "src.wav", tone(3.0))
    enc = _ffmpeg_encode(src, tmp_path / "long.webm", "-c:a", "libopus")
    with pytest.raises(AudioError, match=r"long\.webm is 3\.\d s long, longer than the 1 s limit"):
        load_audio(enc, max_seconds=1)


def test_missing_ffmpeg_is_named(tmp_path, monkeypatch):
    fake = tmp_path / "rec.webm"
    fake.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 200)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(AudioError) as err:
        load_audio(fake)
    assert str(err.value) == (f"{fake} needs ffmpeg to be decoded (WebM/M4A/AAC and similar formats): "
                              "install ffmpeg (e.g. `sudo apt-get install ffmpeg`)")
    with pytest.raises(AudioError, match="install ffmpeg"):
        load_audio(fake.read_bytes(), name="upload.webm")


def test_error_messages(tmp_path):
    cases = []
    missing = tmp_path / "nope.wav"
    cases.append((missing, f"audio file not found: {missing}"))
    cases.append((tmp_path, f"{tmp_path} is a directory, not an audio file"))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    cases.append((empty, f"{empty} is empty: it contains no audio samples"))
    header_only = write_wav(tmp_path / "zero.wav", np.zeros(0, dtype=np.float32))
    cases.append((header_only, f"{header_only} is empty: it contains no audio samples"))
    for source, message in cases:
        with pytest.raises(AudioError) as err:
            load_audio(source)
        assert str(err.value) == message


def test_undecodable_and_nonfinite(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioError, match=r"^cannot decode .*junk\.wav as audio \("):
        load_audio(junk)
    with pytest.raises(AudioError, match=r"^cannot decode my upload as audio"):
        load_audio(b"garbage" * 20, name="my upload")
    bad = np.full(100, np.nan, dtype=np.float32)
    with pytest.raises(AudioError, match=r"^audio array contains NaN or infinite samples$"):
        load_audio((SAMPLE_RATE, bad))
    nan_wav = write_wav(tmp_path / "nan.wav", np.array([0.1, np.inf, 0.2] * 100, dtype=np.float32),
                        subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav contains NaN or infinite samples"):
        load_audio(nan_wav)


def test_too_long(tmp_path):
    path = write_wav(tmp_path / "two.wav", tone(2.0))
    with pytest.raises(AudioError) as err:
        load_audio(path, max_seconds=1.5)
    assert str(err.value) == (f"{path} is 2.0 s long, longer than the 1.5 s limit "
                              "(pass max_seconds or set EMOENS_MAX_AUDIO_SECONDS to allow longer audio)")
    with pytest.raises(AudioError, match="^clip is 2.0 s long"):
        load_audio((SAMPLE_RATE, tone(2.0)), max_seconds=1, name="clip")
    assert load_audio(path, max_seconds=None).size == 2 * SAMPLE_RATE


def test_bad_sources():
    with pytest.raises(AudioError, match="no sample rate"):
        load_audio(np.zeros(10))
    with pytest.raises(AudioError, match="from a int"):
        load_audio(42)
    with pytest.raises(AudioError, match="sample rate -1"):
        load_audio((-1, np.zeros(10)))
    with pytest.raises(AudioError, match="is empty"):
        load_audio((SAMPLE_RATE, np.zeros((0, 2), dtype=np.int16)))


def test_default_max_from_env():
    assert DEFAULT_MAX_SECONDS == 600
    code = "import emoens.audio as a; print(a.DEFAULT_MAX_SECONDS)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"EMOENS_MAX_AUDIO_SECONDS": "42.5", "PATH": ""})
    assert out.stdout.strip() == "42.5"


def test_audio_duration(tmp_path):
    path = write_wav(tmp_path / "d.wav", tone(1.25, sr=8000), sr=8000)
    assert audio_duration(path) == pytest.approx(1.25, abs=1e-6)
    with pytest.raises(AudioError, match="audio file not found"):
        audio_duration(tmp_path / "missing.wav")


def test_is_silent():
    assert is_silent(np.zeros(16000, dtype=np.float32))
    assert is_silent(np.zeros(0, dtype=np.float32))
    assert is_silent(np.full(16000, 1e-4, dtype=np.float32))
    assert not is_silent(tone(0.5))
    assert not is_silent(tone(0.5, amp=0.01))


def test_long_arrays_convert_block_by_block_to_the_same_samples():
    """Arrays longer than one conversion block (int16 stereo, out-of-range float) give exactly the
    samples of the whole-array float64 arithmetic, and silence is judged the same way."""
    from emoens import audio

    rng = np.random.default_rng(3)
    n = audio._BLOCK_SAMPLES * 2 + 12345
    pcm = (rng.standard_normal((n, 2)) * 8000).astype(np.int16)
    want = (pcm.astype(np.float64) / 32768).mean(axis=1).astype(np.float32)
    got = audio.load_audio((16000, pcm), max_seconds=None)
    assert got.dtype == np.float32 and np.array_equal(got, want)
    loud = rng.standard_normal(n) * 3
    want = (loud / np.max(np.abs(loud))).astype(np.float32)
    assert np.array_equal(audio.load_audio((16000, loud), max_seconds=None), want)
    quiet = (rng.standard_normal(n) * 1e-4).astype(np.float32)
    assert audio.is_silent(quiet) and not audio.is_silent(quiet * 1e3)
