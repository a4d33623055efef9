"""Bundle format: round trip, validation, pickle refusal."""

from __future__ import annotations

import json
import pickle  # only to WRITE a hostile file the loader must refuse
import zipfile

import pytest

from emoens import fusion as fusion_mod
from emoens.bundle import BundleError, MemberSpec, build_bundle, load_bundle, pickle_reason


def _member_dir(path, *files):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text("{}")
    for name in files:
        (path / name).write_bytes(b"\x00" * 16)
    return path


def _build(tmp_path, **kwargs):
    speech = _member_dir(tmp_path / "src" / "w2v", "model.safetensors", "training_args.bin")
    text = _member_dir(tmp_path / "src" / "bert", "model.safetensors")
    members = [(MemberSpec("w2v", "hf-speech", "speech", "w2v"), speech),
               (MemberSpec("bert", "hf-text", "text", "bert"), text)]
    return build_bundle(tmp_path / "bundle", members, name="test-bundle", **kwargs)


def test_round_trip_with_fusion_weights(tmp_path):
    fusion = fusion_mod.weighted_fusion({"w2v": "speech", "bert": "text"}, {"w2v": 0.7, "bert": 0.3})
    bundle, skipped = _build(tmp_path, fusion=fusion, metrics={"macro_f1": 0.5})
    assert any(s.endswith("training_args.bin") for s in skipped)
    assert not (bundle.root / "w2v" / "training_args.bin").exists()
    again = load_bundle(tmp_path / "bundle")
    assert [m.name for m in again.members] == ["w2v", "bert"]
    assert fusion_mod.member_weights(again.fusion) == {"w2v": 0.7, "bert": 0.3}
    assert again.asr["backend"] == "faster-whisper"
    card = (bundle.root / "MODEL_CARD.md").read_text()
    # the card (emoens/model_card.py): Korean summary first, every member with its modality and
    # kind, the fitted weights, and the metrics given to the bundle with their values
    assert card.index("## 요약") < card.index("## Members")
    assert "| w2v | speech | hf-speech |" in card and "| bert | text |" in card
    assert "Weights: w2v 0.70, bert 0.30." in card
    assert "| macro_f1 | 0.500 |" in card
    # no temporary folders left beside the bundle
    assert sorted(p.name for p in (tmp_path).iterdir()) == ["bundle", "src"]


def test_default_weights_and_mismatched_fusion(tmp_path):
    bundle, _ = _build(tmp_path)
    assert fusion_mod.member_weights(bundle.fusion) == {"w2v": 0.5, "bert": 0.5}
    wrong = fusion_mod.weighted_fusion({"a": "speech", "b": "text"})
    with pytest.raises(BundleError, match="do not match"):
        _build(tmp_path, fusion=wrong, overwrite=True)
    with pytest.raises(BundleError, match="already exists"):
        _build(tmp_path)


def test_unknown_version_and_missing_file_are_refused(tmp_path):
    bundle, _ = _build(tmp_path)
    config = json.loads((bundle.root / "bundle.json").read_text())
    config["format_version"] = 7
    (bundle.root / "bundle.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match=r"bundle\.json.*format_version 7"):
        load_bundle(bundle.root)
    (bundle.root / "bundle.json").unlink()
    with pytest.raises(BundleError, match="bundle.json is missing"):
        load_bundle(bundle.root)
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nowhere")


@pytest.mark.parametrize("kind", ["pkl", "torch-zip", "raw-pickle-bin"])
def test_pickle_bearing_bundle_is_refused(tmp_path, kind):
    bundle, _ = _build(tmp_path)
    folder = bundle.root / "w2v"
    if kind == "pkl":
        bad = folder / "head.pkl"
        bad.write_bytes(b"not even a real pickle")
    elif kind == "torch-zip":
        bad = folder / "pytorch_model.bin"
        with zipfile.ZipFile(bad, "w") as archive:
            archive.writestr("archive/data.pkl", pickle.dumps({"a": 1}))
    else:
        bad = folder / "weights.bin"
        bad.write_bytes(pickle.dumps([1, 2, 3], protocol=4))
    assert pickle_reason(bad)
    with pytest.raises(BundleError, match=str(bad.name)):
        load_bundle(bundle.root)


def test_safe_files_are_not_mistaken_for_pickles(tmp_path):
    npz = tmp_path / "w.npz"
    import numpy as np

    np.savez(npz, a=np.ones(3))
    assert pickle_reason(npz) is None
    ct2 = tmp_path / "model.bin"
    ct2.write_bytes((6).to_bytes(4, "little") + b"ct2")
    assert pickle_reason(ct2) is None


def test_member_path_cannot_escape(tmp_path):
    bundle, _ = _build(tmp_path)
    config = json.loads((bundle.root / "bundle.json").read_text())
    config["members"][0]["path"] = "../src/w2v"
    (bundle.root / "bundle.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="inside the bundle"):
        load_bundle(bundle.root)


def test_bundle_command_names_members_like_the_fusion(tmp_path, capsys):
    from emoens.cli import main

    speech = _member_dir(tmp_path / "src" / "checkpoint-final", "model.safetensors")
    text = _member_dir(tmp_path / "src" / "bert", "model.safetensors")
    fusion = tmp_path / "f.json"
    fusion_mod.write_fusion(fusion, fusion_mod.weighted_fusion({"w2v": "speech", "bert": "text"},
                                                               {"w2v": 0.6, "bert": 0.4}))
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"macro_f1": 0.42}))
    out = tmp_path / "B"
    code = main(["bundle", "--speech", f"w2v={speech}", "--text", str(text), "--fusion", str(fusion),
                 "--metrics", str(metrics), "--asr", "none", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    bundle = load_bundle(out)
    assert {m.name: (m.kind, m.weight) for m in bundle.members} == {
        "w2v": ("hf-speech", 0.6), "bert": ("hf-text", 0.4)}
    assert bundle.config["metrics"] == {"macro_f1": 0.42} and bundle.asr == {"backend": "none"}
    assert "0.42" in (out / "MODEL_CARD.md").read_text()
    capsys.readouterr()
    # an undetectable member kind is a clear error
    (tmp_path / "odd").mkdir()
    assert main(["bundle", "--speech", str(tmp_path / "odd"), "--out", str(tmp_path / "C")]) == 1
    assert "cannot tell what kind" in capsys.readouterr().err
