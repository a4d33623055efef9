"""Plotly figures of the app: fixed class order, fixed colours, Korean class names."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from emoens.labels import LABELS, LABELS_KO

# System fonts only (no web fonts): NanumGothic comes from fonts-nanum on Debian.
FONT_FAMILY = "NanumGothic, 'Noto Sans CJK KR', 'Apple SD Gothic Neo', 'Malgun Gothic', sans-serif"

# One colour per source (speech / text / ensemble) and one per class, always the same.
SOURCE_COLORS: dict[str, str] = {"speech": "#4C78A8", "text": "#F58518", "ensemble": "#54A24B"}
SOURCE_NAMES_KO: dict[str, str] = {"speech": "음성 speech", "text": "텍스트 text", "ensemble": "앙상블 ensemble"}
CLASS_COLORS: dict[str, str] = {
    "angry": "#D62728",
    "disgust": "#8C564B",
    "fear": "#9467BD",
    "happy": "#FFBF00",
    "neutral": "#7F7F7F",
    "sad": "#1F77B4",
    "surprise": "#17BECF",
}
_EXTRA_COLORS = ("#B279A2", "#72B7B2", "#EECA3B", "#FF9DA6", "#9D755D", "#BAB0AC")


def class_tick(label: str) -> str:
    """Axis text of a class: Korean name above the English one."""
    return f"{LABELS_KO[label]}<br>{label}"


def _layout(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    fig.update_layout(
        title=title, height=height, font={"family": FONT_FAMILY, "size": 13},
        margin={"l": 50, "r": 20, "t": 60, "b": 40}, legend={"orientation": "h", "y": -0.18},
        template="plotly_white",
    )
    return fig


def as_vector(probs: Mapping[str, float] | Sequence[float] | None) -> np.ndarray | None:
    """Probabilities as a length-7 array in canonical order (None stays None)."""
    if probs is None:
        return None
    if isinstance(probs, Mapping):
        return np.array([float(probs.get(label, 0.0)) for label in LABELS])
    return np.asarray(probs, dtype=float)


def probabilities_figure(sources: Mapping[str, Mapping[str, float] | None], title: str = "") -> go.Figure:
    """Horizontal grouped bars of the 7 classes (readable on a phone), one bar per source (speech,
    text, ensemble, members…); classes top to bottom in canonical order, ``"분노 angry"``."""
    fig = go.Figure()
    ticks = [f"{LABELS_KO[label]} {label}" for label in LABELS]
    extra = iter(_EXTRA_COLORS)
    for name, probs in sources.items():
        vector = as_vector(probs)
        if vector is None:
            continue
        fig.add_bar(
            y=ticks, x=vector, orientation="h", name=SOURCE_NAMES_KO.get(name, name),
            marker_color=SOURCE_COLORS.get(name) or next(extra, None),
            text=[f"{p:.0%}" for p in vector], textposition="outside", cliponaxis=False,
            hovertemplate="%{y}: %{x:.1%}<extra>" + name + "</extra>",
        )
    fig.update_layout(barmode="group", xaxis={"range": [0, 1.15], "tickformat": ".0%", "title": "확률 probability"},
                      legend={"traceorder": "normal"})
    fig.update_yaxes(categoryorder="array", categoryarray=ticks, autorange="reversed", automargin=True)
    fig = _layout(fig, title or "감정 확률 · emotion probabilities", height=460)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 50, "b": 40})
    return fig


def valence_arousal_figure(result: Mapping) -> go.Figure | None:
    """The clip (and each timeline window) as points on the valence–arousal plane (1–5 scales);
    None when the result carries no valence/arousal."""
    points = [(w, f"{float(w['start']):.0f}–{float(w['end']):.0f} s") for w in result.get("timeline") or []
              if w.get("valence") is not None and w.get("arousal") is not None]
    has_clip = result.get("valence") is not None and result.get("arousal") is not None
    if not has_clip and not points:
        return None
    fig = go.Figure()
    if points:
        fig.add_scatter(x=[float(w["valence"]) for w, _ in points], y=[float(w["arousal"]) for w, _ in points],
                        mode="markers+lines", name="구간 windows", text=[t for _, t in points],
                        marker={"size": 8, "color": "#9ecae1"}, line={"color": "#c6dbef"},
                        hovertemplate="%{text}: 정서가 valence %{x:.2f}, 각성 arousal %{y:.2f}<extra></extra>")
    if has_clip:
        fig.add_scatter(x=[float(result["valence"])], y=[float(result["arousal"])], mode="markers",
                        name="전체 clip", marker={"size": 16, "color": "#08519c", "symbol": "diamond"},
                        hovertemplate="전체 clip: %{x:.2f}, %{y:.2f}<extra></extra>")
    fig.add_hline(y=3, line={"color": "#ccc", "dash": "dot"})
    fig.add_vline(x=3, line={"color": "#ccc", "dash": "dot"})
    fig.update_layout(xaxis={"range": [1, 5], "title": "정서가 valence (1 부정 negative – 5 긍정 positive)"},
                      yaxis={"range": [1, 5], "title": "각성 arousal (1 차분 calm – 5 격앙 excited)"})
    return _layout(fig, "정서가–각성 · valence–arousal", height=380)


def timeline_figure(timeline: Sequence[Mapping], duration: float | None = None) -> go.Figure:
    """Ensemble probability of each class over the windows of a long recording; ``duration``
    fixes the time axis to the whole recording (a timeline still filling in)."""
    fig = go.Figure()
    mids = [(float(w["start"]) + float(w["end"])) / 2 for w in timeline]
    matrix = np.array([as_vector(w.get("ensemble") or w.get("speech")) for w in timeline])
    for i, label in enumerate(LABELS):
        fig.add_scatter(
            x=mids, y=matrix[:, i], mode="lines+markers", name=f"{LABELS_KO[label]} {label}",
            line={"color": CLASS_COLORS[label]}, hovertemplate="%{x:.1f} s: %{y:.1%}<extra>" + label + "</extra>",
        )
    xaxis = {"title": "시간 time (s)"} | ({"range": [0, float(duration)]} if duration else {})
    fig.update_layout(xaxis=xaxis, yaxis={"range": [0, 1], "tickformat": ".0%"})
    return _layout(fig, "시간에 따른 감정 · emotion over time (ensemble)")


def confusion_figure(matrices: Mapping[str, np.ndarray]) -> go.Figure:
    """Confusion matrices (rows = true class, columns = predicted), one panel per model."""
    names = list(matrices)
    fig = make_subplots(rows=1, cols=max(1, len(names)), subplot_titles=names, horizontal_spacing=0.06)
    ticks = [LABELS_KO[label] for label in LABELS]
    for col, name in enumerate(names, start=1):
        counts = np.asarray(matrices[name])
        fig.add_heatmap(
            z=counts, x=ticks, y=ticks, text=counts, texttemplate="%{text}", colorscale="Blues",
            showscale=False, row=1, col=col,
            hovertemplate="true %{y} → predicted %{x}: %{z}<extra>" + name + "</extra>",
        )
        fig.update_yaxes(autorange="reversed", row=1, col=col)
        fig.update_xaxes(title_text="predicted", row=1, col=col)
    fig.update_yaxes(title_text="true", row=1, col=1)
    return _layout(fig, "혼동 행렬 · confusion matrices", height=360 + 20 * (len(names) > 2))


def empty_figure(message: str) -> go.Figure:
    """A blank figure carrying a short message (instead of an error)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 15})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", height=220)
