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

SAMPLES_PER_SECOND_CAP = 96000
"""Samples × channels read per allowed second (48 kHz stereo): the cap is ``max_seconds`` × this."""
MIN_SAMPLE_RATE = 4000
"""Lowest sample rate accepted (a 1-Hz file would be 16,000 times more work than its bytes)."""
_UNKNOWN_FRAMES = 2 ** 62  # libsndfile reports SF_COUNT_MAX frames when the header has no length
_BLOCK_SAMPLES = 1 << 20  # samples × channels per streamed block (4 MB of float32)

# Message templates (stable: asserted by the bad-input catalogue).
_MSG_NOT_FOUND = "audio file not found: {name}"
_MSG_DIRECTORY = "{name} is a directory, not an audio file"
_MSG_EMPTY = "{name} is empty: it contains no audio samples"
_MSG_UNDECODABLE = "cannot decode {name} as audio ({detail}); WAV, FLAC, OGG, MP3 are supported, and WebM/M4A with ffmpeg"
_MSG_NONFINITE = "{name} contains NaN or infinite samples"
_MSG_TOO_LONG = ("{name} is {duration:.1f} s long, longer than the {limit:g} s limit "
                 "(pass max_seconds or set EMOENS_MAX_AUDIO_SECONDS to allow longer audio)")
_MSG_TOO_LONG_UNKNOWN = ("{name} holds more audio than the {limit:g} s limit allows (over {cap:,} "
                         "samples × channels, or longer than {limit:g} s; its header gave no length "
                         "or a wrong one): shorten, downmix or resample it")
_MSG_TOO_MANY_SAMPLES = ("{name} holds {count:,} samples ({channels} channels at {rate} Hz), more than "
                         "the {cap:,} samples × channels read for a {limit:g} s limit: downmix or "
                         "resample it (at most 48 kHz stereo for the full length)")
_MSG_LOW_RATE = "{name} has a sample rate of {rate} Hz, below the {minimum} Hz that speech needs"
_MSG_NEEDS_FFMPEG = ("{name} needs ffmpeg to be decoded (WebM/M4A/AAC and similar formats): "
                     "install ffmpeg (e.g. `sudo apt-get install ffmpeg`)")
_MSG_BAD_ARRAY = "{name} is not usable audio: {detail}"
_MSG_BAD_SOURCE = ("cannot read audio from a {kind}: give a file path, bytes, or a "
                   "(sample_rate, samples) pair")

# Extensions and magic numbers of containers libsndfile cannot open.
_FFMPEG_EXTENSIONS = {".webm", ".weba", ".m4a", ".mp4", ".aac", ".mka", ".mkv", ".mov", ".3gp",
                      ".amr", ".wma", ".caf"}


# Containers the ffmpeg fallback may open, told by their first bytes: (magic test, demuxer).
# Anything else (playlists such as .m3u8, concat lists, SDP, image sequences…) is never given to
# ffmpeg, which is run with that demuxer forced, the file protocol only and audio decoders only.
_FFMPEG_CONTAINERS = (
    (lambda h: h[:4] == b"\x1a\x45\xdf\xa3", "matroska"),  # WebM / Matroska (EBML)
    (lambda h: h[4:8] == b"ftyp", "mov"),  # ISO BMFF: MP4 / M4A / 3GP
    (lambda h: len(h) >= 2 and h[0] == 0xFF and h[1] & 0xF6 == 0xF0, "aac"),  # ADTS AAC
    (lambda h: h[:3] == b"ID3" or (len(h) >= 2 and h[0] == 0xFF and h[1] & 0xE0 == 0xE0), "mp3"),
    (lambda h: h[:4] == b"OggS", "ogg"),
    (lambda h: h[:4] == b"fLaC", "flac"),
    (lambda h: h[:4] in (b"RIFF", b"RF64") and h[8:12] == b"WAVE", "wav"),
    (lambda h: h[:5] == b"#!AMR", "amr"),
    (lambda h: h[:4] == b"\x30\x26\xb2\x75", "asf"),  # WMA
    (lambda h: h[:4] == b"caff", "caf"),
)
_FFMPEG_CODECS = ("aac,aac_fixed,aac_latm,opus,libopus,vorbis,libvorbis,mp3,mp3float,mp2,flac,alac,"
                  "amrnb,amrwb,libopencore_amrnb,libopencore_amrwb,wmav1,wmav2,wmapro,"
                  "pcm_s16le,pcm_s16be,pcm_s24le,pcm_s24be,pcm_s32le,pcm_s32be,pcm_f32le,pcm_f32be,"
                  "pcm_f64le,pcm_u8,pcm_mulaw,pcm_alaw,adpcm_ima_wav,adpcm_ms")


class AudioError(EmoensError):
    """Audio that cannot be used: missing, empty, undecodable, non-finite or too long."""


class _FfmpegFailed(AudioError):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def _container(head: bytes) -> str | None:
    """The ffmpeg demuxer allowed for a file starting with ``head``, or None."""
    return next((fmt for test, fmt in _FFMPEG_CONTAINERS if test(head)), None)


def _needs_ffmpeg(head: bytes, suffix: str) -> bool:
    if suffix.lower() in _FFMPEG_EXTENSIONS:
        return True
    return _container(head) in ("matroska", "mov", "aac", "amr", "asf", "caf")


def _ffmpeg_binary() -> str | None:
    return shutil.which("ffmpeg")


def _check_too_long(name: str, duration: float, max_seconds: float | None) -> None:
    if max_seconds is not None and duration > max_seconds:
        raise AudioError(_MSG_TOO_LONG.format(name=name, duration=duration, limit=max_seconds))


def sample_cap(max_seconds: float | None) -> int | None:
    """Samples × channels that may be read for a ``max_seconds`` limit (None: no limit)."""
    return None if max_seconds is None else int(max_seconds * SAMPLES_PER_SECOND_CAP)


def _check_header(name: str, frames: int, channels: int, rate: int, max_seconds: float | None) -> None:
    """Refuse, before decoding, a rate below speech or a length over the limits the header gives."""
    if rate < MIN_SAMPLE_RATE:
        raise AudioError(_MSG_LOW_RATE.format(name=name, rate=rate, minimum=MIN_SAMPLE_RATE))
    if not 0 < frames < _UNKNOWN_FRAMES:
        return
    _check_too_long(name, frames / rate, max_seconds)
    cap = sample_cap(max_seconds)
    if cap is not None and frames * channels > cap:
        raise AudioError(_MSG_TOO_MANY_SAMPLES.format(
            name=name, count=frames * channels, channels=channels, rate=rate, cap=cap,
            limit=max_seconds))


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
    # (n, ch) from gradio, (ch, n) accepted too: the channels are the short side
    time_axis = 0 if arr.ndim == 1 or arr.shape[1] <= arr.shape[0] else 1
    peak = 1.0
    if arr.dtype.kind == "f":
        for block in _time_blocks(arr, time_axis):
            if not np.all(np.isfinite(block)):
                raise AudioError(_MSG_NONFINITE.format(name=name))
        # float audio outside [-1, 1] is peak-normalised rather than clipped
        peak = max(float(np.max(np.abs(_mono64(b, time_axis)))) for b in _time_blocks(arr, time_axis))
    out = np.empty(arr.shape[time_axis], np.float32)
    done = 0
    for block in _time_blocks(arr, time_axis):
        data = _mono64(block, time_axis)
        if peak > 1.0 + 1e-6:
            data = data / peak
        out[done:done + data.size] = data
        done += data.size
    return out


def _as_is(arr: np.ndarray, sr: float) -> np.ndarray | None:
    """A read-only view of ``arr`` when it already is what :func:`load_audio` returns (float32
    mono 16 kHz, finite, within [-1, 1]: what ``librosa.load(path, sr=16000)`` gives), else None.
    A long clip is then not copied (a 10-minute one is 37 MiB); nothing downstream may write into
    the caller's array, and the view makes sure of it."""
    if arr.dtype != np.float32 or int(sr) != SAMPLE_RATE or arr.size == 0:
        return None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        return None
    for block in _time_blocks(arr, 0):
        if not (np.all(np.isfinite(block)) and float(np.max(np.abs(block))) <= 1.0):
            return None
    view = arr.view()
    view.flags.writeable = False
    return view


def _time_blocks(arr: np.ndarray, time_axis: int):
    """``arr`` in blocks of :data:`_BLOCK_SAMPLES` along its time axis (views, no copies): a
    float64 copy of a whole 10-minute array was 73 MiB."""
    for i in range(0, arr.shape[time_axis], _BLOCK_SAMPLES):
        yield arr[i:i + _BLOCK_SAMPLES] if time_axis == 0 else arr[:, i:i + _BLOCK_SAMPLES]


def _mono64(block: np.ndarray, time_axis: int) -> np.ndarray:
    """One block as float64 in [-1, 1] (integer PCM scaled), channels averaged."""
    if block.dtype.kind == "u":
        bits = block.dtype.itemsize * 8
        data = (block.astype(np.float64) - 2 ** (bits - 1)) / 2 ** (bits - 1)
    elif block.dtype.kind == "i":
        data = block.astype(np.float64) / 2 ** (block.dtype.itemsize * 8 - 1)
    else:
        data = block.astype(np.float64, copy=False)
    return data.mean(axis=1 - time_axis) if data.ndim == 2 else data


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
    out = out.astype(np.float32, copy=False)  # a fresh array here: clipped in place
    return np.clip(out, -1.0, 1.0, out=out)


class _Downmixer:
    """Blocks of (frames, channels) in, 16 kHz mono out: averaged and resampled as they stream."""

    def __init__(self, rate: int):
        import soxr

        self.rate = rate
        self.stream = None if rate == SAMPLE_RATE else soxr.ResampleStream(
            rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        self.parts: list[np.ndarray] = []
        self.peak = 0.0

    def add(self, block: np.ndarray, name: str) -> None:
        if not np.all(np.isfinite(block)):
            raise AudioError(_MSG_NONFINITE.format(name=name))
        mono = block.mean(axis=1, dtype=np.float32)
        if mono.size:
            self.peak = max(self.peak, float(np.max(np.abs(mono))))
        self.parts.append(mono if self.stream is None else self.stream.resample_chunk(mono))

    def result(self, floating: bool) -> np.ndarray:
        if self.stream is not None:
            self.parts.append(self.stream.resample_chunk(np.zeros(0, np.float32), last=True))
        out = np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)
        if floating and self.peak > 1.0 + 1e-6:
            out = out / self.peak
        return out.astype(np.float32, copy=False)


def _blocks(snd, frames: int):
    """Consecutive float32 (frames, channels) blocks, read without seeking (streams of unknown
    length cannot seek)."""
    if not 0 < snd.frames < _UNKNOWN_FRAMES:
        # soundfile re-seeks after every read of a seekable file, which libsndfile cannot do in a
        # FLAC without a length ("psf_fseek() failed"): read it as the stream it is.
        snd._info.seekable = 0
    while True:
        block = snd.read(frames, dtype="float32", always_2d=True)
        if not len(block):
            return
        yield block


def _read_soundfile(handle, name: str, max_seconds: float | None) -> np.ndarray:
    """Stream with libsndfile, downmixing and resampling block by block: memory is the 16 kHz
    mono result plus one block. Raises ``RuntimeError`` subclasses it cannot open (caller falls back)."""
    import soundfile as sf

    with sf.SoundFile(handle) as snd:
        rate, channels = int(snd.samplerate), int(snd.channels)
        _check_header(name, int(snd.frames), channels, rate, max_seconds)
        floating = snd.subtype in ("FLOAT", "DOUBLE")
        # Headers can lie or give no length: stop reading at the limits whatever they say.
        limit = None if max_seconds is None else min(int(max_seconds * rate),
                                                     sample_cap(max_seconds) // channels)
        mixer, read = _Downmixer(rate), 0
        for block in _blocks(snd, max(1, _BLOCK_SAMPLES // channels)):
            read += len(block)
            if limit is not None and read > limit:
                raise AudioError(_MSG_TOO_LONG_UNKNOWN.format(
                    name=name, limit=max_seconds, cap=sample_cap(max_seconds)))
            mixer.add(block, name)
    out = mixer.result(floating)
    if out.size == 0:
        raise AudioError(_MSG_EMPTY.format(name=name))
    return np.clip(out, -1.0, 1.0, out=out)


def _ffmpeg_input(binary: str, path: Path, fmt: str) -> list[str]:
    """The start of an ffmpeg/ffprobe command that reads ``path`` with demuxer ``fmt`` only."""
    return [binary, "-nostdin", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", fmt,
            "-codec_whitelist", _FFMPEG_CODECS, "-f", fmt, "-i", "file:" + str(Path(path).resolve())]


def _decode_ffmpeg(path: Path, fmt: str, name: str, max_seconds: float | None) -> np.ndarray:
    """Decode an allow-listed container with ffmpeg to 16 kHz mono float32."""
    binary = _ffmpeg_binary()
    if binary is None:
        raise AudioError(_MSG_NEEDS_FFMPEG.format(name=name))
    cmd = _ffmpeg_input(binary, path, fmt)
    if max_seconds is not None:  # decode a little past the limit only, to detect "too long"
        cmd += ["-t", f"{max_seconds + 1.0:.3f}"]
    cmd += ["-vn", "-sn", "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1"]
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
        duration = _ffprobe_duration(path, fmt) or samples.size / SAMPLE_RATE
        _check_too_long(name, max(duration, max_seconds + 1e-3), max_seconds)
    return samples


def _ffprobe_duration(path: Path, fmt: str) -> float | None:
    binary = shutil.which("ffprobe")
    if binary is None:
        return None
    cmd = _ffmpeg_input(binary, path, fmt)
    cmd.remove("-nostdin")  # ffprobe's input comes last, without -i
    cmd.remove("-i")
    proc = subprocess.run(cmd[:-1] + ["-show_entries", "format=duration", "-of", "csv=p=0", cmd[-1]],
                          capture_output=True, text=True, check=False)
    try:
        value = float(proc.stdout.strip())
    except ValueError:
        return None
    return value if np.isfinite(value) and value >= 0 else None


def _sndfile_detail(exc: Exception) -> str:
    """libsndfile's reason, minus its misleading 'does not exist … (possibly a pipe?)' for files
    that exist but hold no audio (e.g. an MP3 with an ID3 tag and no frames)."""
    detail = str(exc)
    if "possibly a pipe" in detail or "not a regular file" in detail:
        return "no audio data found in it"
    return detail


def _fallback(path: Path, head: bytes, name: str, max_seconds: float | None,
              exc: Exception) -> np.ndarray:
    """libsndfile could not open ``path``: decode an allow-listed container with ffmpeg, or say why not."""
    needs = _needs_ffmpeg(head, path.suffix)
    fmt = _container(head)
    if fmt is None:
        raise AudioError(_MSG_UNDECODABLE.format(name=name, detail=_sndfile_detail(exc))) from exc
    if _ffmpeg_binary() is None:
        if needs:
            raise AudioError(_MSG_NEEDS_FFMPEG.format(name=name)) from exc
        raise AudioError(_MSG_UNDECODABLE.format(name=name, detail=_sndfile_detail(exc))) from exc
    try:
        samples = _decode_ffmpeg(path, fmt, name, max_seconds)
    except _FfmpegFailed as ff_exc:
        detail = ff_exc.detail if needs else _sndfile_detail(exc)
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
        return _read_soundfile(str(path), name, max_seconds)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        with open(path, "rb") as handle:
            head = handle.read(16)
        return _fallback(path, head, name, max_seconds, exc)


def _load_bytes(data: bytes, name: str, max_seconds: float | None) -> np.ndarray:
    import soundfile as sf

    if len(data) == 0:
        raise AudioError(_MSG_EMPTY.format(name=name))
    try:
        return _read_soundfile(io.BytesIO(data), name, max_seconds)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        # ffmpeg needs a seekable file for MP4/M4A (the index may sit at the end).
        with tempfile.TemporaryDirectory(prefix="emoens-audio-") as tmp:
            tmp_path = Path(tmp) / "input"
            tmp_path.write_bytes(data)
            return _fallback(tmp_path, data[:16], name, max_seconds, exc)


def load_audio(source, *, max_seconds: float | None = DEFAULT_MAX_SECONDS,
               name: str | None = None) -> np.ndarray:
    """Decode ``source`` to float32 mono 16 kHz samples in [-1, 1].

    ``source`` is a path (str or PathLike), the bytes of an audio file, or a ``(sample_rate,
    samples)`` pair as gradio gives it (integer PCM is scaled, ``(n, channels)`` or ``(channels,
    n)`` averaged; float32 mono 16-kHz samples within [-1, 1] come back as a read-only view, not
    a copy). ``max_seconds=None`` disables the length limit. ``name`` is how the input is
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
        arr = np.asarray(samples)
        channels = min(arr.shape) if arr.ndim == 2 else 1
        _check_header(label, arr.size // max(channels, 1), channels, int(sr_value), max_seconds)
        same = _as_is(arr, sr_value)
        if same is not None:
            _check_too_long(label, same.size / sr_value, max_seconds)
            return same
        mono = _to_mono_float(arr, label)
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
        with sf.SoundFile(str(p)) as snd:
            if 0 < snd.frames < _UNKNOWN_FRAMES:
                return float(snd.frames) / float(snd.samplerate)
            # No length in the header (e.g. a streamed FLAC): count the frames.
            frames = sum(len(b) for b in _blocks(snd, 65536))
            return float(frames) / float(snd.samplerate)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        with open(p, "rb") as handle:
            head = handle.read(16)
        fmt = _container(head)
        if shutil.which("ffprobe") is None or fmt is None:
            if fmt is not None and _needs_ffmpeg(head, p.suffix):
                raise AudioError(_MSG_NEEDS_FFMPEG.format(name=name)) from exc
            raise AudioError(_MSG_UNDECODABLE.format(name=name, detail=_sndfile_detail(exc))) from exc
        duration = _ffprobe_duration(p, fmt)
        if duration is None:
            raise AudioError(_MSG_UNDECODABLE.format(name=name, detail=_sndfile_detail(exc))) from exc
        return duration


SILENCE_DBFS = -60.0
"""RMS level (dB full scale) under which audio counts as silent."""


def is_silent(samples: np.ndarray, threshold_dbfs: float = SILENCE_DBFS) -> bool:
    """True for empty, all-zero or near-silent audio (RMS below ``threshold_dbfs``, default -60 dBFS)."""
    arr = np.asarray(samples).reshape(-1)
    if arr.size == 0:
        return True
    # in float64 blocks: a whole-clip float64 copy and its square were 150 MiB for 10 minutes
    energy = sum(float(np.dot(block, block)) for block in
                 (arr[i:i + _BLOCK_SAMPLES].astype(np.float64)
                  for i in range(0, arr.size, _BLOCK_SAMPLES)))
    return float(np.sqrt(energy / arr.size)) < 10 ** (threshold_dbfs / 20)
