"""Decoding any audio input to float32 mono 16 kHz (soundfile + soxr; ffmpeg only as a fallback).

libsndfile (through soundfile) reads WAV, FLAC, OGG/Vorbis/Opus and MP3 itself; ffmpeg is needed only
for containers it cannot open, such as WebM and M4A/AAC recorded by browsers.

Every failure raises :class:`AudioError`, whose message names the input. The messages are stable
(they are listed in the error catalogue); the templates are the ``_MSG_*`` constants below.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from emoens.errors import EmoensError

SAMPLE_RATE = 16000
_FALLBACK_MAX_SECONDS = 600.0
log = logging.getLogger(__name__)


def _max_seconds_from_env() -> float:
    raw = os.environ.get("EMOENS_MAX_AUDIO_SECONDS")
    if raw is None or raw.strip() == "":
        return _FALLBACK_MAX_SECONDS
    try:
        value = float(raw)
        if value <= 0 or not np.isfinite(value):
            raise ValueError
    except ValueError:
        log.warning("EMOENS_MAX_AUDIO_SECONDS=%r is not a positive number; using %.0f s",
                    raw, _FALLBACK_MAX_SECONDS)
        return _FALLBACK_MAX_SECONDS
    return value


DEFAULT_MAX_SECONDS: float = _max_seconds_from_env()
"""Longest audio accepted by :func:`load_audio` (env ``EMOENS_MAX_AUDIO_SECONDS``, default 600 s)."""

# Message templates (stable: asserted by the bad-input catalogue).
_MSG_NOT_FOUND = "audio file not found: {name}"
_MSG_DIRECTORY = "{name} is a directory, not an audio file"
_MSG_EMPTY = "{name} is empty: it contains no audio samples"
_MSG_UNDECODABLE = "cannot decode {name} as audio ({detail}); WAV, FLAC, OGG, MP3 are supported, and WebM/M4A with ffmpeg"
_MSG_NONFINITE = "{name} contains NaN or infinite samples"
_MSG_TOO_LONG = ("{name} is {duration:.1f} s long, longer than the {limit:g} s limit "
                 "(pass max_seconds or set EMOENS_MAX_AUDIO_SECONDS to allow longer audio)")
_MSG_NEEDS_FFMPEG = ("{name} needs ffmpeg to be decoded (WebM/M4A/AAC and similar formats): "
                     "install ffmpeg (e.g. `sudo apt-get install ffmpeg`)")
_MSG_BAD_ARRAY = "{name} is not usable audio: {detail}"
_MSG_BAD_SOURCE = ("cannot read audio from a {kind}: give a file path, bytes, or a "
                   "(sample_rate, samples) pair")

# Extensions and magic numbers of containers libsndfile cannot open.
_FFMPEG_EXTENSIONS = {".webm", ".weba", ".m4a", ".mp4", ".aac", ".mka", ".mkv", ".mov", ".3gp",
                      ".amr", ".wma", ".caf"}


class AudioError(EmoensError):
    """Audio that cannot be used: missing, empty, undecodable, non-finite or too long."""


class _FfmpegFailed(AudioError):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def _needs_ffmpeg(head: bytes, suffix: str) -> bool:
    if suffix.lower() in _FFMPEG_EXTENSIONS:
        return True
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM / Matroska
        return True
    if head[4:8] == b"ftyp":  # ISO BMFF: MP4 / M4A
        return True
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # ADTS AAC
        return True
    return False


def _ffmpeg_binary() -> str | None:
    return shutil.which("ffmpeg")


def _check_too_long(name: str, duration: float, max_seconds: float | None) -> None:
    if max_seconds is not None and duration > max_seconds:
        raise AudioError(_MSG_TOO_LONG.format(name=name, duration=duration, limit=max_seconds))


def _to_mono_float(samples: np.ndarray, name: str) -> np.ndarray:
    """Integer PCM scaled to [-1, 1], channels averaged; (n, ch) and (ch, n) layouts accepted."""
    arr = np.asarray(samples)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise AudioError(_MSG_BAD_ARRAY.format(name=name, detail=f"samples of type {arr.dtype}"))
    if np.iscomplexobj(arr):
        raise AudioError(_MSG_BAD_ARRAY.format(name=name, detail="complex samples"))
    if arr.ndim == 0 or arr.size == 0:
        raise AudioError(_MSG_EMPTY.format(name=name))
    if arr.ndim > 2:
        raise AudioError(_MSG_BAD_ARRAY.format(name=name, detail=f"{arr.ndim}-D array {arr.shape}"))
    if arr.dtype.kind == "u":
        bits = arr.dtype.itemsize * 8
        data = (arr.astype(np.float64) - 2 ** (bits - 1)) / 2 ** (bits - 1)
    elif arr.dtype.kind == "i":
        data = arr.astype(np.float64) / 2 ** (arr.dtype.itemsize * 8 - 1)
    elif arr.dtype == bool:
        data = arr.astype(np.float64)
    else:
        data = arr.astype(np.float64, copy=False)
        if not np.all(np.isfinite(data)):
            raise AudioError(_MSG_NONFINITE.format(name=name))
    if data.ndim == 2:
        rows, cols = data.shape
        # gradio gives (n, channels); accept (channels, n) too: channels are the short side.
        axis = 1 if cols <= rows else 0
        data = data.mean(axis=axis)
    if arr.dtype.kind == "f":
        peak = float(np.max(np.abs(data))) if data.size else 0.0
        if peak > 1.0 + 1e-6:  # float audio outside [-1, 1]: peak-normalise rather than clip
            data = data / peak
    return data.astype(np.float32)


def _resample(samples: np.ndarray, sr: int) -> np.ndarray:
    if sr == SAMPLE_RATE:
        return samples
    import soxr

    return soxr.resample(samples, sr, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)


def _finish(samples: np.ndarray, sr: int, name: str) -> np.ndarray:
    if samples.size == 0:
        raise AudioError(_MSG_EMPTY.format(name=name))
    out = _resample(samples, int(sr))
    if out.size == 0:
        raise AudioError(_MSG_EMPTY.format(name=name))
    return np.clip(out, -1.0, 1.0).astype(np.float32, copy=False)


def _read_soundfile(handle, name: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Read with libsndfile; raises ``RuntimeError`` subclasses it cannot open (caller falls back)."""
    import soundfile as sf

    with sf.SoundFile(handle) as snd:
        if snd.frames > 0 and snd.samplerate > 0:
            _check_too_long(name, snd.frames / snd.samplerate, max_seconds)
        data = snd.read(dtype="float32", always_2d=True)
        sr = snd.samplerate
    if data.size and not np.all(np.isfinite(data)):
        raise AudioError(_MSG_NONFINITE.format(name=name))
    return data.mean(axis=1).astype(np.float32), sr


def _decode_ffmpeg(path: Path, name: str, max_seconds: float | None) -> np.ndarray:
    """Decode any container ffmpeg understands to 16 kHz mono float32."""
    binary = _ffmpeg_binary()
    if binary is None:
        raise AudioError(_MSG_NEEDS_FFMPEG.format(name=name))
    cmd = [binary, "-nostdin", "-v", "error", "-i", str(path)]
    if max_seconds is not None:  # decode a little past the limit only, to detect "too long"
        cmd += ["-t", f"{max_seconds + 1.0:.3f}"]
    cmd += ["-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _FfmpegFailed("ffmpeg: " + (lines[-1] if lines else f"exit {proc.returncode}"))
    samples = np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)
    if samples.size == 0:
        raise AudioError(_MSG_EMPTY.format(name=name))
    if not np.all(np.isfinite(samples)):
        raise AudioError(_MSG_NONFINITE.format(name=name))
    if max_seconds is not None and samples.size / SAMPLE_RATE > max_seconds:
        duration = _ffprobe_duration(path) or samples.size / SAMPLE_RATE
        _check_too_long(name, max(duration, max_seconds + 1e-3), max_seconds)
    return samples


def _ffprobe_duration(path: Path) -> float | None:
    binary = shutil.which("ffprobe")
    if binary is None:
        return None
    proc = subprocess.run(
        [binary, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=False)
    try:
        return float(proc.stdout.strip())
    except ValueError:
        return None


def _fallback(path: Path, head: bytes, name: str, max_seconds: float | None,
              exc: Exception) -> np.ndarray:
    """libsndfile could not open ``path``: decode with ffmpeg, or say why not."""
    needs = _needs_ffmpeg(head, path.suffix)
    if _ffmpeg_binary() is None:
        if needs:
            raise AudioError(_MSG_NEEDS_FFMPEG.format(name=name)) from exc
        raise AudioError(_MSG_UNDECODABLE.format(name=name, detail=str(exc))) from exc
    try:
        samples = _decode_ffmpeg(path, name, max_seconds)
    except _FfmpegFailed as ff_exc:
        detail = ff_exc.detail if needs else str(exc)
        raise AudioError(_MSG_UNDECODABLE.format(name=name, detail=detail)) from exc
    return _finish(samples, SAMPLE_RATE, name)


def _load_path(path: Path, name: str, max_seconds: float | None) -> np.ndarray:
    import soundfile as sf

    if path.is_dir():
        raise AudioError(_MSG_DIRECTORY.format(name=name))
    if not path.exists():
        raise AudioError(_MSG_NOT_FOUND.format(name=name))
    if path.stat().st_size == 0:
        raise AudioError(_MSG_EMPTY.format(name=name))
    try:
        samples, sr = _read_soundfile(str(path), name, max_seconds)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        with open(path, "rb") as handle:
            head = handle.read(16)
        return _fallback(path, head, name, max_seconds, exc)
    return _finish(samples, sr, name)


def _load_bytes(data: bytes, name: str, max_seconds: float | None) -> np.ndarray:
    import soundfile as sf

    if len(data) == 0:
        raise AudioError(_MSG_EMPTY.format(name=name))
    try:
        samples, sr = _read_soundfile(io.BytesIO(data), name, max_seconds)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        # ffmpeg needs a seekable file for MP4/M4A (the index may sit at the end).
        with tempfile.TemporaryDirectory(prefix="emoens-audio-") as tmp:
            tmp_path = Path(tmp) / "input"
            tmp_path.write_bytes(data)
            return _fallback(tmp_path, data[:16], name, max_seconds, exc)
    return _finish(samples, sr, name)


def load_audio(source, *, max_seconds: float | None = DEFAULT_MAX_SECONDS,
               name: str | None = None) -> np.ndarray:
    """Decode ``source`` to float32 mono 16 kHz samples in [-1, 1].

    ``source`` is a path (str or PathLike), the bytes of an audio file, or a ``(sample_rate,
    samples)`` pair as gradio gives it (integer PCM is scaled, ``(n, channels)`` or ``(channels,
    n)`` averaged). ``max_seconds=None`` disables the length limit. ``name`` is how the input is
    called in error messages (default: the path, "audio bytes" or "audio array").
    Raises :class:`AudioError` for anything unusable.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return _load_path(path, name or str(source), max_seconds)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return _load_bytes(data, name or f"audio bytes ({len(data)} bytes)", max_seconds)
    if isinstance(source, tuple) and len(source) == 2:
        sr, samples = source
        label = name or "audio array"
        if isinstance(sr, np.ndarray) and not isinstance(samples, np.ndarray):
            sr, samples = samples, sr  # tolerate (samples, sr)
        try:
            sr_value = float(sr)
        except (TypeError, ValueError):
            raise AudioError(_MSG_BAD_ARRAY.format(name=label, detail=f"sample rate {sr!r}")) from None
        if not np.isfinite(sr_value) or sr_value <= 0 or sr_value != int(sr_value):
            raise AudioError(_MSG_BAD_ARRAY.format(name=label, detail=f"sample rate {sr!r}"))
        mono = _to_mono_float(np.asarray(samples), label)
        _check_too_long(label, mono.size / sr_value, max_seconds)
        return _finish(mono, int(sr_value), label)
    if isinstance(source, np.ndarray):
        raise AudioError(_MSG_BAD_ARRAY.format(
            name=name or "audio array",
            detail="a bare array has no sample rate; give (sample_rate, samples)"))
    raise AudioError(_MSG_BAD_SOURCE.format(kind=type(source).__name__))


def audio_duration(path) -> float:
    """Duration in seconds of the audio file at ``path``, from its header (ffprobe as fallback)."""
    import soundfile as sf

    p = Path(path)
    name = str(path)
    if p.is_dir():
        raise AudioError(_MSG_DIRECTORY.format(name=name))
    if not p.exists():
        raise AudioError(_MSG_NOT_FOUND.format(name=name))
    if p.stat().st_size == 0:
        raise AudioError(_MSG_EMPTY.format(name=name))
    try:
        info = sf.info(str(p))
        return float(info.frames) / float(info.samplerate)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        with open(p, "rb") as handle:
            head = handle.read(16)
        if shutil.which("ffprobe") is None:
            if _needs_ffmpeg(head, p.suffix):
                raise AudioError(_MSG_NEEDS_FFMPEG.format(name=name)) from exc
            raise AudioError(_MSG_UNDECODABLE.format(name=name, detail=str(exc))) from exc
        duration = _ffprobe_duration(p)
        if duration is None:
            raise AudioError(_MSG_UNDECODABLE.format(name=name, detail=str(exc))) from exc
        return duration


SILENCE_DBFS = -60.0
"""RMS level (dB full scale) under which audio counts as silent."""


def is_silent(samples: np.ndarray, threshold_dbfs: float = SILENCE_DBFS) -> bool:
    """True for empty, all-zero or near-silent audio (RMS below ``threshold_dbfs``, default -60 dBFS)."""
    arr = np.asarray(samples, dtype=np.float64)
    if arr.size == 0:
        return True
    rms = float(np.sqrt(np.mean(np.square(arr))))
    return rms < 10 ** (threshold_dbfs / 20)
