"""Shared pytest fixtures. Area-specific fixtures live in tests/fixtures/*.py (plugins below)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EMOENS_SHARED_DATA", REPO.parent / "shared" / "data"))

# Each area's fixtures: one plugin module each, so that parallel work never edits one file.
pytest_plugins = [
    name
    for name in (
        "tests.fixtures.audio",
        "tests.fixtures.corpora",
        "tests.fixtures.models",
        "tests.fixtures.bundles",
        "tests.fixtures.app",
    )
    if (REPO / (name.replace(".", "/") + ".py")).exists()
]


def pytest_collection_modifyitems(config, items):
    """Skip GPU tests cleanly when there is no CUDA device."""
    if not any("gpu" in item.keywords for item in items):
        return  # don't pay torch's import when no GPU test was collected
    has_gpu = False
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:  # torch missing or broken: no GPU tests either way
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real KEMDy samples, FLAC); skips the test when absent."""
    if not (SHARED_DATA / "KEMDy20").is_dir():
        pytest.skip(f"real sample data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_corpora(shared_data) -> Path:
    """The real samples in their original WAV layout (``DEST/KEMDy20``, ``DEST/KEMDy19``).

    Materialised once into the git-ignored ``.cache/`` (about 4 s, then ~1 s when already there).
    """
    dest = Path(os.environ.get("EMOENS_MATERIALIZED", REPO / ".cache" / "materialized"))
    subprocess.run(
        [sys.executable, str(shared_data / "materialize.py"), str(dest)],
        check=True, capture_output=True,
    )
    return dest
