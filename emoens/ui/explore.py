"""The Explore tab's logic: class distributions, durations, valence/arousal and ties of a manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from emoens.labels import LABELS, LABELS_KO
from emoens.ui.charts import CLASS_COLORS, _layout, class_tick, empty_figure
from emoens.ui.config import UIError

FILTER_COLUMNS = ("corpus", "split", "style", "gender")


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].fillna("").astype(str)
    return pd.Series([""] * len(frame), index=frame.index, dtype=str)


def filter_choices(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The values each filter column takes (an empty value shows as "(none)")."""
    return {c: sorted({v or "(none)" for v in _column(frame, c)}) for c in FILTER_COLUMNS}


def apply_filters(frame: pd.DataFrame, selected: Mapping[str, Sequence[str] | None]) -> pd.DataFrame:
    """Rows whose filter columns take one of the selected values (an empty selection keeps all)."""
    mask = pd.Series(True, index=frame.index)
    for column, values in selected.items():
        if values:
            wanted = {"" if v == "(none)" else v for v in values}
            mask &= _column(frame, column).isin(wanted)
    return frame[mask]


def group_key(frame: pd.DataFrame) -> pd.Series:
    """``corpus · split`` of each row (the bars' groups)."""
    corpus = _column(frame, "corpus").replace("", "(no corpus)")
    split = _column(frame, "split")
    return corpus + np.where(split != "", " · " + split, "")


def class_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Labelled utterances per class (rows, canonical order) and ``corpus · split`` group (columns)."""
    labelled = frame[_column(frame, "label") != ""]
    table = pd.crosstab(_column(labelled, "label"), group_key(labelled))
    table = table.reindex(list(LABELS), fill_value=0)
    table.index.name = "label"
    table.columns.name = None
    table["total"] = table.sum(axis=1)
    return table.astype(int)


def counts_display(counts: pd.DataFrame) -> pd.DataFrame:
    """Counts with the Korean class name as the first column (what the clickable table shows)."""
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
                    textposition="outside", customdata=list(LABELS),
                    hovertemplate="%{x}: %{y}<extra>" + group + "</extra>")
    fig.update_layout(barmode="group", yaxis={"title": "utterances"})
    fig.update_xaxes(categoryorder="array", categoryarray=ticks)
    return _layout(fig, "클래스 분포 · class distribution per corpus and split")


def duration_figure(frame: pd.DataFrame) -> go.Figure:
    """Histogram of utterance durations, stacked by class."""
    if "duration" not in frame.columns:
        return empty_figure("no durations in this manifest")
    durations = pd.to_numeric(frame["duration"], errors="coerce")
    if durations.notna().sum() == 0:
        return empty_figure("no durations in this manifest")
    labels = _column(frame, "label")
    fig = go.Figure()
    for label in (*LABELS, ""):
        values = durations[(labels == label) & durations.notna()]
        if values.empty:
            continue
        name = f"{LABELS_KO[label]} {label}" if label else "unlabelled"
        fig.add_histogram(x=values, name=name, marker_color=CLASS_COLORS.get(label, "#BBBBBB"),
                          xbins={"size": max(0.5, float(durations.max()) / 40)})
    fig.update_layout(barmode="stack", xaxis={"title": "duration (s)"}, yaxis={"title": "utterances"})
    return _layout(fig, "길이 · durations")


def valence_arousal_figure(frame: pd.DataFrame) -> go.Figure:
    """Mean valence and arousal per class (error bars: standard deviation)."""
    present = [c for c in ("valence", "arousal") if c in frame.columns]
    values = {c: pd.to_numeric(frame[c], errors="coerce") for c in present}
    if not present or all(v.notna().sum() == 0 for v in values.values()):
        return empty_figure("no valence/arousal in this manifest")
    labels = _column(frame, "label")
    ticks = [class_tick(label) for label in LABELS]
    fig = go.Figure()
    for column, colour in zip(present, ("#4C78A8", "#E45756")):
        grouped = values[column].groupby(labels).agg(["mean", "std"]).reindex(list(LABELS))
        fig.add_bar(x=ticks, y=grouped["mean"].round(3), name=column, marker_color=colour,
                    error_y={"type": "data", "array": grouped["std"].fillna(0).round(3)})
    fig.update_layout(barmode="group", yaxis={"title": "mean rating"})
    return _layout(fig, "정서가·각성 · valence and arousal by class")


def ties_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Share of utterances whose raters' majority was a tie (``;`` in ``label_raw``) per group."""
    raw = _column(frame, "label_raw")
    tie = raw.str.contains(";", regex=False)
    groups = group_key(frame)
    table = pd.DataFrame({"group": groups, "tie": tie}).groupby("group")["tie"].agg(["sum", "count"])
    table = table.rename(columns={"sum": "ties", "count": "utterances"}).reset_index()
    table["tie_share"] = (table["ties"] / table["utterances"]).round(4)
    return table


def summary_markdown(frame: pd.DataFrame, source: str) -> str:
    """One line: how many utterances, labelled, hours of audio."""
    labelled = int((_column(frame, "label") != "").sum())
    seconds = float(pd.to_numeric(frame.get("duration", pd.Series(dtype=float)), errors="coerce").sum())
    amount = f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"
    return f"**{source}**: {len(frame)} utterances, {labelled} labelled, {amount} of audio"


def utterances_of(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Utterances of one class: id, corpus, split, duration, transcript, and whether the audio is here."""
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
    out["on_disk"] = [bool(p) and Path(p).is_file() for p in out["audio_path"]]
    return out.reset_index(drop=True)


def label_from_cell(row_value: str) -> str:
    """The class name of a counts-table cell value such as ``"기쁨 happy"``."""
    for label in LABELS:
        if str(row_value).endswith(label):
            return label
    raise UIError(f"{row_value!r} is not a class row of the table: click a row of the counts table")


# --------------------------------------------------------------------------- bundled statistics


def bundled_stats_files(stats_dir: Path) -> list[Path]:
    """Statistics JSON files shipped in ``assets/stats``."""
    return sorted(stats_dir.glob("*.json")) if stats_dir.is_dir() else []


def read_stats(path: Path) -> dict:
    """Read a statistics JSON (as written by ``emoens stats``)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UIError(f"cannot read statistics {Path(path).name}: {exc}") from None
