"""Statistics of a manifest, as JSON for the app's Explore tab and as plotly figures / HTML.

:func:`manifest_stats` returns (and ``emoens stats`` writes as ``stats.json``) this structure;
every label dict has the 7 labels in canonical order, zeros included::

    {
      "format": "emoens-stats", "format_version": 1,
      "manifest": "/abs/manifest.csv",
      "labels": ["angry", …, "surprise"],
      "rows": 1317, "labelled": 1317, "hours": 2.3,
      "counts": {                        # labelled rows per corpus, split and label
        "kemdy20": {"all": {"angry": 0, …}, "train": {…}, "test": {…}, "unsplit": {…}},
        "all":     {"all": {…}, "train": {…}, …}
      },
      "rows_by": {"corpus": {"kemdy20": 311, …}, "split": {"train": …, "unsplit": …}},
      "duration": {                      # seconds; 1-s bins, the last bin holds everything longer
        "bin_edges": [0, 1, …, 30],
        "histogram": {"kemdy20": [n0, n1, …], "all": […]},   # len(bin_edges) - 1 counts
        "summary": {"kemdy20": {"mean": …, "median": …, "min": …, "max": …, "total_hours": …}, "all": {…}}
      },
      "valence_arousal": {               # raters' means per class, rows that have them
        "happy": {"n": 186, "valence_mean": 3.9, "valence_std": 0.4, "arousal_mean": 3.2, "arousal_std": 0.5},
        …                                # labels without values are absent
      },
      "ties": {                          # rows whose annotation is a tie (label_raw with ";")
        "rows": 70, "share": 0.053,
        "by_corpus": {"kemdy20": {"rows": 11, "share": 0.035}, …},
        "combinations": {"happy;neutral": 6, …}
      }
    }

Splits are ``train``/``valid``/``test``, and ``unsplit`` for rows with an empty split.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from emoens.labels import LABELS

FORMAT = "emoens-stats"
FORMAT_VERSION = 1
MAX_HISTOGRAM_SECONDS = 30


def _label_counts(labels: pd.Series) -> dict[str, int]:
    counts = labels.value_counts()
    return {label: int(counts.get(label, 0)) for label in LABELS}


def _split_name(value) -> str:
    return value if isinstance(value, str) and value else "unsplit"


def manifest_stats(frame: pd.DataFrame, manifest: str | None = None) -> dict:
    """The statistics of a (validated) manifest frame; see the module docstring for the schema."""
    frame = frame.copy()
    frame["_split"] = frame["split"].map(_split_name)
    labelled = frame[frame["label"] != ""]
    durations = pd.to_numeric(frame["duration"], errors="coerce")

    counts: dict[str, dict[str, dict[str, int]]] = {}
    for corpus, group in [*labelled.groupby("corpus", sort=True), ("all", labelled)]:
        entry = {"all": _label_counts(group["label"])}
        for split, part in group.groupby("_split", sort=True):
            entry[split] = _label_counts(part["label"])
        counts[str(corpus)] = entry

    top = max(1, min(MAX_HISTOGRAM_SECONDS, math.ceil(float(durations.max())) if durations.notna().any() else 1))
    edges = list(range(0, top + 1))
    histogram, summary = {}, {}
    for corpus, group in [*frame.groupby("corpus", sort=True), ("all", frame)]:
        values = pd.to_numeric(group["duration"], errors="coerce").dropna().to_numpy()
        clipped = np.clip(values, 0, top - 1e-9)
        histogram[str(corpus)] = np.histogram(clipped, bins=edges)[0].astype(int).tolist()
        summary[str(corpus)] = ({"mean": round(float(values.mean()), 3),
                                 "median": round(float(np.median(values)), 3),
                                 "min": round(float(values.min()), 3), "max": round(float(values.max()), 3),
                                 "total_hours": round(float(values.sum()) / 3600, 4)}
                                if values.size else {})

    va = {}
    for label in LABELS:
        part = labelled[labelled["label"] == label]
        val = pd.to_numeric(part["valence"], errors="coerce").dropna()
        aro = pd.to_numeric(part["arousal"], errors="coerce").dropna()
        if len(val) or len(aro):
            va[label] = {"n": int(max(len(val), len(aro))),
                         "valence_mean": round(float(val.mean()), 4) if len(val) else None,
                         "valence_std": round(float(val.std(ddof=0)), 4) if len(val) else None,
                         "arousal_mean": round(float(aro.mean()), 4) if len(aro) else None,
                         "arousal_std": round(float(aro.std(ddof=0)), 4) if len(aro) else None}

    is_tie = frame["label_raw"].astype(str).str.contains(";")
    ties = {
        "rows": int(is_tie.sum()),
        "share": round(float(is_tie.mean()), 4) if len(frame) else 0.0,
        "by_corpus": {str(c): {"rows": int(t.sum()), "share": round(float(t.mean()), 4)}
                      for c, t in is_tie.groupby(frame["corpus"], sort=True)},
        "combinations": {str(k): int(v) for k, v in frame.loc[is_tie, "label_raw"].value_counts().items()},
    }
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "manifest": manifest,
        "labels": list(LABELS),
        "rows": int(len(frame)), "labelled": int(len(labelled)),
        "hours": round(float(durations.sum()) / 3600, 4),
        "counts": counts,
        "rows_by": {"corpus": {str(k): int(v) for k, v in frame["corpus"].value_counts().sort_index().items()},
                    "split": {str(k): int(v) for k, v in frame["_split"].value_counts().sort_index().items()}},
        "duration": {"bin_edges": edges, "histogram": histogram, "summary": summary},
        "valence_arousal": va,
        "ties": ties,
    }


def stats_figures(stats: dict) -> dict:
    """Plotly figures of a stats dict (from :func:`manifest_stats` or ``stats.json``):
    ``classes`` (labels per corpus/split), ``duration``, ``valence_arousal``, ``ties``."""
    import plotly.graph_objects as go

    from emoens.labels import LABELS_KO

    labels = stats["labels"]
    ticks = [f"{lab} {LABELS_KO.get(lab, '')}".strip() for lab in labels]
    classes = go.Figure()
    for corpus, by_split in stats["counts"].items():
        if corpus == "all":  # the sum of the bars already shown
            continue
        for split, per_label in by_split.items():
            if split == "all":
                continue
            classes.add_trace(go.Bar(name=f"{corpus} / {split}", x=ticks,
                                     y=[per_label[lab] for lab in labels]))
    classes.update_layout(title="Class distribution per corpus and split", barmode="group",
                          yaxis_title="utterances")

    edges = stats["duration"]["bin_edges"]
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    duration = go.Figure()
    for corpus, hist in stats["duration"]["histogram"].items():
        if corpus == "all":
            continue
        duration.add_trace(go.Bar(name=corpus, x=centers, y=hist, width=1.0, opacity=0.7))
    duration.update_layout(title=f"Utterance duration (1-s bins; last bin: {edges[-1] - 1} s and longer)",
                           barmode="overlay", xaxis_title="seconds", yaxis_title="utterances")

    va = stats["valence_arousal"]
    points = [lab for lab in labels if lab in va and va[lab]["valence_mean"] is not None
              and va[lab]["arousal_mean"] is not None]
    valence_arousal = go.Figure(go.Scatter(
        x=[va[lab]["valence_mean"] for lab in points], y=[va[lab]["arousal_mean"] for lab in points],
        error_x={"type": "data", "array": [va[lab]["valence_std"] for lab in points]},
        error_y={"type": "data", "array": [va[lab]["arousal_std"] for lab in points]},
        mode="markers+text", text=[f"{lab} (n={va[lab]['n']})" for lab in points],
        textposition="top center"))
    valence_arousal.update_layout(title="Valence and arousal per class (raters' means ± sd)",
                                  xaxis_title="valence", yaxis_title="arousal")

    combos = stats["ties"]["combinations"]
    ties = go.Figure(go.Bar(x=list(combos), y=list(combos.values())))
    ties.update_layout(title=f"Tied annotations: {stats['ties']['rows']} rows "
                             f"({100 * stats['ties']['share']:.1f} %)", yaxis_title="utterances")
    return {"classes": classes, "duration": duration, "valence_arousal": valence_arousal, "ties": ties}


def stats_html(stats: dict) -> str:
    """One self-contained HTML page (plotly.js embedded, works offline) with every figure."""
    figures = stats_figures(stats)
    parts = []
    for i, fig in enumerate(figures.values()):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    title = f"emoens statistics: {stats.get('manifest') or 'manifest'}"
    summary = (f"{stats['rows']} utterances, {stats['labelled']} labelled, {stats['hours']:.2f} hours; "
               f"{stats['ties']['rows']} tied annotations")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title + "</title></head>"
            "<body><h1>emoens statistics</h1><p>" + summary + "</p>\n" + "\n".join(parts)
            + "\n</body></html>\n")


def write_stats(manifest, out_dir) -> dict:
    """Read ``manifest``, write ``out_dir/stats.json`` and ``out_dir/stats.html``; return the stats."""
    from emoens.files import write_json, write_text
    from emoens.manifest import read_manifest

    frame = read_manifest(manifest)
    stats = manifest_stats(frame, manifest=str(Path(manifest).resolve()))
    out = Path(out_dir)
    write_json(out / "stats.json", stats)
    write_text(out / "stats.html", stats_html(stats))
    return stats
