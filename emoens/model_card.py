"""MODEL_CARD.md of any bundle, written from its ``bundle.json`` (the one card writer of emoens).

Every number in a card comes from the config it is given: the members, the fusion, the
``metrics`` block (a leave-one-corpus-out table when the bundle was built by
``emoens train-default``, else its metrics as a flat table) and ``provenance`` (data sources and
their licences). A short Korean summary comes first, as the app shows it.
"""

from __future__ import annotations

from typing import Any, Mapping

from emoens.labels import LABELS, LABELS_KO

FUSION_WORDS = {
    "weighted": "weighted soft voting of the members' probabilities (fixed weights)",
    "stack": "a logistic regression over the members' log-probabilities (stacking)",
    "loglinear": "log-linear (geometric) pooling of the members' probabilities",
    "confidence": "log-linear pooling in which each member's exponent grows with its own "
                  "confidence (top probability) and is scaled by how reliable its input is (a typed "
                  "transcript counts fully, an automatic one by the ASR's confidence, words that are "
                  "not Korean or no words at all not at all); fitted on out-of-fold predictions, "
                  "which also calibrates it",
}
KIND_WORDS = {
    "whisper-head": "Whisper-base encoder statistics (+ prosody where its config says so) -> one linear/MLP head, or a soft vote of several (the config's parts)",
    "text-head": "char n-gram TF-IDF + sentence embeddings -> linear head",
    "hf-speech": "transformers audio classification model",
    "hf-text": "transformers text classification model",
    "onnx-speech": "ONNX Runtime speech model", "onnx-text": "ONNX Runtime text model",
}
SYSTEMS = ("speech", "text", "ensemble", "previous speech", "previous text", "previous ensemble",
           "all-neutral", "class-prior")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (dict, list)):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items()) if isinstance(value, dict) \
            else ", ".join(_fmt(v) for v in value)
    return str(value)


def _flat(metrics: Mapping, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out += _flat(value, f"{name} / ")
        else:
            out.append((name, value))
    return out


def heldout_table(heldout: Mapping) -> list[str]:
    """Markdown rows: per held-out corpus, UAR / macro-F1 of every system, ECE and V/A CCC."""
    head = ["corpus (held out)", "n"] + [f"{s} UAR / F1" for s in SYSTEMS] + ["ECE", "valence CCC", "arousal CCC"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for corpus, block in heldout.items():
        scores = block["scores"]
        cells = [corpus, str(scores["ensemble"]["n"])]
        for system in SYSTEMS:
            s = scores.get(system)
            cells.append("–" if not s else f"{s['uar']:.3f} / {s['macro_f1']:.3f}")
        va = block.get("va") or {}
        cells += [_fmt(block.get("ece")), _fmt(va.get("valence_ccc")), _fmt(va.get("arousal_ccc"))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def speakers_table(block: Mapping) -> list[str]:
    """Markdown: speech UAR / macro-F1 per corpus with its speakers held out (within corpora)."""
    lines = ["### Speakers held out within corpora", "", block.get("protocol", ""), "",
             "| corpus | n | speech UAR / F1 | previous speech UAR / F1 |", "|---|---|---|---|"]
    for corpus, row in block["corpora"].items():
        lines.append(f"| {corpus} | {row['speech']['n']} | {row['speech']['uar']:.3f} / {row['speech']['macro_f1']:.3f} | "
                     f"{row['previous speech']['uar']:.3f} / {row['previous speech']['macro_f1']:.3f} |")
    return lines


def _summary_ko(config: Mapping) -> list[str]:
    metrics = config.get("metrics") or {}
    checks = metrics.get("checks") or {}
    lines = ["## 요약", "",
             f"한국어 음성 감정 인식 모델 묶음 `{config.get('name', 'emoens')}`: 음성 모델과 텍스트(전사) 모델의 "
             "결과를 합쳐 7가지 감정(분노·혐오·공포·기쁨·중립·슬픔·놀람) 중 하나를 고릅니다."]
    if metrics.get("heldout_corpora"):
        lines.append(f"학습에 쓰지 않은 코퍼스(말뭉치)를 하나씩 빼고 평가한 결과, 음성 모델의 평균 UAR(클래스별 재현율 평균)은 "
                     f"{_fmt(metrics.get('mean_uar', {}).get('speech'))}, 앙상블은 "
                     f"{_fmt(metrics.get('mean_uar', {}).get('ensemble'))}입니다 (우연 수준 약 0.14~0.25).")
    if checks:
        lines.append(f"이전 기본 모델 대비 평균 향상: 음성 {_fmt(checks.get('mean_speech_gain'))}, "
                     f"앙상블 {_fmt(checks.get('mean_ensemble_gain'))}.")
    lines += ["결과는 청취자가 느낀 감정의 추정일 뿐이며, 사람에 대한 결정에 쓰면 안 됩니다. "
              "무음·잡음에는 감정을 표시하지 않습니다.", ""]
    return lines


def _members(config: Mapping) -> list[str]:
    lines = ["## Members", "", "| name | modality | kind | features / settings | folder |", "|---|---|---|---|---|"]
    for m in config["members"]:
        lines.append(f"| {m['name']} | {m['modality']} | {m['kind']} | {KIND_WORDS.get(m['kind'], m['kind'])} | `{m['path']}` |")
    fusion = config.get("fusion") or {}
    method = fusion.get("method", "weighted")
    lines += ["", "## Fusion", "", f"`{method}`: {FUSION_WORDS.get(method, method)}."]
    if method in ("weighted", "loglinear"):
        lines.append("Weights: " + ", ".join(f"{m['name']} {float(m.get('weight', 0)):.2f}"
                                             for m in config["members"]) + ".")
    if fusion.get("fitted_on"):
        lines.append("Fitted on: " + _fmt(fusion["fitted_on"]) + ".")
    asr = config.get("asr") or {}
    lines += ["", "## Transcription", "", f"ASR back-end: `{asr.get('backend', 'none')}`"
              + (f" (`{asr['model']}`)" if asr.get("model") else "") + "."]
    return lines


def _evaluation(metrics: Mapping) -> list[str]:
    lines = ["", "## Evaluation", ""]
    if metrics.get("heldout_corpora"):
        lines += [metrics.get("protocol", ""), "", *heldout_table(metrics["heldout_corpora"]), ""]
        checks = metrics.get("checks") or {}
        lines += ["Targets, computed from the table: " + _fmt(checks) + "."] if checks else []
        if metrics.get("speakers_heldout"):
            lines += ["", *speakers_table(metrics["speakers_heldout"])]
        for name, table in (metrics.get("selection_tables") or {}).items():
            keys = list(dict.fromkeys(k for row in table for k in row))
            lines += ["", f"### Candidates: {name}", "", "| " + " | ".join(keys) + " |",
                      "|" + "---|" * len(keys)] + ["| " + " | ".join(_fmt(row[k]) if k in row else "–" for k in keys)
                                                   + " |" for row in table]
        for key in ("kemdy_sessions", "reliability", "final_selection"):
            if metrics.get(key):
                lines += ["", f"### {key.replace('_', ' ')}", "", _fmt(metrics[key])]
    elif metrics:
        lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in _flat(metrics)]
    else:
        lines.append("No evaluation results were recorded in bundle.json.")
    return lines


def model_card(config: Mapping) -> str:
    """MODEL_CARD.md text for the bundle ``config`` (``bundle.json`` as a dict)."""
    provenance = dict(config.get("provenance") or {})
    sources = provenance.pop("sources", None) or []
    lines = [f"# {config.get('name', 'emoens bundle')}", "", *_summary_ko(config),
             "## Classes", "", ", ".join(f"{l} ({LABELS_KO[l]})" for l in LABELS), "",
             *_members(config), *_evaluation(config.get("metrics") or {}), "", "## Training data and licences", ""]
    if sources:
        lines += ["| source | what | used for | licence |", "|---|---|---|---|"]
        lines += [f"| {s['name']} | {s.get('what', '')} | {s.get('used_for', '')} | {s.get('licence', '')} |"
                  for s in sources]
        lines += ["", "The bundle inherits the most restrictive of these terms: research and "
                  "non-commercial use only; the data themselves are not redistributed, only learned "
                  "parameters and aggregate counts."]
    lines += ["", "## Provenance", ""] + ([f"- {k}: {_fmt(v)}" for k, v in provenance.items()] or ["Not recorded."])
    lines += ["", "## Intended use and limitations", "",
              "Research and demonstration of emotion recognition in Korean speech. Emotion labels are "
              "perceived by annotators, ambiguous and culturally dependent; predictions are not "
              "measurements of anyone's inner state and must not be used to make decisions about "
              "people. Most training speech is acted; expect lower accuracy on spontaneous speech, "
              "other microphones and other speakers than the held-out table shows.", ""]
    return "\n".join(lines)


