"""Property tests (hypothesis): the audio loader and the transcript cleaner never fail with
anything but their documented error, whatever they are given. Bounded so they run in seconds."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emoens.audio import AudioError, load_audio
from emoens.text import TextError, clean_transcript, read_transcript

FAST = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Undecodable input falls back to an ffmpeg subprocess (~0.15 s each): fewer examples there.
WITH_FFMPEG = settings(FAST, max_examples=30)


def _wav_bytes(samples: np.ndarray, sr: int = 16000, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


VALID_WAV = _wav_bytes((0.3 * np.sin(np.arange(1600) / 5)).astype(np.float32))


def _check_audio(out: np.ndarray) -> None:
    assert out.dtype == np.float32 and out.ndim == 1 and out.size > 0
    assert np.all(np.isfinite(out)) and float(np.max(np.abs(out))) <= 1.0


@WITH_FFMPEG
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_decode_or_raise_audio_error(data):
    try:
        out = load_audio(data, max_seconds=30)
    except AudioError as exc:
        assert str(exc)  # a message, naming the input
        return
    _check_audio(out)


@FAST
@given(st.integers(0, len(VALID_WAV) - 1), st.binary(min_size=1, max_size=64),
       st.integers(0, len(VALID_WAV)))
def test_corrupted_wav_decodes_or_raises_audio_error(offset, junk, cut):
    """A valid WAV with bytes overwritten and/or cut short: the nastier neighbourhood."""
    data = bytearray(VALID_WAV)
    data[offset:offset + len(junk)] = junk
    data = bytes(data[:max(cut, 1)])
    try:
        out = load_audio(data, max_seconds=30)
    except AudioError as exc:
        assert str(exc)
        return
    _check_audio(out)


@WITH_FFMPEG
@given(st.binary(max_size=1024), st.sampled_from([".wav", ".webm", ".m4a", ".mp3", ".ogg", ".flac", ""]))
def test_arbitrary_files_decode_or_raise_audio_error(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("prop") / f"input{suffix}"
    path.write_bytes(data)
    try:
        out = load_audio(path, max_seconds=30)
    except AudioError as exc:
        assert str(path) in str(exc)  # the message names the file
        return
    _check_audio(out)


_FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32)


@FAST
@given(st.integers(-10, 200_000), st.lists(_FLOATS, max_size=400))
def test_arbitrary_arrays_decode_or_raise_audio_error(sr, values):
    try:
        out = load_audio((sr, np.asarray(values, dtype=np.float32)), max_seconds=30)
    except AudioError as exc:
        assert str(exc)
        return
    _check_audio(out)


@settings(FAST, max_examples=100)
@given(st.text(max_size=300))
def test_clean_transcript_never_raises_and_is_idempotent(raw):
    out = clean_transcript(raw)
    assert isinstance(out, str)
    assert out == out.strip() and "  " not in out
    assert clean_transcript(out) == out


# ETRI-flavoured text: tags, (A+B) groups, Korean, punctuation, and lone surrogates (what
# undecodable command-line bytes become in Python).
_ETRI = st.lists(st.sampled_from(["b/", "l/", "/n", "o/", "(", ")", "+", "/", "감사합니다", "음", " ",
                                  ".", "?", "\n", "\t", "\udcff", "\x00", "ㅋㅋ", "123", "A+B"]),
                 max_size=40).map("".join)


@FAST
@given(_ETRI)
def test_clean_transcript_on_etri_like_text(raw):
    out = clean_transcript(raw)
    assert "b/" not in out and "(" not in out and ")" not in out and "\udcff" not in out
    assert clean_transcript(out) == out


@FAST
@given(st.binary(max_size=200))
def test_read_transcript_decodes_or_raises_text_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("txt") / "t.txt"
    path.write_bytes(data)
    try:
        text = read_transcript(path)
    except TextError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(text, str)
    clean_transcript(text)


def test_the_properties_can_fail():
    """The strategies reach the error paths (else the tests above would prove little)."""
    with pytest.raises(AudioError):
        load_audio(b"\x00" * 10)
    with pytest.raises(AudioError):
        load_audio((16000, np.array([np.nan], dtype=np.float32)))
    assert clean_transcript("(감사합니다+음) b/ 그래요.") == "음 그래요."
