"""Fusion maths on hand-made probabilities."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from emoens import fusion, fusion_fit
from emoens.fusion import FusionError, apply_fusion
from emoens.labels import LABELS


def onehot(label: str, p: float = 1.0) -> np.ndarray:
    """A row with ``p`` on ``label`` and the rest spread evenly."""
    row = np.full(7, (1.0 - p) / 6)
    row[LABELS.index(label)] = p
    return row


def test_seed_default_weights():
    mods = {"kobert1": "text", "kobert2": "text", "w2v1": "speech", "w2v2": "speech",
            "w2v3": "speech"}
    weights = fusion.default_weights(mods)
    assert weights["kobert1"] == pytest.approx(0.25)
    assert weights["w2v3"] == pytest.approx(1 / 6)
    assert sum(weights.values()) == pytest.approx(1.0)


def test_weighted_mean_and_renormalisation():
    config = fusion.weighted_fusion({"s": "speech", "t": "text"}, {"s": 0.75, "t": 0.25})
    s, t = onehot("angry"), onehot("happy")
    fused = apply_fusion(config, {"s": s, "t": t})
    assert fused.shape == (1, 7)
    assert fused[0, LABELS.index("angry")] == pytest.approx(0.75)
    assert fused[0, LABELS.index("happy")] == pytest.approx(0.25)
    # No text: speech alone, renormalised to sum to 1.
    alone = apply_fusion(config, {"s": s, "t": None})
    np.testing.assert_allclose(alone[0], s)
    assert fusion.effective_weights(config, ["s"]) == {"s": 1.0}


def test_fractions_and_modality_proba():
    assert fusion.parse_weight("1/6") == pytest.approx(1 / 6)
    with pytest.raises(FusionError, match="'abc'"):
        fusion.parse_weight("abc")
    config = fusion.weighted_fusion({"a": "speech", "b": "speech", "t": "text"},
                                    {"a": 0.1, "b": 0.3, "t": 0.6})
    speech = fusion.modality_proba(config, {"a": onehot("sad"), "b": onehot("fear"),
                                            "t": onehot("happy")}, "speech")
    assert speech[0, LABELS.index("sad")] == pytest.approx(0.25)
    assert speech[0, LABELS.index("fear")] == pytest.approx(0.75)
    assert fusion.modality_proba(config, {"a": onehot("sad")}, "text") is None


def test_bad_inputs_are_named():
    config = fusion.weighted_fusion({"s": "speech"})
    with pytest.raises(FusionError, match="'x'"):
        apply_fusion(config, {"x": onehot("sad")})
    with pytest.raises(FusionError, match="shape"):
        apply_fusion(config, {"s": np.ones(5)})
    with pytest.raises(FusionError, match="format_version"):
        fusion.validate_fusion({**config, "format_version": 99})
    with pytest.raises(FusionError, match="modality"):
        fusion.validate_fusion({**config, "members": [{"name": "s", "modality": "video"}]})


def _synthetic_validation(n=120, seed=0):
    """Speech member is right 80 % of the time, text member is noise: the fit must favour speech."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 7, n)
    good = np.array([onehot(LABELS[c], 0.6) if rng.random() < 0.8 else onehot(LABELS[(c + 1) % 7], 0.6)
                     for c in y])
    noise = rng.dirichlet(np.ones(7), n)
    return y, {"good": good, "noise": noise}


def test_fit_weights_prefers_the_informative_member():
    y, probas = _synthetic_validation()
    mods = {"good": "speech", "noise": "text"}
    config = fusion_fit.fit_weights(probas, y, mods, objective="macro_f1", step=0.1)
    weights = fusion.member_weights(config)
    assert weights["good"] > weights["noise"]
    assert sum(weights.values()) == pytest.approx(1.0)
    assert config["fitted_on"]["objective"] == "macro_f1"
    ll = fusion_fit.fit_weights(probas, y, mods, objective="log_loss")
    assert fusion.member_weights(ll)["good"] > 0.7


def test_stack_matches_scikit_learn_and_falls_back():
    from sklearn.linear_model import LogisticRegression

    y, probas = _synthetic_validation()
    mods = {"good": "speech", "noise": "text"}
    config = fusion_fit.fit_stack(probas, y, mods)
    json.dumps(config)  # JSON-able, no pickled estimator
    features = np.concatenate([np.log(np.clip(probas[n], 1e-7, 1)) for n in ("good", "noise")], 1)
    reference = LogisticRegression(C=1.0, max_iter=2000).fit(features, y)
    fused = apply_fusion(config, probas)
    np.testing.assert_allclose(fused, reference.predict_proba(features), atol=1e-3)
    # The stored coefficients reproduce scikit-learn's own predict_proba exactly.
    reference.coef_ = np.asarray(config["stack"]["coef"])
    reference.intercept_ = np.asarray(config["stack"]["intercept"])
    np.testing.assert_allclose(fused, reference.predict_proba(features), atol=1e-9)
    assert (fused.argmax(1) == y).mean() > 0.7
    # Missing text member: weighted fallback over what ran.
    np.testing.assert_allclose(apply_fusion(config, {"good": probas["good"]}), probas["good"])


def test_stack_with_two_classes_uses_binary_scores():
    rng = np.random.default_rng(1)
    y = np.array(["neutral", "happy"] * 30)
    p = np.array([onehot(v, 0.5 + 0.3 * rng.random()) for v in y])
    config = fusion_fit.fit_stack({"s": p}, y, {"s": "speech"})
    fused = apply_fusion(config, {"s": p})
    assert fused.shape == (60, 7)
    np.testing.assert_allclose(fused.sum(axis=1), 1.0)
    assert (fused.argmax(axis=1) == [LABELS.index(v) for v in y]).mean() > 0.9
    assert fused[:, LABELS.index("angry")].max() == 0.0


def test_prediction_files_join_on_utt_id(tmp_path):
    a = pd.DataFrame([onehot("sad"), onehot("happy")], columns=LABELS)
    a.insert(0, "utt_id", ["u1", "u2"])
    b = pd.DataFrame([onehot("angry"), onehot("sad")], columns=LABELS)
    b.insert(0, "utt_id", ["u3", "u1"])
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    frames = {"a": fusion.read_predictions(tmp_path / "a.csv"),
              "b": fusion.read_predictions(tmp_path / "b.csv")}
    config = fusion.weighted_fusion({"a": "speech", "b": "text"})
    fused = fusion.fuse_frames(config, frames)
    assert list(fused["utt_id"]) == ["u1"]
    assert fused.loc[0, "sad"] == pytest.approx(1.0)
    (tmp_path / "bad.csv").write_text("utt_id,angry\nu1,1\n")
    with pytest.raises(FusionError, match="bad.csv"):
        fusion.read_predictions(tmp_path / "bad.csv")


def _write_member_predictions(tmp_path):
    """Validation rows where the speech file is informative and the text file is noise."""
    from emoens.manifest import write_manifest

    y, probas = _synthetic_validation(n=60)
    ids = [f"u{i}" for i in range(len(y))]
    paths = {}
    for name, mat in (("w2v_speech", probas["good"]), ("kobert_text", probas["noise"])):
        frame = pd.DataFrame(mat, columns=LABELS)
        frame.insert(0, "utt_id", ids)
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    splits = ["valid"] * 40 + ["test"] * 20
    manifest = pd.DataFrame({"utt_id": ids, "corpus": "t", "audio_path": [f"{u}.wav" for u in ids],
                             "label": [LABELS[c] for c in y], "split": splits})
    write_manifest(manifest, tmp_path / "m.csv")
    return paths, tmp_path / "m.csv"


def test_fuse_command_fixed_fit_stack(tmp_path, capsys):
    from emoens.cli import main

    paths, manifest = _write_member_predictions(tmp_path)
    preds = [str(paths["w2v_speech"]), str(paths["kobert_text"])]
    out = tmp_path / "fixed.json"
    assert main(["fuse", "--predictions", *preds, "--weights", "1/3", "2/3", "--out", str(out)]) == 0
    fixed = fusion.read_fusion(out)
    assert fusion.member_weights(fixed) == pytest.approx({"w2v_speech": 1 / 3, "kobert_text": 2 / 3})
    assert fusion.member_modalities(fixed) == {"w2v_speech": "speech", "kobert_text": "text"}
    out = tmp_path / "fit.json"
    assert main(["fuse", "--predictions", *preds, "--manifest", str(manifest), "--method", "fit",
                 "--step", "0.1", "--out", str(out)]) == 0
    fitted = fusion.read_fusion(out)
    assert fitted["fitted_on"]["rows"] == 40 and fitted["fitted_on"]["split"] == "valid"
    assert fusion.member_weights(fitted)["w2v_speech"] > 0.5
    out = tmp_path / "stack.json"
    assert main(["fuse", "--predictions", *preds, "--manifest", str(manifest), "--method", "stack",
                 "--out", str(out)]) == 0
    assert fusion.read_fusion(out)["method"] == "stack"
    capsys.readouterr()
    assert main(["fuse", "--predictions", *preds, "--manifest", str(manifest), "--method", "fit",
                 "--split", "test", "--out", str(tmp_path / "no.json")]) == 1
    assert "refusing to fit" in capsys.readouterr().err
    assert not (tmp_path / "no.json").exists()
