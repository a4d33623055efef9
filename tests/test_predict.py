"""``emoens predict`` and ``emoens listen`` through the CLI entry point."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from emoens.cli import main
from emoens.commands.predict import columns
from emoens.labels import LABELS
from tests.fixtures.audio import write_wav
from tests.fixtures.bundles import planted_tone


@pytest.fixture
def mixed_folder(tmp_path):
    folder = tmp_path / "clips"
    write_wav(folder / "a_good.wav", planted_tone("happy", 1.0))
    write_wav(folder / "sub" / "b_good.flac", planted_tone("sad", 0.8), subtype="PCM_16")
    (folder / "c_broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
    (folder / "d_empty.wav").write_bytes(b"")
    (folder / "notes.txt").write_text("not audio")
    return folder


def test_folder_with_good_and_broken_files(tiny_bundle_dir, mixed_folder, tmp_path, capsys):
    out = tmp_path / "results.csv"
    code = main(["predict", str(mixed_folder), "--bundle", str(tiny_bundle_dir), "--out", str(out),
                 "--quiet"])
    assert code == 1  # some inputs failed
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == columns(False)
    assert len(frame) == 4  # one row per audio file, notes.txt ignored
    by_name = {name.rsplit("/", 1)[-1]: row for name, row in zip(frame["input"], frame.itertuples())}
    assert by_name["a_good.wav"].status == "ok" and by_name["b_good.flac"].status == "ok"
    assert "c_broken.wav" in by_name["c_broken.wav"].status
    assert "empty" in by_name["d_empty.wav"].status
    good = frame[frame["status"] == "ok"]
    assert good["label"].isin(LABELS).all()
    speech = good[[f"speech_{c}" for c in LABELS]].astype(float)
    assert (speech.sum(axis=1) - 1).abs().max() < 1e-4
    assert (good[[f"text_{c}" for c in LABELS]] == "").all().all()  # no text: empty, not zeros
    broken = frame[frame["status"] != "ok"]
    assert (broken[[f"ensemble_{c}" for c in LABELS]] == "").all().all()
    assert "2 input(s) failed" in capsys.readouterr().out


def test_all_good_exit_zero_with_text_and_jsonl(tiny_bundle_dir, tmp_path):
    clip = write_wav(tmp_path / "x.wav", planted_tone("angry", 1.0))
    out = tmp_path / "r.jsonl"
    code = main(["predict", str(clip), "--text", "정말 화가 나", "--bundle", str(tiny_bundle_dir),
                 "--out", str(out), "--quiet"])
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["status"] == "ok"
    assert rows[0]["transcript"] == "정말 화가 나"
    assert sum(rows[0][f"text_{c}"] for c in LABELS) == pytest.approx(1.0, abs=1e-4)


def test_manifest_text_utt_id_and_resume(tiny_bundle_dir, tmp_path):
    from emoens.manifest import write_manifest

    rows = []
    for i, label in enumerate(["happy", "sad", "angry"]):
        rel = f"wav/u{i}.wav"
        write_wav(tmp_path / rel, planted_tone(label, 0.7, seed=i))
        rows.append({"utt_id": f"u{i}", "corpus": "t", "audio_path": rel, "duration": 0.7,
                     "text": "" if i == 2 else f"문장 {i}", "label": label})
    write_manifest(pd.DataFrame(rows), tmp_path / "m.csv")
    out = tmp_path / "out.csv"
    args = ["predict", "--manifest", str(tmp_path / "m.csv"), "--bundle", str(tiny_bundle_dir),
            "--out", str(out), "--quiet", "--chunk", "2"]
    assert main(args) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == columns(True)
    assert list(frame["utt_id"]) == ["u0", "u1", "u2"]
    assert list(frame["transcript"]) == ["문장 0", "문장 1", ""]
    assert frame.loc[2, "text_happy"] == ""
    # resume: a partial file with u0 done; only u1, u2 are processed again
    frame.iloc[:1].to_csv(out, index=False)
    assert main(args + ["--resume"]) == 0
    again = pd.read_csv(out, keep_default_na=False)
    assert list(again["utt_id"]) == ["u0", "u1", "u2"]
    assert again.loc[0, "speech_happy"] == frame.loc[0, "speech_happy"]


def test_bad_arguments_are_clear(tmp_path, capsys):
    assert main(["predict", "a.wav", "--out", str(tmp_path / "r.txt")]) == 1
    assert ".csv or .jsonl" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "empty-folder-that-is-missing"), "--bundle",
                 str(tmp_path / "nobundle"), "--out", str(tmp_path / "r.csv")]) == 1
    assert "not found" in capsys.readouterr().err


def test_listen_without_microphone_is_clear(capsys, monkeypatch):
    import sys
    import types

    fake = types.ModuleType("sounddevice")

    def query_devices(kind=None):
        raise ValueError("No input device matching")

    fake.query_devices = query_devices
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    assert main(["listen", "--once"]) == 1
    assert "no microphone found" in capsys.readouterr().err
