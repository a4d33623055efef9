"""Benchmark of the embedded default bundle on CPU: load time and analyze() latency.

    python bench/default.py [--repeats 10]

Measures (median of ``--repeats`` warm requests, after one warm-up):
- ``EmotionRecognizer.from_bundle()`` in a fresh process (import + bundle + members; the Whisper
  and USE weights load lazily on the first request, reported separately as ``first_request``);
- ``analyze()`` of a 5-s clip with a given transcript, and with automatic transcription;
- the baseline: the same request through plain padded (30-s) Whisper for the speech features
  (``whisper.encode(pad=True)``) and, with ASR, ``WhisperModel.transcribe`` (its own encoder pass)
  plus the separate text encoders.
The clip: the first KEMDy19 clip of >= 5 s in ../shared/data cut to 5.0 s (its transcript is not
stored), else (or with ``--synthetic``) the synthetic examples in ``assets/examples`` joined.
Targets (issue #6): load <= 2 s, given transcript <= 100 ms, with ASR <= 1.5 s (2 cores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from common import REPO, machine_info, write_results  # noqa: E402  (bench/ on sys.path)

import numpy as np  # noqa: E402

LOAD_SNIPPET = ("import time; t = time.perf_counter(); from emoens.recognizer import EmotionRecognizer; "
                "r = EmotionRecognizer.from_bundle(); t1 = time.perf_counter(); "
                "import numpy as np, soundfile as sf; "
                "a, sr = sf.read('assets/examples/synthetic_01_happy.flac', dtype='float32'); "
                "t2 = time.perf_counter(); r.analyze((sr, a), text='좋아요'); "
                "print(t1 - t, time.perf_counter() - t2)")


def real_clip_5s():
    """(name, samples): the first KEMDy19 clip of at least 5 s in ../shared/data, cut to 5.0 s."""
    import os
    from pathlib import Path

    import soundfile as sf

    root = Path(os.environ.get("EMOENS_SHARED_DATA", REPO.parent / "shared" / "data")) / "KEMDy19"
    for path in sorted(root.glob("wav/**/*.flac")):
        if sf.info(path).duration >= 5.0:
            samples, rate = sf.read(path, dtype="float32")
            assert rate == 16000
            return path.stem, samples[: 5 * 16000]
    return None


def clip_5s() -> np.ndarray:
    import soundfile as sf

    parts = []
    for path in sorted((REPO / "assets" / "examples").glob("*.flac")):
        samples, rate = sf.read(path, dtype="float32")
        assert rate == 16000
        parts.append(samples)
    return np.concatenate(parts)[: 5 * 16000]


def timed(fn, repeats: int) -> dict:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_ms": round(1000 * statistics.median(times), 1),
            "min_ms": round(1000 * min(times), 1), "max_ms": round(1000 * max(times), 1),
            "repeats": repeats}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--synthetic", action="store_true",
                        help="time the synthetic example clip even when ../shared/data is there")
    args = parser.parse_args(argv)

    loads, firsts = [], []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", LOAD_SNIPPET], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.split()
        loads.append(float(out[-2]))
        firsts.append(float(out[-1]))

    from emoens.bundle import load_bundle
    from emoens.fusion import apply_fusion
    from emoens.models import load_member, whisper
    from emoens.recognizer import EmotionRecognizer

    real = None if args.synthetic else real_clip_5s()
    if real:  # its transcript is ETRI data: timed, never written to the results
        clip_name, clip = real[0] + " (KEMDy19, first 5.0 s; transcript not stored)", real[1]
    else:
        clip_name, clip = "assets/examples/*.flac joined, first 5.0 s (synthetic espeak-ng speech)", clip_5s()
    text = "오늘 정말 기분이 좋아요. 친구들이랑 같이 놀러 가기로 했어요!"
    rec = EmotionRecognizer.from_bundle()
    given = timed(lambda: rec.analyze((16000, clip), text=text), args.repeats)
    asr_runs = max(3, args.repeats // 2)
    with_asr = timed(lambda: rec.analyze((16000, clip), transcribe=True), asr_runs)
    transcript = rec.analyze((16000, clip), transcribe=True).get("transcript") or ""
    transcript = transcript if not real else f"({len(transcript)} characters)"

    bundle = load_bundle(REPO / "assets" / "default")
    members = {m.name: load_member(m.kind, bundle.member_path(m)) for m in bundle.members}
    model = whisper.get_model()

    def baseline_given(t=text):
        enc = whisper.encode(clip, pad=True)
        ps = members["speech"].predict_proba_from_encoding(enc, len(clip))
        pt = members["text"].predict_proba([t])
        return apply_fusion(bundle.fusion, {"speech": ps, "text": pt})

    def baseline_asr():
        segments, _ = model.transcribe(clip, language="ko", beam_size=5)
        return baseline_given(" ".join(s.text for s in segments))

    base_given = timed(baseline_given, args.repeats)
    base_asr = timed(baseline_asr, asr_runs)
    data = {
        "clip": clip_name,
        "threads": whisper.default_threads(),
        "from_bundle_s": {"median": round(statistics.median(loads), 3), "runs": [round(x, 3) for x in loads]},
        "first_request_s": {"median": round(statistics.median(firsts), 3),
                            "runs": [round(x, 3) for x in firsts]},
        "analyze_given_transcript": given, "analyze_with_asr": with_asr,
        "asr_transcript": transcript,
        "baseline_padded_given_transcript": base_given, "baseline_padded_with_asr": base_asr,
        "targets": {"from_bundle_s": 2.0, "given_ms": 100, "asr_ms": 1500},
    }
    md = "\n".join([
        "| measurement | emoens default | baseline (padded Whisper, separate passes) | target |",
        "|---|---|---|---|",
        f"| `from_bundle()` in a fresh process | {data['from_bundle_s']['median']:.2f} s | – | ≤ 2 s |",
        f"| first request after loading (Whisper + USE weights) | {data['first_request_s']['median']:.2f} s | – | – |",
        f"| `analyze()` 5-s clip, given transcript (median) | {given['median_ms']:.0f} ms | "
        f"{base_given['median_ms']:.0f} ms | ≤ 100 ms |",
        f"| `analyze()` 5-s clip, automatic transcription (median) | {with_asr['median_ms']:.0f} ms | "
        f"{base_asr['median_ms']:.0f} ms | ≤ 1500 ms |",
        "", f"CPU threads: {data['threads']}. Clip: {data['clip']}; ASR transcript: "
        f"{json.dumps(transcript, ensure_ascii=False)}.",
    ])
    write_results("default", data, md, machine=machine_info())
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
