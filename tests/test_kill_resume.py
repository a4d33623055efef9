"""Nothing lost (issue #9): ``emoens prepare``, ``predict`` and ``train`` are SIGKILLed mid-run.

Each command runs in a subprocess through a small driver that only makes it *slow* (a sleep in
the model call, in the training step, or while the new manifest sits in its temporary file) and
logs the work done, so that the kill lands mid-run on any machine. Afterwards the previous output
must be intact (or absent), never truncated, and ``--resume`` must finish the job without redoing
the work that was already saved.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "training" / "configs"

DRIVER = r'''
import os, sys, time, types
hook, log = os.environ["EMOENS_TEST_HOOK"], os.environ["EMOENS_TEST_LOG"]

def note(text):
    with open(log, "a") as handle:
        handle.write(text + "\n")

if hook == "slow-manifest-write":      # hold the new manifest in its temporary file
    import emoens.files as files
    proxy = types.ModuleType("os")
    proxy.__dict__.update(os.__dict__)
    def fsync(fd):
        name = os.readlink(f"/proc/self/fd/{fd}")
        if ".manifest.csv." in name:
            note("writing " + name)
            time.sleep(600)
        os.fsync(fd)
    proxy.fsync = fsync
    files.os = proxy
elif hook == "slow-model":             # a slow recognizer: 0.3 s per batch, items logged
    from emoens.recognizer import EmotionRecognizer
    real = EmotionRecognizer.analyze_batch
    def analyze_batch(self, items, *args, **kwargs):
        time.sleep(0.3)
        for item in items:
            note(str(item))
        return real(self, items, *args, **kwargs)
    EmotionRecognizer.analyze_batch = analyze_batch
elif hook == "slow-training":          # 0.3 s per optimizer step, steps logged
    from transformers import Trainer
    real = Trainer.training_step
    def training_step(self, *args, **kwargs):
        note(str(self.state.global_step))
        time.sleep(0.3)
        return real(self, *args, **kwargs)
    Trainer.training_step = training_step

from emoens.cli import main
sys.exit(main(sys.argv[1:]))
'''


def start(tmp_path: Path, hook: str, *argv: str) -> tuple[subprocess.Popen, Path]:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    log = tmp_path / f"{hook}.{time.monotonic_ns()}.log"
    log.write_text("", encoding="utf-8")
    env = dict(os.environ, EMOENS_TEST_HOOK=hook, EMOENS_TEST_LOG=str(log), PYTHONPATH=str(REPO),
               TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(driver), *argv], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, log


def run(tmp_path: Path, hook: str, *argv: str, timeout: float = 240) -> tuple[str, list[str]]:
    """Run to the end; returns (output, logged lines)."""
    proc, log = start(tmp_path, hook, *argv)
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode in (0, 1), out  # 1 = some inputs failed (predict), never a crash
    return out, log.read_text(encoding="utf-8").splitlines()


def kill_when(proc: subprocess.Popen, ready, timeout: float = 180, poll: float = 0.05) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` is true; fail if it ends on its own first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before it could be killed:\n"
                        + proc.stdout.read())
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            return
        time.sleep(poll)
    proc.kill()
    pytest.fail("no progress before the timeout:\n" + proc.stdout.read())


def stray_temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# =========================================================================== prepare


def test_prepare_killed_while_writing_leaves_the_previous_manifest_intact(tmp_path):
    from tests.fixtures.corpora import make_kemdy20

    small = make_kemdy20(tmp_path / "small" / "KEMDy20", sessions=1, per_speaker=2, specials=False)
    big = make_kemdy20(tmp_path / "big" / "KEMDy20", sessions=2, per_speaker=4, specials=False)
    out = tmp_path / "prepared"
    run(tmp_path, "none", "prepare", "--kemdy20", str(small.root), "--out", str(out), "--quiet")
    before = (out / "manifest.csv").read_bytes()
    assert len(pd.read_csv(out / "manifest.csv")) == len(small.kept()) == 8

    proc, log = start(tmp_path, "slow-manifest-write", "prepare", "--kemdy20", str(big.root),
                      "--out", str(out), "--quiet")
    kill_when(proc, lambda: "writing" in log.read_text(encoding="utf-8"))
    # killed with the complete new manifest in its temporary file: the old one is untouched
    temp = Path(log.read_text(encoding="utf-8").split("writing ", 1)[1].strip())
    # (the three files are written in a staging folder beside OUT, swapped in together)
    assert temp.parent.parent == out.parent and temp.parent.name.startswith(".prepared.staging-")
    assert temp.name.startswith(".manifest.csv.")
    assert (out / "manifest.csv").read_bytes() == before
    from emoens.manifest import read_manifest

    assert len(read_manifest(out / "manifest.csv")) == 8

    # an uninterrupted run replaces it with the new, complete manifest
    run(tmp_path, "none", "prepare", "--kemdy20", str(big.root), "--out", str(out), "--quiet")
    assert len(read_manifest(out / "manifest.csv")) == len(big.kept()) == 32
    report = json.loads((out / "prepare_report.json").read_text(encoding="utf-8"))
    assert report["rows"] == 32


# =========================================================================== predict


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    from tests.fixtures.audio import tone, write_wav

    root = tmp_path_factory.mktemp("kill-clips")
    paths = [write_wav(root / f"clip{i:03d}.wav", tone(0.5, freq=200.0 + 37 * i)) for i in range(24)]
    (root / "broken.wav").write_bytes(b"not audio")
    return paths + [root / "broken.wav"]


def _rows(path: Path) -> pd.DataFrame | None:
    """The output so far; it must parse whenever it exists (atomic rewrites, never truncated)."""
    if not path.exists():
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(frame.columns[:3]) == ["input", "status", "label"]
    return frame


def test_predict_killed_mid_run_then_resumed_does_not_redo_work(tmp_path, tiny_bundle_dir, clips):
    out = tmp_path / "results.csv"
    folder = str(clips[0].parent)
    args = ["predict", folder, "--bundle", str(tiny_bundle_dir), "--out", str(out), "--chunk", "4",
            "--quiet"]
    seen_sizes = []

    def progressed() -> bool:
        frame = _rows(out)
        if frame is None:
            return False
        seen_sizes.append(len(frame))
        return len(frame) >= 8

    proc, log = start(tmp_path, "slow-model", *args)
    kill_when(proc, progressed)
    killed = _rows(out)
    assert killed is not None and 8 <= len(killed) < len(clips)
    assert len(killed) % 4 == 0 and all(n % 4 == 0 for n in seen_sizes)  # whole chunks only
    done_before = set(killed["input"])
    processed_before = log.read_text(encoding="utf-8").splitlines()
    assert done_before <= set(processed_before)
    assert stray_temp_files(out.parent) == []  # killed while the model ran, not mid-write

    output, processed = run(tmp_path, "slow-model", *args, "--resume")
    n_ok_before = int((killed["status"] == "ok").sum())
    assert f"resuming: {n_ok_before} inputs already done in {out}" in output
    # only the inputs not yet done went through the model again
    assert not set(processed) & set(killed.loc[killed["status"] == "ok", "input"])
    assert len(processed) == len(clips) - n_ok_before
    final = _rows(out)
    assert sorted(final["input"]) == sorted(str(p) for p in clips)  # each input exactly once
    assert final["input"].is_unique
    ok = final[final["status"] == "ok"]
    assert len(ok) == len(clips) - 1
    broken = final.loc[final["input"] == str(clips[-1]), "status"].item()
    assert broken.startswith(f"cannot decode {clips[-1]} as audio")
    # rows finished before the kill are kept exactly as they were
    kept = killed[killed["status"] == "ok"].set_index("input")
    np.testing.assert_array_equal(final.set_index("input").loc[kept.index].to_numpy(),
                                  kept.to_numpy())


# =========================================================================== train


def test_train_killed_mid_run_then_resumed_continues_from_its_checkpoint(tmp_path, synthetic_manifest):
    import yaml

    cfg = yaml.safe_load((CONFIGS / "tiny-text.yaml").read_text(encoding="utf-8"))
    cfg.update(num_train_epochs=2, save_steps=2, save_total_limit=2, eval_split=None,
               load_best_model_at_end=False, logging_steps=1)
    config = tmp_path / "kill.yaml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    out = tmp_path / "model"
    args = ["train", "text", "--manifest", str(synthetic_manifest), "--config", str(config),
            "--out", str(out)]

    # a previous model in --out (a short run)
    run(tmp_path, "none", *args, "--max-steps", "2")
    previous = json.loads((out / "emoens_training.json").read_text(encoding="utf-8"))
    assert previous["global_step"] == 2
    previous_files = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    checkpoints = out.parent / "model.train" / "checkpoints"

    def saved(step: int) -> bool:
        state = checkpoints / f"checkpoint-{step}" / "trainer_state.json"
        return state.is_file() and (checkpoints / f"checkpoint-{step}" / "model.safetensors").is_file()

    proc, log = start(tmp_path, "slow-training", *args)
    kill_when(proc, lambda: saved(6))
    steps_before = [int(s) for s in log.read_text(encoding="utf-8").split()]
    # the log notes global_step as each step starts: steps 0..5 made checkpoint-6; the kill may
    # land before step 6 starts
    assert 5 <= max(steps_before) < 12
    # the previous model is untouched, file for file
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == previous_files
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".model.")]

    from emoens.train.runner import last_checkpoint

    last = last_checkpoint(out)
    resume_step = int(Path(last).name.split("-")[1])
    assert resume_step >= 6
    output, steps_after = run(tmp_path, "slow-training", *args, "--resume")
    steps_after = [int(s) for s in steps_after]
    # no completed step is trained again: the resumed run starts at the checkpoint's step
    assert steps_after == list(range(resume_step, 12))
    final = json.loads((out / "emoens_training.json").read_text(encoding="utf-8"))
    assert final["global_step"] == 12
    assert Path(final["resumed_from"]).name == f"checkpoint-{resume_step}"
    assert f"model saved to {out}" in output
