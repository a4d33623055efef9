"""`emoens prepare` end to end: outputs, report, skipped rows, failures, the real samples."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from emoens.cli import main
from emoens.manifest import COLUMNS, read_manifest
from tests.fixtures.corpora import make_kemdy20_sessions


def test_prepare_all_corpora(synthetic_corpora, tmp_path, capsys):
    c = synthetic_corpora
    out = tmp_path / "out"
    code = main(["prepare", "--kemdy20", str(c["kemdy20"].root), "--kemdy19", str(c["kemdy19"].root),
                 "--aihub", str(c["aihub"].root), "--table", str(c["table"].root / "mine.tsv"),
                 "--multilabel", "soft", "--split", "session", "--test-sessions", "kemdy20:Sess03",
                 "--quiet", "--out", str(out)])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["manifest.csv", "prepare_report.json", "skipped.csv"]
    frame = read_manifest(out / "manifest.csv")
    assert tuple(frame.columns[:len(COLUMNS)]) == COLUMNS
    expected = {k for corpus in c.values() for k in corpus.kept()}
    assert set(frame["utt_id"]) == expected
    report = json.loads((out / "prepare_report.json").read_text(encoding="utf-8"))
    assert report["rows"] == len(frame) and report["multilabel"] == "soft"
    assert report["counts"]["corpus"] == {k: int(v) for k, v in frame["corpus"].value_counts().sort_index().items()}
    assert report["counts"]["test_sessions"] == ["kemdy20:Sess03"]
    assert sum(report["counts"]["label"].values()) == (frame["label"] != "").sum()
    skipped = pd.read_csv(out / "skipped.csv", keep_default_na=False)
    assert report["skipped"]["total"] == len(skipped) == 6
    assert report["skipped"]["by_reason"] == {"duplicated utt_id": 1, "missing wav": 2, "silent audio": 1,
                                              "unknown label": 1, "unreadable transcript": 1}
    assert set(frame.loc[frame["corpus"] == "kemdy20", "split"]) >= {"train", "test"}
    assert set(frame.loc[frame["session"] == "Sess03", "split"]) <= {"test", "train", "valid"}
    assert set(frame.loc[(frame["corpus"] == "kemdy20") & (frame["session"] == "Sess03"), "split"]) == {"test"}
    # no audio copied: every path is the corpus's own file
    assert set(frame["audio_path"]) == {exp["audio_path"] for corpus in c.values()
                                        for exp in corpus.kept().values()}
    printed = capsys.readouterr().out
    assert f"{len(frame)} rows" in printed and "skipped 6" in printed


def test_prepare_seed_split_cli(tmp_path):
    corpus = make_kemdy20_sessions(tmp_path / "k40", sessions=40)
    out = tmp_path / "out"
    assert main(["prepare", "--kemdy20", str(corpus.root), "--split", "seed", "--valid-size", "0",
                 "--quiet", "--out", str(out)]) == 0
    frame = read_manifest(out)
    assert sorted(set(frame.loc[frame["split"] == "test", "session"])) == [
        "Sess05", "Sess13", "Sess16", "Sess17", "Sess20", "Sess27", "Sess28", "Sess38"]


def test_prepared_manifest_fixture(prepared_manifest):
    frame = read_manifest(prepared_manifest)
    assert set(frame["split"]) == {"train", "valid", "test"}
    assert set(frame["label"]) == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
    assert (frame["label_dist"] != "").sum() == 3  # soft ties kept
    assert (prepared_manifest.parent / "skipped.csv").is_file()


def test_prepare_failures(tmp_path, capsys):
    assert main(["prepare", "--out", str(tmp_path / "o")]) == 1
    assert "error: nothing to prepare" in capsys.readouterr().err
    assert main(["prepare", "--kemdy20", str(tmp_path / "absent"), "--out", str(tmp_path / "o")]) == 1
    assert "KEMDy20 folder not found" in capsys.readouterr().err
    table = tmp_path / "t.csv"
    table.write_text("audio_path,label\nnope.wav,happy\n", encoding="utf-8")
    assert main(["prepare", "--table", str(table), "--quiet", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "error: no usable row in" in err and "1 missing wav" in err and "skipped.csv" in err
    assert (tmp_path / "o" / "skipped.csv").is_file() and not (tmp_path / "o" / "manifest.csv").exists()


@pytest.mark.data
def test_prepare_real_samples(real_corpora, tmp_path):
    out = tmp_path / "real"
    assert main(["prepare", "--kemdy20", str(real_corpora / "KEMDy20"), "--kemdy19",
                 str(real_corpora / "KEMDy19"), "--split", "session", "--test-sessions", "kemdy19:Sess02",
                 "--quiet", "--out", str(out)]) == 0
    report = json.loads((out / "prepare_report.json").read_text(encoding="utf-8"))
    assert report["counts"]["corpus"]["kemdy19"] == 481 + 535
    assert report["counts"]["corpus"]["kemdy20"] + report["skipped"]["by_reason"]["silent audio"] == 311
    assert report["skipped"]["total"] == report["skipped"]["by_reason"]["silent audio"]
    assert report["counts"]["test_sessions"] == ["kemdy19:Sess02"]
    assert report["seconds"] < 30
