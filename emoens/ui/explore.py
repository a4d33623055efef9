"""The Explore tab's logic: class distributions, durations, valence/arousal and ties.

Everything is drawn from the statistics JSON of :func:`emoens.stats.manifest_stats` (the format
``emoens stats`` writes and ``emoens/assets/stats`` ships), so the app shows the same numbers as the CLI.
A manifest the user gives is filtered first (corpus, split, style, gender), then summarised; only
a manifest can list the utterances of a class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from emoens.labels import LABELS, LABELS_KO
from emoens.ui.charts import _layout, class_tick, empty_figure
from emoens.ui.config import UIError

FILTER_COLUMNS = ("corpus", "split", "style", "gender")
NONE = "(none)"


def _empty_name(column: str) -> str:
    # emoens.stats calls an empty split "unsplit"; other empty values show as "(none)".
    return "unsplit" if column == "split" else NONE


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].fillna("").astype(str)
    return pd.Series([""] * len(frame), index=frame.index, dtype=str)


def stats_of(frame: pd.DataFrame, source: str | None = None) -> dict:
    """The statistics of a manifest frame (:func:`emoens.stats.manifest_stats`)."""
    from emoens.stats import manifest_stats

    return manifest_stats(frame, source)


def filter_choices(frame: pd.DataFrame | None, stats: Mapping | None = None) -> dict[str, list[str]]:
    """The values each filter can take: from the manifest's columns, or (statistics only) the
    corpora and splits of the counts."""
    if frame is not None:  # empty values are not offered (no "(none)" option)
        return {c: sorted({v for v in _column(frame, c) if v.strip()}) for c in FILTER_COLUMNS}
    counts = (stats or {}).get("counts", {})
    corpora = sorted(c for c in counts if c != "all")
    splits = sorted({s for c in corpora for s in counts[c] if s != "all"})
    return {"corpus": corpora, "split": splits, "style": [], "gender": []}


def apply_filters(frame: pd.DataFrame, selected: Mapping[str, Sequence[str] | None]) -> pd.DataFrame:
    """Rows whose filter columns take one of the selected values (an empty selection keeps all)."""
    mask = pd.Series(True, index=frame.index)
    for column, values in selected.items():
        if values:
            wanted = {"" if v == _empty_name(column) else v for v in values}
            mask &= _column(frame, column).isin(wanted)
    return frame[mask]


def class_counts(stats: Mapping, corpora: Sequence[str] | None = None,
                 splits: Sequence[str] | None = None) -> pd.DataFrame:
    """Labelled utterances per class (rows, canonical order) and ``corpus · split`` (columns)."""
    columns = {}
    for corpus, by_split in stats.get("counts", {}).items():
        if corpus == "all" or (corpora and corpus not in corpora):
            continue
        for split, by_label in by_split.items():
            if split == "all" or (splits and split not in splits):
                continue
            columns[f"{corpus} · {split}"] = [int(by_label.get(label, 0)) for label in LABELS]
    table = pd.DataFrame(columns, index=pd.Index(list(LABELS), name="label"), dtype=int)
    table["total"] = table.sum(axis=1).astype(int)
    return table


def counts_display(counts: pd.DataFrame) -> pd.DataFrame:
    """Counts with the Korean and English class name as the first column (the clickable table)."""
    out = counts.reset_index()
    out.insert(0, "class", [f"{LABELS_KO[lb]} {lb}" for lb in out["label"]])
    return out.drop(columns="label")


def distribution_figure(counts: pd.DataFrame) -> go.Figure:
    """Grouped bars: utterances per class for each ``corpus · split`` group."""
    groups = [c for c in counts.columns if c != "total"]
    if not groups or counts["total"].sum() == 0:
        return empty_figure("no labelled utterances match the filters")
    fig = go.Figure()
    ticks = [class_tick(label) for label in LABELS]
    for group in groups:
        fig.add_bar(x=ticks, y=counts[group].tolist(), name=group, text=counts[group].tolist(),
                    textposition="outside", hovertemplate="%{x}: %{y}<extra>" + group + "</extra>")
    fig.update_layout(barmode="group", yaxis={"title": "utterances"})
    fig.update_xaxes(categoryorder="array", categoryarray=ticks)
    return _layout(fig, "클래스 분포 · class distribution per corpus and split")


def duration_figure(stats: Mapping, corpora: Sequence[str] | None = None) -> go.Figure:
    """Histogram of utterance durations (1-s bins, the last one open-ended), stacked by corpus."""
    duration = stats.get("duration") or {}
    edges = duration.get("bin_edges") or []
    histogram = {c: h for c, h in (duration.get("histogram") or {}).items()
                 if c != "all" and (not corpora or c in corpora)}
    if len(edges) < 2 or not any(sum(h) for h in histogram.values()):
        return empty_figure("no durations")
    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    fig = go.Figure()
    for corpus, counts in histogram.items():
        fig.add_bar(x=centres, y=counts, name=corpus, width=[b - a for a, b in zip(edges[:-1], edges[1:])],
                    hovertemplate="%{x:.1f} s: %{y}<extra>" + corpus + "</extra>")
    fig.update_layout(barmode="stack", xaxis={"title": f"duration (s; the last bin holds ≥ {edges[-2]} s)"},
                      yaxis={"title": "utterances"})
    return _layout(fig, "길이 · durations")


def valence_arousal_figure(stats: Mapping) -> go.Figure:
    """Mean valence and arousal per class, error bars one standard deviation."""
    va = stats.get("valence_arousal") or {}
    if not va:
        return empty_figure("no valence/arousal ratings")
    ticks = [class_tick(label) for label in LABELS]
    fig = go.Figure()
    for name, colour in (("valence", "#4C78A8"), ("arousal", "#E45756")):
        means = [(va.get(label) or {}).get(f"{name}_mean") for label in LABELS]
        stds = [(va.get(label) or {}).get(f"{name}_std") or 0 for label in LABELS]
        if all(m is None for m in means):
            continue
        fig.add_bar(x=ticks, y=means, name=name, marker_color=colour,
                    error_y={"type": "data", "array": stds})
    fig.update_layout(barmode="group", yaxis={"title": "mean rating"})
    return _layout(fig, "정서가·각성 · valence and arousal by class")


def ties_table(stats: Mapping) -> pd.DataFrame:
    """Utterances whose raters' majority was a tie (``;`` in ``label_raw``), per corpus and overall;
    an empty table when there is none (the tab then hides it)."""
    ties = stats.get("ties") or {}
    if not ties.get("rows"):
        return pd.DataFrame(columns=["코퍼스 corpus", "동률 ties", "비율 share"])
    rows = [{"코퍼스 corpus": c, "동률 ties": v["rows"], "비율 share": round(float(v["share"]), 4)}
            for c, v in (ties.get("by_corpus") or {}).items()]
    rows.append({"코퍼스 corpus": "전체 all", "동률 ties": ties.get("rows", 0),
                 "비율 share": round(float(ties.get("share", 0.0)), 4)})
    return pd.DataFrame(rows)


def audio_seconds(frame: pd.DataFrame) -> float:
    """Seconds of audio in a manifest frame (its ``duration`` column; 0 when absent)."""
    if "duration" not in frame.columns:
        return 0.0
    return float(pd.to_numeric(frame["duration"], errors="coerce").fillna(0).clip(lower=0).sum())


def summary_markdown(stats: Mapping, source: str, counts: pd.DataFrame | None = None,
                     seconds: float | None = None) -> str:
    """One line: how many utterances, labelled, how much audio, share of ties. With ``counts``
    (bundled statistics under a filter) the numbers are those the filter keeps."""
    if counts is not None:
        labelled = int(counts["total"].sum())
        return (f"**{source}**: 필터에 맞는 라벨 있는 발화 {labelled}개 · "
                f"{labelled} labelled utterances match the filters")
    rows, labelled = int(stats.get("rows", 0)), int(stats.get("labelled", 0))
    hours = float(stats.get("hours") or 0.0) if seconds is None else seconds / 3600
    if hours > 0:
        minutes = hours * 60
        amount = f"{hours:.2f} h" if hours >= 1 else f"{minutes:.1f} min" if minutes >= 0.1 else f"{minutes * 60:.1f} s"
        audio_ko, audio_en = f"음성 {amount}", f"{amount} of audio"
    else:
        audio_ko, audio_en = "길이 정보 없음", "durations not given"
    share = float((stats.get("ties") or {}).get("share", 0.0) or 0.0)
    ties_ko = f"동률 {share:.1%}" if share else "동률 없음"
    ties_en = f"{share:.1%} ties" if share else "no ties"
    return (f"**{source}**: 발화 {rows}개, 라벨 {labelled}개, {audio_ko}, {ties_ko} · "
            f"{rows} utterances, {labelled} labelled, {audio_en}, {ties_en}")


def utterances_of(frame: pd.DataFrame, label: str, exists=lambda path: False) -> pd.DataFrame:
    """Utterances of one class: id, corpus, split, duration, transcript, and whether the audio is
    here (``exists(path)``: by default no file is looked at, so nothing tells which files exist)."""
    rows = frame[_column(frame, "label") == label]
    out = pd.DataFrame({
        "utt_id": _column(rows, "utt_id"),
        "corpus": _column(rows, "corpus"),
        "split": _column(rows, "split"),
        "duration": pd.to_numeric(rows.get("duration", pd.Series(index=rows.index, dtype=float)),
                                  errors="coerce").round(2),
        "text": _column(rows, "text"),
        "audio_path": _column(rows, "audio_path"),
    })
    out["on_disk"] = [bool(p) and bool(exists(p)) for p in out["audio_path"]]
    return out.reset_index(drop=True)


def label_from_cell(row_value: str) -> str:
    """The class of a counts-table row, whose first cell reads e.g. ``"기쁨 happy"``."""
    for label in LABELS:
        if str(row_value).strip().endswith(" " + label):
            return label
    raise UIError(f"{row_value!r} is not a class row of the table: click a row of the counts table")


def bundled_stats_files(stats_dir: Path) -> list[Path]:
    """Statistics JSON files shipped in ``emoens/assets/stats``."""
    return sorted(stats_dir.glob("*.json")) if stats_dir.is_dir() else []


def read_stats(path: Path) -> dict:
    """Read a statistics JSON (as written by ``emoens stats``) and check its format."""
    try:
        stats = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UIError(f"cannot read statistics {Path(path).name}: {exc}") from None
    if not isinstance(stats, dict) or stats.get("format") != "emoens-stats":
        raise UIError(f"{Path(path).name} is not an emoens statistics file (format 'emoens-stats')")
    return stats
