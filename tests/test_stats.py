"""emoens.stats and `emoens stats`: the JSON the app reads, and the offline HTML."""

from __future__ import annotations

import json

import pandas as pd

from emoens.cli import main
from emoens.labels import LABELS
from emoens.manifest import empty_row, read_manifest, validate_manifest
from emoens.stats import manifest_stats, stats_figures


def _frame():
    rows = []
    spec = [("a", "train", "happy", "happy", 0.5, 4.0, 3.0), ("a", "train", "happy", "happy;neutral", 1.5, 3.0, 2.0),
            ("a", "test", "neutral", "neutral", 2.5, 3.0, 3.0), ("b", "", "sad", "sad", 45.0, None, None),
            ("b", "", "", "", 3.2, None, None)]
    for i, (corpus, split, label, raw, dur, val, aro) in enumerate(spec):
        row = empty_row()
        row.update(utt_id=f"u{i}", corpus=corpus, split=split, label=label, label_raw=raw,
                   audio_path=f"/x/{i}.wav", duration=dur)
        if val is not None:
            row.update(valence=val, arousal=aro)
        rows.append(row)
    return validate_manifest(pd.DataFrame(rows))


def test_manifest_stats_schema_and_values():
    stats = manifest_stats(_frame(), manifest="m.csv")
    assert stats["format"] == "emoens-stats" and stats["labels"] == list(LABELS)
    assert stats["rows"] == 5 and stats["labelled"] == 4
    assert stats["counts"]["a"]["train"]["happy"] == 2
    assert stats["counts"]["a"]["test"] == {**{lab: 0 for lab in LABELS}, "neutral": 1}
    assert stats["counts"]["b"]["unsplit"]["sad"] == 1
    assert stats["counts"]["all"]["all"]["happy"] == 2 and sum(stats["counts"]["all"]["all"].values()) == 4
    assert stats["rows_by"]["split"] == {"test": 1, "train": 2, "unsplit": 2}
    edges = stats["duration"]["bin_edges"]
    assert edges[0] == 0 and edges[-1] == 30
    assert stats["duration"]["histogram"]["all"][:4] == [1, 1, 1, 1]
    assert stats["duration"]["histogram"]["all"][-1] == 1  # 45 s lands in the last bin
    assert stats["duration"]["summary"]["b"]["max"] == 45.0
    assert stats["valence_arousal"]["happy"] == {"n": 2, "valence_mean": 3.5, "valence_std": 0.5,
                                                 "arousal_mean": 2.5, "arousal_std": 0.5}
    assert "sad" not in stats["valence_arousal"]
    assert stats["ties"] == {"rows": 1, "share": 0.2, "by_corpus": {"a": {"rows": 1, "share": 0.3333},
                                                                    "b": {"rows": 0, "share": 0.0}},
                             "combinations": {"happy;neutral": 1}}
    json.dumps(stats)  # JSON-able
    figures = stats_figures(stats)
    assert set(figures) == {"classes", "duration", "valence_arousal", "ties"}
    assert len(figures["classes"].data) >= 3


def test_stats_command(prepared_manifest, tmp_path, capsys):
    out = tmp_path / "stats"
    assert main(["stats", str(prepared_manifest), "--out", str(out)]) == 0
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    frame = read_manifest(prepared_manifest)
    assert stats["rows"] == len(frame)
    for corpus in ("kemdy19", "kemdy20"):
        for split in ("train", "valid", "test"):
            part = frame[(frame["corpus"] == corpus) & (frame["split"] == split)]
            if len(part):
                assert sum(stats["counts"][corpus][split].values()) == len(part)
    html = (out / "stats.html").read_text(encoding="utf-8")
    assert "<script src=" not in html and len(html) > 1_000_000  # plotly.js embedded: works offline
    assert "Class distribution per corpus and split" in html
    assert "stats.json" in capsys.readouterr().out
    assert main(["stats", str(tmp_path / "missing.csv"), "--out", str(out)]) == 1
    assert "emoens stats: error: manifest not found" in capsys.readouterr().err
