"""Evaluation of prediction files against a manifest: scikit-learn metrics beside baselines.

:func:`compute_metrics` is the plain function every part reuses (default-bundle training, the
app's Compare tab): accuracy, macro-F1, weighted-F1, unweighted accuracy (mean per-class recall,
scikit-learn's balanced accuracy), per-class precision/recall/F1/support and the confusion matrix
(counts and row-normalised), always over the 7 classes in canonical order.

:func:`evaluate` joins prediction CSVs to the manifest by ``utt_id`` (a missing or extra id is an
error that lists them), scores every prediction set overall, per corpus, per split and per KEMDy
style (scripted / improvised), beside the all-neutral and the class-prior baselines (scikit-learn's
``DummyClassifier``), and writes ``metrics.json``, ``metrics.md`` and confusion-matrix PNGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from emoens.errors import EmoensError
from emoens.labels import LABEL_TO_ID, LABELS, LabelError, normalize_label

SUMMARY_KEYS = ("accuracy", "macro_f1", "weighted_f1", "unweighted_accuracy")
BASELINES = ("all-neutral", "class-prior")
PRIOR_SEED = 0


class EvaluateError(EmoensError):
    """Predictions that cannot be evaluated (bad file, ids that do not match the manifest)."""


def _as_ids(y, what: str) -> np.ndarray:
    values = list(y)
    if values and all(isinstance(v, (int, np.integer)) for v in values):
        ids = np.asarray(values, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(LABELS)):
            raise EvaluateError(f"{what}: class index out of range 0..{len(LABELS) - 1}")
        return ids
    try:
        return np.asarray([LABEL_TO_ID[normalize_label(v)] for v in values], dtype=np.int64)
    except LabelError as exc:
        raise EvaluateError(f"{what}: {exc}") from None


def macro_f1(y_true, y_pred) -> float:
    """THE macro-F1 of emoens (evaluation, fusion fitting and the default recipe all use this one):
    F1 averaged over the classes present in the truth or the predictions, 0 for empty divisions."""
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int),
                          average="macro", zero_division=0))


def unweighted_recall(y_true, y_pred) -> float:
    """Unweighted average recall (UAR): mean recall over the classes present in the truth."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    return float(np.mean([(y_pred[y_true == c] == c).mean() for c in np.unique(y_true)]))


def compute_metrics(y_true, proba) -> dict:
    """Metrics of probabilities ``proba`` (n, 7; or predicted labels/indices, n) against ``y_true``.

    ``y_true``: labels (names or aliases) or class indices. Returns a JSON-able dict with ``n``,
    ``accuracy``, ``macro_f1``, ``weighted_f1``, ``unweighted_accuracy``, ``per_class``
    ({label: precision, recall, f1, support}), ``confusion`` (counts, rows = true) and
    ``confusion_normalized`` (each row divided by its support; all-zero rows stay zero).
    Macro-F1 averages over the classes present in the truth or the predictions (scikit-learn's
    default); per-class entries cover all 7 classes.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    true = _as_ids(y_true, "true labels")
    arr = np.asarray(proba)
    if arr.ndim == 2:
        if arr.shape != (len(true), len(LABELS)):
            raise EvaluateError(f"probabilities have shape {arr.shape}; expected ({len(true)}, {len(LABELS)})")
        pred = arr.argmax(axis=1)
    else:
        pred = _as_ids(arr.tolist(), "predicted labels")
        if len(pred) != len(true):
            raise EvaluateError(f"{len(pred)} predictions for {len(true)} true labels")
    if len(true) == 0:
        raise EvaluateError("nothing to evaluate: no labelled rows")
    all_ids = list(range(len(LABELS)))
    balanced = unweighted_recall(true, pred)
    prec, rec, f1, support = precision_recall_fscore_support(true, pred, labels=all_ids, zero_division=0)
    cm = confusion_matrix(true, pred, labels=all_ids)
    rows = cm.sum(axis=1, keepdims=True)
    cm_norm = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    return {
        "n": int(len(true)),
        "accuracy": float(accuracy_score(true, pred)),
        "macro_f1": macro_f1(true, pred),
        "weighted_f1": float(f1_score(true, pred, average="weighted", zero_division=0)),
        "unweighted_accuracy": balanced,
        "per_class": {
            label: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                    "support": int(support[i])}
            for i, label in enumerate(LABELS)
        },
        "confusion": cm.astype(int).tolist(),
        "confusion_normalized": cm_norm.round(6).tolist(),
    }


def baseline_predictions(y_eval, y_prior=None) -> dict[str, np.ndarray]:
    """Predicted class indices of the two baselines for ``y_eval``.

    ``all-neutral`` always answers neutral; ``class-prior`` draws each answer at random (seeded)
    from the class distribution of ``y_prior`` (the training labels; ``y_eval`` when none given).
    """
    from sklearn.dummy import DummyClassifier

    true = _as_ids(y_eval, "true labels")
    prior = _as_ids(y_prior, "prior labels") if y_prior is not None and len(y_prior) else true
    dummy_x = np.zeros((len(prior), 1))
    stratified = DummyClassifier(strategy="stratified", random_state=PRIOR_SEED).fit(dummy_x, prior)
    x_eval = np.zeros((len(true), 1))
    return {"all-neutral": np.full(len(true), LABEL_TO_ID["neutral"], dtype=np.int64),
            "class-prior": stratified.predict(x_eval).astype(np.int64)}


# ----------------------------------------------------------------------------- files


def parse_prediction_arg(arg: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` (name = the file's stem)."""
    if "=" in arg and not Path(arg).exists():
        name, _, path = arg.partition("=")
        return name.strip(), Path(path)
    return Path(arg).stem, Path(arg)


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A predictions CSV (``utt_id`` + the 7 label columns) indexed by ``utt_id``, validated."""
    from emoens.fusion import FusionError
    from emoens.fusion import read_predictions as read_fusion_predictions

    try:
        return read_fusion_predictions(path)
    except FusionError as exc:
        raise EvaluateError(str(exc)) from None


def _listing(ids: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(map(str, list(ids)[:limit]))
    return shown + (f", … ({len(ids)} in all)" if len(ids) > limit else "")


def expected_rows(manifest: pd.DataFrame, split: str | None = None) -> pd.DataFrame:
    """The labelled manifest rows to evaluate (of one split when given)."""
    rows = manifest[manifest["label"].astype(str).str.strip() != ""]
    if split:
        rows = rows[rows["split"].astype(str) == split]
        if rows.empty:
            raise EvaluateError(f"the manifest has no labelled rows in split {split!r}")
    return rows


def join_to_manifest(preds: pd.DataFrame, rows: pd.DataFrame, manifest: pd.DataFrame, source: str) -> np.ndarray:
    """Probabilities aligned with ``rows``; an id missing from the predictions, or not in the
    manifest at all, is an error listing them. Unlabelled or other-split rows are ignored."""
    known = set(manifest["utt_id"])
    extra = [u for u in preds.index if u not in known]
    if extra:
        raise EvaluateError(f"{source}: {len(extra)} utt_id(s) not in the manifest: {_listing(extra)}")
    missing = [u for u in rows["utt_id"] if u not in preds.index]
    if missing:
        raise EvaluateError(f"{source}: {len(missing)} labelled utt_id(s) of the manifest have no "
                            f"prediction: {_listing(missing)} (use --split to evaluate one split)")
    return preds.loc[rows["utt_id"].to_list(), list(LABELS)].to_numpy(dtype=float)


# ----------------------------------------------------------------------------- groups


def groups(rows: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """``(name, boolean mask)`` of every subset reported: all, per corpus, per split, per style."""
    out = [("all", np.ones(len(rows), dtype=bool))]
    for column, prefix in (("corpus", "corpus"), ("split", "split"), ("style", "style")):
        if column not in rows.columns:
            continue
        values = rows[column].astype(str).fillna("")
        distinct = sorted(v for v in values.unique() if v.strip())
        if column != "style" and len(distinct) < 2:
            continue
        for value in distinct:
            out.append((f"{prefix}={value}", (values == value).to_numpy()))
    if "style" in rows.columns and "corpus" in rows.columns:
        corpus = rows["corpus"].astype(str)
        style = rows["style"].astype(str)
        corpora = sorted(c for c in corpus[style.str.strip() != ""].unique())
        if len(corpora) > 1:
            for c in corpora:
                for s in sorted(v for v in style[corpus == c].unique() if v.strip()):
                    out.append((f"corpus={c},style={s}", ((corpus == c) & (style == s)).to_numpy()))
    return out


def evaluate(predictions: Mapping[str, pd.DataFrame], manifest: pd.DataFrame, *, split: str | None = None,
             fusion: Mapping | None = None) -> dict:
    """Score every named predictions frame (and the fusion of them, when given) on the manifest."""
    rows = expected_rows(manifest, split).reset_index(drop=True)
    y_true = [normalize_label(v) for v in rows["label"]]
    probas = {name: join_to_manifest(frame, rows, manifest, name) for name, frame in predictions.items()}
    if fusion is not None:
        from emoens.fusion import FusionError, apply_fusion

        try:
            probas["fusion"] = apply_fusion(fusion, {n: probas[n] for n in probas})
        except FusionError as exc:
            raise EvaluateError(f"cannot apply the fusion to the predictions ({', '.join(predictions)}): "
                                f"{exc}; name prediction files NAME=PATH after the fusion's members") from None
    train_labels = manifest.loc[(manifest["split"].astype(str) == "train")
                                & (manifest["label"].astype(str).str.strip() != ""), "label"].tolist()
    prior_source = "train split" if train_labels else "evaluated rows"
    baselines = baseline_predictions(y_true, train_labels or None)
    true_ids = _as_ids(y_true, "true labels")
    report: dict = {"labels": list(LABELS), "split": split, "n": len(rows),
                    "class_prior_from": prior_source, "models": {}, "baselines": {}}
    group_masks = groups(rows)
    for name, proba in probas.items():
        report["models"][name] = {g: compute_metrics(true_ids[m], proba[m]) for g, m in group_masks}
    for name, pred in baselines.items():
        report["baselines"][name] = {g: compute_metrics(true_ids[m], pred[m]) for g, m in group_masks}
    return report


# ----------------------------------------------------------------------------- output


def markdown_report(report: dict) -> str:
    """A Markdown summary: one table per subset (models then baselines), per-class F1 for ``all``."""
    lines = ["# Evaluation", ""]
    lines.append(f"Rows evaluated: {report['n']}" + (f" (split `{report['split']}`)" if report["split"] else "")
                 + f". Class-prior baseline drawn from the {report['class_prior_from']}.")
    lines.append("Accuracy, macro-F1, weighted-F1 and unweighted accuracy (UA, mean per-class recall) in %.")
    entries = [(n, r) for n, r in report["models"].items()] + [(f"*{n}* (baseline)", r)
                                                                for n, r in report["baselines"].items()]
    group_names = list(next(iter(report["models"].values())).keys()) if report["models"] else []
    for group in group_names:
        lines += ["", f"## {group}", "", "| model | n | accuracy | macro-F1 | weighted-F1 | UA |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, res in entries:
            m = res[group]
            lines.append(f"| {name} | {m['n']} | " + " | ".join(f"{100 * m[k]:.1f}" for k in SUMMARY_KEYS) + " |")
    if group_names:
        lines += ["", "## Per-class F1 (all rows)", "",
                  "| model | " + " | ".join(LABELS) + " |", "|---|" + "---:|" * len(LABELS)]
        for name, res in entries:
            pc = res["all"]["per_class"]
            lines.append(f"| {name} | " + " | ".join(
                f"{100 * pc[c]['f1']:.1f}" if pc[c]["support"] else "–" for c in LABELS) + " |")
        lines += ["", "– : class absent from the evaluated rows. Support: " + ", ".join(
            f"{c} {next(iter(report['models'].values()))['all']['per_class'][c]['support']}" for c in LABELS)]
    return "\n".join(lines) + "\n"


def plot_confusion(metrics: dict, title: str, path: Path) -> None:
    """Counts and row-normalised confusion matrices side by side, as a PNG (atomic write)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emoens.files import write_bytes

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, key, fmt in ((axes[0], "confusion", "d"), (axes[1], "confusion_normalized", ".2f")):
        mat = np.asarray(metrics[key])
        ax.imshow(mat, cmap="Blues", vmin=0)
        ax.set_xticks(range(len(LABELS)), LABELS, rotation=45, ha="right")
        ax.set_yticks(range(len(LABELS)), LABELS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title}: {'counts' if key == 'confusion' else 'normalised by true class'}")
        top = mat.max() if mat.size else 0
        for i in range(mat.shape[0]):
            for j in range(mat.shape[1]):
                ax.text(j, i, format(mat[i, j], fmt), ha="center", va="center", fontsize=8,
                        color="white" if top and mat[i, j] > top / 2 else "black")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    write_bytes(path, buffer.getvalue())


def write_report(report: dict, out_dir: str | Path, plots: bool = True) -> list[Path]:
    """Write ``metrics.json``, ``metrics.md`` and ``confusion_<model>.png`` into ``out_dir``."""
    from emoens.files import write_json, write_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "metrics.json", out_dir / "metrics.md"]
    write_json(written[0], report)
    write_text(written[1], markdown_report(report))
    if plots:
        for name, res in report["models"].items():
            target = out_dir / f"confusion_{''.join(c if c.isalnum() or c in '-_' else '_' for c in name)}.png"
            plot_confusion(res["all"], name, target)
            written.append(target)
    return written
