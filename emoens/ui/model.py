"""The Model tab's logic: what the loaded bundle is made of and how well it does."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emoens.ui.config import DEFAULT_BUNDLE


def bundle_dir(recognizer, configured: str | None) -> Path | None:
    """The loaded bundle's directory, when it is on this machine."""
    for attr in ("bundle_dir", "bundle_path", "path", "root"):
        value = getattr(recognizer, attr, None)
        if isinstance(value, (str, Path)) and (Path(value) / "bundle.json").is_file():
            return Path(value)
    bundle = getattr(recognizer, "bundle", None)
    for attr in ("path", "root", "directory", "dir"):
        value = getattr(bundle, attr, None)
        if isinstance(value, (str, Path)) and (Path(value) / "bundle.json").is_file():
            return Path(value)
    candidate = Path(configured) if configured else DEFAULT_BUNDLE
    return candidate if (candidate / "bundle.json").is_file() else None


def read_bundle(directory: Path | None) -> tuple[dict, str]:
    """``bundle.json`` as a dict and ``MODEL_CARD.md`` as text (empty when absent)."""
    if directory is None:
        return {}, ""
    from emoens.bundle import Bundle, read_card, read_json

    spec = read_json(directory / "bundle.json")  # bounded size and depth
    # Only a card inside the bundle folder is shown (a link to /etc/shadow is not followed).
    return spec, read_card(Bundle(root=directory, config=spec))


def members_table(spec: dict) -> pd.DataFrame:
    """One row per member: name, modality, kind, fusion weight (share of the total)."""
    members = spec.get("members") or []
    total = sum(float(m.get("weight", 0) or 0) for m in members) or 1.0
    return pd.DataFrame([{
        "member": m.get("name", ""), "modality": m.get("modality", ""), "kind": m.get("kind", ""),
        "weight": float(m.get("weight", 0) or 0), "share": round(float(m.get("weight", 0) or 0) / total, 4),
        "path": m.get("path", ""),
    } for m in members])


SYSTEMS = ("ensemble", "speech", "text", "all-neutral", "class-prior")
SYSTEM_KO = {"ensemble": "앙상블", "speech": "음성", "text": "텍스트", "all-neutral": "항상 중립",
             "class-prior": "무작위(사전분포)"}
PART_KO = {"overall": "전체", "script": "대본", "impro": "즉흥"}


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def heldout_sets(spec: dict) -> dict[str, dict]:
    """``{set name: {system: {part: {n, macro_f1, …}}}}`` from ``metrics.heldout`` (read defensively)."""
    heldout = (spec.get("metrics") or {}).get("heldout")
    if not isinstance(heldout, dict):
        return {}
    return {name: value for name, value in heldout.items() if isinstance(value, dict)}


def headline_numbers(spec: dict) -> dict | None:
    """The held-out macro-F1 of the ensemble and of the all-neutral baseline (overall), from the
    first held-out set that has both; None when the bundle records none."""
    for name, systems in heldout_sets(spec).items():
        ens = ((systems.get("ensemble") or {}).get("overall") or {})
        base = ((systems.get("all-neutral") or {}).get("overall") or {})
        f1 = _number(ens.get("macro_f1"))
        if f1 is not None:
            return {"set": name, "macro_f1": f1, "n": _number(ens.get("n")),
                    "baseline_f1": _number(base.get("macro_f1")), "accuracy": _number(ens.get("accuracy"))}
    return None


def model_line(spec: dict) -> str:
    """One line for the Analyze tab: what this model is and is not, with its held-out numbers."""
    nums = headline_numbers(spec)
    score = ""
    if nums:
        base = f", 항상 '중립' 기준선 {nums['baseline_f1']:.2f}" if nums["baseline_f1"] is not None else ""
        base_en = f", always-neutral {nums['baseline_f1']:.2f}" if nums["baseline_f1"] is not None else ""
        score = (f" 처음 보는 화자·세션에서 macro-F1 {nums['macro_f1']:.2f}{base}."
                 f" · held-out macro-F1 {nums['macro_f1']:.2f}{base_en} ({nums['set']}).")
    return ("ℹ️ **이 모델은** 한국어 대화 연기 음성(KEMDy)으로 학습한 7가지 감정 분류기입니다;"
            " 사람의 실제 속마음을 판정하거나 진단·감시에 쓰는 도구가 **아닙니다**." + score +
            " · A 7-emotion classifier trained on acted Korean dialogue — not a judge of anyone's real"
            " feelings, not for diagnosis or monitoring.")


def metrics_table(spec: dict) -> pd.DataFrame:
    """Held-out results, readable: one row per set, system and part with n, macro-F1, unweighted
    accuracy and accuracy (Korean and English names)."""
    rows = []
    for name, systems in heldout_sets(spec).items():
        for system in [s for s in SYSTEMS if s in systems] + [s for s in systems if s not in SYSTEMS]:
            parts = systems.get(system)
            if not isinstance(parts, dict):
                continue
            for part, values in parts.items():
                if not isinstance(values, dict):
                    continue
                rows.append({"평가 세트 set": name, "시스템 system": f"{SYSTEM_KO.get(system, system)} {system}",
                             "부분 part": f"{PART_KO.get(part, part)} {part}", "n": values.get("n"),
                             "macro-F1": _round(values.get("macro_f1")),
                             "가중치 없는 정확도 UA": _round(values.get("unweighted_accuracy")),
                             "정확도 accuracy": _round(values.get("accuracy"))})
    return pd.DataFrame(rows)


def _round(value) -> float | None:
    number = _number(value)
    return None if number is None else round(number, 3)


def _plain(value) -> str:
    """A provenance value as words: dicts and lists as ``key: value`` items, not Python syntax."""
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def card_body(card: str, spec: dict) -> str:
    """The model card's text with its template placeholders filled (``{form}``: the fusion form)."""
    form = ((spec.get("fusion") or {}).get("fitted_on") or {}).get("form") or (spec.get("fusion") or {}).get("method")
    return card.replace("{form}", f"{form} pooling" if form else "soft voting")


def card_for_display(card: str, spec: dict) -> str:
    """The model card as the app shows it: the Korean summary first, then the filled card."""
    return card_summary(spec) + "\n\n" + card_body(card, spec)


def card_summary(spec: dict) -> str:
    """A Korean summary of the model card: what it does, how well, what it must not be used for."""
    nums = headline_numbers(spec)
    summary = ["> **요약** — 음성(말투)과 전사(내용)를 함께 보고 7가지 감정(분노, 혐오, 공포, 기쁨, 중립, 슬픔, 놀람) 중 "
               "하나를 고릅니다. 배우가 연기한 한국어 대화(KEMDy19/20, 연구용 라이선스)로 학습했습니다."]
    if nums:
        summary.append(f"> 처음 보는 세션에서 macro-F1 {nums['macro_f1']:.2f}"
                       + (f" (항상 '중립'이라 답하는 기준선 {nums['baseline_f1']:.2f})" if nums["baseline_f1"] is not None else "")
                       + ": 맞히는 경우보다 틀리는 경우가 많을 수 있습니다.")
    summary.append("> 실제 사람의 속마음을 판정하거나 채용·진단·감시에 쓰면 안 됩니다. "
                   "합성 예시 음성은 학습 문장과 비슷해 점수가 실제보다 높게 나옵니다.")
    return "\n>\n".join(summary)


def overview_markdown(spec: dict, directory: Path | None) -> str:
    """Name, fusion method, ASR back-end and provenance in a few lines."""
    if not spec:
        return "_번들 정보 없음 · no bundle.json found for the loaded model._"
    fusion = spec.get("fusion") or {}
    asr = spec.get("asr") or {}
    lines = [
        f"### {spec.get('name', 'bundle')}",
        f"- **번들 · bundle**: `{directory.name if directory else '?'}` (format {spec.get('format_version', '?')})",
        f"- **융합 · fusion**: {fusion.get('method', '?')}",
        f"- **전사 · transcription**: {asr.get('backend', 'none')} {asr.get('model', '')}".rstrip(),
    ]
    provenance = spec.get("provenance") or {}
    names = {"trained_on": "학습 데이터 · trained on", "data": "데이터 · data", "recipe": "만든 방법 · recipe",
             "encoders": "인코더 · encoders", "created": "만든 날 · created"}
    for key, name in names.items():
        if key in provenance:
            lines.append(f"- **{name}**: {_plain(provenance[key])}")
    return "\n".join(lines)
