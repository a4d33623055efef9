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


SYSTEM_KO = {"ensemble": "앙상블", "speech": "음성", "text": "텍스트", "all-neutral": "항상 중립",
             "class-prior": "무작위(사전분포)", "previous speech": "이전 음성", "previous text": "이전 텍스트",
             "previous ensemble": "이전 앙상블"}
# The held-out table's UAR columns, in this order (then the ensemble's macro-F1, n, ECE).
TABLE_SYSTEMS = ("speech", "text", "ensemble", "previous ensemble", "all-neutral")
# Rows of heldout_corpora that are a part of another row (not a corpus of their own).
SUB_ROWS = ("kemdy19 impro",)


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def heldout_corpora(spec: dict) -> dict[str, dict]:
    """``{corpus: {system: {uar, macro_f1, n}}}`` from ``metrics.heldout_corpora`` (read
    defensively: anything not shaped so is left out); ``{}`` for a bundle without it."""
    corpora = (spec.get("metrics") or {}).get("heldout_corpora")
    if not isinstance(corpora, dict):
        return {}
    out = {}
    for name, block in corpora.items():
        scores = block.get("scores") if isinstance(block, dict) else None
        if isinstance(scores, dict):
            out[str(name)] = {str(k): v for k, v in scores.items() if isinstance(v, dict)}
    return out


def _score(scores: dict, system: str, key: str = "uar") -> float | None:
    return _number((scores.get(system) or {}).get(key))


def headline_numbers(spec: dict) -> dict | None:
    """Mean held-out UAR of speech and ensemble (``metrics.mean_uar``) and the chance range (the
    all-neutral UAR over the held-out corpora: 1 / number of classes present); None when the
    bundle records no mean UAR."""
    mean = (spec.get("metrics") or {}).get("mean_uar")
    mean = mean if isinstance(mean, dict) else {}
    nums = {system: _number(mean.get(system)) for system in ("speech", "text", "ensemble",
                                                             "previous speech", "previous ensemble")}
    if nums["speech"] is None and nums["ensemble"] is None:
        return None
    corpora = {k: v for k, v in heldout_corpora(spec).items() if k not in SUB_ROWS}
    chance = [u for u in (_score(v, "all-neutral") for v in corpora.values()) if u is not None]
    nums["chance"] = (min(chance), max(chance)) if chance else None
    nums["corpora"] = len(corpora)
    return nums


def _uar_words(nums: dict) -> tuple[str, str]:
    """``(Korean, English)`` of the mean UARs with the chance range, e.g. "음성 0.37 · 앙상블 0.45"."""
    ko = " · ".join(f"{SYSTEM_KO[s]} {nums[s]:.2f}" for s in ("speech", "ensemble") if nums[s] is not None)
    en = ", ".join(f"{s} {nums[s]:.2f}" for s in ("speech", "ensemble") if nums[s] is not None)
    if nums.get("chance"):
        low, high = nums["chance"]
        span = f"{low:.2f}" if round(low, 2) == round(high, 2) else f"{low:.2f}–{high:.2f}"
        ko, en = f"{ko} (우연 {span})", f"{en} (chance {span})"
    return ko, en


def model_line(spec: dict) -> str:
    """One line for the Analyze tab: what this model is and is not, with its held-out numbers."""
    nums = headline_numbers(spec)
    score = ""
    if nums:
        ko, en = _uar_words(nums)
        score = f" 처음 듣는 코퍼스에서 평균 UAR {ko}. · Mean UAR on corpora it never heard: {en}."
    return ("ℹ️ **이 모델은** 주로 배우가 연기한 음성으로 학습한 7가지 감정 분류기입니다;"
            " 사람의 실제 속마음을 판정하거나 진단·감시에 쓰는 도구가 **아닙니다**." + score +
            " · A 7-emotion classifier trained mostly on acted speech — not a judge of anyone's real"
            " feelings, not for diagnosis or monitoring.")


def metrics_table(spec: dict) -> pd.DataFrame:
    """Held-out results, readable: one row per held-out corpus with the UAR of each system, the
    ensemble's macro-F1, n and calibration error; a first row with the mean UARs."""
    blocks = (spec.get("metrics") or {}).get("heldout_corpora") or {}
    rows = []
    for name, scores in heldout_corpora(spec).items():
        row = {"코퍼스 corpus": name, "n": _number((scores.get("ensemble") or {}).get("n"))}
        row |= {f"{SYSTEM_KO[s]} {s} UAR": _round(_score(scores, s)) for s in TABLE_SYSTEMS}
        row["앙상블 ensemble F1"] = _round(_score(scores, "ensemble", "macro_f1"))
        row["ECE"] = _round((blocks.get(name) or {}).get("ece"))
        rows.append(row)
    mean = (spec.get("metrics") or {}).get("mean_uar")
    if rows and isinstance(mean, dict):
        uar = {f"{SYSTEM_KO[s]} {s} UAR": _round(mean.get(s)) for s in TABLE_SYSTEMS}
        rows.insert(0, {k: uar.get(k) for k in rows[0]} | {"코퍼스 corpus": "평균 mean"})
    # As text: a missing score reads "–", never "nan"; n without decimals.
    return pd.DataFrame([{k: (v if k == "코퍼스 corpus" else _cell(v, k == "n")) for k, v in row.items()}
                         for row in rows])


def _cell(value, integer: bool = False) -> str:
    number = _number(value)
    if number is None or number != number:
        return "–"
    return str(int(number)) if integer else f"{number:.3f}"


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


SUMMARY_HEADING = "## 요약"


def _split_card(card: str) -> tuple[str, str]:
    """``(the card's "## 요약" section without its heading, the card without that section)``;
    ``("", card)`` when the card has no such section."""
    lines = card.splitlines()
    if SUMMARY_HEADING not in [line.strip() for line in lines]:
        return "", card
    start = [line.strip() for line in lines].index(SUMMARY_HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start + 1:end]).strip(), "\n".join(lines[:start] + lines[end:]).strip()


def card_body(card: str, spec: dict) -> str:
    """The model card without its Korean summary (shown first, apart) and with its template
    placeholders filled (``{form}``: the fusion form, in older cards)."""
    form = ((spec.get("fusion") or {}).get("fitted_on") or {}).get("form") or (spec.get("fusion") or {}).get("method")
    return _split_card(card)[1].replace("{form}", f"{form} pooling" if form else "soft voting")


def card_for_display(card: str, spec: dict) -> str:
    """The model card as the app shows it: the Korean summary first, then the filled card."""
    return card_summary(spec, card) + "\n\n" + card_body(card, spec)


def card_summary(spec: dict, card: str = "") -> str:
    """The Korean summary shown first on the Model tab: the card's own "## 요약" section when it
    has one (written by emoens.model_card), else one made from ``bundle.json``."""
    own = _split_card(card)[0]
    if own:
        # one paragraph per line of the section (the card writes one sentence group a line)
        return "> **요약**\n>\n" + "\n>\n".join(f"> {line}" for line in own.splitlines() if line.strip())
    nums = headline_numbers(spec)
    summary = ["> **요약** — 음성(말투)과 전사(내용)를 함께 보고 7가지 감정(분노, 혐오, 공포, 기쁨, 중립, 슬픔, 놀람) 중 "
               "하나를 고릅니다. 주로 배우가 연기한 음성으로 학습했습니다."]
    if nums:
        summary.append(f"> 처음 듣는 코퍼스에서 평균 UAR(클래스별 재현율 평균) {_uar_words(nums)[0]}: "
                       "맞히는 경우보다 틀리는 경우가 많을 수 있습니다.")
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
