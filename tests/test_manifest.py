"""emoens.manifest: schema, validation messages, atomic round trip, tie policy, targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emoens.labels import LABELS
from emoens.manifest import (COLUMNS, ManifestError, empty_row, label_matrix, parse_label_raw,
                             read_manifest, resolve_ties, validate_manifest, write_manifest)


def _rows(n=3, **overrides):
    rows = []
    for i in range(n):
        row = empty_row()
        row.update(utt_id=f"u{i}", corpus="kemdy20", session="Sess01", audio_path=f"wav/u{i}.wav",
                   duration=1.0 + i, text="안녕", label=LABELS[i % 7], label_raw=LABELS[i % 7])
        row.update(overrides)
        rows.append(row)
    return pd.DataFrame(rows)


def test_columns_follow_design_order():
    assert COLUMNS[:3] == ("utt_id", "corpus", "session")
    assert COLUMNS[-2:] == ("split", "fold")
    assert len(COLUMNS) == 18 and len(set(COLUMNS)) == 18


def test_round_trip_resolves_relative_paths_and_keeps_extras(tmp_path):
    frame = _rows()
    frame["tie_policy"] = "soft"
    frame["my_extra"] = ["a", "b", "c"]
    frame.loc[0, "audio_path"] = "/abs/elsewhere.wav"
    out = tmp_path / "sub" / "manifest.csv"
    write_manifest(frame[["my_extra"] + [c for c in frame.columns if c != "my_extra"]], out)
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert tuple(header[:len(COLUMNS)]) == COLUMNS
    assert header[len(COLUMNS):] == ["my_extra", "tie_policy"]  # extras keep their order
    back = read_manifest(out)
    assert back["audio_path"].tolist() == ["/abs/elsewhere.wav", str(out.parent.resolve() / "wav/u1.wav"),
                                           str(out.parent.resolve() / "wav/u2.wav")]
    assert back["duration"].tolist() == [1.0, 2.0, 3.0]
    assert back["my_extra"].tolist() == ["a", "b", "c"]
    assert read_manifest(out.parent)["utt_id"].tolist() == ["u0", "u1", "u2"]  # folder accepted
    assert not list(out.parent.glob(".*tmp"))  # atomic write leaves nothing behind


def test_missing_columns_are_listed(tmp_path):
    frame = _rows().drop(columns=["utt_id", "label"])
    with pytest.raises(ManifestError) as err:
        validate_manifest(frame, source="m.csv")
    assert str(err.value).startswith("m.csv: missing column(s) utt_id, label ")
    optional_missing = _rows().drop(columns=["valence", "speaker"])
    assert "speaker" in validate_manifest(optional_missing).columns


@pytest.mark.parametrize("change,message", [
    ({"label": "bored"}, "unknown label(s) 'bored' in column label"),
    ({"split": "training"}, "bad value(s) 'training' in column split"),
    ({"label_dist": "0;0;0;0.5;0.4;0;0"}, "label_dist '0;0;0;0.5;0.4;0;0' sums to 0.9, not 1"),
    ({"label_dist": "0.5;0.5"}, "has 2 values, expected 7"),
    ({"duration": "long"}, "non-numeric value(s) 'long' in column duration"),
    ({"fold": "1.5"}, "non-integer value(s) '1.5' in column fold"),
    ({"tie_policy": "vote"}, "bad value(s) 'vote' in column tie_policy"),
])
def test_bad_values_are_named(change, message):
    frame = _rows()
    for col, value in change.items():
        frame[col] = frame[col].astype(object) if col in frame else ""
        frame.loc[1, col] = value
    with pytest.raises(ManifestError) as err:
        validate_manifest(frame, source="x.csv")
    assert message in str(err.value)
    assert str(err.value).startswith("x.csv: ")


def test_duplicated_ids_and_aliases():
    frame = _rows(4)
    frame.loc[3, "utt_id"] = "u1"
    with pytest.raises(ManifestError, match=r"duplicated utt_id 'u1'"):
        validate_manifest(frame)
    ok = _rows(2, label="happiness")
    assert validate_manifest(ok)["label"].tolist() == ["happy", "happy"]


def test_read_errors(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "none.csv")
    with pytest.raises(ManifestError, match="folder without a manifest.csv"):
        read_manifest(tmp_path)
    bad = tmp_path / "cp.csv"
    bad.write_bytes("utt_id,audio_path,label\n가,b,neutral\n".encode("cp949"))
    with pytest.raises(ManifestError, match="not a UTF-8 CSV"):
        read_manifest(bad)


def test_tie_policies():
    labels = parse_label_raw("happy;Neutral")
    assert labels == ["happy", "neutral"]
    assert parse_label_raw("disqust") == ["disgust"]
    assert resolve_ties(labels, "drop") is None
    assert resolve_ties(labels, "first") == ("happy", "")
    label, dist = resolve_ties(labels, "soft")
    assert label == "happy" and dist == "0;0;0;0.5;0.5;0;0"
    assert resolve_ties(["sad"], "drop") == ("sad", "")
    assert resolve_ties([], "soft") == ("", "")
    three = resolve_ties(["angry", "sad", "fear"], "soft")[1]
    assert np.isclose(sum(map(float, three.split(";"))), 1.0, atol=1e-5)
    with pytest.raises(ManifestError, match="unknown tie policy"):
        resolve_ties(labels, "vote")


def test_label_matrix():
    frame = _rows(3)
    frame.loc[2, "label_dist"] = "0;0;0;0.5;0.5;0;0"
    targets = label_matrix(validate_manifest(frame))
    assert targets.shape == (3, 7) and targets.dtype == np.float32
    assert targets[0].tolist() == [1, 0, 0, 0, 0, 0, 0]
    assert targets[1].tolist() == [0, 1, 0, 0, 0, 0, 0]
    assert targets[2].tolist() == [0, 0, 0, 0.5, 0.5, 0, 0]
    frame.loc[0, "label"] = ""
    with pytest.raises(ManifestError, match=r"1 row\(s\) have no label \('u0'\)"):
        label_matrix(frame)
