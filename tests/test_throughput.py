"""Throughput at scale: predict --shard (deterministic split, mergeable outputs), Dask local mode."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from emoens.commands.predict import probability_columns
from emoens.shard import ShardError, merge_outputs, parse_shard, select, shard_of


def test_shards_partition_the_inputs_whatever_their_order():
    keys = [f"Sess01_impro01_F{i:03d}" for i in range(200)]
    parts = [select(keys, f"{i}/4", str) for i in range(4)]
    assert sorted(sum(parts, [])) == sorted(keys)  # disjoint and complete
    assert all(len(p) > 20 for p in parts)  # not all in one shard
    shuffled = list(reversed(keys)) + ["new_one"]
    for i in range(4):  # the split depends on the key only, not on order or on other inputs
        assert set(select(shuffled, f"{i}/4", str)) - {"new_one"} == set(parts[i])
    assert select(keys, None, str) == keys
    assert shard_of("x", 1) == 0


@pytest.mark.parametrize("spec", ["4/4", "-1/3", "a/b", "1", "0/0"])
def test_bad_shard_specs_are_one_line_errors(spec):
    with pytest.raises(ShardError, match="use I/N"):
        parse_shard(spec)


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_merge_outputs_keeps_one_row_per_key_ok_first(tmp_path):
    a = _write_csv(tmp_path / "a.csv", [{"input": "x.wav", "status": "ok", "label": "happy"},
                                        {"input": "y.wav", "status": "cannot decode", "label": ""}])
    b = _write_csv(tmp_path / "b.csv", [{"input": "y.wav", "status": "ok", "label": "sad"},
                                        {"input": "z.wav", "status": "ok", "label": "angry"}])
    assert merge_outputs([a, b], tmp_path / "all.csv") == 3
    with open(tmp_path / "all.csv", encoding="utf-8") as handle:
        rows = {r["input"]: r for r in csv.DictReader(handle)}
    assert rows["y.wav"]["label"] == "sad" and set(rows) == {"x.wav", "y.wav", "z.wav"}
    other = _write_csv(tmp_path / "c.csv", [{"input": "q.wav", "status": "ok"}])
    with pytest.raises(ShardError, match="other columns"):
        merge_outputs([a, other], tmp_path / "bad.csv")



def test_emoens_merge_joins_shard_outputs(tmp_path, capsys):
    from emoens.cli import main

    a = _write_csv(tmp_path / "a.csv", [{"utt_id": "u1", "input": "x.wav", "status": "ok"}])
    b = _write_csv(tmp_path / "b.csv", [{"utt_id": "u2", "input": "y.wav", "status": "ok"}])
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "all.jsonl")]) == 0
    assert "2 rows from 2 shard outputs" in capsys.readouterr().out
    lines = (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and '"u1"' in lines[0] and '"u2"' in lines[1]

def _manifest(tmp_path: Path, n: int) -> Path:
    from emoens.settings import examples_dir

    clips = sorted(examples_dir().glob("*.flac"))
    rows = []
    for i in range(n):
        target = tmp_path / "audio" / f"clip{i:02d}.flac"
        target.parent.mkdir(exist_ok=True)
        shutil.copy(clips[i % len(clips)], target)
        rows.append({"utt_id": f"utt{i:02d}", "audio_path": str(target), "label": "neutral",
                     "text": "오늘은 정말 기분이 좋아요"})
    return _write_csv(tmp_path / "manifest.csv", rows)


def _predict(*argv: str) -> None:
    from emoens.cli import main

    assert main(["predict", *argv, "--quiet"]) == 0


def test_shard_outputs_merge_to_the_unsharded_output(tmp_path):
    manifest = _manifest(tmp_path, 6)
    _predict("--manifest", str(manifest), "--out", str(tmp_path / "all.csv"))
    parts = []
    for i in range(3):
        parts.append(tmp_path / f"part{i}.csv")
        _predict("--manifest", str(manifest), "--shard", f"{i}/3", "--out", str(parts[i]))
    merge_outputs(parts, tmp_path / "merged.csv")

    def rows(path):
        with open(path, encoding="utf-8") as handle:
            return sorted(csv.DictReader(handle), key=lambda r: r["utt_id"])

    def split(row):  # (the other columns, the probabilities as floats)
        return ({k: v for k, v in row.items() if k not in prob}, [float(row[k]) for k in prob])

    prob = probability_columns()
    merged, whole = rows(tmp_path / "merged.csv"), rows(tmp_path / "all.csv")
    assert [list(r) for r in merged] == [list(r) for r in whole]
    # Sentence encoders batch their matrix products: a shard's smaller batch may round the
    # last printed digit differently (seen on CI's CPU), so probabilities match to 1e-5.
    for (others, probs), (others_whole, probs_whole) in zip(map(split, merged), map(split, whole)):
        assert others == others_whole
        assert probs == pytest.approx(probs_whole, abs=1e-5)
    assert sum(len(rows(p)) for p in parts) == 6


def test_dask_local_mode_runs_the_shards(tmp_path):
    pytest.importorskip("dask")
    from emoens.shard import dask_predict

    manifest = _manifest(tmp_path, 4)
    out = tmp_path / "results.jsonl"
    assert dask_predict(manifest, out, shards=2, scheduler="threads") == 4
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and all('"status": "ok"' in line for line in lines)


def test_predict_with_two_asr_workers_matches_one(tmp_path):
    from emoens.settings import examples_dir

    clips = [str(p) for p in sorted(examples_dir().glob("*.flac"))[:3]]
    _predict("--transcribe", "--out", str(tmp_path / "one.csv"), *clips)
    _predict("--transcribe", "--asr-workers", "2", "--out", str(tmp_path / "two.csv"), *clips)

    def transcripts(path):
        with open(path, encoding="utf-8") as handle:
            return [(r["input"], r["status"], r["transcript"]) for r in csv.DictReader(handle)]

    assert transcripts(tmp_path / "two.csv") == transcripts(tmp_path / "one.csv")
    assert all(status == "ok" for _, status, _ in transcripts(tmp_path / "one.csv"))
