"""infer + evaluate: the metrics a hand computation gives, id checks, fusion, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from emoens.cli import main
from emoens.evaluate import EvaluateError, compute_metrics, evaluate, read_predictions
from emoens.labels import LABELS


def _proba(labels: list[str]) -> np.ndarray:
    out = np.full((len(labels), 7), 0.01)
    for i, label in enumerate(labels):
        out[i, LABELS.index(label)] = 0.94
    return out


def test_compute_metrics_matches_hand_computation():
    y_true = ["angry", "angry", "angry", "neutral", "neutral", "sad"]
    y_pred = ["angry", "neutral", "angry", "neutral", "sad", "sad"]
    m = compute_metrics(y_true, _proba(y_pred))
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    # angry: P 2/2, R 2/3, F1 0.8; neutral: P 1/2, R 1/2, F1 0.5; sad: P 1/2, R 1, F1 2/3.
    assert m["per_class"]["angry"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["per_class"]["sad"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    assert m["unweighted_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    a, n, s = LABELS.index("angry"), LABELS.index("neutral"), LABELS.index("sad")
    assert m["confusion"][a][a] == 2 and m["confusion"][a][n] == 1 and m["confusion"][n][s] == 1
    assert m["confusion_normalized"][a][n] == pytest.approx(1 / 3)
    assert sum(map(sum, m["confusion"])) == 6
    # Indices and names are interchangeable; aliases are accepted.
    assert compute_metrics([0, 0, 0, 4, 4, 5], _proba(y_pred))["macro_f1"] == pytest.approx(m["macro_f1"])
    assert compute_metrics(["anger"] * 3 + ["none"] * 2 + ["sadness"], y_pred)["accuracy"] == pytest.approx(4 / 6)


def test_compute_metrics_rejects_bad_shapes():
    with pytest.raises(EvaluateError, match="shape"):
        compute_metrics(["angry", "sad"], np.ones((3, 7)) / 7)
    with pytest.raises(EvaluateError, match="bored"):
        compute_metrics(["bored"], np.ones((1, 7)) / 7)


def _manifest() -> pd.DataFrame:
    rows = []
    spec = [("a1", "kemdy19", "script", "test", "angry"), ("a2", "kemdy19", "impro", "test", "angry"),
            ("n1", "kemdy20", "script", "test", "neutral"), ("n2", "kemdy20", "impro", "test", "neutral"),
            ("s1", "kemdy19", "impro", "test", "sad"), ("t1", "kemdy19", "impro", "train", "neutral"),
            ("t2", "kemdy19", "script", "train", "neutral"), ("u1", "kemdy19", "impro", "test", "")]
    for utt, corpus, style, split, label in spec:
        rows.append({"utt_id": utt, "corpus": corpus, "style": style, "split": split, "label": label,
                     "audio_path": f"{utt}.wav", "text": ""})
    return pd.DataFrame(rows)


def _write_preds(path, ids, labels):
    frame = pd.DataFrame(_proba(labels), columns=list(LABELS))
    frame.insert(0, "utt_id", ids)
    frame.to_csv(path, index=False)
    return path


def test_evaluate_groups_and_baselines(tmp_path):
    manifest = _manifest()
    preds = read_predictions(_write_preds(tmp_path / "p.csv", ["a1", "a2", "n1", "n2", "s1"],
                                          ["angry", "sad", "neutral", "neutral", "sad"]))
    report = evaluate({"speech": preds}, manifest, split="test")
    res = report["models"]["speech"]
    assert res["all"]["accuracy"] == pytest.approx(4 / 5)
    assert res["corpus=kemdy20"]["accuracy"] == 1.0 and res["corpus=kemdy19"]["accuracy"] == pytest.approx(2 / 3)
    assert res["style=script"]["n"] == 2 and res["style=impro"]["accuracy"] == pytest.approx(2 / 3)
    neutral = report["baselines"]["all-neutral"]["all"]
    assert neutral["accuracy"] == pytest.approx(2 / 5) and neutral["unweighted_accuracy"] == pytest.approx(1 / 3)
    # The class prior comes from the train split (all neutral here), so it too answers neutral.
    assert report["class_prior_from"] == "train split"
    assert report["baselines"]["class-prior"]["all"]["accuracy"] == pytest.approx(2 / 5)


def test_missing_and_extra_ids_are_listed(tmp_path):
    manifest = _manifest()
    short = read_predictions(_write_preds(tmp_path / "short.csv", ["a1", "a2", "n1"], ["angry"] * 3))
    with pytest.raises(EvaluateError, match=r"2 labelled utt_id.*n2, s1"):
        evaluate({"short": short}, manifest, split="test")
    extra = read_predictions(_write_preds(tmp_path / "extra.csv", ["a1", "a2", "n1", "n2", "s1", "zz9"],
                                          ["angry"] * 6))
    with pytest.raises(EvaluateError, match="zz9"):
        evaluate({"extra": extra}, manifest, split="test")


def test_read_predictions_errors(tmp_path):
    (tmp_path / "bad.csv").write_text("utt_id,angry\nx,1\n", encoding="utf-8")
    with pytest.raises(EvaluateError, match="lacks column"):
        read_predictions(tmp_path / "bad.csv")
    with pytest.raises(EvaluateError, match="not found"):
        read_predictions(tmp_path / "none.csv")


def test_infer_then_evaluate_cli(tiny_text_model_dir, tiny_speech_model_dir, synthetic_manifest, tmp_path, capsys):
    from emoens.fusion import weighted_fusion, write_fusion
    from emoens.manifest import read_manifest

    text_csv, speech_csv = tmp_path / "text.csv", tmp_path / "speech.csv"
    assert main(["infer", "--model", str(tiny_text_model_dir), "--manifest", str(synthetic_manifest),
                 "--split", "test", "--out", str(text_csv)]) == 0
    assert main(["infer", "--model", str(tiny_speech_model_dir), "--manifest", str(synthetic_manifest),
                 "--split", "test", "--out", str(speech_csv), "--batch-size", "4"]) == 0
    preds = pd.read_csv(text_csv)
    assert list(preds.columns) == ["utt_id", *LABELS]
    test_rows = read_manifest(synthetic_manifest).query("split == 'test'")
    assert list(preds["utt_id"]) == list(test_rows["utt_id"])
    np.testing.assert_allclose(preds[list(LABELS)].sum(axis=1), 1.0, atol=1e-5)
    write_fusion(tmp_path / "fusion.json", weighted_fusion({"text": "text", "speech": "speech"}))
    out = tmp_path / "eval"
    assert main(["evaluate", "--predictions", str(text_csv), str(speech_csv), "--manifest",
                 str(synthetic_manifest), "--split", "test", "--fusion", str(tmp_path / "fusion.json"),
                 "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(report["models"]) == {"text", "speech", "fusion"}
    # The report's numbers are the hand-checked function applied to the CSV.
    expected = compute_metrics(test_rows["label"].tolist(), preds[list(LABELS)].to_numpy())
    assert report["models"]["text"]["all"]["macro_f1"] == pytest.approx(expected["macro_f1"])
    assert (out / "metrics.md").read_text(encoding="utf-8").count("| text |") >= 1
    assert (out / "confusion_text.png").stat().st_size > 1000
    # Without --split the train/valid rows lack predictions: a clear error, exit code 1.
    assert main(["evaluate", "--predictions", str(text_csv), "--manifest", str(synthetic_manifest),
                 "--out", str(tmp_path / "e2")]) == 1
    assert "have no prediction" in capsys.readouterr().err


def test_infer_reports_unreadable_audio_and_keeps_the_rest(tiny_speech_model_dir, synthetic_manifest, tmp_path):
    from emoens.infer import InferError, infer
    from emoens.manifest import read_manifest, write_manifest

    frame = read_manifest(synthetic_manifest).query("split == 'test'").copy()
    frame.loc[frame.index[0], "audio_path"] = str(tmp_path / "missing.wav")
    broken = tmp_path / "broken.csv"
    write_manifest(frame, broken)
    out = tmp_path / "p.csv"
    with pytest.raises(InferError, match=frame["utt_id"].iloc[0]):
        infer(tiny_speech_model_dir, broken, out, progress=False)
    assert len(pd.read_csv(out)) == len(frame) - 1
