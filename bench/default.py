"""Benchmark of the embedded default bundle on CPU: load time and analyze() latency.

    python bench/default.py [--repeats 10]

Measures (median of ``--repeats`` warm requests, after one warm-up):
- ``EmotionRecognizer.from_bundle()`` in a fresh process (import + bundle + members; the Whisper
  and USE weights load lazily on the first request, reported separately as ``first_request``);
- ``analyze()`` of a 5-s clip with a given transcript, and with automatic transcription, beside
  today's path (before issue 18: ``asr_options=emoens.asr.BASELINE``, ASR after the speech member, beam 5 with temperature
  fallback on a 30-s window) in the same run, the two alternating;
- the given-transcript baseline: padded (30-s) Whisper for the speech features.
The clip: the first KEMDy19 clip of >= 5 s in ../shared/data cut to 5.0 s (its transcript is not
stored), else (or with ``--synthetic``) the synthetic example clips (package data) joined.
Targets: load <= 2 s, given transcript <= 100 ms (issue 6); with ASR <= 400 ms and >= 3x
faster than today's path (issue 18, 2 quiet cores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from common import DATA, REPO, machine_info, write_results  # noqa: E402  (bench/ on sys.path)

import numpy as np  # noqa: E402

def examples_dir():
    """The synthetic example clips (package data: ``emoens.settings.examples_dir``)."""
    from emoens.settings import examples_dir as shipped

    return shipped()


LOAD_SNIPPET = ("import time; t = time.perf_counter(); from emoens.recognizer import EmotionRecognizer; "
                "r = EmotionRecognizer.from_bundle(); t1 = time.perf_counter(); "
                "import numpy as np, soundfile as sf; "
                "a, sr = sf.read({example!r}, dtype='float32'); "
                "t2 = time.perf_counter(); r.analyze((sr, a), text='좋아요'); "
                "print(t1 - t, time.perf_counter() - t2)")


def real_clip_5s():
    """(name, samples): the first KEMDy19 clip of at least 5 s in ../shared/data, cut to 5.0 s."""
    import soundfile as sf

    root = DATA / "KEMDy19"
    for path in sorted(root.glob("wav/**/*.flac")):
        if sf.info(path).duration >= 5.0:
            samples, rate = sf.read(path, dtype="float32")
            assert rate == 16000
            return path.stem, samples[: 5 * 16000]
    return None


def clip_5s() -> np.ndarray:
    import soundfile as sf

    parts = []
    for path in sorted(examples_dir().glob("*.flac")):
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


def interleaved(fn_a, fn_b, repeats: int) -> tuple[dict, dict]:
    """:func:`timed` of two functions run alternately (so machine load hits both alike)."""
    fn_a(), fn_b()
    times: tuple[list, list] = ([], [])
    for _ in range(repeats):
        for fn, out in ((fn_a, times[0]), (fn_b, times[1])):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return tuple({"median_ms": round(1000 * statistics.median(t), 1),
                  "min_ms": round(1000 * min(t), 1), "max_ms": round(1000 * max(t), 1),
                  "repeats": repeats} for t in times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--synthetic", action="store_true",
                        help="time the synthetic example clip even when ../shared/data is there")
    args = parser.parse_args(argv)

    loads, firsts = [], []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", LOAD_SNIPPET.format(
            example=str(sorted(examples_dir().glob("*.flac"))[0]))], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.split()
        loads.append(float(out[-2]))
        firsts.append(float(out[-1]))

    from emoens.asr import BASELINE
    from emoens.bundle import load_bundle
    from emoens.fusion import apply_fusion
    from emoens.models import load_member, whisper
    from emoens.recognizer import EmotionRecognizer, default_bundle_path

    real = None if args.synthetic else real_clip_5s()
    if real:  # its transcript is ETRI data: timed, never written to the results
        clip_name, clip = real[0] + " (KEMDy19, first 5.0 s; transcript not stored)", real[1]
    else:
        clip_name, clip = "emoens/assets/examples/*.flac joined, first 5.0 s (synthetic espeak-ng speech)", clip_5s()
    text = "오늘 정말 기분이 좋아요. 친구들이랑 같이 놀러 가기로 했어요!"
    rec = EmotionRecognizer.from_bundle()
    # today's path (before issue 18), in the same run: beam 5 + temperature fallback, 30-s window
    # (and the ASR after the speech member, not beside it, as the recognizer ran it then)
    old = EmotionRecognizer.from_bundle(asr_options=BASELINE, asr_beside_speech=False)
    given = timed(lambda: rec.analyze((16000, clip), text=text), args.repeats)
    asr_runs = max(3, args.repeats // 2)
    with_asr, old_asr = interleaved(
        lambda: rec.analyze((16000, clip), transcribe=True),
        lambda: old.analyze((16000, clip), transcribe=True), asr_runs)
    transcripts = [rec.analyze((16000, clip), transcribe=True).get("transcript") or ""
                   for _ in range(3)]
    old_transcript = old.analyze((16000, clip), transcribe=True).get("transcript") or ""
    deterministic = len(set(transcripts)) == 1
    transcript = transcripts[0] if not real else f"({len(transcripts[0])} characters)"
    old_transcript = old_transcript if not real else f"({len(old_transcript)} characters)"

    bundle = load_bundle(default_bundle_path())
    members = {m.name: load_member(m.kind, bundle.member_path(m)) for m in bundle.members}

    def baseline_given(t=text):
        enc = whisper.encode(clip, pad=True)
        ps = members["speech"].predict_proba_from_encoding(enc, len(clip))
        pt = members["text"].predict_proba([t])
        return apply_fusion(bundle.fusion, {"speech": ps, "text": pt})

    # the padded-pass baseline needs a head that reads one 30-s encoding (the previous default's)
    base_given = (timed(baseline_given, args.repeats)
                  if hasattr(members["speech"], "predict_proba_from_encoding") else None)
    speedup = old_asr["median_ms"] / with_asr["median_ms"]
    data = {
        "clip": clip_name,
        "threads": whisper.default_threads(),
        "asr_options": rec.asr().options(), "todays_asr_options": old.asr().options(),
        "from_bundle_s": {"median": round(statistics.median(loads), 3), "runs": [round(x, 3) for x in loads]},
        "first_request_s": {"median": round(statistics.median(firsts), 3),
                            "runs": [round(x, 3) for x in firsts]},
        "analyze_given_transcript": given, "analyze_with_asr": with_asr,
        "analyze_with_asr_todays_path": old_asr, "asr_speedup_vs_today": round(speedup, 2),
        "asr_transcript": transcript, "todays_transcript": old_transcript,
        "asr_deterministic_3_runs": deterministic,
        "baseline_padded_given_transcript": base_given,
        "targets": {"from_bundle_s": 2.0, "given_ms": 100, "asr_ms": 400, "asr_speedup": 3.0},
    }
    md = "\n".join([
        "| measurement | emoens default | baseline | target |",
        "|---|---|---|---|",
        f"| `from_bundle()` in a fresh process | {data['from_bundle_s']['median']:.2f} s | – | ≤ 2 s |",
        f"| first request after loading (Whisper + USE weights) | {data['first_request_s']['median']:.2f} s | – | – |",
        f"| `analyze()` 5-s clip, given transcript (median) | {given['median_ms']:.0f} ms | "
        + (f"{base_given['median_ms']:.0f} ms (padded 30-s Whisper for the speech features)" if base_given
           else "– (the default's speech head reads unpadded statistics + prosody)") + " | ≤ 100 ms |",
        f"| `analyze()` 5-s clip, automatic transcription (median) | {with_asr['median_ms']:.0f} ms | "
        f"{old_asr['median_ms']:.0f} ms (today's path: beam 5 + temperature fallback, 30-s window) "
        f"| ≤ 400 ms, ≥ 3× |",
        "", f"**Automatic transcription: {speedup:.1f}× faster than today's path** (medians of "
        f"{asr_runs} requests each, the two paths alternating). Same transcript in 3 runs: "
        f"{'yes' if deterministic else 'NO'}.",
        "", f"CPU threads: {data['threads']}. ASR options: {json.dumps(data['asr_options'])}. "
        f"Clip: {data['clip']}; ASR transcript: {json.dumps(transcript, ensure_ascii=False)} "
        f"(today's path: {json.dumps(old_transcript, ensure_ascii=False)}).",
    ])
    write_results("default", data, md, machine=machine_info())
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
