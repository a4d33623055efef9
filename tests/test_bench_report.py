"""bench/report.py judges issue 18's long-clip items from bench/long.py's JSON, as written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench_modules():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import long as long_bench
        import report

        yield long_bench, report
    finally:
        sys.path.remove(str(REPO / "bench"))


def _long_json(folder: Path, added: list[float]) -> None:
    lengths = [60.0, 180.0, 600.0]
    memory = [{"seconds": s, "analyze_added_mb": a, "clip_mb": round(s / 60 * 3.66, 1)}
              for s, a in zip(lengths, added)]
    data = {"seconds": 180.0, "speedup": 3.1, "default": {"analyze_s": 7.8},
            "today": {"analyze_s": 24.3}, "memory_by_length": memory, "rss_growth_mb": 90.0,
            "analyze_added_growth_mb": round(max(added) - min(added), 1),
            "memory_flat_yardstick_mb": memory[-1]["clip_mb"],
            "machine": {}}
    (folder / "long.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("added, flat", [([120.0, 140.0, 150.0], True),
                                         ([120.0, 200.0, 260.0], False)])
def test_memory_is_flat_only_when_analyze_adds_less_than_a_copy_of_the_longest_clip(
        bench_modules, tmp_path, added, flat):
    _, report = bench_modules
    _long_json(tmp_path, added)
    rows = {item: holds for item, _, _, holds, _ in report._rows_issue18(tmp_path)}
    assert rows["memory against the clip's length"] is flat
    assert rows["180-s clip with ASR"] is False  # 3.1x < 4x


def test_the_memory_check_keeps_the_median_run_and_every_run(bench_modules):
    long_bench, _ = bench_modules
    runs = [{"analyze_s": 1.0, "peak_rss_mb": 900.0, "analyze_added_mb": a} for a in (150, 110, 130)]
    kept = long_bench.median_run(runs)
    assert kept["analyze_added_mb"] == 130
    assert [r["analyze_added_mb"] for r in kept["runs"]] == [150, 110, 130]
    timed = [{"analyze_s": s, "peak_rss_mb": 900.0, "analyze_added_mb": 100} for s in (9.0, 7.0, 8.0)]
    assert long_bench.median_run(timed, by="time")["analyze_s"] == 8.0


def test_one_long_clip_measurement_runs_in_its_own_process(real_corpora):
    """``bench/long.py --child`` (what every row of bench/results/long.md comes from) still runs:
    a 10-s clip with transcription, its timing, memory and CER."""
    import subprocess

    out = subprocess.run([sys.executable, "bench/long.py", "--child", "10", "default"], cwd=REPO,
                         check=True, capture_output=True, text=True, timeout=300).stdout
    row = json.loads(out.strip().splitlines()[-1])
    assert row["seconds"] == 10 and row["config"] == "default" and row["analyze_s"] > 0
    assert 0 <= row["cer"] <= 1 and row["transcript_chars"] > 0
    assert row["clip_mb"] == round(10 * 16000 * 4 / 2**20, 1)


def test_encoder_sharing_compares_the_members_answer_on_other_states_of_the_same_audio(
        real_corpora):
    """``bench/encoder_sharing.py``: the ASR's states land at their times in the clip (NaN where
    its VAD found no speech), and each variant's agreement with the member's own pass is a share."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import encoder_sharing
    finally:
        sys.path.remove(str(REPO / "bench"))
    from emoens.asr import make_asr
    from emoens.recognizer import EmotionRecognizer

    clip = encoder_sharing.clips(25.0)["KEMDy20 (sorted)"]
    asr = make_asr("faster-whisper")
    frames = encoder_sharing.asr_frames(asr, clip)
    spans, _ = asr._speech_windows(clip, "clip")
    inside = np.zeros(len(frames), bool)
    for start, end in spans:
        inside[start // encoder_sharing.FRAME: -(-end // encoder_sharing.FRAME)] = True
    found = ~np.isnan(frames[:, 0])
    assert found.any() and not (found & ~inside).any()
    member = next(m for m in EmotionRecognizer.from_bundle(asr=None).members.values()
                  if m.modality == "speech")
    row = encoder_sharing.compare(member, asr, clip)
    assert row["windows"] == 3 and 0 < row["asr_coverage"] <= 1
    for variant in ("padded", "asr-windows"):
        assert 0 <= row[variant]["label_agreement"] <= 1 and row[variant]["mean_tv"] >= 0
