"""Long audio with automatic transcription: a 3-minute clip, today's path vs emoens, and memory.

    python bench/long.py [--seconds 180] [--speed-runs 3] [--lengths 60,180,360,600] [--memory-runs 3]

The clip: real KEMDy19 clips from ../shared/data joined in sorted order and cut to the length
(transcripts are never written). Each measurement runs in a fresh process (``--child``) so that
its peak RSS (``VmHWM``) is its own: ``analyze(clip, transcribe=True)`` once after a warm-up on a
5-s clip, with the default ASR and with today's path (ASR after the speech member,
``emoens.asr.BASELINE``: beam 5,
temperature fallback, 30-s windows, no VAD), ``--speed-runs`` times each in turn (the ratio is
of the median times: one run moves by ~10 % with the machine's load). Memory flat in length: the default path's peak RSS
at each of ``--lengths``, the median of ``--memory-runs`` fresh processes per length (a peak is
the worst moment of one run: which buffers of the two decode workers and the speech member happen
to be alive at once varies from run to run by tens of MiB). Writes
``bench/results/long.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from common import (DATA, REPO, joined_clip, machine_info, peak_rss_mb, reset_peak_rss,  # noqa: E402
                    rss_mb, write_results)

import numpy as np  # noqa: E402


def long_clip(seconds: float) -> tuple[np.ndarray, str]:
    """KEMDy19 clips joined in sorted order, cut to ``seconds`` (16 kHz float32), and the joined
    reference transcripts of the clips it holds (the last one maybe in part)."""
    return joined_clip(sorted((DATA / "KEMDy19").glob("wav/**/*.flac")), seconds)


def child(seconds: float, config: str) -> dict:
    """One measurement in this (fresh) process."""
    from emoens.asr import BASELINE, character_error_rate
    from emoens.recognizer import EmotionRecognizer

    clip, reference = long_clip(seconds)
    options = BASELINE if config == "today" else {}
    rec = EmotionRecognizer.from_bundle(asr_options=options, asr_beside_speech=config != "today")
    rec.analyze((16000, clip[: 5 * 16000]), transcribe=True)  # load the models
    before = peak_rss_mb()
    resident = rss_mb()
    reset = reset_peak_rss()
    t0 = time.perf_counter()
    result = rec.analyze((16000, clip), transcribe=True)
    elapsed = time.perf_counter() - t0
    peak = peak_rss_mb()
    return {"seconds": seconds, "config": config, "analyze_s": round(elapsed, 2),
            "asr_s": round(result["timing_ms"]["asr"] / 1000, 2),
            "speech_s": round(result["timing_ms"]["speech"] / 1000, 2),
            "peak_rss_mb_after_warmup": round(before, 1), "peak_rss_mb": round(max(before, peak), 1),
            "rss_mb_before_analyze": round(resident, 1),
            # what analyze() itself added on top of the loaded models and the clip
            "analyze_added_mb": round(peak - resident, 1) if reset else None,
            "clip_mb": round(clip.nbytes / 2**20, 1),
            "transcript_chars": len(result["transcript"] or ""),
            "cer": round(character_error_rate(reference, result["transcript"] or ""), 4),
            "timeline_windows": len(result["timeline"]),
            "real_time_factor": round(elapsed / seconds, 3)}


def _spread(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(max(values) - min(values), 1) if values else None


def median_run(runs: list[dict], by: str = "memory") -> dict:
    """The run whose added memory (``by="memory"``) or analyze() time (``by="time"``) is the
    median of ``runs`` (all runs' figures kept under ``runs``)."""
    ordered = sorted(runs, key=lambda r: r["analyze_s"] if by == "time" else
                     (r.get("analyze_added_mb") or r["peak_rss_mb"]))
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle["runs"] = [{k: r[k] for k in ("analyze_s", "peak_rss_mb", "analyze_added_mb")}
                      for r in runs]
    return middle


def run_child(seconds: float, config: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(seconds), config], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--speed-runs", type=int, default=3,
                        help="fresh processes per path for the speed ratio (interleaved; the "
                        "median times are compared)")
    parser.add_argument("--memory-runs", type=int, default=3,
                        help="fresh processes per length for the memory check (median kept)")
    parser.add_argument("--lengths", default="60,180,360,600",
                        help="clip lengths (s) for the memory check of the default path")
    parser.add_argument("--child", nargs=2, metavar=("SECONDS", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(float(args.child[0]), args.child[1])))
        return 0
    load_before = os.getloadavg()
    defaults, todays = [], []
    for _ in range(max(1, args.speed_runs)):  # interleaved: both paths see the same load
        defaults.append(run_child(args.seconds, "default"))
        todays.append(run_child(args.seconds, "today"))
    new, old = median_run(defaults, by="time"), median_run(todays, by="time")
    lengths = [float(x) for x in args.lengths.split(",") if x.strip()]
    memory = []
    for s in lengths:  # the default path's speed runs count as that length's runs
        runs = list(defaults) if s == args.seconds else []
        runs += [run_child(s, "default") for _ in range(max(0, args.memory_runs - len(runs)))]
        memory.append(median_run(runs))
    speedup = old["analyze_s"] / new["analyze_s"]
    asr_speedup = old["asr_s"] / max(new["asr_s"], 1e-9)
    rss = [m["peak_rss_mb"] for m in memory]
    data = {"seconds": args.seconds, "default": new, "today": old,
            "speedup": round(speedup, 2), "asr_speedup": round(asr_speedup, 2),
            "memory_by_length": memory,
            "rss_growth_mb": round(max(rss) - min(rss), 1),
            "analyze_added_growth_mb": _spread([m.get("analyze_added_mb") for m in memory]),
            # flat: what analyze() adds grows by less than a copy of the longest clip would
            "memory_flat_yardstick_mb": max(m["clip_mb"] for m in memory),
            "speed_runs": {"default": [r["analyze_s"] for r in defaults],
                           "today": [r["analyze_s"] for r in todays]},
            "load_average_before": [round(x, 2) for x in load_before],
            "targets": {"speedup": 4.0}}
    md = [f"`analyze(clip, transcribe=True)` on {args.seconds:.0f} s of real KEMDy19 speech "
          "(clips joined; CER against their joined transcripts, the last clip cut), each in a fresh process after a 5-s warm-up request. Load average "
          f"before: {' / '.join(f'{x:.2f}' for x in load_before)}.", "",
          "| path | analyze s | of which ASR s | real-time factor | peak RSS MiB | transcript chars | CER |",
          "|---|---|---|---|---|---|---|"]
    from emoens.asr import make_asr

    o = make_asr("faster-whisper").options()
    label = (f"emoens default (VAD, beam {o['beam_size']}"
             + (f", weak windows with short text again at beam {o['fallback_beam']}" if o.get("fallback_beam") else "")
             + f", batched windows of <= {o['window_seconds']:g} s, ASR beside the speech member)")
    for name, r in ((label, new),
                    ("today's path (beam 5 + temperature fallback, 30-s windows)", old)):
        md.append(f"| {name} | {r['analyze_s']:.1f} | {r['asr_s']:.1f} | {r['real_time_factor']:.3f} "
                  f"| {r['peak_rss_mb']:.0f} | {r['transcript_chars']} | {r['cer']:.3f} |")
    md += ["", f"Median of {len(defaults)} fresh processes per path, run in turn; analyze() s "
           "of each run, default path: " + " / ".join(f"{r['analyze_s']:.1f}" for r in defaults)
           + "; today's path: " + " / ".join(f"{r['analyze_s']:.1f}" for r in todays) + ".", "",
           f"**{speedup:.1f}× faster than today's path** (target ≥ 4×); the ASR part alone "
           f"{asr_speedup:.1f}× (in the default path the ASR runs in a thread beside the speech "
           f"member's windows: {new.get('speech_s', 0):.1f} s of speech member against "
           f"{old.get('speech_s', 0):.1f} s on today's path, where the two run one after the other).", "",
           f"Memory against length (default path; per length the median of {args.memory_runs} "
           "fresh processes by added memory, every run's added MiB in the last column):", "",
           "| clip s | analyze s | peak RSS MiB | peak RSS after warm-up MiB | RSS before analyze() MiB "
           "| added by analyze() MiB | the clip MiB | added, each run |",
           "|---|---|---|---|---|---|---|---|"]
    for m in memory:
        md.append(f"| {m['seconds']:.0f} | {m['analyze_s']:.1f} | {m['peak_rss_mb']:.0f} | "
                  f"{m['peak_rss_mb_after_warmup']:.0f} | {m.get('rss_mb_before_analyze', 0):.0f} | "
                  f"{m.get('analyze_added_mb') if m.get('analyze_added_mb') is not None else '–'} | "
                  f"{m.get('clip_mb', 0):.1f} | "
                  + " / ".join(str(r["analyze_added_mb"]) for r in m["runs"]) + " |")
    added = data["analyze_added_growth_mb"]
    md += ["", f"Peak RSS spread over {', '.join(f'{s:.0f}' for s in lengths)} s: "
           f"**{data['rss_growth_mb']:.0f} MiB** (the audio itself is 3.7 MiB per minute; the bench "
           "holds the clip it sends). Spread of what analyze() itself added on top of the loaded "
           "models and the clip (peak reset just before the call): "
           + (f"**{added:.0f} MiB**." if added is not None else "not measurable here (no /proc).")
           + (f" Memory is flat in length when that spread is under the longest clip's own size "
              f"({data['memory_flat_yardstick_mb']:.1f} MiB): "
              f"**{'yes' if added < data['memory_flat_yardstick_mb'] else 'no'}**."
              if added is not None else "")
           + (" The clip is a float32 16-kHz mono array, which analyze() reads without copying "
              "(`emoens.audio.load_audio`); a file's or an integer array's decoded audio (3.7 MiB "
              "a minute, 37 MiB at the 600-s input limit) would come on top of these figures."
              if added is not None else "")]
    write_results("long", data, "\n".join(md), machine=machine_info())
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
