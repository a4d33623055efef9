"""Corpus readers on synthetic layouts (every special case) and on the real samples."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emoens.corpora import CorpusError, Skipped, collect, read_aihub, read_kemdy20, read_table
from emoens.text import clean_transcript, read_transcript
from tests.fixtures.corpora import AIHUB_HEADER, _write_csv


def _check_against_expected(frame, skipped, corpus):
    rows = frame.set_index("utt_id")
    for utt_id, exp in corpus.expected.items():
        if exp.get("skip"):
            hits = skipped[(skipped["utt_id"] == utt_id.split("#")[0]) & (skipped["reason"] == exp["skip"])]
            assert len(hits) == 1, (utt_id, exp["skip"], skipped.to_dict("records"))
            if "#" not in utt_id:
                assert utt_id not in rows.index
            continue
        row = rows.loc[utt_id]
        for key in ("label", "label_raw", "text", "session", "speaker", "gender", "dialogue", "style",
                    "audio_path", "valence", "arousal"):
            if key in exp:
                assert row[key] == exp[key], (utt_id, key, row[key], exp[key])
        assert row["duration"] == pytest.approx(exp["duration"], abs=1e-4)
    assert set(rows.index) == set(corpus.kept())


def test_kemdy20_synthetic(synthetic_corpora):
    corpus = synthetic_corpora["kemdy20"]
    frame, skipped = collect([("kemdy20", corpus.root)], multilabel="soft", progress=False)
    _check_against_expected(frame, skipped, corpus)
    tie = frame.set_index("utt_id").loc["Sess01_script01_User001F_001"]
    assert tie["label_dist"] == "0;0;0;0.5;0.5;0;0"
    assert (frame["tie_policy"] == "soft").all()
    assert Counter(skipped["reason"]) == Counter({"missing wav": 1, "silent audio": 1, "unknown label": 1,
                                                  "unreadable transcript": 1, "duplicated utt_id": 1})


def test_kemdy20_tie_policies(synthetic_corpora):
    root = synthetic_corpora["kemdy20"].root
    first, _ = collect([("kemdy20", root)], multilabel="first", progress=False)
    row = first.set_index("utt_id").loc["Sess01_script01_User001F_001"]
    assert row["label"] == "happy" and row["label_dist"] == ""
    dropped, skipped = collect([("kemdy20", root)], multilabel="drop", progress=False)
    assert "Sess01_script01_User001F_001" not in set(dropped["utt_id"])
    assert skipped.set_index("utt_id").loc["Sess01_script01_User001F_001", "reason"] == "tie dropped"
    kept_silent, _ = collect([("kemdy20", root)], keep_silent=True, progress=False)
    silent = kept_silent.set_index("utt_id").loc["Sess01_script01_User001F_005"]
    assert silent["silent"] == 1
    assert kept_silent["silent"].sum() == 1


def test_kemdy19_own_gender_rule(synthetic_corpora):
    corpus = synthetic_corpora["kemdy19"]
    frame, skipped = collect([("kemdy19", corpus.root)], progress=False)
    assert skipped.empty
    _check_against_expected(frame, skipped, corpus)
    # the other gender's file says "neutral" (or "sad") for every segment: the rule mattered
    assert (frame["label"] != "neutral").sum() > len(frame) // 2


def test_aihub_and_table(synthetic_corpora):
    for kind in ("aihub", "table"):
        corpus = synthetic_corpora[kind]
        source = corpus.root if kind == "aihub" else corpus.root / "mine.tsv"
        frame, skipped = collect([(kind, source)], progress=False)
        _check_against_expected(frame, skipped, corpus)
    table, _ = collect([("table", synthetic_corpora["table"].root / "mine.tsv")], progress=False)
    assert set(table["corpus"]) == {"mine"}


def test_aihub_missing_columns_are_named(tmp_path):
    _write_csv(tmp_path / "4차년도.csv", [["파일명", "감정세기"], ["x", "1"]], encoding="cp949")
    with pytest.raises(CorpusError) as err:
        list(read_aihub(tmp_path))
    message = str(err.value)
    assert "could not find the transcript, label column(s)" in message
    assert "4차년도.csv" in message and "its columns are 파일명, 감정세기" in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no .csv file found"):
        list(read_aihub(tmp_path / "empty"))


def test_aihub_other_year_columns(tmp_path):
    (tmp_path / "wav").mkdir()
    sf.write(str(tmp_path / "wav" / "a1.wav"), np.zeros(800, dtype=np.float32) + 0.1, 16000)
    _write_csv(tmp_path / "4차년도.csv", [["wav_name", "text", "emotion"], ["a1.wav", "안녕 b/", "행복"]])
    rows = [r for r in read_aihub(tmp_path) if not isinstance(r, Skipped)]
    assert [(r["utt_id"], r["label_raw"], r["text"]) for r in rows] == [("a1", "행복", "안녕")]
    assert AIHUB_HEADER[10] == "4번감정세기"  # the fixture keeps the published spelling


def test_bad_folders(tmp_path):
    with pytest.raises(CorpusError, match="KEMDy20 folder not found"):
        list(read_kemdy20(tmp_path / "nope"))
    with pytest.raises(CorpusError, match="no annotation/SessNN_eval.csv found"):
        list(read_kemdy20(tmp_path))
    (tmp_path / "t.csv").write_text("path,label\nx.wav,happy\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="missing column audio_path"):
        list(read_table(tmp_path / "t.csv"))
    with pytest.raises(CorpusError, match="unknown corpus kind"):
        collect([("iemocap", tmp_path)], progress=False)


# ---------------------------------------------------------------- real samples (../shared/data)

def _etri_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return [r for r in list(csv.reader(handle))[2:] if any(c.strip() for c in r)]


def _wav_seconds(path: Path) -> float:
    # the originals are 16 kHz 16-bit mono PCM with only `fmt ` and `data` chunks: 44-byte header
    return (path.stat().st_size - 44) / 2 / 16000


def _assert_real_row(row, label_raw, wav: Path, txt: Path):
    labels = label_raw.split(";")
    assert row["label_raw"] == label_raw
    assert row["label"] == labels[0].replace("disqust", "disgust")
    if len(labels) > 1:
        dist = [float(x) for x in row["label_dist"].split(";")]
        assert sum(dist) == pytest.approx(1) and max(dist) == pytest.approx(1 / len(labels))
    else:
        assert row["label_dist"] == ""
    assert Path(row["audio_path"]) == wav.resolve()
    assert abs(row["duration"] - _wav_seconds(wav)) < 0.010
    raw = read_transcript(txt)
    assert row["text_raw"] == raw
    assert row["text"] == clean_transcript(raw)
    if re.search(r"[가-힣]", raw):
        assert row["text"] and re.search(r"[가-힣]", row["text"])
    assert not re.search(r"[/+()]", row["text"])


@pytest.mark.data
def test_real_kemdy20_every_segment(real_corpora):
    root = real_corpora / "KEMDy20"
    frame, skipped = collect([("kemdy20", root)], keep_silent=True, progress=False)
    assert skipped.empty
    rows = frame.set_index("utt_id")
    ann = _etri_rows(root / "annotation" / "Sess01_eval.csv")
    assert len(ann) == len(rows) == 311
    for cells in ann:
        utt_id = cells[3]
        wav = root / "wav" / "Session01" / f"{utt_id}.wav"
        _assert_real_row(rows.loc[utt_id], cells[4], wav, wav.with_suffix(".txt"))
        assert rows.loc[utt_id, "valence"] == pytest.approx(float(cells[5]))
        silent = not np.any(sf.read(str(wav), dtype="int16")[0])
        assert rows.loc[utt_id, "silent"] == int(silent)
    raw_counts = Counter(frame["label_raw"])
    assert raw_counts["neutral"] == 268 and raw_counts["happy"] == 32  # data README
    assert sum(n for k, n in raw_counts.items() if ";" in k) == 11
    # by default the all-zero wavs are skipped, and only they
    default, skipped = collect([("kemdy20", root)], progress=False)
    assert len(default) + len(skipped) == 311
    assert set(skipped["reason"]) == {"silent audio"}
    assert set(skipped["utt_id"]) == set(frame.loc[frame["silent"] == 1, "utt_id"])


@pytest.mark.data
def test_real_kemdy19_own_gender(real_corpora):
    root = real_corpora / "KEMDy19"
    frame, skipped = collect([("kemdy19", root)], keep_silent=True, progress=False)
    assert skipped.empty
    rows = frame.set_index("utt_id")
    readme = {  # label counts (ties apart) from ../shared/data/README.md, own-gender rule
        "Sess01": {"neutral": 212, "angry": 81, "happy": 49, "surprise": 42, "sad": 42, "fear": 27,
                   "disgust": 6, "ties": 22},
        "Sess02": {"neutral": 181, "angry": 98, "happy": 92, "surprise": 51, "sad": 40, "fear": 25,
                   "disgust": 10, "ties": 38},
    }
    for n, sess in ((1, "Sess01"), (2, "Sess02")):
        own = {}
        for gender in "FM":
            for cells in _etri_rows(root / "annotation" / f"Session{n:02d}_{gender}_res.csv"):
                if cells[9].split("_")[-1].startswith(gender):
                    own[cells[9]] = cells
        session_rows = frame[frame["session"] == sess]
        assert set(session_rows["utt_id"]) == set(own)
        for utt_id, cells in own.items():
            dialogue = "_".join(utt_id.split("_")[:2])
            wav = root / "wav" / f"Session{n:02d}" / dialogue / f"{utt_id}.wav"
            _assert_real_row(rows.loc[utt_id], cells[10], wav, wav.with_suffix(".txt"))
            assert rows.loc[utt_id, "gender"] == utt_id.split("_")[-1][0]
        counts = Counter(session_rows["label_raw"])
        got = {k: v for k, v in counts.items() if ";" not in k}
        got["ties"] = sum(v for k, v in counts.items() if ";" in k)
        assert got == readme[sess]
