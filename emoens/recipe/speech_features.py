"""Speech features of the default recipe: pooled Whisper-base encoder states and prosody.

Per clip, cached by the audio file's hash and :data:`FEATURE_VERSION`:

- ``states``: the unpadded Whisper-base encoder states pooled by several statistics, both as they
  are and after per-frame normalisation (each frame's 512 values to zero mean and unit variance,
  which removes the overall level a microphone or speaker adds): :data:`STATE_BLOCKS`.
- ``prosody``: pitch (YIN), energy, spectral shape and rate statistics from librosa, in
  speaker-relative units where that makes sense (semitones around the clip's median pitch, dB
  below the clip's loudest frame): :data:`PROSODY_NAMES`.

The runtime member (:mod:`emoens.models.speech_head`) computes exactly these from one encoder pass.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

FEATURE_VERSION = "whisper-base-int8-unpadded-stats6-v1|librosa-prosody-v1"
SAMPLE_RATE = 16000
STATE_DIM = 512
# name -> (normalised frames?, statistic); the order is the layout of the ``states`` vector
STATE_BLOCKS = (("mean", False), ("std", False), ("p10", False), ("p90", False),
                ("norm_mean", True), ("norm_std", True))
PROSODY_NAMES = (
    "f0_st_std", "f0_st_p10", "f0_st_p90", "f0_st_range", "f0_st_slope", "f0_log_median",
    "f0_st_delta", "voiced_fraction",
    "rms_db_mean", "rms_db_std", "rms_db_p10", "rms_db_range", "rms_db_delta", "log_rms_max",
    "centroid_log_mean", "centroid_log_std", "flatness_log_mean", "rolloff_log_mean",
    "zcr_mean", "zcr_std", "onset_rate", "onset_strength_mean", "log_duration",
    "pause_fraction",
)
_HOP = 160  # 10 ms at 16 kHz


def feature_columns(blocks, prosody: bool) -> np.ndarray:
    """Column indices of the chosen state blocks (+ prosody) in a feature row."""
    names = [b for b, _ in STATE_BLOCKS]
    cols = [np.arange(names.index(b) * STATE_DIM, (names.index(b) + 1) * STATE_DIM) for b in blocks]
    if prosody:
        start = len(STATE_BLOCKS) * STATE_DIM
        cols.append(np.arange(start, start + len(PROSODY_NAMES)))
    return np.concatenate(cols)


def pool_encoder_states(states: np.ndarray) -> np.ndarray:
    """(frames, 512) encoder states -> the :data:`STATE_BLOCKS` statistics, concatenated."""
    states = np.asarray(states, dtype=np.float32)
    if states.ndim != 2 or states.shape[0] == 0:
        raise ValueError(f"encoder states must be a non-empty (frames, dim) array, got {states.shape}")
    normed = (states - states.mean(axis=1, keepdims=True)) / (states.std(axis=1, keepdims=True) + 1e-5)
    out = []
    for name, use_norm in STATE_BLOCKS:
        x = normed if use_norm else states
        stat = name.replace("norm_", "")
        if stat == "mean":
            out.append(x.mean(axis=0))
        elif stat == "std":
            out.append(x.std(axis=0))
        else:
            out.append(np.percentile(x, int(stat[1:]), axis=0))
    return np.concatenate(out).astype(np.float32)


def _stats(values: np.ndarray) -> tuple[float, float, float, float]:
    if values.size == 0:
        return 0.0, 0.0, 0.0, 0.0
    p10, p90 = np.percentile(values, [10, 90])
    return float(values.mean()), float(values.std()), float(p10), float(p90)


def import_librosa():
    """librosa with every submodule :func:`prosody_features` uses already imported (librosa
    imports them lazily, on first use). Call it on the thread that loads a model, before any
    worker thread runs: two threads importing overlapping packages at once (librosa here,
    faster-whisper in the ASR thread) can leave one of them a partly initialised module."""
    import librosa

    _ = (librosa.yin, librosa.feature.rms, librosa.amplitude_to_db, librosa.stft,  # each name
         librosa.onset.onset_strength, librosa.onset.onset_detect)  # imports its submodule
    return librosa


def prosody_features(samples: np.ndarray) -> np.ndarray:
    """The :data:`PROSODY_NAMES` vector of float32 16 kHz ``samples`` (librosa for all DSP)."""
    librosa = import_librosa()
    y = np.asarray(samples, dtype=np.float32).reshape(-1)
    if y.size < 2048:
        y = np.pad(y, (0, 2048 - y.size))
    f0 = librosa.yin(y, fmin=60.0, fmax=500.0, sr=SAMPLE_RATE, frame_length=1024, hop_length=_HOP)
    rms = librosa.feature.rms(y=y, frame_length=512, hop_length=_HOP)[0]
    n = min(len(f0), len(rms))
    f0, rms = f0[:n], rms[:n]
    rms_db = librosa.amplitude_to_db(rms, ref=np.max(rms) + 1e-12, top_db=80.0)
    active = rms_db > -35.0  # frames within 35 dB of the loudest: the speech, roughly
    # YIN gives a value for every frame; keep the ones in active frames with a clear period
    voiced = active & (f0 > 61.0) & (f0 < 499.0)
    f0v = f0[voiced]
    median = float(np.median(f0v)) if f0v.size else 0.0
    semis = 12.0 * np.log2(f0v / median) if f0v.size else np.zeros(0)
    _, st_std, st_p10, st_p90 = _stats(semis)
    slope = float(np.polyfit(np.arange(semis.size), semis, 1)[0] * 100) if semis.size > 2 else 0.0
    st_delta = float(np.abs(np.diff(semis)).mean()) if semis.size > 2 else 0.0
    act_db = rms_db[active] if active.any() else rms_db
    db_mean, db_std, db_p10, db_p90 = _stats(act_db)
    db_delta = float(np.abs(np.diff(rms_db)).mean()) if rms_db.size > 1 else 0.0
    spec = np.abs(librosa.stft(y, n_fft=512, hop_length=_HOP))
    centroid = librosa.feature.spectral_centroid(S=spec, sr=SAMPLE_RATE)[0][:n]
    flatness = librosa.feature.spectral_flatness(S=spec)[0][:n]
    rolloff = librosa.feature.spectral_rolloff(S=spec, sr=SAMPLE_RATE)[0][:n]
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=512, hop_length=_HOP)[0][:n]
    mask = active[: len(centroid)] if active.any() else np.ones(len(centroid), bool)
    onset_env = librosa.onset.onset_strength(S=librosa.amplitude_to_db(spec, ref=np.max), sr=SAMPLE_RATE)
    onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=SAMPLE_RATE, hop_length=_HOP)
    seconds = y.size / SAMPLE_RATE
    values = [
        st_std, st_p10, st_p90, st_p90 - st_p10, slope, np.log(median + 1.0), st_delta,
        float(voiced.sum() / max(1, active.sum())),
        db_mean, db_std, db_p10, db_p90 - db_p10, db_delta, float(np.log(np.max(rms) + 1e-6)),
        float(np.log(centroid[mask] + 1.0).mean()), float(np.log(centroid[mask] + 1.0).std()),
        float(np.log(flatness[mask] + 1e-6).mean()), float(np.log(rolloff[mask] + 1.0).mean()),
        float(zcr[mask].mean()), float(zcr[mask].std()),
        float(len(onsets) / max(seconds, 0.1)), float(onset_env.mean()), float(np.log(seconds + 0.1)),
        float(1.0 - active.mean()),
    ]
    return np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def clip_features(samples: np.ndarray, *, model=None) -> tuple[np.ndarray, np.ndarray]:
    """(pooled encoder states, prosody) of one clip: one unpadded Whisper encoder pass."""
    from emoens.models.light import waveform_states

    return pool_encoder_states(waveform_states(samples, model=model)), prosody_features(samples)


def _file_key(path: str) -> str:
    digest = hashlib.sha256(FEATURE_VERSION.encode())
    with open(path, "rb") as handle:
        digest.update(handle.read())
    return digest.hexdigest()


def corpus_features(paths: Sequence[str], cache_dir: Path | None, threads: int | None = None,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(states (n, 3072), prosody (n, 24)) of audio files, cached by file hash in ``cache_dir``.

    The cache is written atomically every few hundred clips, so an interrupted run resumes.
    """
    from tqdm.auto import tqdm

    from emoens.audio import load_audio
    from emoens.files import atomic_write
    from emoens.models import whisper

    cache: dict[str, np.ndarray] = {}
    cache_file = Path(cache_dir) / "speech_features_v2.npz" if cache_dir else None
    if cache_file and cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as data:
            cache = dict(zip(data["keys"].tolist(), data["features"]))

    def save():
        if cache_file and cache:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(cache_file, "wb") as handle:
                np.savez(handle, keys=np.array(list(cache)), features=np.stack(list(cache.values())))

    keys = [_file_key(p) for p in paths]
    model = None
    added = 0
    for key, path in tqdm(list(zip(keys, paths)), desc="speech features", unit=" clips"):
        if key in cache:
            continue
        model = model or whisper.get_model(threads)
        states, prosody = clip_features(load_audio(path, max_seconds=None), model=model)
        cache[key] = np.concatenate([states, prosody])
        added += 1
        if added % 500 == 0:
            save()
    if added:
        save()
    stacked = np.stack([cache[k] for k in keys])
    split = len(STATE_BLOCKS) * STATE_DIM
    return stacked[:, :split], stacked[:, split:]
