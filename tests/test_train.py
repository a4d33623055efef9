"""Training: tiny models learn a planted signal; --resume ends where an uninterrupted run ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emoens.train import TrainError, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"


def _test_accuracy(model_dir: Path, manifest: Path, modality: str) -> float:
    from emoens.audio import load_audio
    from emoens.labels import LABELS
    from emoens.manifest import read_manifest
    from emoens.models import load_member

    rows = read_manifest(manifest)
    rows = rows[rows["split"] == "test"]
    member = load_member(f"hf-{modality}", model_dir)
    inputs = [load_audio(p) for p in rows["audio_path"]] if modality == "speech" else rows["text"].tolist()
    pred = [LABELS[i] for i in member.predict_proba(inputs).argmax(axis=1)]
    return float(np.mean(np.asarray(pred) == rows["label"].to_numpy()))


@pytest.mark.slow  # ~10-40 s each on 2 free cores, more under load
@pytest.mark.parametrize("modality", ["speech", "text"])
def test_tiny_model_learns_planted_signal(modality, synthetic_manifest, tmp_path):
    from emoens.train.runner import train

    cfg = load_config(CONFIGS / f"tiny-{modality}.yaml")
    out = train(modality, synthetic_manifest, cfg, tmp_path / "model")
    # 3 balanced classes: chance is 1/3; held-out (test split) accuracy must be far above it.
    assert _test_accuracy(out, synthetic_manifest, modality) >= 0.9
    assert list(out.glob("*.safetensors")) and (out / "emoens_training.json").is_file()
    assert not list(out.glob("*.bin")) and not list(out.glob("*.pt*"))
    assert (tmp_path / "model.train" / "checkpoints").is_dir()


def _state(model_dir: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(next(model_dir.glob("*.safetensors"))))


def test_resume_after_interruption_matches_uninterrupted_run(synthetic_manifest, tmp_path):
    from transformers import TrainerCallback

    from emoens.train.runner import train

    base = load_config(CONFIGS / "tiny-text.yaml").to_dict()
    # Mid-epoch checkpoints (6 steps per epoch), balanced + length-grouped sampling, dropout on.
    base.update(num_train_epochs=3, save_steps=4, eval_split=None, balanced_sampling=True,
                group_by_length=True, class_weighting="balanced")
    cfg = config_from_dict(base)

    class Killed(Exception):
        pass

    class KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 8:
                raise Killed

    full = train("text", synthetic_manifest, cfg, tmp_path / "full")
    out = tmp_path / "resumed"
    with pytest.raises(Killed):
        train("text", synthetic_manifest, cfg, out, callbacks=[KillAfterSave()])
    assert not out.exists()  # a killed run leaves no (half-written) final model
    resumed = train("text", synthetic_manifest, cfg, out, resume=True)
    a, b = _state(full), _state(resumed)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6, err_msg=key)
    # The comparison can fail: a run from scratch with another seed ends elsewhere.
    other = train("text", synthetic_manifest, config_from_dict({**base, "seed": 1}), tmp_path / "other")
    assert any(not np.allclose(a[k], _state(other)[k], atol=1e-6) for k in a)


def test_resume_without_checkpoint_is_an_error(synthetic_manifest, tmp_path):
    from emoens.train.runner import train

    cfg = load_config(CONFIGS / "tiny-text.yaml")
    with pytest.raises(TrainError, match="no checkpoint"):
        train("text", synthetic_manifest, cfg, tmp_path / "m", resume=True)


def test_config_rejects_unknown_keys_and_bad_values(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("modality: text\nbase: klue/bert-base\nlearning_rat: 1.0e-5\n", encoding="utf-8")
    with pytest.raises(TrainError, match="learning_rat"):
        load_config(bad)
    with pytest.raises(TrainError, match="bf16 and fp16"):
        config_from_dict({"base": "x", "bf16": True, "fp16": True})
    with pytest.raises(TrainError, match="eval_split"):
        config_from_dict({"base": "x", "eval_split": None, "load_best_model_at_end": True})
    assert config_from_dict({"base": "x", "learning_rate": "2e-5"}).learning_rate == pytest.approx(2e-5)


def test_all_shipped_configs_load():
    names = sorted(p.name for p in CONFIGS.glob("*.yaml"))
    assert {"tiny-speech.yaml", "tiny-text.yaml"} <= set(names)
    for path in CONFIGS.glob("*.yaml"):
        cfg = load_config(path)
        assert cfg.modality in ("speech", "text"), path


def test_wrong_split_and_modality_messages(synthetic_manifest, tmp_path):
    from emoens.train.runner import train

    cfg = config_from_dict({**load_config(CONFIGS / "tiny-text.yaml").to_dict(), "eval_split": "nope"})
    with pytest.raises(TrainError, match="'nope'"):
        train("text", synthetic_manifest, cfg, tmp_path / "m")
    with pytest.raises(TrainError, match="speech"):
        train("speech", synthetic_manifest, load_config(CONFIGS / "tiny-text.yaml"), tmp_path / "m")


# wav2vec2-large-xlsr dimensions (the seed's speech base), random weights: no download needed.
LARGE_WAV2VEC2 = {"model_type": "wav2vec2", "hidden_size": 1024, "num_hidden_layers": 24,
                  "num_attention_heads": 16, "intermediate_size": 4096, "feat_extract_norm": "layer",
                  "do_stable_layer_norm": True, "conv_bias": True, "mask_time_prob": 0.05}


@pytest.mark.gpu
def test_real_sized_speech_config_runs_with_bf16_on_gpu(synthetic_manifest, tmp_path):
    from emoens.train.runner import read_provenance, train

    cfg = load_config(CONFIGS / "honest-wav2vec2.yaml").to_dict()
    cfg.update(base=None, model_config=LARGE_WAV2VEC2, report_to=[], dataloader_num_workers=0,
               eval_steps=2, save_steps=2, early_stopping_patience=None)
    out = train("speech", synthetic_manifest, config_from_dict(cfg), tmp_path / "large", max_steps=4)
    prov = read_provenance(out)
    assert prov["global_step"] == 4 and prov["config"]["bf16"] is True
    assert np.isfinite(prov["train_loss"])
