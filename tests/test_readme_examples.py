"""The Python API, the CLI and the README's examples agree.

README examples are run in a temporary folder holding ``speech.wav`` (a short clip) with the
default bundle pointed at the tiny test bundle (``EMOENS_BUNDLE``): every ```python block
that uses emoens is executed, and every ``emoens predict …`` line of a ```bash block is run.
"""

from __future__ import annotations

import re
import shlex

import pandas as pd
import pytest

from emoens.cli import main
from emoens.labels import LABELS
from emoens.recognizer import EmotionRecognizer
from tests.conftest import REPO
from tests.fixtures.audio import write_wav
from tests.fixtures.bundles import planted_tone


def readme_blocks(language: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.fixture
def example_dir(tmp_path, monkeypatch, tiny_bundle_dir):
    write_wav(tmp_path / "speech.wav", planted_tone("happy", 1.5))
    monkeypatch.setenv("EMOENS_BUNDLE", str(tiny_bundle_dir))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_api_and_cli_give_the_same_numbers(example_dir, tiny_bundle_dir):
    api = EmotionRecognizer.from_bundle().analyze("speech.wav", text="오늘 정말 행복해")
    assert main(["predict", "speech.wav", "--text", "오늘 정말 행복해", "--out", "r.csv",
                 "--quiet"]) == 0
    row = pd.read_csv("r.csv", keep_default_na=False).iloc[0]
    assert row["label"] == api["label"] and row["transcript"] == api["transcript"]
    for prefix in ("speech", "text", "ensemble"):
        for label in LABELS:
            assert float(row[f"{prefix}_{label}"]) == pytest.approx(api[prefix][label], abs=1e-5)


def test_readme_python_examples_run(example_dir):
    blocks = [b for b in readme_blocks("python") if "emoens" in b]
    if not blocks:
        pytest.skip("README.md has no Python example using emoens yet")
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})


def test_readme_predict_examples_run(example_dir):
    lines = [line.strip() for block in readme_blocks("bash") for line in block.splitlines()
             if re.match(r"\s*(\.venv/bin/)?emoens predict\b", line)]
    if not lines:
        pytest.skip("README.md has no `emoens predict` example yet")
    for line in lines:
        argv = shlex.split(line.split("#", 1)[0])[1:]
        assert main(argv) in (0, 1), line


def test_readme_shard_and_merge_example_runs(example_dir):
    """The README's ``--shard`` loop and ``emoens merge`` line, run as written with bash over a
    manifest without labels: every row comes back once, ``ok``."""
    import os
    import subprocess
    import sys

    block = next(b for b in readme_blocks("bash") if "emoens merge" in b)
    rows = [{"utt_id": f"u{i}", "audio_path": "speech.wav", "text": "오늘 정말 행복해"}
            for i in range(6)]
    pd.DataFrame(rows).to_csv("manifest.csv", index=False)
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    subprocess.run(["bash", "-e", "-c", block], check=True, env=env, capture_output=True,
                   timeout=600)
    merged = pd.read_csv("results.csv", keep_default_na=False)
    assert sorted(merged["utt_id"]) == [r["utt_id"] for r in rows]
    assert set(merged["status"]) == {"ok"}
