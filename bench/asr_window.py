"""Choosing the ASR's longest window (``emoens.asr.WINDOW_SECONDS``) on long clips that no other
benchmark reports on.

    python bench/asr_window.py [--seconds 300] [--windows 28,24,20,16,14,12,10]

The clips: real KEMDy20 clips joined in sorted order, and real KEMDy19 clips joined in *reverse*
sorted order (its last sessions: ``bench/long.py`` reports on the first ones), each cut to
``--seconds`` (transcripts are never written). For each window length, the default ASR (only the
window changed) transcribes both clips; the CER and the ASR time are recorded. The rule: the
shortest window whose mean CER over the two clips is within :data:`CER_TOLERANCE` of the longest
window's. Writes ``bench/results/asr_window.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
import time

from common import DATA, joined_clip, machine_info, write_results  # noqa: E402

import numpy as np  # noqa: E402

#: A window may cost at most this much mean CER over the longest one (the CER budget of
#: bench/asr_cer.py is +0.02 over today's path; half of it is left for the window).
CER_TOLERANCE = 0.01


def selection_clips(seconds: float) -> dict[str, tuple[np.ndarray, str]]:
    kemdy20 = sorted((DATA / "KEMDy20").glob("wav/**/*.flac"))
    kemdy19 = sorted((DATA / "KEMDy19").glob("wav/**/*.flac"))
    return {"KEMDy20 (sorted)": joined_clip(kemdy20, seconds),
            "KEMDy19 (reverse sorted)": joined_clip(kemdy19[::-1], seconds)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--windows", default="28,24,20,16,14,12,10")
    args = parser.parse_args(argv)
    from emoens.asr import WINDOW_SECONDS, character_error_rate, make_asr

    windows = sorted({float(w) for w in args.windows.split(",") if w.strip()}, reverse=True)
    clips = selection_clips(args.seconds)
    rows = []
    for window in windows:
        asr = make_asr("faster-whisper", window_seconds=window)
        asr.transcribe(next(iter(clips.values()))[0][: 5 * 16000])  # load the model
        per_clip = {}
        for name, (clip, reference) in clips.items():
            t0 = time.perf_counter()
            text = asr.transcribe(clip, name=name).text
            per_clip[name] = {"cer": round(character_error_rate(reference, text), 4),
                              "asr_s": round(time.perf_counter() - t0, 2), "chars": len(text)}
        rows.append({"window_seconds": window, "clips": per_clip,
                     "mean_cer": round(float(np.mean([c["cer"] for c in per_clip.values()])), 4),
                     "asr_s": round(sum(c["asr_s"] for c in per_clip.values()), 2)})
        print(rows[-1], flush=True)
    longest = rows[0]["mean_cer"]
    chosen = min((r for r in rows if r["mean_cer"] <= longest + CER_TOLERANCE),
                 key=lambda r: r["window_seconds"])["window_seconds"]
    data = {"seconds": args.seconds, "windows": rows, "cer_tolerance": CER_TOLERANCE,
            "chosen_window_seconds": chosen, "default_window_seconds": WINDOW_SECONDS}
    names = list(clips)
    md = [f"The default ASR with only its longest window changed, on {args.seconds:.0f} s of real "
          f"speech from each of: {', '.join(names)} (clips joined; no other benchmark reports "
          "on these clips).", "",
          "| window s | " + " | ".join(f"CER {n}" for n in names)
          + " | mean CER | ASR s (both clips) |",
          "|---|" + "---|" * len(names) + "---|---|"]
    for r in rows:
        md.append(f"| {r['window_seconds']:g} | "
                  + " | ".join(f"{r['clips'][n]['cer']:.4f}" for n in names)
                  + f" | {r['mean_cer']:.4f} | {r['asr_s']:.1f} |")
    md += ["", f"Rule: the shortest window whose mean CER is within +{CER_TOLERANCE} of the "
           f"{rows[0]['window_seconds']:g}-s window's: **{chosen:g} s**. "
           f"`emoens.asr.WINDOW_SECONDS` is {WINDOW_SECONDS:g} s."]
    write_results("asr_window", data, "\n".join(md), machine=machine_info())
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
