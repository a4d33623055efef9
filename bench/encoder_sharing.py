"""Would the speech member's Whisper encoder pass pay to share with the ASR's on long audio?

    python bench/encoder_sharing.py [--seconds 300]

On long audio the default path encodes the audio twice with the same Whisper-base weights: the
speech member's unpadded 10-s timeline windows, and the ASR's VAD windows (at most 14 s of
speech, +1 s of silence, padded to a 2-s grid). Sharing would drop the speech member's pass.
This benchmark measures what that pass costs and how much the speech member's answer would
change if it read other encoder states of the same audio instead:

- ``padded``: each 10-s window encoded with the ASR's padding (+1 s of silence, 2-s grid), only
  the frames of the window kept (the padding alone);
- ``asr-windows``: the frames of the ASR's own encoder passes that fall in each 10-s window (what
  sharing would give; frames of silence between VAD windows are not encoded by the ASR).

The clips: real KEMDy19 clips joined in sorted order (``bench/long.py``'s), KEMDy20 sorted and
KEMDy19 reverse sorted (``bench/asr_window.py``'s), each cut to ``--seconds``. The prosody part of
each window is the same in all three. Writes ``bench/results/encoder_sharing.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from common import DATA, joined_clip, machine_info, write_results  # noqa: E402

import numpy as np  # noqa: E402

WINDOW = 160000  # the recognizer's 10-s timeline windows
FRAME = 320  # samples per Whisper encoder state (20 ms)


def clips(seconds: float) -> dict[str, np.ndarray]:
    kemdy19 = sorted((DATA / "KEMDy19").glob("wav/**/*.flac"))
    kemdy20 = sorted((DATA / "KEMDy20").glob("wav/**/*.flac"))
    return {"KEMDy19 (sorted)": joined_clip(kemdy19, seconds)[0],
            "KEMDy20 (sorted)": joined_clip(kemdy20, seconds)[0],
            "KEMDy19 (reverse sorted)": joined_clip(kemdy19[::-1], seconds)[0]}


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def asr_frames(asr, clip: np.ndarray) -> np.ndarray:
    """(frames, 512) states of the ASR's own encoder passes placed at their times in ``clip``;
    NaN where the ASR encodes nothing (silence between its VAD windows)."""
    from emoens.asr import _grid_samples
    from emoens.models import whisper

    frames = np.full((clip.size // FRAME + 1, 512), np.nan, np.float32)
    spans, _ = asr._speech_windows(clip, "clip")
    for start, end in spans:
        states = whisper.padded_states(clip[start:end], _grid_samples((end - start) / 16000),
                                       model=asr.model)
        first = start // FRAME
        states = states[: frames.shape[0] - first]
        frames[first:first + len(states)] = states
    return frames


def compare(member, asr, clip: np.ndarray) -> dict:
    """The speech member's per-window probabilities from its own pass and from the others."""
    from emoens.asr import _grid_samples
    from emoens.models import whisper
    from emoens.models.light import waveform_states
    from emoens.recipe.speech_features import pool_encoder_states, prosody_features

    windows = [clip[a:a + WINDOW] for a in range(0, clip.size - 16000 + 1, WINDOW)]
    prosody = [prosody_features(w) for w in windows]
    waveform_states(windows[0])  # warm-up
    cpu, wall = _cpu_seconds(), time.perf_counter()
    own = [pool_encoder_states(waveform_states(w)) for w in windows]
    own_cpu, own_wall = _cpu_seconds() - cpu, time.perf_counter() - wall
    padded = [pool_encoder_states(whisper.padded_states(w, _grid_samples(w.size / 16000),
                                                        model=asr.model)) for w in windows]
    frames = asr_frames(asr, clip)
    shared, covered = [], []
    for k, w in enumerate(windows):
        part = frames[k * WINDOW // FRAME: (k * WINDOW + w.size) // FRAME]
        kept = part[~np.isnan(part[:, 0])]
        covered.append(len(kept) / max(1, len(part)))
        shared.append(pool_encoder_states(kept) if len(kept) else own[k])

    def probas(states):
        rows = np.stack([np.concatenate([s, p]) for s, p in zip(states, prosody)])
        return member.predict_proba_from_features(rows)

    reference = probas(own)
    out = {"windows": len(windows), "own_encoder_cpu_s": round(own_cpu, 2),
           "own_encoder_wall_s": round(own_wall, 2),
           "asr_coverage": round(float(np.mean(covered)), 3)}
    for name, states in (("padded", padded), ("asr-windows", shared)):
        other = probas(states)
        out[name] = {
            "label_agreement": round(float((other.argmax(1) == reference.argmax(1)).mean()), 3),
            # total-variation distance: the share of probability that moves to other classes
            "mean_tv": round(float(np.abs(other - reference).sum(1).mean() / 2), 4),
            "overall_max_diff": round(float(np.abs(other.mean(0) - reference.mean(0)).max()), 4)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    args = parser.parse_args(argv)
    from emoens.asr import make_asr
    from emoens.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer.from_bundle(asr=None)
    member = next(m for m in recognizer.members.values() if m.modality == "speech")
    if not hasattr(member, "predict_proba_from_features"):
        raise SystemExit("the default bundle's speech member is not a Whisper-state head")
    asr = make_asr("faster-whisper")
    rows = {}
    for name, clip in clips(args.seconds).items():
        rows[name] = compare(member, asr, clip)
        print(name, rows[name], flush=True)
    data = {"seconds": args.seconds, "window_seconds": WINDOW / 16000, "clips": rows}
    names = list(rows)
    md = [f"The default bundle's speech member on the 10-s windows of {args.seconds:.0f} s of real "
          f"speech from each of: {', '.join(names)} (clips joined). Its own unpadded encoder pass "
          "against the same window's states with the ASR's padding (`padded`) and against the "
          "ASR's own VAD-window passes (`asr-windows`, what sharing the encoder would give). "
          "Agreement: windows whose top class stays the same; TV: mean total-variation distance "
          "of the window's probabilities; overall: largest change of the mean probabilities.", "",
          "| clip | windows | speech member's encoder CPU s | ASR covers | states | label "
          "agreement | mean TV | overall max change |",
          "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        for variant in ("padded", "asr-windows"):
            v = r[variant]
            md.append(f"| {name} | {r['windows']} | {r['own_encoder_cpu_s']:.2f} | "
                      f"{r['asr_coverage']:.1%} | {variant} | {v['label_agreement']:.1%} | "
                      f"{v['mean_tv']:.3f} | {v['overall_max_diff']:.3f} |")
    agreement = min(r["asr-windows"]["label_agreement"] for r in rows.values())
    saved = np.mean([r["own_encoder_cpu_s"] / r["windows"] for r in rows.values()])
    md += ["", f"Sharing would save about **{saved * 18:.1f} CPU s** on a 3-minute clip (18 "
           f"windows), but would change the speech member's top class in up to "
           f"**{1 - agreement:.0%}** of windows: the default head reads unpadded states of whole "
           "windows, so sharing needs a head trained on the ASR's states; it is not done."]
    write_results("encoder_sharing", data, "\n".join(md), machine=machine_info())
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
